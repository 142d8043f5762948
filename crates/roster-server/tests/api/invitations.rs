//! Invitations: a team's managers invite by email, list, replace, remind and
//! withdraw (here); the invited person answers through the emailed link
//! (`invitations/answer.rs`). Emails are read from the real SMTP server.

mod answer;

use crate::helpers::*;
use roster_core::ids::TeamId;
use roster_core::plan::PlanLimits;
use roster_core::role::Role;
use roster_testkit::ReceivedMail;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// The next email to `to` whose subject contains `needle`, passing over others (a verification code).
pub async fn mail_about(app: &TestApp, to: &str, needle: &str) -> ReceivedMail {
    loop {
        let mail = app.mail_to(to).await;
        if mail.subject.contains(needle) {
            return mail;
        }
    }
}

/// The token in the next invitation (or reminder) emailed to `to`.
pub async fn token_for(app: &TestApp, to: &str) -> String {
    let mail = mail_about(app, to, "invited you").await;
    token_in(&mail.text).unwrap_or_else(|| panic!("no token in the email to {to}: {}", mail.text))
}

/// A fresh app whose free plan allows `members` seats.
pub async fn with_members(backend: Backend, members: u32) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        c.plans.insert("free".into(), PlanLimits { teams: 5, members, services: 20, channels_per_owner: 10 });
    })
    .await
}

pub async fn invite(app: &TestApp, by: &Account, team: TeamId, address: &str, role: Option<&str>) -> Resp {
    let mut body = json!({ "channel_value": address, "channel_type": "email" });
    if let Some(role) = role {
        body["role"] = json!(role);
    }
    app.post(&format!("/v1/team/{team}/invitation"), Some(&by.token), body).await
}

/// Invites `address` to `team` as `by`, which must succeed, and answers the emailed token.
pub async fn invited(app: &TestApp, by: &Account, team: TeamId, address: &str, role: Option<&str>) -> (Value, String) {
    let r = invite(app, by, team, address, role).await;
    r.assert(201, None);
    (r.body.clone(), token_for(app, address).await)
}

/// A team's invitations as listed to `token` (all of them).
pub async fn listing(app: &TestApp, token: &str, team: TeamId) -> Vec<Value> {
    let r = app.get(&format!("/v1/team/{team}/invitations?limit=100"), token).await;
    r.assert(200, None);
    assert_eq!(r.body["total_count"].as_i64().unwrap() as usize, r.body["data"].as_array().unwrap().len());
    r.body["data"].as_array().unwrap().clone()
}

/// Moves the pending invitation to `address` back in time, straight in the database.
pub async fn backdate(app: &TestApp, address: &str, created_at: OffsetDateTime, expires_at: OffsetDateTime) {
    let sql = "UPDATE invitations SET created_at = $1, expires_at = $2 WHERE channel_value = $3 AND status = 'pending'";
    let changed = on_db!(app, |conn| sqlx::query(sql)
        .bind(created_at)
        .bind(expires_at)
        .bind(address)
        .execute(&mut conn)
        .await
        .unwrap()
        .rows_affected());
    assert_eq!(changed, 1, "exactly one pending invitation to {address}");
}

pub async fn audit_actions(app: &TestApp, invitation: &Value) -> Vec<(String, Value)> {
    app.audit_trail(invitation["id"].as_str().unwrap().parse().unwrap()).await
}

