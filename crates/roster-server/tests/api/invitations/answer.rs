//! Answering an invitation through its link: reading it, accepting it as a
//! new person or as a customer of the organization, declining it, and every
//! way a link can be dead.

use super::*;
use reqwest::Method;
use roster_core::secret::{generate_token, TokenKind};

async fn open(app: &TestApp, token: &str) -> Resp {
    app.call(Method::GET, &format!("/v1/invitations/{token}"), None, None).await
}

async fn accept(app: &TestApp, token: &str, body: Value) -> Resp {
    app.post(&format!("/v1/invitations/{token}/accept"), None, body).await
}

async fn decline(app: &TestApp, token: &str) -> Resp {
    app.call(Method::POST, &format!("/v1/invitations/{token}/decline"), None, None).await
}

fn newcomer() -> Value {
    json!({ "name": "Bo", "surname": "Berg", "password": "a brand new passphrase" })
}

/// The teams a customer belongs to, with the role of each membership.
async fn memberships(app: &TestApp, customer: &str) -> Vec<(uuid::Uuid, String)> {
    let id: uuid::Uuid = customer.parse().unwrap();
    let sql = "SELECT team_id, role FROM memberships WHERE customer_id = $1 ORDER BY created_at, id";
    on_db!(app, |conn| sqlx::query_as(sql).bind(id).fetch_all(&mut conn).await.unwrap())
}

async fn invited_at(app: &TestApp, customer: &str) -> Option<OffsetDateTime> {
    let id: uuid::Uuid = customer.parse().unwrap();
    let sql = "SELECT invited_at FROM customers WHERE id = $1";
    on_db!(app, |conn| sqlx::query_scalar(sql).bind(id).fetch_one(&mut conn).await.unwrap())
}

dual_test! {
    async fn a_new_person_joins_through_the_emailed_link(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (inv, token) = invited(&app, &owner, owner.team_id, &address, Some("manager")).await;

        let r = open(&app, &token).await;
        r.assert(200, None);
        assert_eq!(r.body["organization"], json!({ "id": owner.organization_id, "name": "Acme Inc" }));
        assert_eq!(r.body["team"], json!({ "id": owner.team_id, "name": "Default team" }));
        assert_eq!(r.body["inviter_name"], "Ann Lee");
        assert_eq!(r.body["channel"], address);
        assert_eq!(r.body["role"], "manager");
        assert_eq!(r.body["expires_at"], inv["expires_at"]);
        assert_eq!(r.body["account_exists"], false);

        let r = accept(&app, &token, json!({ "password": "short" })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), vec!["name", "surname", "password"]);
        let r = accept(&app, &token, newcomer()).await;
        r.assert(200, None);
        assert_eq!(r.body["token_type"], "Bearer");
        assert_eq!(r.body["organization_id"], owner.organization_id.to_string());
        assert_eq!(r.body["team_id"], owner.team_id.to_string());
        let customer = r.body["customer_id"].as_str().unwrap().to_owned();
        let session = r.body["token"].as_str().unwrap().to_owned();

        let me = app.get("/v1/customer", &session).await;
        me.assert(200, None);
        assert_eq!(me.body["customer"]["id"], customer);
        assert_eq!(me.body["customer"]["email"], address);
        assert_eq!(me.body["customer"]["full_name"], "Bo Berg");
        assert_eq!(me.body["customer"]["role"], "manager", "the invitation's role");
        assert_eq!(me.body["customer"]["email_verified"], true, "the link proved the address");
        assert_eq!(me.body["team"]["id"], owner.team_id.to_string());
        assert_eq!(memberships(&app, &customer).await, vec![(owner.team_id.0, "manager".to_owned())]);
        assert_eq!(invited_at(&app, &customer).await, Some(time_of(&inv["created_at"])));
        let login = app.login(&address, "a brand new passphrase").await;
        login.assert(200, None);
        assert_eq!(login.body["customer_id"], customer);

        let mail = mail_about(&app, &owner.email, "joined").await;
        assert_eq!(mail.subject, "Bo Berg joined Default team on Roster");
        assert!(mail.text.contains("Hi Ann,") && mail.text.contains("Bo Berg accepted your invitation"), "{}", mail.text);
        let listed = listing(&app, &owner.token, owner.team_id).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["status"], "Accepted");

        // A used link is spent.
        let r = open(&app, &token).await;
        r.assert(410, Some("GONE"));
        assert!(r.body["detail"].as_str().unwrap().contains("already accepted"), "{}", r.text);
        accept(&app, &token, newcomer()).await.assert(410, Some("GONE"));
        decline(&app, &token).await.assert(410, Some("GONE"));
        let audit = audit_actions(&app, &inv).await;
        assert_eq!(audit.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), ["invitation.created", "invitation.accepted"]);
        assert_eq!(audit[1].1["new_account"], true);
        assert!(audit.iter().all(|(_, data)| !data.to_string().contains('@')), "no addresses in the audit: {audit:?}");
    }
}

