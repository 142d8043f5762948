//! Sign-up in two steps, email verification, login, logout and bearer tokens.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

dual_test! {
    async fn signup_creates_owner_org_and_team_once_the_code_comes_back(app) {
        let r = app.request_signup("Ann.Lee@Example.com", "Acme Inc").await;
        r.assert(202, None);
        assert!(r.body["expires_at"].is_string(), "{}", r.text);
        let mail = app.mail_to("ann.lee@example.com").await;
        assert!(mail.subject.to_lowercase().contains("sign-up code"), "{}", mail.subject);
        assert!(mail.html.is_some(), "the email has an HTML part");
        let code = mail.code().expect("the email carries a code");
        // Nothing exists before the code comes back.
        app.login("ann.lee@example.com", PASSWORD).await.assert(401, Some("UNAUTHORIZED"));

        let r = app.confirm_signup("ANN.LEE@example.com", &code).await;
        r.assert(201, None);
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["email_verified"], true, "the code proved the address");
        assert_eq!(r.body["organization_slug"], "acme-inc");
        let token = r.body["token"].as_str().unwrap();
        let profile = app.get("/v1/customer", token).await;
        profile.assert(200, None);
        assert_eq!(profile.body["customer"]["email"], "ann.lee@example.com", "emails are normalized");
        assert_eq!(profile.body["customer"]["role"], "root");
        assert_eq!(profile.body["customer"]["email_verified"], true);
        assert_eq!(profile.body["organization"]["slug"], "acme-inc");
        assert_eq!(profile.body["team"]["id"], r.body["team_id"]);
        app.login("ann.lee@example.com", PASSWORD).await.assert(200, None);
        // The code is used up, and a verified address has nothing to verify.
        app.confirm_signup("ann.lee@example.com", &code).await.assert(422, Some("VALIDATION_ERROR"));
        app.post("/v1/auth/email/verification", Some(token), json!({ "code": code })).await.assert(409, Some("CONFLICT"));
        app.call(Method::POST, "/v1/auth/email/verification/resend", Some(token), None).await.assert(409, Some("CONFLICT"));
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

/// How many organizations the test's database holds.
async fn organizations(app: &TestApp) -> i64 {
    on_db!(app, |conn| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM organizations")
        .fetch_one(&mut conn)
        .await
        .unwrap())
}

dual_test! {
    async fn signup_answers_alike_for_taken_and_free_addresses(app) {
        let first = app.signup_as("dup@example.com", "First").await;
        let free = fresh_address("free");
        let taken = app.request_signup("DUP@example.com", "Second").await;
        let open = app.request_signup(&free, "Second").await;
        taken.assert(202, None);
        open.assert(202, None);
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&taken.body), keys(&open.body), "{} vs {}", taken.text, open.text);
        assert_eq!(taken.body["message"], open.body["message"]);
        assert_eq!(taken.headers.get("content-type"), open.headers.get("content-type"));

        // The owner hears of the attempt, without a code; the free address gets its code.
        let notice = app.mail_to("dup@example.com").await;
        assert!(notice.subject.to_lowercase().contains("tried to sign up"), "{}", notice.subject);
        assert!(notice.text.contains("reset"), "{}", notice.text);
        assert_eq!(notice.code(), None, "{}", notice.text);
        assert!(app.mail_to(&free).await.code().is_some());
        // Nothing that could make an account was held for the taken address.
        assert_eq!(app.store.pending_signups_for("dup@example.com").await.unwrap(), 0);
        assert_eq!(app.store.pending_signups_for(&free).await.unwrap(), 1);
        assert_eq!(organizations(&app).await, 1, "no second account appeared");
        app.get("/v1/customer", &first.token).await.assert(200, None);
    }
}