dual_test! {
    async fn an_invitation_is_emailed_listed_and_audited(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let r = invite(&app, &owner, owner.team_id, &format!("  {}  ", address.to_uppercase()), Some("manager")).await;
        r.assert(201, None);
        let inv = r.body.clone();
        assert_eq!(inv["channel"], address, "the address is trimmed and lowercased");
        assert_eq!(inv["channel_type"], "email");
        assert_eq!(inv["role"], "manager");
        assert_eq!(inv["sender_full_name"], "Ann Lee");
        assert_eq!(inv["status"], "Pending");
        assert!(inv["reminded_at"].is_null());
        let created = time_of(&inv["created_at"]);
        assert!((OffsetDateTime::now_utc() - created).abs() < Duration::minutes(5));
        assert_eq!(time_of(&inv["expires_at"]), created + Duration::days(i64::from(app.config.invitation_ttl_days)));

        let mail = mail_about(&app, &address, "invited you").await;
        assert_eq!(mail.subject, "Ann Lee invited you to Default team at Acme Inc on Roster");
        let token = token_in(&mail.text).expect("the token is in the email");
        assert!(mail.text.contains(&format!("{}/v1/invitations/{token}", app.config.public_url())), "{}", mail.text);
        assert!(mail.text.contains("Ann Lee invited you to join the team Default team of the organization Acme Inc"));
        assert!(mail.text.contains("expires in 7 days"), "{}", mail.text);
        assert!(mail.html.as_deref().unwrap().contains(&token));

        let listed = listing(&app, &owner.token, owner.team_id).await;
        assert_eq!(listed, vec![inv.clone()], "the listing shows the invitation as created");
        // Everyone in the organization sees a team's invitations.
        let viewer = app.add_member(&owner, Role::Viewer).await;
        assert_eq!(listing(&app, &viewer.token, owner.team_id).await.len(), 1);

        let audit = audit_actions(&app, &inv).await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].0, "invitation.created");
        assert_eq!(audit[0].1["role"], "manager");
        assert!(!audit[0].1.to_string().contains('@'), "no address in the audit record: {}", audit[0].1);
    }
}

dual_test! {
    async fn a_second_invitation_replaces_the_first(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (first, old_token) = invited(&app, &owner, owner.team_id, &address, None).await;
        assert_eq!(first["role"], "user", "the role defaults to user");
        let (second, new_token) = invited(&app, &owner, owner.team_id, &address, Some("viewer")).await;
        assert_ne!(old_token, new_token);
        assert_ne!(first["id"], second["id"]);
        let listed = listing(&app, &owner.token, owner.team_id).await;
        assert_eq!(listed, vec![second.clone()], "one live invitation per address and team");
        let (old_link, new_link) = (format!("/v1/invitations/{old_token}"), format!("/v1/invitations/{new_token}"));
        app.call(reqwest::Method::GET, &old_link, None, None).await.assert(404, Some("NOT_FOUND"));
        let r = app.call(reqwest::Method::GET, &new_link, None, None).await;
        r.assert(200, None);
        assert_eq!(r.body["role"], "viewer");
        // The same address may be invited to another team at the same time.
        let ops = app.create_team(&owner.token, "Ops").await;
        invited(&app, &owner, ops, &address, None).await;
        assert_eq!(listing(&app, &owner.token, owner.team_id).await.len(), 1);
        assert_eq!(listing(&app, &owner.token, ops).await.len(), 1);
    }
}

dual_test! {
    async fn members_cannot_be_invited_and_other_organizations_are_not_revealed(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let r = invite(&app, &owner, owner.team_id, &member.email, None).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("already a member"), "{}", r.text);
        invite(&app, &owner, owner.team_id, &owner.email, None).await.assert(409, Some("CONFLICT"));
        assert!(listing(&app, &owner.token, owner.team_id).await.is_empty(), "nothing was issued");
        // A customer of the organization can be invited to a team they are not in.
        let ops = app.create_team(&owner.token, "Ops").await;
        invited(&app, &owner, ops, &member.email, None).await;

        // An address registered in another organization is invited exactly
        // like one nobody has registered: the inviter learns nothing.
        let other = app.signup().await;
        let fresh = fresh_address("nobody");
        let (registered, registered_token) = invited(&app, &owner, owner.team_id, &other.email, None).await;
        let (unregistered, _) = invited(&app, &owner, owner.team_id, &fresh, None).await;
        let shape = |v: &Value| {
            let mut v = v.clone();
            for volatile in ["id", "channel", "created_at", "updated_at", "expires_at"] {
                v.as_object_mut().unwrap().remove(volatile);
            }
            v
        };
        assert_eq!(shape(&registered), shape(&unregistered));
        // Only the address's owner, holding the link, learns why it cannot be used.
        let r = app.call(reqwest::Method::GET, &format!("/v1/invitations/{registered_token}"), None, None).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("another organization"), "{}", r.text);
    }
}

