//! Sign-up, email verification, login, logout and bearer tokens.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

dual_test! {
    async fn signup_creates_owner_org_and_team_and_emails_a_code(app) {
        let account = app.signup_as("Ann.Lee@Example.com", "Acme Inc").await;
        let profile = app.get("/v1/customer", &account.token).await;
        profile.assert(200, None);
        assert_eq!(profile.body["customer"]["email"], "ann.lee@example.com", "emails are normalized");
        assert_eq!(profile.body["customer"]["role"], "root");
        assert_eq!(profile.body["customer"]["email_verified"], false);
        assert_eq!(profile.body["organization"]["slug"], "acme-inc");
        assert_eq!(profile.body["team"]["id"], account.team_id.to_string());

        let mail = app.mail_to("ann.lee@example.com").await;
        assert!(mail.subject.to_lowercase().contains("verification code"), "{}", mail.subject);
        assert!(mail.html.is_some(), "the email has an HTML part");
        let code = mail.code().expect("the email carries a code");

        let r = app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": code })).await;
        r.assert(200, None);
        assert_eq!(r.body["email_verified"], true);
        let profile = app.get("/v1/customer", &account.token).await;
        assert_eq!(profile.body["customer"]["email_verified"], true);
        // A verified address cannot be verified again, nor a code re-sent.
        app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": code })).await.assert(409, Some("CONFLICT"));
        app.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None).await.assert(409, Some("CONFLICT"));
        // Same organization name, new organization: a different slug.
        let other = app.signup_as("bob@example.com", "Acme Inc").await;
        let slug = app.get("/v1/customer", &other.token).await.body["organization"]["slug"].as_str().unwrap().to_owned();
        assert!(slug.starts_with("acme-inc-") && slug != "acme-inc", "{slug}");
    }
}

dual_test! {
    async fn signup_validates_every_field_and_changes_nothing(app) {
        let r = app
            .post(
                "/v1/auth/signup",
                None,
                json!({ "email": "not-an-email", "password": "short", "name": " ", "surname": "x".repeat(101), "organization_name": "" }),
            )
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        let mut fields = r.error_fields();
        fields.sort();
        assert_eq!(fields, vec!["email", "name", "organization_name", "password", "surname"]);
        // Privileged fields are refused, never applied.
        let r = app
            .post(
                "/v1/auth/signup",
                None,
                json!({ "email": "eve@example.com", "password": PASSWORD, "name": "E", "surname": "V", "organization_name": "X", "role": "root", "plan": "pro" }),
            )
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        app.login("eve@example.com", PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(app.store.outbox_counts().await.unwrap().total(), 0, "refused sign-ups queue nothing");
    }
}

dual_test! {
    async fn duplicate_signup_is_a_conflict_that_sends_nothing(app) {
        let first = app.signup_as("dup@example.com", "First").await;
        app.code_for("dup@example.com").await;
        let r = app
            .post(
                "/v1/auth/signup",
                None,
                json!({ "email": "DUP@example.com", "password": PASSWORD, "name": "A", "surname": "B", "organization_name": "Second" }),
            )
            .await;
        r.assert(409, Some("CONFLICT"));
        let counts = app.store.outbox_counts().await.unwrap();
        assert_eq!(counts.total(), 1, "only the first sign-up queued a message");
        // The first account is untouched.
        app.get("/v1/customer", &first.token).await.assert(200, None);
    }
}

dual_test! {
    async fn a_rolled_back_signup_leaves_no_message(app) {
        // Drive the store past the API's pre-check: the customer insert fails
        // after the organization and team were written, and the transaction
        // takes the queued email down with it.
        let first = app.signup().await;
        let before = app.store.outbox_counts().await.unwrap();
        let now = roster_core::clock::now();
        let message = roster_core::message::NewMessage {
            transport: roster_core::message::Transport::Email,
            template: roster_core::message::Template::EmailVerification,
            recipient: first.email.clone(),
            data: json!({ "name": "X", "expires_in_minutes": 15 }),
            secret: Some("123456".into()),
        };
        let signup = roster_store::NewSignup {
            organization_id: roster_core::ids::OrganizationId::new(),
            organization_name: "Rollback".into(),
            slug: "rollback".into(),
            plan: "free".into(),
            trial_ends_at: None,
            team_id: roster_core::ids::TeamId::new(),
            team_name: "T".into(),
            team_name_key: "t".into(),
            // The same customer id as an existing row: the insert violates the primary key.
            customer_id: first.customer_id,
            email: "fresh-address@example.com".into(),
            email_verified: false,
            password_hash: "x".into(),
            name: "R".into(),
            surname: "B".into(),
            membership_id: roster_core::ids::MembershipId::new(),
            verification: Some((vec![1, 2, 3], now, message)),
            audit: roster_server::app::audit::Actor::default().event("organization.created", "organization", None, json!({})),
            now,
        };
        assert!(app.store.create_signup(&signup).await.is_err());
        // The first sign-up's email may be on its way meanwhile; what counts is that no message was added.
        assert_eq!(app.store.outbox_counts().await.unwrap().total(), before.total(), "the failed sign-up queued nothing");
        app.login("fresh-address@example.com", PASSWORD).await.assert(401, None);
    }
}

dual_test! {
    async fn signup_can_be_disabled(app) {
        let _ = app;
        let Some(closed) = TestApp::spawn_with(app.backend, |c| c.signup_enabled = false).await else { return };
        let r = closed
            .post(
                "/v1/auth/signup",
                None,
                json!({ "email": "a@example.com", "password": PASSWORD, "name": "A", "surname": "B", "organization_name": "O" }),
            )
            .await;
        r.assert(403, Some("FORBIDDEN"));
    }
}

dual_test! {
    async fn login_and_logout(app) {
        let account = app.signup().await;
        let r = app.login(&account.email.to_uppercase(), PASSWORD).await;
        r.assert(200, None);
        let token = r.body["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("rst_"));
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["customer_id"], account.customer_id.to_string());
        app.get("/v1/customer", &token).await.assert(200, None);

        app.call(Method::POST, "/v1/auth/logout", Some(&token), None).await.assert(204, None);
        app.get("/v1/customer", &token).await.assert(401, Some("UNAUTHORIZED"));
        // Other sessions live on.
        app.get("/v1/customer", &account.token).await.assert(200, None);
    }
}

dual_test! {
    async fn login_failures_reveal_nothing_and_are_limited(app) {
        let account = app.signup().await;
        let wrong_password = app.login(&account.email, "wrong password!").await;
        wrong_password.assert(401, Some("UNAUTHORIZED"));
        let no_account = app.login("nobody@example.com", "wrong password!").await;
        no_account.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(wrong_password.body["detail"], no_account.body["detail"], "the answers must not tell the cases apart");

        for _ in 1..app.config.login_max_failures {
            app.login(&account.email, "wrong password!").await.assert(401, None);
        }
        // The limit is reached: even the right password is refused for now.
        let r = app.login(&account.email, PASSWORD).await;
        r.assert(429, Some("RATE_LIMITED"));
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1 && retry <= app.config.rate_limit_window_secs, "{retry}");
    }
}

