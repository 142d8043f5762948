//! What every route shares: health, metrics, the OpenAPI document, the docs
//! page, request ids and the problem+json envelope for every kind of error.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

dual_test! {
    async fn health_and_readiness(app) {
        let r = app.call(Method::GET, "/healthz", None, None).await;
        r.assert(200, None);
        assert_eq!(r.body["status"], "ok");
        let r = app.call(Method::GET, "/readyz", None, None).await;
        r.assert(200, None);
        assert_eq!(r.body["status"], "ready");
    }
}

dual_test! {
    async fn readiness_fails_when_the_database_is_gone(app) {
        app.store.close().await;
        let r = app.call(Method::GET, "/readyz", None, None).await;
        r.assert(503, Some("SERVICE_UNAVAILABLE"));
        // Liveness does not depend on the database.
        app.call(Method::GET, "/healthz", None, None).await.assert(200, None);
    }
}

dual_test! {
    async fn metrics_count_requests_by_route_and_status(app) {
        let account = app.signup().await;
        app.get("/v1/customer", &account.token).await.assert(200, None);
        app.call(Method::GET, "/v1/customer", None, None).await.assert(401, None);
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = r.text().await.unwrap();
        assert!(text.contains(r#"http_requests_total{method="GET",route="/v1/customer",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"http_requests_total{method="GET",route="/v1/customer",status="401"} 1"#), "{text}");
        assert!(text.contains(r#"http_request_duration_seconds_bucket{method="POST",route="/v1/auth/signup",status="202""#), "{text}");
        assert!(text.contains(r#"http_request_duration_seconds_bucket{method="POST",route="/v1/auth/signup/confirm",status="201""#), "{text}");
        // Raw paths never become labels.
        app.call(Method::GET, &format!("/v1/customer/{}", uuid::Uuid::now_v7()), Some(&account.token), None).await;
        let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains(r#"route="/v1/customer/{customer_id}""#), "{text}");
    }
}

dual_test! {
    async fn openapi_documents_every_route_with_errors(app) {
        let r = app.call(Method::GET, "/openapi.json", None, None).await;
        r.assert(200, None);
        let doc = &r.body;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        let paths = doc["paths"].as_object().unwrap();
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        let routes = roster_server::http::permissions::ROUTES;
        assert_eq!(documented, routes.len(), "documented operations differ from the routes: {:?}", paths.keys());
        for route in routes {
            let (method, path) = (route.method.to_lowercase(), route.path);
            let op = &doc["paths"][path][&method];
            assert!(op.is_object(), "{method} {path} is not documented");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} documents no success");
            let authenticated = op["security"].is_array();
            assert_eq!(
                authenticated,
                route.access != roster_server::http::permissions::Access::Public,
                "{method} {path}: the document's security differs from the permission table"
            );
            if authenticated {
                assert!(responses.contains_key("401"), "{method} {path} is authenticated but documents no 401");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status} is not problem+json"
                    );
                }
            }
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}

dual_test! {
    async fn docs_page_is_served_offline(app) {
        let r = app.client.get(app.url("/docs/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{html}");
        assert!(!html.contains("cdn"), "the docs page must not load from a CDN");
        let init = app.client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap();
        assert_eq!(init.status(), 200);
        assert!(init.text().await.unwrap().contains("/openapi.json"));
    }
}

dual_test! {
    async fn request_ids_are_generated_or_echoed(app) {
        let r = app.client.get(app.url("/healthz")).send().await.unwrap();
        let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
        let r = app.client.get(app.url("/healthz")).header("x-request-id", "trace-me-42").send().await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "trace-me-42");
        // Errors carry it too.
        let r = app.client.get(app.url("/nowhere")).header("x-request-id", "trace-me-43").send().await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "trace-me-43");
    }
}

dual_test! {
    async fn every_error_is_problem_json(app) {
        // Unknown route.
        app.call(Method::GET, "/v1/nowhere", None, None).await.assert(404, Some("NOT_FOUND"));
        // Wrong method, with the allowed ones named.
        let r = app.call(Method::PUT, "/v1/auth/login", None, Some(json!({}))).await;
        r.assert(405, Some("METHOD_NOT_ALLOWED"));
        assert!(r.headers.get("allow").is_some(), "{:?}", r.headers);
        // Malformed JSON.
        let res = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("content-type", "application/json")
            .body("{\"email\": ")
            .send()
            .await
            .unwrap();
        TestApp::read(res).await.assert(400, Some("MALFORMED_JSON"));
        // Not JSON at all.
        let res = app.client.post(app.url("/v1/auth/login")).header("content-type", "text/plain").body("hi").send().await.unwrap();
        TestApp::read(res).await.assert(415, Some("UNSUPPORTED_MEDIA_TYPE"));
        let res = app.client.post(app.url("/v1/auth/login")).body("{}").send().await.unwrap();
        TestApp::read(res).await.assert(415, Some("UNSUPPORTED_MEDIA_TYPE"));
        // Valid JSON of the wrong shape names the field.
        let r = app.post("/v1/auth/login", None, json!({ "email": 42, "password": "x" })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), vec!["email"]);
        let r = app.post("/v1/auth/login", None, json!({ "password": "x" })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), vec!["email"]);
        // Too large.
        let big = "x".repeat(app.config.body_limit_bytes + 1);
        let res = app
            .client
            .post(app.url("/v1/auth/login"))
            .header("content-type", "application/json")
            .body(format!("{{\"email\":\"{big}\"}}"))
            .send()
            .await
            .unwrap();
        TestApp::read(res).await.assert(413, Some("PAYLOAD_TOO_LARGE"));
        // Nesting beyond serde's limit is refused, not a crash.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let res = app.client.post(app.url("/v1/auth/login")).header("content-type", "application/json").body(deep).send().await.unwrap();
        let r = TestApp::read(res).await;
        assert!([400, 413, 422].contains(&r.status.as_u16()), "{}", r.text);
        app.call(Method::GET, "/healthz", None, None).await.assert(200, None);
    }
}

dual_test! {
    async fn a_restart_loses_nothing(app) {
        let account = app.signup().await;
        // Queue a sign-up's email with the worker unable to send it: the SMTP server refuses for now.
        app.smtp.set_reject(Some(roster_testkit::RejectMode::Transient));
        let held = fresh_address("held");
        app.request_signup(&held, "Held").await.assert(202, None);
        let app = app.restart().await;
        // The session, the account, the held sign-up and its queued email all survived.
        app.get("/v1/customer", &account.token).await.assert(200, None);
        app.login(&account.email, PASSWORD).await.assert(200, None);
        app.smtp.set_reject(None);
        let counts = app.store.outbox_counts().await.unwrap();
        assert_eq!(counts.total() - counts.failed, 2, "the first sign-up's email and the held one's: {counts:?}");
        // Released or retried, the message is sent after the restart (the retry schedule's second step is 5 s).
        let mail = app.smtp.wait_for(&held, std::time::Duration::from_secs(20)).await;
        let code = mail.and_then(|m| m.code()).expect("the queued email arrives after the restart, with its code");
        app.confirm_signup(&held, &code).await.assert(201, None);
    }
}

dual_test! {
    async fn ids_are_uuid_v7_and_times_rfc3339_utc(app) {
        let account = app.signup().await;
        let profile = app.get("/v1/customer", &account.token).await;
        for id in [&profile.body["customer"]["id"], &profile.body["organization"]["id"], &profile.body["team"]["id"]] {
            let id = uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
            assert_eq!(id.get_version_num(), 7, "{id}");
        }
        let login = app.login(&account.email, PASSWORD).await;
        for t in [&profile.body["customer"]["created_at"], &profile.body["organization"]["trial_ends_at"], &login.body["expires_at"]] {
            let t = t.as_str().unwrap_or_else(|| panic!("a time is a string: {t}"));
            let parsed = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
            assert_eq!(parsed.offset(), time::UtcOffset::UTC, "{t}");
            assert!(t.ends_with('Z'), "{t}");
        }
    }
}

dual_test! {
    async fn cors_allows_only_configured_origins(app) {
        let _ = app;
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.cors_allowed_origins = vec!["https://app.example.com".into()]).await
        else {
            return;
        };
        let preflight = |origin: &'static str| {
            app.client
                .request(Method::OPTIONS, app.url("/v1/customer"))
                .header("origin", origin)
                .header("access-control-request-method", "PATCH")
                .header("access-control-request-headers", "authorization,content-type")
                .send()
        };
        let ok = preflight("https://app.example.com").await.unwrap();
        assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
        assert!(ok.headers()["access-control-allow-methods"].to_str().unwrap().contains("PATCH"));
        let other = preflight("https://evil.example.net").await.unwrap();
        assert!(other.headers().get("access-control-allow-origin").is_none());
        // With no origins configured, browsers get no CORS grant at all.
        let Some(closed) = TestApp::spawn(app.backend).await else { return };
        let r = closed.client.get(closed.url("/healthz")).header("origin", "https://app.example.com").send().await.unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }
}

dual_test! {
    async fn a_request_over_time_is_a_408_problem(app) {
        let _ = app;
        // A zero budget makes every request that has to wait late (a login waits on the
        // database and on password hashing): the timeout path without a slow handler.
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.request_timeout_secs = 0).await else { return };
        let r = app.login("someone@example.com", PASSWORD).await;
        r.assert(408, Some("TIMEOUT"));
        assert!(r.headers.contains_key("x-request-id"));
    }
}