dual_test! {
    async fn registered_and_unregistered_addresses_take_a_seat_alike(app) {
        let Some(app) = with_members(app.backend, 2).await else { return };
        let owner = app.signup().await;
        let other = app.signup().await;
        invited(&app, &owner, owner.team_id, &other.email, None).await;
        // The owner and the pending invitation fill the plan, whoever holds the address.
        invite(&app, &owner, owner.team_id, &fresh_address("late"), None).await.assert(403, Some("PLAN_LIMIT_REACHED"));
        let r = invite(&app, &owner, owner.team_id, &other.email, Some("viewer")).await;
        r.assert(201, None);
        assert_eq!(listing(&app, &owner.token, owner.team_id).await.len(), 1, "re-inviting replaces, taking no new seat");
    }
}

dual_test! {
    async fn invitations_are_validated(app) {
        let owner = app.signup().await;
        let path = format!("/v1/team/{}/invitation", owner.team_id);
        let sms = json!({ "channel_value": "+4915112345678", "channel_type": "sms" });
        let r = app.post(&path, Some(&owner.token), sms).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), vec!["channel_type", "channel_value"]);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("email"), "names the supported types: {}", r.text);
        let bad = json!({ "channel_value": "not-an-address", "channel_type": "email", "role": "god" });
        let r = app.post(&path, Some(&owner.token), bad).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), vec!["channel_value", "role"]);
        let notify = json!({ "channel_value": fresh_address("n"), "channel_type": "email", "role": "notify" });
        assert_eq!(app.post(&path, Some(&owner.token), notify).await.assert(422, None).error_fields(), vec!["role"]);
        app.post(&path, Some(&owner.token), json!({})).await.assert(422, Some("VALIDATION_ERROR"));
        let extra = json!({ "channel_value": fresh_address("x"), "channel_type": "email", "team_id": owner.team_id });
        assert_eq!(app.post(&path, Some(&owner.token), extra).await.assert(422, None).error_fields(), vec!["team_id"]);
        for route in ["invitation", "invitation/reminder"] {
            let path = format!("/v1/team/{}/{route}", owner.team_id);
            let r = app.post(&path, Some(&owner.token), json!({ "channel_value": "nope" })).await;
            if route == "invitation" {
                r.assert(422, Some("VALIDATION_ERROR"));
            } else {
                assert_eq!(r.assert(422, None).error_fields(), vec!["channel_value"]);
            }
        }
        let r = app.delete(&path, &owner.token, Some(json!({ "channel_value": "nope" }))).await;
        assert_eq!(r.assert(422, None).error_fields(), vec!["channel_value"]);
        app.delete(&path, &owner.token, Some(json!({}))).await.assert(422, Some("VALIDATION_ERROR"));
        assert!(listing(&app, &owner.token, owner.team_id).await.is_empty(), "nothing was issued");
    }
}

dual_test! {
    async fn nobody_invites_above_their_own_role(app) {
        let owner = app.signup().await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let r = invite(&app, &manager, owner.team_id, &fresh_address("a"), Some("admin")).await;
        r.assert(403, Some("FORBIDDEN"));
        assert!(r.body["detail"].as_str().unwrap().contains("above your own"), "{}", r.text);
        for who in [&owner, &admin, &manager] {
            let r = invite(&app, who, owner.team_id, &fresh_address("r"), Some("owner")).await;
            r.assert(403, Some("FORBIDDEN"));
            assert!(r.body["detail"].as_str().unwrap().contains("ownership-transfer"), "{}", r.text);
        }
        assert!(listing(&app, &owner.token, owner.team_id).await.is_empty(), "nothing was issued");
        invited(&app, &manager, owner.team_id, &fresh_address("m"), Some("manager")).await;
        invited(&app, &admin, owner.team_id, &fresh_address("a"), Some("admin")).await;
    }
}

