//! Changing a password, resetting a forgotten one by email, and the
//! RateLimit headers every 429 carries.

use crate::helpers::*;
use serde_json::json;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn api_key(app: &TestApp, token: &str) -> String {
    let r = app.post("/v1/api-keys", Some(token), json!({ "name": "ci", "scopes": ["customers:read"] })).await;
    r.assert(201, None);
    r.body["secret"].as_str().unwrap().to_owned()
}

dual_test! {
    async fn changing_the_password_ends_other_sessions_and_keeps_api_keys(app) {
        let account = app.signup().await;
        let key = api_key(&app, &account.token).await;
        let other = app.login(&account.email, PASSWORD).await;
        other.assert(200, None);
        let other = other.body["token"].as_str().unwrap().to_owned();

        let r = app
            .put("/v1/customer/password", &account.token, json!({ "current_password": "not my password", "new_password": NEW_PASSWORD }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["current_password"]);
        let r = app
            .put("/v1/customer/password", &account.token, json!({ "current_password": PASSWORD, "new_password": "short" }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["new_password"]);

        let r = app
            .put("/v1/customer/password", &account.token, json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
            .await;
        r.assert(200, None);
        assert_eq!(r.body["sessions_revoked"], 1, "{}", r.text);
        app.get("/v1/customer", &other).await.assert(401, Some("UNAUTHORIZED"));
        app.get("/v1/customer", &account.token).await.assert(200, None);
        app.get("/v1/customer", &key).await.assert(200, None);
        app.login(&account.email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
        app.login(&account.email, NEW_PASSWORD).await.assert(200, None);
        let trail = app.audit_trail(account.customer_id.0).await;
        assert!(trail.iter().any(|(action, _)| action == "customer.password_changed"), "{trail:?}");
    }
}

dual_test! {
    async fn wrong_current_passwords_count_as_failed_logins(app) {
        let account = app.signup().await;
        for _ in 0..app.config.login_max_failures {
            app.put("/v1/customer/password", &account.token, json!({ "current_password": "wrong one!", "new_password": NEW_PASSWORD }))
                .await
                .assert(422, Some("VALIDATION_ERROR"));
        }
        app.put("/v1/customer/password", &account.token, json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
            .await
            .assert(429, Some("RATE_LIMITED"));
        app.login(&account.email, PASSWORD).await.assert(429, Some("RATE_LIMITED"));
    }
}

dual_test! {
    async fn an_api_key_cannot_change_the_password(app) {
        let account = app.signup().await;
        let r = app.post("/v1/api-keys", Some(&account.token), json!({ "name": "w", "scopes": ["customers:write"] })).await;
        let key = r.body["secret"].as_str().unwrap().to_owned();
        let r = app
            .put("/v1/customer/password", &key, json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["authorization"]);
        app.login(&account.email, PASSWORD).await.assert(200, None);
    }
}

dual_test! {
    async fn a_reset_answers_alike_for_any_address_and_mails_only_accounts(app) {
        let account = app.signup().await;
        // Unverified, as an account made before sign-up proved the address: the reset proves it.
        app.unverify(&account).await;
        let key = api_key(&app, &account.token).await;
        let stranger = fresh_address("nobody");
        let unknown = app.post("/v1/auth/password/reset", None, json!({ "email": stranger })).await;
        let known = app.post("/v1/auth/password/reset", None, json!({ "email": account.email.to_uppercase() })).await;
        known.assert(202, None);
        unknown.assert(202, None);
        assert_eq!(known.text, unknown.text, "the answers must not tell the cases apart");

        let mail = app.mail_to(&account.email).await;
        let code = mail.code().expect("a code in the reset email");
        assert!(mail.text.contains("reset"), "{}", mail.text);
        assert!(app.smtp.received().iter().all(|m| !m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(&stranger))));

        let wrong = if code == "000000" { "111111" } else { "000000" };
        let r = app
            .post("/v1/auth/password/reset/confirm", None, json!({ "email": account.email, "code": wrong, "new_password": NEW_PASSWORD }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["code"]);
        // An address without an account answers like a wrong code.
        let r = app
            .post("/v1/auth/password/reset/confirm", None, json!({ "email": stranger, "code": code, "new_password": NEW_PASSWORD }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["code"]);

        app.post("/v1/auth/password/reset/confirm", None, json!({ "email": account.email, "code": code, "new_password": NEW_PASSWORD }))
            .await
            .assert(200, None);
        app.get("/v1/customer", &account.token).await.assert(401, Some("UNAUTHORIZED"));
        app.get("/v1/customer", &key).await.assert(200, None);
        app.login(&account.email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
        let fresh = app.login(&account.email, NEW_PASSWORD).await;
        fresh.assert(200, None);
        // The code reached the address, so the address is verified too.
        let me = app.get("/v1/customer", fresh.body["token"].as_str().unwrap()).await;
        assert_eq!(me.body["customer"]["email_verified"], true, "{}", me.text);
        // A code works once.
        app.post("/v1/auth/password/reset/confirm", None, json!({ "email": account.email, "code": code, "new_password": PASSWORD }))
            .await
            .assert(422, Some("VALIDATION_ERROR"));
        let trail = app.audit_trail(account.customer_id.0).await;
        assert!(trail.iter().any(|(action, _)| action == "customer.password_reset"), "{trail:?}");
    }
}

dual_test! {
    async fn a_reset_code_dies_after_five_wrong_attempts(app) {
        let account = app.signup().await;
        app.post("/v1/auth/password/reset", None, json!({ "email": account.email })).await.assert(202, None);
        let code = app.code_for(&account.email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for left in (0..app.config.code_max_attempts).rev() {
            let r = app
                .post("/v1/auth/password/reset/confirm", None, json!({ "email": account.email, "code": wrong, "new_password": NEW_PASSWORD }))
                .await;
            r.assert(422, Some("VALIDATION_ERROR"));
            if left > 0 {
                assert!(r.text.contains(&format!("{left} attempt(s) left")), "{}", r.text);
            }
        }
        let r = app
            .post("/v1/auth/password/reset/confirm", None, json!({ "email": account.email, "code": code, "new_password": NEW_PASSWORD }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "too_many_attempts", "{}", r.text);
        app.login(&account.email, PASSWORD).await.assert(200, None);
    }
}

dual_test! {
    async fn resets_are_limited_per_address_whether_or_not_it_has_an_account(app) {
        let stranger = fresh_address("nobody");
        for _ in 0..app.config.password_reset_max_per_email {
            app.post("/v1/auth/password/reset", None, json!({ "email": stranger })).await.assert(202, None);
        }
        let r = app.post("/v1/auth/password/reset", None, json!({ "email": stranger })).await;
        r.assert(429, Some("RATE_LIMITED"));
        let policy = format!("\"default\";q={};w={}", app.config.password_reset_max_per_email, app.config.rate_limit_window_secs);
        assert_eq!(r.headers["ratelimit-policy"], policy.as_str());
        // Another address is not held back by this one.
        app.post("/v1/auth/password/reset", None, json!({ "email": fresh_address("other") })).await.assert(202, None);
    }
}

dual_test! {
    async fn a_refused_login_states_its_rate_limit(app) {
        let account = app.signup().await;
        for _ in 0..app.config.login_max_failures {
            app.login(&account.email, "wrong password!").await.assert(401, None);
        }
        let r = app.login(&account.email, PASSWORD).await;
        r.assert(429, Some("RATE_LIMITED"));
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1 && retry <= app.config.rate_limit_window_secs, "{retry}");
        let policy = format!("\"default\";q={};w={}", app.config.login_max_failures, app.config.rate_limit_window_secs);
        assert_eq!(r.headers["ratelimit-policy"], policy.as_str());
        assert_eq!(r.headers["ratelimit"], format!("\"default\";r=0;t={retry}").as_str());
    }
}

dual_test! {
    async fn a_login_upgrades_a_hash_made_with_weaker_parameters(app) {
        use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
        let owner = app.signup().await;
        let weak = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        let email = fresh_address("legacy");
        let id = app.insert_member(&owner, &email, Some(weak.clone()), ("Old", "Hash"), roster_core::role::Role::User).await;
        app.login(&email, PASSWORD).await.assert(200, None);
        let upgraded = app.store.password_hash(id).await.unwrap().unwrap();
        assert_ne!(upgraded, weak);
        assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{upgraded}");
        app.login(&email, PASSWORD).await.assert(200, None);
        // A hash that is current stays as it is.
        app.login(&email, PASSWORD).await.assert(200, None);
        assert_eq!(app.store.password_hash(id).await.unwrap().unwrap(), upgraded);
    }
}

dual_test! {
    async fn changing_the_password_kills_a_pending_reset_code(app) {
        let account = app.signup().await;
        app.post("/v1/auth/password/reset", None, json!({ "email": account.email })).await.assert(202, None);
        let code = app.code_for(&account.email).await;
        app.put("/v1/customer/password", &account.token, json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
            .await
            .assert(200, None);
        let r = app
            .post("/v1/auth/password/reset/confirm", None, json!({ "email": account.email, "code": code, "new_password": PASSWORD }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        app.login(&account.email, NEW_PASSWORD).await.assert(200, None);
    }
}