dual_test! {
    async fn a_code_for_a_taken_address_answers_as_a_wrong_code(app) {
        let owner = app.signup().await;
        let free = fresh_address("free");
        app.request_signup(&owner.email, "Squatter").await.assert(202, None);
        app.request_signup(&free, "Fresh").await.assert(202, None);
        app.mail_to(&owner.email).await;
        let code = app.code_for(&free).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        // Wrong codes read the same for both: the attempts count down alike.
        for _ in 0..2 {
            let on_taken = app.confirm_signup(&owner.email, wrong).await;
            let on_free = app.confirm_signup(&free, wrong).await;
            on_taken.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(on_taken.body["errors"], on_free.body["errors"], "{} vs {}", on_taken.text, on_free.text);
        }
        // An address taken after its code was sent: the right code is refused like a wrong one, never 409.
        let hash = roster_server::app::passwords::Passwords::new(1)
            .hash(&roster_core::password::Password::parse(PASSWORD).unwrap())
            .await
            .unwrap();
        app.insert_member(&owner, &free, Some(hash), ("Max", "Mustermann"), roster_core::role::Role::User).await;
        let r = app.confirm_signup(&free, &code).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "invalid_code", "{}", r.text);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("2 attempt"), "{}", r.text);
        assert_eq!(organizations(&app).await, 1, "no account was created");
        // No pending sign-up at all reads the same code too.
        let r = app.confirm_signup(&fresh_address("never"), wrong).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "invalid_code");
    }
}

dual_test! {
    async fn signup_codes_have_limited_attempts(app) {
        let email = fresh_address("tries");
        app.request_signup(&email, "Tries").await.assert(202, None);
        let code = app.code_for(&email).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        app.confirm_signup(&email, "12ab").await.assert(422, Some("VALIDATION_ERROR"));
        for left in (0..app.config.code_max_attempts).rev() {
            let r = app.confirm_signup(&email, wrong).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.body["errors"][0]["code"], "invalid_code");
            if left > 0 {
                assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(&format!("{left} attempt")), "{}", r.text);
            }
        }
        // The right code no longer helps: the code is dead.
        let r = app.confirm_signup(&email, &code).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "too_many_attempts");
        app.login(&email, PASSWORD).await.assert(401, None);
        assert_eq!(organizations(&app).await, 0);
    }
}

dual_test! {
    async fn an_expired_signup_code_is_refused(app) {
        let _ = app;
        // A zero lifetime makes every code expire the moment it is issued: expiry without waiting.
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.code_ttl_minutes = 0).await else { return };
        let email = fresh_address("late");
        app.request_signup(&email, "Late").await.assert(202, None);
        let code = app.code_for(&email).await;
        let r = app.confirm_signup(&email, &code).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.body["errors"][0]["code"], "expired_code");
        app.login(&email, PASSWORD).await.assert(401, None);
        assert_eq!(organizations(&app).await, 0);
    }
}

dual_test! {
    async fn a_second_signup_replaces_the_first_code(app) {
        let email = fresh_address("twice");
        app.request_signup(&email, "First Name").await.assert(202, None);
        let first = app.code_for(&email).await;
        app.request_signup(&email, "Second Name").await.assert(202, None);
        let second = app.code_for(&email).await;
        if first != second {
            let r = app.confirm_signup(&email, &first).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.body["errors"][0]["code"], "invalid_code");
        }
        let r = app.confirm_signup(&email, &second).await;
        r.assert(201, None);
        assert_eq!(r.body["organization_slug"], "second-name", "the later request's data counts");
        assert_eq!(app.store.pending_signups_for(&email).await.unwrap(), 0, "the held sign-up is consumed");
    }
}

dual_test! {
    async fn signup_requests_are_limited_per_address(app) {
        let email = fresh_address("often");
        for _ in 0..app.config.signup_max_per_email {
            app.request_signup(&email, "Often").await.assert(202, None);
        }
        let r = app.request_signup(&email, "Often").await;
        r.assert(429, Some("RATE_LIMITED"));
        // Another address from the same client is still served.
        app.request_signup(&fresh_address("other"), "Other").await.assert(202, None);
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
        closed.confirm_signup("a@example.com", "123456").await.assert(403, Some("FORBIDDEN"));
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
        let code = app.unverify(&account).await;
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
        app.unverify(&account).await; // one send
        for _ in 1..app.config.code_sends_per_hour {
            app.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None).await.assert(202, None);
        }
        let r = app.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert!(r.headers.contains_key("retry-after"));
    }
}

dual_test! {
    async fn an_expired_code_is_refused(app) {
        let account = app.signup().await;
        let code = app.unverify(&account).await;
        on_db!(app, |conn| {
            sqlx::query("UPDATE verification_codes SET expires_at = created_at").execute(&mut conn).await.unwrap();
        });
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