dual_test! {
    async fn managers_manage_the_invitations_of_their_own_teams_only(app) {
        let owner = app.signup().await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let user = app.add_member(&owner, Role::User).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        let address = fresh_address("bo");
        invited(&app, &owner, ops, &address, None).await;
        let body = json!({ "channel_value": address });
        let r = invite(&app, &manager, ops, &fresh_address("x"), None).await;
        r.assert(403, Some("FORBIDDEN"));
        let (path, reminder) = (format!("/v1/team/{ops}/invitation"), format!("/v1/team/{ops}/invitation/reminder"));
        app.delete(&path, &manager.token, Some(body.clone())).await.assert(403, Some("FORBIDDEN"));
        app.post(&reminder, Some(&manager.token), body.clone()).await.assert(403, Some("FORBIDDEN"));
        // A manager still sees every team's invitations; a user manages none.
        assert_eq!(listing(&app, &manager.token, ops).await.len(), 1);
        invite(&app, &user, owner.team_id, &fresh_address("u"), None).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(listing(&app, &owner.token, ops).await.len(), 1, "nothing changed");
    }
}

dual_test! {
    async fn another_organizations_teams_are_not_found(app) {
        let owner = app.signup().await;
        let other = app.signup().await;
        let address = fresh_address("bo");
        invited(&app, &other, other.team_id, &address, None).await;
        let body = json!({ "channel_value": address, "channel_type": "email" });
        let by_address = json!({ "channel_value": address });
        for team in [other.team_id.to_string(), uuid::Uuid::now_v7().to_string()] {
            let (invitation, reminder) = (format!("/v1/team/{team}/invitation"), format!("/v1/team/{team}/invitation/reminder"));
            app.get(&format!("/v1/team/{team}/invitations"), &owner.token).await.assert(404, Some("NOT_FOUND"));
            app.post(&invitation, Some(&owner.token), body.clone()).await.assert(404, Some("NOT_FOUND"));
            app.delete(&invitation, &owner.token, Some(by_address.clone())).await.assert(404, Some("NOT_FOUND"));
            app.post(&reminder, Some(&owner.token), by_address.clone()).await.assert(404, Some("NOT_FOUND"));
        }
        let r = app.get("/v1/team/not-a-uuid/invitations", &owner.token).await;
        assert_eq!(r.assert(422, None).error_fields(), vec!["id"]);
        let r = app.call(reqwest::Method::GET, &format!("/v1/team/{}/invitations", owner.team_id), None, None).await;
        r.assert(401, Some("UNAUTHORIZED"));
        let listed = listing(&app, &other.token, other.team_id).await;
        assert_eq!(listed.len(), 1, "the other organization's invitation is untouched");
        assert!(listed[0]["reminded_at"].is_null());
    }
}

dual_test! {
    async fn a_withdrawn_invitation_s_link_is_dead(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (inv, token) = invited(&app, &owner, owner.team_id, &address, None).await;
        let path = format!("/v1/team/{}/invitation", owner.team_id);
        let r = app.delete(&path, &owner.token, Some(json!({ "channel_value": address.to_uppercase() }))).await;
        r.assert(200, None);
        assert!(r.body["message"].as_str().unwrap().contains("withdrawn"), "{}", r.text);
        assert!(listing(&app, &owner.token, owner.team_id).await.is_empty());
        app.call(reqwest::Method::GET, &format!("/v1/invitations/{token}"), None, None).await.assert(404, Some("NOT_FOUND"));
        app.delete(&path, &owner.token, Some(json!({ "channel_value": address }))).await.assert(404, Some("NOT_FOUND"));
        let reminder = format!("/v1/team/{}/invitation/reminder", owner.team_id);
        app.post(&reminder, Some(&owner.token), json!({ "channel_value": address })).await.assert(404, Some("NOT_FOUND"));
        let actions: Vec<String> = audit_actions(&app, &inv).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions, ["invitation.created", "invitation.deleted"]);
    }
}

