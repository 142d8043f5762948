//! The TOTP second factor: enrolment, login with a code or a recovery code,
//! removal, and organizations that require it.

use crate::helpers::*;
use roster_core::role::Role;
use roster_core::totp;
use serde_json::json;

/// The code an authenticator app shows `offset_secs` from now.
fn code(secret: &[u8], offset_secs: i64) -> String {
    totp::code_at(secret, (roster_core::clock::now().unix_timestamp() + offset_secs) as u64)
}

/// Enrols `account` and answers the secret and the recovery codes.
async fn enrol(app: &TestApp, account: &Account) -> (Vec<u8>, Vec<String>) {
    let r = app.post("/v1/customer/totp", Some(&account.token), json!({ "password": PASSWORD })).await;
    r.assert(200, None);
    let secret = totp::base32_decode(r.body["secret"].as_str().unwrap()).unwrap();
    let r = app.post("/v1/customer/totp/confirm", Some(&account.token), json!({ "code": code(&secret, 0) })).await;
    r.assert(200, None);
    let codes = r.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes)
}

fn login_body(account: &Account, extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({ "email": account.email, "password": PASSWORD });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

dual_test! {
    async fn enrolment_needs_the_password_and_a_code_from_the_app(app) {
        let account = app.signup().await;
        let r = app.post("/v1/customer/totp", Some(&account.token), json!({ "password": "not my password" })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["password"]);

        let r = app.post("/v1/customer/totp", Some(&account.token), json!({ "password": PASSWORD })).await;
        r.assert(200, None);
        let secret_text = r.body["secret"].as_str().unwrap();
        let uri = r.body["otpauth_uri"].as_str().unwrap();
        assert!(
            uri.starts_with(&format!("otpauth://totp/Roster:{}?secret={secret_text}&issuer=Roster", account.email)),
            "{uri}"
        );
        let secret = totp::base32_decode(secret_text).unwrap();
        assert_eq!(secret.len(), 20);
        // Pending: login still needs nothing more.
        app.login(&account.email, PASSWORD).await.assert(200, None);

        let r = app.post("/v1/customer/totp/confirm", Some(&account.token), json!({ "code": "12345" })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        let wrong = if code(&secret, 0) == "000000" { "111111" } else { "000000" };
        let r = app.post("/v1/customer/totp/confirm", Some(&account.token), json!({ "code": wrong })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["code"]);

        let r = app.post("/v1/customer/totp/confirm", Some(&account.token), json!({ "code": code(&secret, 0) })).await;
        r.assert(200, None);
        let codes = r.body["recovery_codes"].as_array().unwrap();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(unique.len(), 10);
        // Active: a second enrolment is refused until this one is removed.
        app.post("/v1/customer/totp", Some(&account.token), json!({ "password": PASSWORD })).await.assert(409, Some("CONFLICT"));
        app.post("/v1/customer/totp/confirm", Some(&account.token), json!({ "code": code(&secret, 0) }))
            .await
            .assert(409, Some("CONFLICT"));
        let trail = app.audit_trail(account.customer_id.0).await;
        assert!(trail.iter().any(|(action, _)| action == "customer.totp_enabled"), "{trail:?}");
        // Nothing secret is stored in the clear.
        let stored = app.store.totp_state(account.customer_id).await.unwrap().secret.unwrap();
        assert!(!stored.contains(secret_text), "{stored}");
    }
}

dual_test! {
    async fn login_needs_the_second_factor_once_enabled(app) {
        let account = app.signup().await;
        let (secret, recovery) = enrol(&app, &account).await;

        let r = app.login(&account.email, PASSWORD).await;
        r.assert(401, Some("TOTP_REQUIRED"));
        assert!(r.headers.contains_key("www-authenticate"));
        // A wrong password is still just a wrong password.
        app.login(&account.email, "wrong password!").await.assert(401, Some("UNAUTHORIZED"));
        let wrong = if code(&secret, 0) == "000000" { "111111" } else { "000000" };
        app.post("/v1/auth/login", None, login_body(&account, json!({ "totp_code": wrong })))
            .await
            .assert(401, Some("TOTP_REQUIRED"));

        // The enrolment used the current step; the next one (within the allowed drift) is fresh.
        let next = code(&secret, 30);
        let r = app.post("/v1/auth/login", None, login_body(&account, json!({ "totp_code": next }))).await;
        r.assert(200, None);
        assert_eq!(r.body["totp_enrolment_required"], false);
        let session = r.body["token"].as_str().unwrap().to_owned();
        app.get("/v1/customer", &session).await.assert(200, None);
        // A code works once.
        app.post("/v1/auth/login", None, login_body(&account, json!({ "totp_code": next })))
            .await
            .assert(401, Some("TOTP_REQUIRED"));

        // A recovery code works once, whatever its case.
        let r = app.post("/v1/auth/login", None, login_body(&account, json!({ "recovery_code": recovery[0].to_uppercase() }))).await;
        r.assert(200, None);
        app.post("/v1/auth/login", None, login_body(&account, json!({ "recovery_code": recovery[0] })))
            .await
            .assert(401, Some("TOTP_REQUIRED"));
        app.post("/v1/auth/login", None, login_body(&account, json!({ "recovery_code": recovery[1] }))).await.assert(200, None);
    }
}

dual_test! {
    async fn wrong_codes_at_login_are_limited_like_wrong_passwords(app) {
        let account = app.signup().await;
        let (secret, _) = enrol(&app, &account).await;
        let wrong = if code(&secret, 0) == "000000" { "111111" } else { "000000" };
        for _ in 0..app.config.login_max_failures {
            app.post("/v1/auth/login", None, login_body(&account, json!({ "totp_code": wrong })))
                .await
                .assert(401, Some("TOTP_REQUIRED"));
        }
        let r = app.post("/v1/auth/login", None, login_body(&account, json!({ "totp_code": code(&secret, 30) }))).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert!(r.headers.contains_key("ratelimit-policy"));
    }
}

dual_test! {
    async fn removing_the_second_factor_needs_a_password_or_a_code(app) {
        let account = app.signup().await;
        app.delete("/v1/customer/totp", &account.token, Some(json!({ "password": PASSWORD })))
            .await
            .assert(409, Some("CONFLICT"));
        let (secret, _) = enrol(&app, &account).await;
        let r = app.delete("/v1/customer/totp", &account.token, Some(json!({}))).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        app.delete("/v1/customer/totp", &account.token, Some(json!({ "password": "wrong password!" })))
            .await
            .assert(422, Some("VALIDATION_ERROR"));
        let wrong = if code(&secret, 0) == "000000" { "111111" } else { "000000" };
        app.delete("/v1/customer/totp", &account.token, Some(json!({ "code": wrong })))
            .await
            .assert(422, Some("VALIDATION_ERROR"));
        app.delete("/v1/customer/totp", &account.token, Some(json!({ "code": code(&secret, 30) })))
            .await
            .assert(204, None);
        app.login(&account.email, PASSWORD).await.assert(200, None);
        // The recovery codes died with it.
        assert_eq!(app.store.recovery_codes_left(account.customer_id).await.unwrap(), 0);
        // And a fresh enrolment works again.
        enrol(&app, &account).await;
        app.delete("/v1/customer/totp", &account.token, Some(json!({ "password": PASSWORD }))).await.assert(204, None);
        let trail = app.audit_trail(account.customer_id.0).await;
        assert!(trail.iter().any(|(action, _)| action == "customer.totp_disabled"), "{trail:?}");
    }
}

dual_test! {
    async fn api_keys_cannot_touch_the_second_factor(app) {
        let account = app.signup().await;
        let r = app.post("/v1/api-keys", Some(&account.token), json!({ "name": "w", "scopes": ["customers:write"] })).await;
        let key = r.body["secret"].as_str().unwrap().to_owned();
        let r = app.post("/v1/customer/totp", Some(&key), json!({ "password": PASSWORD })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["authorization"]);
    }
}

dual_test! {
    async fn owners_may_require_a_second_factor(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let member = app.add_member(&owner, Role::User).await;
        app.patch("/v1/organization", &admin.token, json!({ "require_totp": true })).await.assert(403, Some("FORBIDDEN"));
        let r = app.get("/v1/organization", &owner.token).await;
        assert_eq!(r.body["require_totp"], false);
        // An owner without a second factor would lock themselves into enrolment.
        app.patch("/v1/organization", &owner.token, json!({ "require_totp": true })).await.assert(409, Some("CONFLICT"));
        assert_eq!(app.get("/v1/organization", &owner.token).await.body["require_totp"], false);
        enrol(&app, &owner).await;

        let r = app.patch("/v1/organization", &owner.token, json!({ "require_totp": true })).await;
        r.assert(200, None);
        assert_eq!(r.body["require_totp"], true);

        let r = app.login(&member.email, PASSWORD).await;
        r.assert(200, None);
        assert_eq!(r.body["totp_enrolment_required"], true, "{}", r.text);
        enrol(&app, &member).await;
        let r = app.login(&member.email, PASSWORD).await;
        r.assert(401, Some("TOTP_REQUIRED"));

        app.patch("/v1/organization", &owner.token, json!({ "require_totp": false })).await.assert(200, None);
        let r = app.login(&admin.email, PASSWORD).await;
        assert_eq!(r.body["totp_enrolment_required"], false, "{}", r.text);
    }
}

dual_test! {
    async fn members_without_a_required_second_factor_can_only_enrol(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::Manager).await;
        let r = app.post("/v1/api-keys", Some(&member.token), json!({ "name": "ci", "scopes": ["teams:read"] })).await;
        r.assert(201, None);
        let key = r.body["secret"].as_str().unwrap().to_owned();
        app.get("/v1/teams", &member.token).await.assert(200, None);
        enrol(&app, &owner).await;
        app.patch("/v1/organization", &owner.token, json!({ "require_totp": true })).await.assert(200, None);

        // The member's existing session and key stop at everything but enrolment.
        for token in [&member.token, &key] {
            let r = app.get("/v1/teams", token).await;
            r.assert(403, Some("TOTP_ENROLMENT_REQUIRED"));
            assert!(r.body["detail"].as_str().unwrap().contains("/v1/customer/totp"), "{}", r.text);
        }
        app.patch("/v1/customer", &member.token, json!({ "name": "Max" })).await.assert(403, Some("TOTP_ENROLMENT_REQUIRED"));
        app.get("/v1/customer", &member.token).await.assert(200, None);
        // The owner, enrolled, is not held back.
        app.get("/v1/teams", &owner.token).await.assert(200, None);

        enrol(&app, &member).await;
        app.get("/v1/teams", &member.token).await.assert(200, None);
        app.get("/v1/teams", &key).await.assert(200, None);

        // Dropping the factor again confines the member once more.
        let r = app.delete("/v1/customer/totp", &member.token, Some(json!({ "password": PASSWORD }))).await;
        r.assert(204, None);
        app.get("/v1/teams", &member.token).await.assert(403, Some("TOTP_ENROLMENT_REQUIRED"));
        app.post("/v1/auth/logout", Some(&member.token), json!({})).await.assert(204, None);
    }
}
