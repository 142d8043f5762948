//! Sensitive actions need a session that proved its password or second factor
//! recently: a login counts, `POST /v1/auth/reauthenticate` renews it, and API
//! keys never qualify (`permissions::FRESH_CONFIRMATION`).

use crate::helpers::*;
use reqwest::Method;
use roster_core::role::Role;
use roster_core::totp;
use roster_server::http::permissions::FRESH_CONFIRMATION;
use serde_json::{json, Value};

const REAUTH: &str = "/v1/auth/reauthenticate";

/// Makes every session of `account` look confirmed an hour ago, as if the login were old.
async fn age_sessions(app: &TestApp, account: &Account) {
    let an_hour_ago = roster_core::clock::now() - time::Duration::hours(1);
    on_db!(app, |conn| {
        sqlx::query("UPDATE access_tokens SET confirmed_at = $1 WHERE customer_id = $2")
            .bind(an_hour_ago)
            .bind(account.customer_id.0)
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

/// A valid request for each sensitive route, so that a refusal is the confirmation's and nothing else's.
fn sensitive_calls(app_member: &Account) -> Vec<(Method, &'static str, Value)> {
    let calls = vec![
        (Method::PUT, "/v1/customer/username", json!({ "email": fresh_address("moved") })),
        (Method::POST, "/v1/api-keys", json!({ "name": "ci", "scopes": ["teams:read"] })),
        (
            Method::POST,
            "/v1/organization/ownership-transfer",
            json!({ "customer_id": app_member.customer_id.to_string() }),
        ),
        // Last: the caller is the organization's last owner, so once confirmed this is a 409, not a deletion.
        (Method::DELETE, "/v1/customer", json!({ "reason": "poor-features" })),
    ];
    // Every listed route is exercised here, and nothing else.
    let mut listed: Vec<(&str, &str)> = FRESH_CONFIRMATION.to_vec();
    let mut called: Vec<(&str, &str)> = calls.iter().map(|(m, p, _)| (m.as_str(), *p)).collect();
    listed.sort();
    called.sort();
    assert_eq!(listed, called, "the sensitive routes and this test disagree");
    calls
}

dual_test! {
    async fn an_old_session_confirms_before_sensitive_actions(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        age_sessions(&app, &owner).await;
        for (method, path, body) in sensitive_calls(&member) {
            let r = app.call(method.clone(), path, Some(&owner.token), Some(body)).await;
            r.assert(403, Some("REAUTHENTICATION_REQUIRED"));
            assert!(r.body["detail"].as_str().unwrap().contains(REAUTH), "{method} {path}: {}", r.text);
        }
        // Ordinary changes do not ask.
        app.patch("/v1/customer", &owner.token, json!({ "name": "Ann" })).await.assert(200, None);
        // Nothing sensitive happened.
        app.get("/v1/customer", &owner.token).await.assert(200, None);
        assert_eq!(app.get("/v1/api-keys", &owner.token).await.body["data"].as_array().map(Vec::len), Some(0));

        let r = app.post(REAUTH, Some(&owner.token), json!({})).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["password"]);
        let r = app.post(REAUTH, Some(&owner.token), json!({ "password": "not my password" })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["password"]);
        app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "ci", "scopes": ["teams:read"] }))
            .await
            .assert(403, Some("REAUTHENTICATION_REQUIRED"));

        let before = roster_core::clock::now();
        let r = app.post(REAUTH, Some(&owner.token), json!({ "password": PASSWORD })).await;
        r.assert(200, None);
        let until = time_of(&r.body["confirmed_until"]);
        let window = time::Duration::seconds(app.config.reauthentication_window_secs as i64);
        assert!(until >= before + window - time::Duration::seconds(1) && until <= roster_core::clock::now() + window);
        for (method, path, body) in sensitive_calls(&member) {
            let r = app.call(method.clone(), path, Some(&owner.token), Some(body)).await;
            if method == Method::DELETE {
                r.assert(409, Some("CONFLICT"));
            } else {
                assert!(r.status.is_success(), "{method} {path} after confirming: {}", r.text);
            }
        }
    }
}

dual_test! {
    async fn a_fresh_login_is_confirmed_and_the_confirmation_is_per_session(app) {
        let owner = app.signup().await;
        age_sessions(&app, &owner).await;
        let fresh = app.login(&owner.email, PASSWORD).await;
        fresh.assert(200, None);
        let fresh = fresh.body["token"].as_str().unwrap();
        let key = json!({ "name": "ci", "scopes": ["teams:read"] });
        app.post("/v1/api-keys", Some(fresh), key.clone()).await.assert(201, None);
        // The old session is still unconfirmed: another session's login does not vouch for it.
        app.post("/v1/api-keys", Some(&owner.token), key).await.assert(403, Some("REAUTHENTICATION_REQUIRED"));
    }
}

dual_test! {
    async fn api_keys_never_take_sensitive_actions(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let all: Vec<&str> = roster_core::scope::Scope::ALL.iter().map(|s| s.as_str()).collect();
        let r = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "all", "scopes": all })).await;
        r.assert(201, None);
        let key = r.body["secret"].as_str().unwrap().to_owned();
        for (method, path, body) in sensitive_calls(&member) {
            let r = app.call(method.clone(), path, Some(&key), Some(body)).await;
            r.assert(403, Some("REAUTHENTICATION_REQUIRED"));
        }
        // A key cannot confirm anything: it has no session.
        let r = app.post(REAUTH, Some(&key), json!({ "password": PASSWORD })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["authorization"]);
        // The key still does what its scopes allow.
        app.get("/v1/teams", &key).await.assert(200, None);
        app.get("/v1/customer", &owner.token).await.assert(200, None);
    }
}

dual_test! {
    async fn a_second_factor_code_confirms_too(app) {
        let owner = app.signup().await;
        let r = app.post("/v1/customer/totp", Some(&owner.token), json!({ "password": PASSWORD })).await;
        r.assert(200, None);
        let secret = totp::base32_decode(r.body["secret"].as_str().unwrap()).unwrap();
        let now = || roster_core::clock::now().unix_timestamp() as u64;
        let r = app.post("/v1/customer/totp/confirm", Some(&owner.token), json!({ "code": totp::code_at(&secret, now()) })).await;
        r.assert(200, None);
        age_sessions(&app, &owner).await;

        let next = totp::code_at(&secret, now() + 30);
        let wrong = if next == "000000" { "111111" } else { "000000" };
        let r = app.post(REAUTH, Some(&owner.token), json!({ "code": wrong })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["code"]);
        // Each code works once, and enrolment used the current one: the app's next code (a step of
        // clock drift is allowed) confirms.
        app.post(REAUTH, Some(&owner.token), json!({ "code": totp::code_at(&secret, now() + 30) })).await.assert(200, None);
        app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "ci", "scopes": ["teams:read"] }))
            .await
            .assert(201, None);
    }
}

dual_test! {
    async fn wrong_confirmations_count_as_failed_logins(app) {
        let owner = app.signup().await;
        for _ in 0..app.config.login_max_failures {
            app.post(REAUTH, Some(&owner.token), json!({ "password": "not my password" }))
                .await
                .assert(422, Some("VALIDATION_ERROR"));
        }
        // Even the right password is refused now, and so is a login: one budget for the address.
        let r = app.post(REAUTH, Some(&owner.token), json!({ "password": PASSWORD })).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert!(r.headers.get("retry-after").is_some(), "{:?}", r.headers);
        app.login(&owner.email, PASSWORD).await.assert(429, Some("RATE_LIMITED"));
    }
}