dual_test! {
    async fn reminders_wait_an_hour_and_revive_an_expired_invitation(app) {
        let owner = app.signup().await;
        let address = fresh_address("bo");
        let (inv, old_token) = invited(&app, &owner, owner.team_id, &address, Some("viewer")).await;
        let reminder = format!("/v1/team/{}/invitation/reminder", owner.team_id);
        let body = json!({ "channel_value": address });
        let r = app.post(&reminder, Some(&owner.token), body.clone()).await;
        r.assert(429, Some("RATE_LIMITED"));
        let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((3000..=3600).contains(&retry), "about an hour after the invitation: {retry}");
        assert_eq!(listing(&app, &owner.token, owner.team_id).await[0]["reminded_at"], Value::Null, "nothing changed");

        // Sent eight days ago, expired yesterday.
        let now = OffsetDateTime::now_utc();
        backdate(&app, &address, now - Duration::days(8), now - Duration::days(1)).await;
        let listed = listing(&app, &owner.token, owner.team_id).await;
        assert_eq!(listed[0]["status"], "Expired");
        let link = format!("/v1/invitations/{old_token}");
        app.call(reqwest::Method::GET, &link, None, None).await.assert(410, Some("GONE"));

        let r = app.post(&reminder, Some(&owner.token), body.clone()).await;
        r.assert(200, None);
        assert_eq!(r.body["id"], inv["id"], "the same invitation, revived");
        assert_eq!(r.body["status"], "Pending");
        assert_eq!(r.body["role"], "viewer");
        let reminded = time_of(&r.body["reminded_at"]);
        assert_eq!(time_of(&r.body["expires_at"]), reminded + Duration::days(i64::from(app.config.invitation_ttl_days)));
        assert_eq!(listing(&app, &owner.token, owner.team_id).await, vec![r.body.clone()]);

        let mail = mail_about(&app, &address, "Reminder:").await;
        assert!(mail.text.contains("This is a reminder: Ann Lee invited you"), "{}", mail.text);
        let new_token = token_in(&mail.text).unwrap();
        assert_ne!(new_token, old_token);
        app.call(reqwest::Method::GET, &link, None, None).await.assert(404, Some("NOT_FOUND"));
        app.call(reqwest::Method::GET, &format!("/v1/invitations/{new_token}"), None, None).await.assert(200, None);

        // The next reminder is counted from this one.
        let r = app.post(&reminder, Some(&owner.token), body).await;
        r.assert(429, Some("RATE_LIMITED"));
        let actions: Vec<String> = audit_actions(&app, &inv).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(actions, ["invitation.created", "invitation.reminded"]);
    }
}

dual_test! {
    async fn the_plan_limits_members_counting_pending_invitations(app) {
        let Some(app) = with_members(app.backend, 3).await else { return };
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let first = fresh_address("first");
        invited(&app, &owner, owner.team_id, &first, None).await;
        let r = invite(&app, &owner, owner.team_id, &fresh_address("second"), None).await;
        r.assert(403, Some("PLAN_LIMIT_REACHED"));
        assert_eq!(listing(&app, &owner.token, owner.team_id).await.len(), 1, "nothing was issued");
        // Replacing the pending invitation, or inviting someone who has an account, takes no new seat.
        invited(&app, &owner, owner.team_id, &first, Some("viewer")).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        invited(&app, &owner, ops, &member.email, None).await;
        invited(&app, &owner, ops, &first, None).await;
    }
}

dual_test! {
    async fn invitations_and_reminders_are_limited_per_sender_and_client(app) {
        let _ = app;
        let Some(app) = TestApp::spawn_with(app.backend, |c| {
            c.invitations_per_hour_per_customer = 2;
            c.invitations_per_hour_per_ip = 3;
        })
        .await else { return };
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let first = fresh_address("first");
        invited(&app, &owner, owner.team_id, &first, None).await;
        invited(&app, &owner, owner.team_id, &fresh_address("second"), None).await;
        let late = fresh_address("late");
        let r = invite(&app, &owner, owner.team_id, &late, None).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert_eq!(r.headers["ratelimit-policy"], "\"default\";q=2;w=3600");
        assert!(r.headers.contains_key("retry-after"));
        // A reminder is an email too.
        let reminder = format!("/v1/team/{}/invitation/reminder", owner.team_id);
        app.post(&reminder, Some(&owner.token), json!({ "channel_value": first })).await.assert(429, Some("RATE_LIMITED"));
        // Another sender has their own allowance, until the client's runs out.
        invited(&app, &admin, owner.team_id, &late, None).await;
        let r = invite(&app, &admin, owner.team_id, &fresh_address("later"), None).await;
        r.assert(429, Some("RATE_LIMITED"));
        assert_eq!(r.headers["ratelimit-policy"], "\"default\";q=3;w=3600");
        assert_eq!(listing(&app, &owner.token, owner.team_id).await.len(), 3, "refused invitations were not issued");
    }
}