dual_test! {
    async fn bearer_tokens_are_checked(app) {
        let r = app.call(Method::GET, "/v1/customer", None, None).await;
        r.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(r.headers["www-authenticate"], "Bearer");
        for bad in ["rst_nonsense", "Basic abc", "rst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000"] {
            let res = app.client.get(app.url("/v1/customer")).header("authorization", bad).send().await.unwrap();
            TestApp::read(res).await.assert(401, Some("UNAUTHORIZED"));
        }
        // A well-formed token that was never issued.
        let forged = roster_core::secret::generate_token(roster_core::secret::TokenKind::Session);
        app.get("/v1/customer", &forged).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn verification_codes_have_limited_attempts(app) {
        let account = app.signup().await;
        let code = app.code_for(&account.email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": "12ab" })).await.assert(422, Some("VALIDATION_ERROR"));
        for left in (0..app.config.code_max_attempts).rev() {
            let r = app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": wrong })).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            if left > 0 {
                assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(&format!("{left} attempt")), "{}", r.text);
            }
        }
        // The right code no longer helps: the code is dead.
        let r = app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": code })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "too_many_attempts");

        // A new code works, and the old one does not.
        app.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None).await.assert(202, None);
        let fresh = app.code_for(&account.email).await;
        if fresh != code {
            app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": code })).await.assert(422, None);
        }
        app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": fresh })).await.assert(200, None);
    }
}

dual_test! {
    async fn code_resends_are_limited(app) {
        let account = app.signup().await;
        for _ in 0..app.config.code_sends_per_hour {
            app.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None).await.assert(202, None);
        }
        let r = app.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert!(r.headers.contains_key("retry-after"));
    }
}

dual_test! {
    async fn an_expired_code_is_refused(app) {
        let _ = app;
        // A zero lifetime makes every code expire the moment it is issued: expiry without waiting.
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.code_ttl_minutes = 0).await else { return };
        let account = app.signup().await;
        let code = app.code_for(&account.email).await;
        let r = app.post("/v1/auth/email/verification", Some(&account.token), json!({ "code": code })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "expired_code");
        assert_eq!(app.get("/v1/customer", &account.token).await.body["customer"]["email_verified"], false);
    }
}

dual_test! {
    async fn sign_ups_for_one_organization_name_at_the_same_moment_all_succeed(app) {
        // Each needs the same slug; the losers of the race take a suffixed one, never a false "email taken".
        let emails: Vec<String> = (0..6).map(|_| fresh_address("same-org")).collect();
        let signups = emails.iter().map(|email| app.signup_as(email, "Same Name Inc"));
        let accounts = futures::future::join_all(signups).await;
        let mut orgs: Vec<_> = accounts.iter().map(|a| a.organization_id).collect();
        orgs.sort();
        orgs.dedup();
        assert_eq!(orgs.len(), 6);
    }
}