dual_test! {
    async fn a_link_clicked_twice_at_once_is_accepted_once(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (_, token) = invited(&app, &owner, owner.team_id, &address, None).await;
        let (a, b) = tokio::join!(accept(&app, &token, newcomer()), accept(&app, &token, newcomer()));
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert!(statuses == [200, 410] || statuses == [200, 409], "one wins: {} / {}", a.text, b.text);
        let winner = if a.status == 200 { &a } else { &b };
        let customer = winner.body["customer_id"].as_str().unwrap();
        assert_eq!(memberships(&app, customer).await.len(), 1);
        assert_eq!(listing(&app, &owner.token, owner.team_id).await[0]["status"], "Accepted");
        mail_about(&app, &owner.email, "joined").await;
        // The owner's messages: the sign-up's code and one notice.
        let rows = app.store.count_rows_for(owner.organization_id, owner.customer_id).await.unwrap();
        assert_eq!(rows.iter().find(|(t, _)| *t == "outbox").unwrap().1, 2, "the inviter hears once: {rows:?}");
    }
}

dual_test! {
    async fn a_customer_of_the_organization_joins_with_their_password(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        let (_, token) = invited(&app, &owner, ops, &member.email, Some("admin")).await;
        let r = open(&app, &token).await;
        r.assert(200, None);
        assert_eq!(r.body["account_exists"], true);

        let r = accept(&app, &token, json!({ "password": "not the password" })).await;
        r.assert(401, Some("UNAUTHORIZED"));
        accept(&app, &token, json!({ "password": "" })).await.assert(422, Some("VALIDATION_ERROR"));
        let id = member.customer_id.to_string();
        assert_eq!(memberships(&app, &id).await.len(), 1, "a wrong password changes nothing");
        assert_eq!(listing(&app, &owner.token, ops).await[0]["status"], "Pending");
        open(&app, &token).await.assert(200, None);

        let r = accept(&app, &token, json!({ "password": PASSWORD, "name": "Ignored" })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer_id"], id);
        assert_eq!(r.body["team_id"], ops.to_string());
        let me = app.get("/v1/customer", r.body["token"].as_str().unwrap()).await;
        assert_eq!(me.body["customer"]["role"], "user", "an existing customer keeps their role");
        assert_eq!(me.body["customer"]["name"], "Max");
        assert_eq!(memberships(&app, &id).await, vec![(owner.team_id.0, "user".to_owned()), (ops.0, "user".to_owned())]);
        assert_eq!(invited_at(&app, &id).await, None);
        assert_eq!(listing(&app, &owner.token, ops).await[0]["status"], "Accepted");
        let mail = mail_about(&app, &owner.email, "joined").await;
        assert!(mail.text.contains("Max Mustermann accepted your invitation and joined the team Ops"), "{}", mail.text);
    }
}

dual_test! {
    async fn an_unverified_account_verifies_its_address_first(app) {
        let owner = app.signup().await;
        // Read before the invitation arrives: looking for that passes over other emails.
        let code = app.unverify(&owner).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        let (_, token) = invited(&app, &owner, ops, &owner.email, None).await;
        let r = accept(&app, &token, json!({ "password": PASSWORD })).await;
        r.assert(403, Some("FORBIDDEN"));
        assert!(r.body["detail"].as_str().unwrap().contains("verify your email first"), "{}", r.text);
        assert_eq!(memberships(&app, &owner.customer_id.to_string()).await.len(), 1);

        let path = "/v1/auth/email/verification";
        app.post(path, Some(&owner.token), json!({ "code": code })).await.assert(200, None);
        accept(&app, &token, json!({ "password": PASSWORD })).await.assert(200, None);
        assert_eq!(memberships(&app, &owner.customer_id.to_string()).await.len(), 2);
    }
}

dual_test! {
    async fn wrong_passwords_count_against_the_login(app) {
        let _ = app;
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.login_max_failures = 2).await else { return };
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        let (_, token) = invited(&app, &owner, ops, &member.email, None).await;
        for _ in 0..2 {
            accept(&app, &token, json!({ "password": "not the password" })).await.assert(401, Some("UNAUTHORIZED"));
        }
        let r = accept(&app, &token, json!({ "password": PASSWORD })).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert!(r.headers.contains_key("retry-after"));
        app.login(&member.email, PASSWORD).await.assert(429, Some("RATE_LIMITED"));
        assert_eq!(listing(&app, &owner.token, ops).await[0]["status"], "Pending");
    }
}

