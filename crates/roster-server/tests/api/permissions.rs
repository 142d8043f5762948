//! The permission matrix, walked over HTTP: every route in
//! `roster_server::http::permissions::ROUTES`, for every role, and for API
//! keys with and without the route's scope, answers 401/403 exactly when the
//! matrix says so. Bodies are `{}` and ids random, so an allowed call is
//! refused later (404, 409, 422) and the walk changes nothing. That real ids of
//! another organization are refused is walked in `isolation.rs`.

use crate::helpers::*;
use reqwest::Method;
use roster_core::role::Role;
use roster_core::scope::Scope;
use roster_server::http::permissions::{listed, Access, FRESH_CONFIRMATION, MATRIX_ROLES, ROUTES};
use serde_json::json;

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

/// The route's path with its parameters filled: the caller's own id where a
/// customer is named, a random (absent) id anywhere else.
fn fill(path: &str, own: &Account) -> String {
    let mut out = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        match segment {
            "{customer_id}" => out.push_str(&own.customer_id.to_string()),
            s if s.starts_with('{') => out.push_str(&uuid::Uuid::now_v7().to_string()),
            s => out.push_str(s),
        }
    }
    out
}

async fn call(app: &TestApp, m: &str, path: &str, token: Option<&str>) -> Resp {
    let body = (m != "GET").then(|| json!({}));
    app.call(method(m), path, token, body).await
}

dual_test! {
    async fn every_route_answers_every_role_as_the_matrix_says(app) {
        let owner = app.signup().await;
        let mut people = vec![(Role::Root, owner.clone())];
        for role in MATRIX_ROLES.into_iter().filter(|r| *r != Role::Root) {
            people.push((role, app.add_member(&owner, role).await));
        }
        for rule in ROUTES {
            for (role, person) in &people {
                // Routes open to any credential may end a session: give them a fresh one.
                let fresh;
                let token = if rule.access == Access::Authenticated {
                    fresh = app.login(&person.email, PASSWORD).await.body["token"].as_str().unwrap().to_owned();
                    fresh.as_str()
                } else {
                    person.token.as_str()
                };
                let path = fill(rule.path, person);
                let r = call(&app, rule.method, &path, Some(token)).await;
                let denied = r.status == 401 || r.status == 403;
                let allowed = match rule.access {
                    Access::Public | Access::Authenticated => true,
                    Access::Action(a) => a.allows(*role),
                };
                assert_eq!(!denied, allowed, "{} {} as {role}: {} {}", rule.method, rule.path, r.status, r.text);
                if denied {
                    r.assert(403, Some("FORBIDDEN"));
                }
            }
            // Without credentials, only public routes answer.
            let r = call(&app, rule.method, &fill(rule.path, &owner), None).await;
            if rule.access == Access::Public {
                assert!(r.status != 401 && r.status != 403, "{} {} is public: {}", rule.method, rule.path, r.text);
            } else {
                r.assert(401, Some("UNAUTHORIZED"));
            }
        }
    }
}

dual_test! {
    async fn api_keys_need_the_scope_of_each_route(app) {
        let owner = app.signup().await;
        let key = |scopes: Vec<&'static str>| {
            let app = &app;
            let token = owner.token.clone();
            async move {
                let r = app.post("/v1/api-keys", Some(&token), json!({ "name": "walk", "scopes": scopes })).await;
                r.assert(201, None);
                r.body["secret"].as_str().unwrap().to_owned()
            }
        };
        for rule in ROUTES {
            let Access::Action(action) = rule.access else { continue };
            let without: Vec<&str> = Scope::ALL.iter().filter(|s| **s != action.scope()).map(|s| s.as_str()).collect();
            let path = fill(rule.path, &owner);
            let r = call(&app, rule.method, &path, Some(&key(without).await)).await;
            r.assert(403, Some("FORBIDDEN"));
            assert!(r.body["detail"].as_str().unwrap().contains(action.scope().as_str()), "{}", r.text);
            let r = call(&app, rule.method, &path, Some(&key(vec![action.scope().as_str()]).await)).await;
            if listed(FRESH_CONFIRMATION, rule.method, rule.path) {
                // Sensitive actions are for recently confirmed login sessions only, whatever a key's scopes.
                r.assert(403, Some("REAUTHENTICATION_REQUIRED"));
                continue;
            }
            assert!(r.status != 401 && r.status != 403, "{} {} with `{}`: {}", rule.method, rule.path, action.scope(), r.text);
        }
    }
}

dual_test! {
    async fn notify_only_contacts_cannot_log_in(app) {
        let owner = app.signup().await;
        let email = format!("notify-{}@example.com", uuid::Uuid::new_v4().simple());
        let now = roster_core::clock::now();
        let id = roster_core::ids::CustomerId::new();
        app.store
            .add_member(&roster_store::NewMember {
                organization_id: owner.organization_id,
                team_id: owner.team_id,
                customer_id: id,
                membership_id: roster_core::ids::MembershipId::new(),
                email: email.clone(),
                email_verified: true,
                password_hash: None,
                name: "Pager".into(),
                surname: "Only".into(),
                role: Role::Notify,
                audit: roster_server::app::audit::Actor::default().event("member.added", "customer", Some(id.0), json!({})),
                now,
            })
            .await
            .unwrap();
        app.login(&email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
        app.login(&email, "").await.assert(422, Some("VALIDATION_ERROR"));
    }
}

dual_test! {
    async fn ended_credentials_open_no_route(app) {
        let owner = app.signup().await;
        // A session ended by logout, one past its expiry, and a revoked API key.
        let logged_out = app.login(&owner.email, PASSWORD).await.body["token"].as_str().unwrap().to_owned();
        app.post("/v1/auth/logout", Some(&logged_out), json!({})).await;
        let expired = app.login(&owner.email, PASSWORD).await.body["token"].as_str().unwrap().to_owned();
        app.get("/v1/customer", &expired).await.assert(200, None);
        on_db!(app, |conn| {
            let past = roster_core::clock::now() - time::Duration::MINUTE;
            // Every session but the owner's own: the one made last is the one to expire.
            sqlx::query("UPDATE access_tokens SET expires_at = $1 WHERE created_at = (SELECT MAX(created_at) FROM access_tokens)")
                .bind(past)
                .execute(&mut conn)
                .await
                .unwrap();
        });
        let r = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "revoked", "scopes": ["customers:read"] })).await;
        let (key, key_id) = (r.body["secret"].as_str().unwrap().to_owned(), r.body["id"].as_str().unwrap().to_owned());
        app.get("/v1/customer", &key).await.assert(200, None);
        let r = app.delete(&format!("/v1/api-keys/{key_id}"), &owner.token, None).await;
        assert!(r.status.is_success(), "{}", r.text);
        app.get("/v1/customer", &owner.token).await.assert(200, None);
        for rule in ROUTES.iter().filter(|r| r.access != Access::Public) {
            let path = fill(rule.path, &owner);
            for (what, token) in [("logged-out session", &logged_out), ("expired session", &expired), ("revoked API key", &key)] {
                let r = call(&app, rule.method, &path, Some(token)).await;
                assert_eq!(r.status, 401, "{} {} with a {what}: {}", rule.method, rule.path, r.text);
                r.assert(401, Some("UNAUTHORIZED"));
            }
        }
    }
}