dual_test! {
    async fn declining_closes_the_link(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (inv, token) = invited(&app, &owner, owner.team_id, &address, None).await;
        let r = decline(&app, &token).await;
        r.assert(200, None);
        assert!(r.body["message"].as_str().unwrap().contains("declined"), "{}", r.text);
        assert_eq!(listing(&app, &owner.token, owner.team_id).await[0]["status"], "Declined");
        let r = open(&app, &token).await;
        r.assert(410, Some("GONE"));
        assert!(r.body["detail"].as_str().unwrap().contains("declined"), "{}", r.text);
        accept(&app, &token, newcomer()).await.assert(410, Some("GONE"));
        decline(&app, &token).await.assert(410, Some("GONE"));
        app.login(&address, "a brand new passphrase").await.assert(401, Some("UNAUTHORIZED"));
        let actions: Vec<String> = audit_actions(&app, &inv).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions, ["invitation.created", "invitation.declined"]);
        // A declined invitation no longer blocks a new one.
        invited(&app, &owner, owner.team_id, &address, None).await;
    }
}

dual_test! {
    async fn an_expired_link_is_gone(app) {
        let _ = app;
        // A zero lifetime makes every invitation expire the moment it is issued.
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.invitation_ttl_days = 0).await else { return };
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (_, token) = invited(&app, &owner, owner.team_id, &address, None).await;
        let r = open(&app, &token).await;
        r.assert(410, Some("GONE"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("expired") && detail.contains("ask Ann Lee for a new one"), "{detail}");
        accept(&app, &token, newcomer()).await.assert(410, Some("GONE"));
        decline(&app, &token).await.assert(410, Some("GONE"));
        assert_eq!(listing(&app, &owner.token, owner.team_id).await[0]["status"], "Expired");
        app.login(&address, "a brand new passphrase").await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn unknown_and_malformed_tokens_are_not_found(app) {
        let owner = app.signup().await;
        invited(&app, &owner, owner.team_id, &fresh_address("bo"), None).await;
        let unknown = generate_token(TokenKind::Invitation);
        let session = owner.token.clone();
        let mut mangled = unknown.clone();
        mangled.replace_range(8..9, if &unknown[8..9] == "a" { "b" } else { "a" });
        for token in [unknown.as_str(), "rsi_abc", session.as_str(), mangled.as_str(), "anything"] {
            open(&app, token).await.assert(404, Some("NOT_FOUND"));
            accept(&app, token, newcomer()).await.assert(404, Some("NOT_FOUND"));
            decline(&app, token).await.assert(404, Some("NOT_FOUND"));
        }
        assert_eq!(listing(&app, &owner.token, owner.team_id).await[0]["status"], "Pending");
    }
}

dual_test! {
    async fn links_are_limited_per_client(app) {
        let _ = app;
        let Some(app) = TestApp::spawn_with(app.backend, |c| c.login_max_per_ip = 3).await else { return };
        let token = generate_token(TokenKind::Invitation);
        open(&app, &token).await.assert(404, None);
        decline(&app, &token).await.assert(404, None);
        accept(&app, &token, newcomer()).await.assert(404, None);
        let r = open(&app, &token).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert!(r.headers.contains_key("retry-after"));
    }
}

dual_test! {
    async fn accepting_respects_the_plan_and_other_organizations(app) {
        let Some(app) = with_members(app.backend, 2).await else { return };
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (_, token) = invited(&app, &owner, owner.team_id, &address, None).await;
        // Someone is added meanwhile, filling the plan.
        app.add_member(&owner, Role::User).await;
        accept(&app, &token, newcomer()).await.assert(403, Some("PLAN_LIMIT_REACHED"));
        assert_eq!(listing(&app, &owner.token, owner.team_id).await[0]["status"], "Pending");
        app.login(&address, "a brand new passphrase").await.assert(401, Some("UNAUTHORIZED"));

        // The address signs up its own organization meanwhile: it can no longer join this one.
        app.signup_as(&address, "Elsewhere").await;
        let r = open(&app, &token).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("another organization"), "{}", r.text);
        accept(&app, &token, json!({ "password": PASSWORD })).await.assert(409, Some("CONFLICT"));
    }
}
