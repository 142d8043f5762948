//! `/v1/customer`: the caller's profile, other members' profiles, renaming,
//! deleting the account, and moving the login to a new address.

use crate::api_keys::{assert_invalid, create_key, secret_of};
use crate::helpers::*;
use reqwest::Method;
use roster_core::role::Role;
use serde_json::{json, Value};

/// `GET /v1/customer` for `token`, which must succeed.
async fn me(app: &TestApp, token: &str) -> Value {
    let r = app.get("/v1/customer", token).await;
    r.assert(200, None);
    r.body.clone()
}

/// A 6-digit code that is not `code`.
fn wrong_code(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().expect("a numeric code") + 1) % 1_000_000)
}

async fn rows_for(app: &TestApp, account: &Account) -> Vec<(&'static str, i64)> {
    app.store.count_rows_for(account.organization_id, account.customer_id).await.unwrap()
}

/// The count labelled `table` (`memberships` counts the organization's,
/// `customer.memberships` the customer's, `customer` the customer's own row).
fn count(rows: &[(&'static str, i64)], table: &str) -> i64 {
    rows.iter().find(|(t, _)| *t == table).unwrap_or_else(|| panic!("no count for {table}: {rows:?}")).1
}

/// Per-customer tables, as `count_rows_for` names them.
const CUSTOMER_TABLES: [&str; 6] =
    ["access_tokens", "api_keys", "verification_codes", "outbox", "customer.memberships", "customer"];

dual_test! {
    async fn the_profile_shows_customer_team_organization_and_limits(app) {
        let owner = app.signup().await;
        let r = app.get("/v1/customer", &owner.token).await;
        r.assert(200, None);
        let body = &r.body;

        let c = &body["customer"];
        assert_eq!(c["id"], owner.customer_id.to_string());
        assert_eq!(c["email"], owner.email);
        assert_eq!(c["username"], owner.email, "the username is the login address");
        assert_eq!(c["name"], "Ann");
        assert_eq!(c["surname"], "Lee");
        assert_eq!(c["full_name"], "Ann Lee");
        assert_eq!(c["role"], "root", "the one who signs up owns the organization");
        assert_eq!(c["status"], "active");
        assert_eq!(c["email_verified"], true, "the sign-up's code proved the address");
        let created = time_of(&c["created_at"]);
        assert_eq!(time_of(&c["updated_at"]), created, "untouched since sign-up");

        assert_eq!(body["team"]["id"], owner.team_id.to_string());
        assert!(body["team"]["name"].as_str().is_some_and(|n| !n.is_empty()), "the team has a name: {}", r.text);

        let org = &body["organization"];
        assert_eq!(org["id"], owner.organization_id.to_string());
        assert_eq!(org["name"], "Acme Inc");
        assert_eq!(org["slug"], "acme-inc");
        assert_eq!(org["plan"], "free");
        assert!(!org["trial_ends_at"].is_null(), "a new organization is on trial: {}", r.text);
        let trial_days = i64::from(app.config.trial_days);
        assert_eq!(time_of(&org["trial_ends_at"]), created + time::Duration::days(trial_days), "the trial starts at sign-up");

        let plan = app.config.plans.get("free").copied().expect("the free plan is configured");
        let limits = &body["limits"];
        assert_eq!(limits["teams"], json!({ "limit": plan.teams, "used": 1 }));
        assert_eq!(limits["members"], json!({ "limit": plan.members, "used": 1 }));
        assert_eq!(limits["services"], json!({ "limit": plan.services, "used": 0 }));
        assert_eq!(limits["notification_channels_per_owner"], json!({ "limit": plan.channels_per_owner }));

        let lower = r.text.to_lowercase();
        assert!(!lower.contains("password") && !lower.contains("hash"), "no credential material: {}", r.text);

        // Verifying the address shows in the profile.
        let code = app.unverify(&owner).await;
        assert_eq!(me(&app, &owner.token).await["customer"]["email_verified"], false);
        app.post("/v1/auth/email/verification", Some(&owner.token), json!({ "code": code })).await.assert(200, None);
        let after = me(&app, &owner.token).await;
        assert_eq!(after["customer"]["email_verified"], true);
        assert_eq!(after["customer"]["email"], owner.email);
    }
}

dual_test! {
    async fn members_of_the_same_organization_see_each_other(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;

        let own = app.get(&format!("/v1/customer/{}", owner.customer_id), &owner.token).await;
        own.assert(200, None);
        assert_eq!(own.body, me(&app, &owner.token).await, "one's own id answers like GET /v1/customer");

        let theirs = app.get(&format!("/v1/customer/{}", member.customer_id), &owner.token).await;
        theirs.assert(200, None);
        assert_eq!(theirs.body["customer"]["id"], member.customer_id.to_string());
        assert_eq!(theirs.body["customer"]["email"], member.email);
        assert_eq!(theirs.body["customer"]["role"], "user");
        assert_eq!(theirs.body["customer"]["full_name"], "Max Mustermann");
        assert_eq!(theirs.body["customer"]["email_verified"], true);
        assert_eq!(theirs.body["team"]["id"], owner.team_id.to_string());
        assert_eq!(theirs.body["organization"]["id"], owner.organization_id.to_string());
        assert_eq!(theirs.body["limits"]["members"]["used"], 2);

        let back = app.get(&format!("/v1/customer/{}", owner.customer_id), &member.token).await;
        back.assert(200, None);
        assert_eq!(back.body["customer"]["role"], "root");
        assert_eq!(back.body["customer"]["email"], owner.email);
    }
}

dual_test! {
    async fn another_organizations_customer_is_indistinguishable_from_none(app) {
        let owner = app.signup().await;
        let stranger = app.signup().await;
        let theirs = me(&app, &stranger.token).await;
        assert_ne!(theirs["organization"]["id"], owner.organization_id.to_string());
        assert_ne!(theirs["organization"]["slug"], "acme-inc", "a second Acme Inc gets its own slug");
        assert_eq!(theirs["limits"]["members"]["used"], 1, "usage is counted per organization");

        let foreign = app.get(&format!("/v1/customer/{}", stranger.customer_id), &owner.token).await;
        foreign.assert(404, Some("NOT_FOUND"));
        let random = app.get(&format!("/v1/customer/{}", uuid::Uuid::new_v4()), &owner.token).await;
        random.assert(404, Some("NOT_FOUND"));
        assert_eq!(foreign.body, random.body, "the 404 does not reveal that the customer exists");
        assert!(!foreign.text.contains(&stranger.email));

        let reverse = app.get(&format!("/v1/customer/{}", owner.customer_id), &stranger.token).await;
        reverse.assert(404, Some("NOT_FOUND"));
        assert_eq!(reverse.body, random.body);
    }
}

dual_test! {
    async fn a_customer_id_must_be_a_uuid(app) {
        let owner = app.signup().await;
        for bad in ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"] {
            let r = app.get(&format!("/v1/customer/{bad}"), &owner.token).await;
            assert_invalid(&r, "customer_id", "invalid_id");
        }
    }
}

dual_test! {
    async fn customer_routes_need_a_valid_token(app) {
        let owner = app.signup().await;
        let unknown = roster_core::secret::generate_token(roster_core::secret::TokenKind::Session);
        let by_id = format!("/v1/customer/{}", owner.customer_id);
        for token in [None, Some("garbage"), Some(unknown.as_str())] {
            for (method, path, body) in [
                (Method::GET, "/v1/customer", None),
                (Method::GET, by_id.as_str(), None),
                (Method::PATCH, "/v1/customer", Some(json!({ "name": "Eve" }))),
                (Method::DELETE, "/v1/customer", Some(json!({ "reason": "poor-features" }))),
                (Method::PUT, "/v1/customer/username", Some(json!({ "email": "eve@example.com" }))),
                (Method::PATCH, "/v1/customer/username", Some(json!({ "code": "123456" }))),
            ] {
                let r = app.call(method.clone(), path, token, body).await;
                r.assert(401, Some("UNAUTHORIZED"));
                assert_eq!(
                    r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()),
                    Some("Bearer"),
                    "{method} {path} with {token:?}"
                );
            }
        }
        // The right scheme is required.
        let basic = app.client.get(app.url("/v1/customer")).basic_auth(&owner.email, Some(PASSWORD)).send().await.unwrap();
        TestApp::read(basic).await.assert(401, Some("UNAUTHORIZED"));
        // None of that changed anything.
        let profile = me(&app, &owner.token).await;
        assert_eq!(profile["customer"]["name"], "Ann");
    }
}

dual_test! {
    async fn patch_changes_either_name_or_both_trimmed(app) {
        let owner = app.signup().await;
        let before = me(&app, &owner.token).await;

        let r = app.patch("/v1/customer", &owner.token, json!({ "name": "Jo" })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["name"], "Jo");
        assert_eq!(r.body["customer"]["surname"], "Lee", "an absent field is left alone");
        assert_eq!(r.body["customer"]["full_name"], "Jo Lee");
        assert_eq!(r.body["organization"], before["organization"], "the answer is the whole profile");
        assert!(time_of(&r.body["customer"]["updated_at"]) >= time_of(&before["customer"]["updated_at"]));

        let r = app.patch("/v1/customer", &owner.token, json!({ "surname": "Smith" })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["name"], "Jo");
        assert_eq!(r.body["customer"]["surname"], "Smith");
        assert_eq!(r.body["customer"]["full_name"], "Jo Smith");

        let r = app.patch("/v1/customer", &owner.token, json!({ "name": "  Jo  ", "surname": "\tDoe " })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["name"], "Jo", "names are trimmed");
        assert_eq!(r.body["customer"]["surname"], "Doe");
        assert_eq!(r.body["customer"]["full_name"], "Jo Doe");

        let r = app.patch("/v1/customer", &owner.token, json!({ "name": "Zoë", "surname": null })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["full_name"], "Zoë Doe", "null is the same as absent");

        let longest = "n".repeat(100);
        let r = app.patch("/v1/customer", &owner.token, json!({ "name": longest })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["name"], longest, "100 characters is the limit, inclusive");

        let after = me(&app, &owner.token).await;
        assert_eq!(after["customer"]["name"], longest);
        assert_eq!(after["customer"]["surname"], "Doe");
        assert_eq!(after["customer"]["email"], owner.email, "renaming leaves the login alone");
        assert_eq!(after["customer"]["role"], "root");

        let events = app.store.audit_events_for_target(owner.customer_id.0).await.unwrap();
        let updates: Vec<_> = events.iter().filter(|e| e.action == "customer.updated").collect();
        assert_eq!(updates.len(), 5, "one audit record per change");
        assert_eq!(updates[0].data.0, json!({ "fields": ["name"] }));
        assert_eq!(updates[1].data.0, json!({ "fields": ["surname"] }));
        assert_eq!(updates[2].data.0, json!({ "fields": ["name", "surname"] }));
        assert!(updates.iter().all(|e| !e.data.0.to_string().contains("Jo")), "names stay out of the audit log");
    }
}

dual_test! {
    async fn patch_refuses_empty_and_invalid_names(app) {
        let owner = app.signup().await;
        let too_long = "x".repeat(101);

        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({})).await, "body", "required");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "name": null })).await, "body", "required");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "name": "" })).await, "name", "required");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "name": "   " })).await, "name", "required");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "name": too_long })).await, "name", "too_long");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "surname": "" })).await, "surname", "required");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "surname": too_long })).await, "surname", "too_long");
        assert_invalid(&app.patch("/v1/customer", &owner.token, json!({ "name": 5 })).await, "name", "invalid_type");
        assert_invalid(
            &app.patch("/v1/customer", &owner.token, json!({ "name": "a\u{7}b" })).await,
            "name",
            "invalid_characters",
        );

        // Both bad at once: both named, and a good field beside a bad one is not applied.
        let r = app.patch("/v1/customer", &owner.token, json!({ "name": "", "surname": too_long })).await;
        assert_invalid(&r, "name", "required");
        assert_invalid(&r, "surname", "too_long");
        let r = app.patch("/v1/customer", &owner.token, json!({ "name": "Jo", "surname": "" })).await;
        assert_invalid(&r, "surname", "required");
        assert_eq!(r.error_fields(), ["surname"]);

        let profile = me(&app, &owner.token).await;
        assert_eq!(profile["customer"]["name"], "Ann", "nothing was changed");
        assert_eq!(profile["customer"]["surname"], "Lee");
        let events = app.store.audit_events_for_target(owner.customer_id.0).await.unwrap();
        assert!(events.iter().all(|e| e.action != "customer.updated"), "no refused change is audited");
    }
}

dual_test! {
    async fn patch_refuses_fields_it_does_not_own(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;

        let r = app.patch("/v1/customer", &member.token, json!({ "role": "root" })).await;
        assert_invalid(&r, "role", "unknown_field");
        let r = app.patch("/v1/customer", &member.token, json!({ "name": "Eve", "role": "root" })).await;
        assert_invalid(&r, "role", "unknown_field");
        for (field, value) in [
            ("email", json!("eve@example.com")),
            ("status", json!("active")),
            ("email_verified", json!(true)),
            ("organization_id", json!(owner.organization_id.to_string())),
            ("id", json!(owner.customer_id.to_string())),
        ] {
            let mut body = json!({ "name": "Eve" });
            body[field] = value;
            assert_invalid(&app.patch("/v1/customer", &member.token, body).await, field, "unknown_field");
        }

        let profile = me(&app, &member.token).await;
        assert_eq!(profile["customer"]["role"], "user", "the role is unchanged");
        assert_eq!(profile["customer"]["name"], "Max", "a request with an unknown field changes nothing");
        assert_eq!(profile["customer"]["email"], member.email);
        assert_eq!(profile["customer"]["id"], member.customer_id.to_string());
        // Still a user: cannot grant what only owners may.
        let r = app.post("/v1/api-keys", Some(&member.token), json!({ "name": "k", "scopes": ["audit:read"] })).await;
        assert_invalid(&r, "scopes[0]", "scope_not_allowed");
    }
}

dual_test! {
    async fn patch_wants_a_json_body(app) {
        let owner = app.signup().await;
        let send = |content_type: Option<&'static str>, body: &'static str| {
            let mut req = app.client.patch(app.url("/v1/customer")).bearer_auth(&owner.token).body(body);
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            async move { TestApp::read(req.send().await.expect("the server answers")).await }
        };

        send(Some("text/plain"), "name=Jo").await.assert(415, Some("UNSUPPORTED_MEDIA_TYPE"));
        send(Some("text/plain"), r#"{"name":"Jo"}"#).await.assert(415, Some("UNSUPPORTED_MEDIA_TYPE"));
        send(Some("application/x-www-form-urlencoded"), "name=Jo").await.assert(415, Some("UNSUPPORTED_MEDIA_TYPE"));
        send(None, r#"{"name":"Jo"}"#).await.assert(415, Some("UNSUPPORTED_MEDIA_TYPE"));

        send(Some("application/json"), r#"{"name": "#).await.assert(400, Some("MALFORMED_JSON"));
        send(Some("application/json"), "name=Jo").await.assert(400, Some("MALFORMED_JSON"));
        send(Some("application/json"), "").await.assert(400, Some("MALFORMED_JSON"));
        assert_eq!(me(&app, &owner.token).await["customer"]["name"], "Ann", "no refused body changed anything");

        // JSON with parameters, or a +json type, is JSON.
        let r = send(Some("application/json; charset=utf-8"), r#"{"name":"Jo"}"#).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["name"], "Jo");
        let r = send(Some("application/merge-patch+json"), r#"{"surname":"Doe"}"#).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["full_name"], "Jo Doe");
    }
}

dual_test! {
    async fn delete_wants_a_slug_reason(app) {
        let owner = app.signup().await;
        let rows_before = rows_for(&app, &owner).await;

        assert_invalid(&app.delete("/v1/customer", &owner.token, Some(json!({}))).await, "reason", "required");
        for (reason, code) in [
            (json!("Poor Features"), "invalid_format"),
            (json!("poor features"), "invalid_format"),
            (json!("poor--features"), "invalid_format"),
            (json!("-poor"), "invalid_format"),
            (json!(""), "required"),
            (json!("   "), "required"),
            (json!("a".repeat(65)), "too_long"),
            (json!(5), "invalid_type"),
            (json!(null), "invalid_type"),
        ] {
            let r = app.delete("/v1/customer", &owner.token, Some(json!({ "reason": reason }))).await;
            assert_invalid(&r, "reason", code);
        }
        let r = app.delete("/v1/customer", &owner.token, Some(json!({ "reason": "poor-features", "confirm": true }))).await;
        assert_invalid(&r, "confirm", "unknown_field");

        // Still all there.
        let profile = me(&app, &owner.token).await;
        assert_eq!(profile["customer"]["id"], owner.customer_id.to_string());
        assert_eq!(rows_for(&app, &owner).await, rows_before);
        app.login(&owner.email, PASSWORD).await.assert(200, None);
        let events = app.store.audit_events_for_target(owner.customer_id.0).await.unwrap();
        assert!(events.iter().all(|e| e.action != "customer.deleted"));
    }
}

dual_test! {
    async fn the_sole_member_takes_the_organization_along(app) {
        let owner = app.signup().await;
        let key = create_key(&app, &owner.token, "ci", &["customers:read"]).await;
        // A verification code, and its email in the outbox, for the customer.
        app.unverify(&owner).await;
        let before = rows_for(&app, &owner).await;
        for table in [
            "organizations",
            "teams",
            "customers",
            "memberships",
            "access_tokens",
            "api_keys",
            "verification_codes",
            "outbox",
            "customer.memberships",
            "customer",
        ] {
            assert!(count(&before, table) >= 1, "{table} has rows before the deletion: {before:?}");
        }

        let r = app.delete("/v1/customer", &owner.token, Some(json!({ "reason": "poor-features" }))).await;
        r.assert(200, None);
        assert_eq!(r.body["organization_deleted"], true);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
        let request_id = r.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);

        app.get("/v1/customer", &owner.token).await.assert(401, Some("UNAUTHORIZED"));
        app.get("/v1/customer", &secret_of(&key)).await.assert(401, Some("UNAUTHORIZED"));
        app.login(&owner.email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));

        let after = rows_for(&app, &owner).await;
        assert!(after.iter().all(|(_, n)| *n == 0), "nothing of the account or organization remains: {after:?}");

        let events = app.store.audit_events_for_target(owner.customer_id.0).await.unwrap();
        let deleted: Vec<_> = events.iter().filter(|e| e.action == "customer.deleted").collect();
        assert_eq!(deleted.len(), 1, "exactly one deletion record: {events:?}");
        let e = deleted[0];
        assert_eq!(e.data.0, json!({ "reason": "poor-features" }));
        assert_eq!(e.target_type, "customer");
        assert_eq!(e.target_id, Some(owner.customer_id.0));
        assert_eq!(e.actor_id, Some(owner.customer_id.0));
        assert_eq!(e.organization_id, Some(owner.organization_id.0));
        if request_id.is_some() {
            assert_eq!(e.request_id, request_id, "the record names the request");
        }
        let local_part = owner.email.split('@').next().unwrap();
        for e in &events {
            let whole = format!("{} {:?}", e.data.0, e);
            assert!(!whole.contains(local_part) && !whole.contains('@'), "the audit log keeps no email: {whole}");
        }
    }
}

dual_test! {
    async fn the_last_owner_cannot_leave_members_behind(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let owner_rows = rows_for(&app, &owner).await;
        let member_rows = rows_for(&app, &member).await;

        let r = app.delete("/v1/customer", &owner.token, Some(json!({ "reason": "poor-features" }))).await;
        r.assert(409, Some("CONFLICT"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("transfer ownership"), "says how to go on: {detail}");

        assert_eq!(rows_for(&app, &owner).await, owner_rows, "nothing was deleted");
        assert_eq!(rows_for(&app, &member).await, member_rows);
        let profile = me(&app, &owner.token).await;
        assert_eq!(profile["customer"]["role"], "root");
        assert_eq!(profile["limits"]["members"]["used"], 2);
        me(&app, &member.token).await;
        app.login(&owner.email, PASSWORD).await.assert(200, None);
        let events = app.store.audit_events_for_target(owner.customer_id.0).await.unwrap();
        assert!(events.iter().all(|e| e.action != "customer.deleted"), "a refused deletion is not recorded");
    }
}

dual_test! {
    async fn a_member_can_leave_the_organization(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let key = create_key(&app, &member.token, "member key", &["customers:read"]).await;
        let owner_rows = rows_for(&app, &owner).await;

        let r = app.delete("/v1/customer", &member.token, Some(json!({ "reason": "moving-on" }))).await;
        r.assert(200, None);
        assert_eq!(r.body["organization_deleted"], false);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));

        app.get("/v1/customer", &member.token).await.assert(401, Some("UNAUTHORIZED"));
        app.get("/v1/customer", &secret_of(&key)).await.assert(401, Some("UNAUTHORIZED"));
        app.login(&member.email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
        let rows = rows_for(&app, &member).await;
        for table in CUSTOMER_TABLES {
            assert_eq!(count(&rows, table), 0, "the member's {table} rows are gone: {rows:?}");
        }
        assert_eq!(count(&rows, "organizations"), 1, "the organization stays");

        let profile = me(&app, &owner.token).await;
        assert_eq!(profile["limits"]["members"]["used"], 1);
        assert_eq!(profile["customer"]["role"], "root");
        let after = rows_for(&app, &owner).await;
        for table in ["access_tokens", "customer", "customer.memberships", "organizations", "teams"] {
            assert_eq!(count(&after, table), count(&owner_rows, table), "the owner's {table} are untouched");
        }
        assert_eq!(count(&after, "customers"), count(&owner_rows, "customers") - 1);
        app.get(&format!("/v1/customer/{}", member.customer_id), &owner.token).await.assert(404, Some("NOT_FOUND"));

        let events = app.store.audit_events_for_target(member.customer_id.0).await.unwrap();
        let e = events.iter().find(|e| e.action == "customer.deleted").expect("the deletion is audited");
        assert_eq!(e.data.0, json!({ "reason": "moving-on" }));
        assert_eq!(e.organization_id, Some(owner.organization_id.0));
        assert!(!format!("{e:?}").contains(&member.email));
    }
}

dual_test! {
    async fn an_api_key_cannot_delete_the_account(app) {
        let owner = app.signup().await;
        let writer = create_key(&app, &owner.token, "writer", &["customers:write", "customers:read"]).await;
        let reader = create_key(&app, &owner.token, "reader", &["customers:read"]).await;
        let rows = rows_for(&app, &owner).await;

        let r = app.delete("/v1/customer", &secret_of(&writer), Some(json!({ "reason": "poor-features" }))).await;
        r.assert(403, Some("REAUTHENTICATION_REQUIRED"));
        assert!(r.body["detail"].as_str().unwrap().contains("session"), "says what is needed: {}", r.text);
        let r = app.delete("/v1/customer", &secret_of(&reader), Some(json!({ "reason": "poor-features" }))).await;
        r.assert(403, Some("FORBIDDEN"));

        assert_eq!(rows_for(&app, &owner).await, rows, "nothing was deleted");
        me(&app, &owner.token).await;
        me(&app, &secret_of(&writer)).await;
        // The same key may still do what it is for.
        let r = app.patch("/v1/customer", &secret_of(&writer), json!({ "name": "Kay" })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["name"], "Kay");
    }
}

dual_test! {
    async fn a_login_change_completes_with_the_code_sent_to_the_new_address(app) {
        let owner = app.signup().await;
        let new = fresh_address("moved");
        let r = app.put("/v1/customer/username", &owner.token, json!({ "email": format!("  {}  ", new.to_uppercase()) })).await;
        r.assert(202, None);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains("m***@example.com"), "names the masked address: {message}");
        assert!(!r.text.contains(&new), "does not echo the whole address: {}", r.text);
        assert!(time_of(&r.body["expires_at"]) > time::OffsetDateTime::now_utc(), "the code is good for a while");

        let mail = app.mail_to(&new).await;
        let code = mail.code().unwrap_or_else(|| panic!("no code in the email: {}", mail.text));

        // Nothing changes before the code is confirmed.
        let pending = me(&app, &owner.token).await;
        assert_eq!(pending["customer"]["email"], owner.email);
        assert_eq!(pending["customer"]["username"], owner.email);
        assert_eq!(pending["customer"]["email_verified"], true, "still the old, verified address");
        app.login(&new, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));

        let wrong = app.patch("/v1/customer/username", &owner.token, json!({ "code": wrong_code(&code) })).await;
        assert_invalid(&wrong, "code", "invalid_code");
        assert!(wrong.text.contains("4 attempt(s) left"), "{}", wrong.text);
        let wrong = app.patch("/v1/customer/username", &owner.token, json!({ "code": wrong_code(&code) })).await;
        assert_invalid(&wrong, "code", "invalid_code");
        assert!(wrong.text.contains("3 attempt(s) left"), "attempts left decrease: {}", wrong.text);
        assert_eq!(me(&app, &owner.token).await["customer"]["email"], owner.email);

        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": format!(" {code} ") })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["email"], new, "the address is stored normalized");
        assert_eq!(r.body["customer"]["username"], new);
        assert_eq!(r.body["customer"]["email_verified"], true, "the code proved the new address");
        assert_eq!(r.body["customer"]["id"], owner.customer_id.to_string());
        let profile = me(&app, &owner.token).await;
        assert_eq!(profile["customer"]["email"], new);
        assert_eq!(profile["customer"]["email_verified"], true);

        let login = app.login(&new, PASSWORD).await;
        login.assert(200, None);
        assert_eq!(login.body["customer_id"], owner.customer_id.to_string());
        app.login(&owner.email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
        me(&app, &owner.token).await;

        let events = app.store.audit_events_for_target(owner.customer_id.0).await.unwrap();
        let changed: Vec<_> = events.iter().filter(|e| e.action == "customer.email_changed").collect();
        assert_eq!(changed.len(), 1);
        assert!(!format!("{:?}", changed[0]).contains('@'), "no address in the audit log: {:?}", changed[0]);
    }
}

dual_test! {
    async fn a_login_change_refuses_unchanged_and_invalid_addresses(app) {
        let owner = app.signup().await;

        let r = app.put("/v1/customer/username", &owner.token, json!({ "email": owner.email })).await;
        assert_invalid(&r, "email", "unchanged");
        let r = app.put("/v1/customer/username", &owner.token, json!({ "email": format!(" {} ", owner.email.to_uppercase()) })).await;
        assert_invalid(&r, "email", "unchanged");

        for bad in ["not-an-email", "a@b", "two@@example.com", "space in@example.com"] {
            let r = app.put("/v1/customer/username", &owner.token, json!({ "email": bad })).await;
            assert_invalid(&r, "email", "invalid_email");
        }
        assert_invalid(&app.put("/v1/customer/username", &owner.token, json!({ "email": "" })).await, "email", "required");
        assert_invalid(&app.put("/v1/customer/username", &owner.token, json!({})).await, "email", "required");

        // No change is pending after all that.
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": "123456" })).await;
        r.assert(409, Some("CONFLICT"));
        assert_eq!(me(&app, &owner.token).await["customer"]["email"], owner.email);

        // A read-only key cannot start a change.
        let reader = create_key(&app, &owner.token, "reader", &["customers:read"]).await;
        let r = app.put("/v1/customer/username", &secret_of(&reader), json!({ "email": fresh_address("key") })).await;
        r.assert(403, Some("FORBIDDEN"));
    }
}

dual_test! {
    async fn a_login_change_to_a_registered_address_reads_like_any_other(app) {
        let owner = app.signup().await;
        let other = app.signup().await;
        let start = |email: String| {
            let (app, token) = (&app, owner.token.clone());
            async move { app.put("/v1/customer/username", &token, json!({ "email": email })).await }
        };
        let free = fresh_address("free");
        let to_free = start(free.clone()).await;
        let to_taken = start(other.email.to_uppercase()).await;
        to_free.assert(202, None);
        to_taken.assert(202, None);
        let shape = |v: &Value| (v["message"].as_str().unwrap().split_once('@').map(|(_, rest)| rest.to_owned()), v.as_object().unwrap().keys().cloned().collect::<Vec<_>>());
        assert_eq!(shape(&to_free.body), shape(&to_taken.body));
        assert!(app.mail_to(&free).await.code().is_some(), "a free address gets the code");
        // The registered address's owner hears of the attempt, with no code to use.
        let notice = app.mail_to(&other.email).await;
        assert!(notice.subject.contains("someone tried"), "{}", notice.subject);
        assert!(notice.code().is_none(), "{}", notice.text);
        // Guessing gets nowhere, and nothing moved.
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": "123456" })).await;
        assert_invalid(&r, "code", "invalid_code");
        assert_eq!(me(&app, &owner.token).await["customer"]["email"], owner.email);
        assert_eq!(me(&app, &other.token).await["customer"]["email"], other.email);
        app.login(&other.email, PASSWORD).await.assert(200, None);
    }
}

dual_test! {
    async fn confirming_needs_a_pending_change_and_a_well_formed_code(app) {
        let owner = app.signup().await;

        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": "123456" })).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("request a code"), "{}", r.text);
        for bad in ["12ab", "12345", "1234567", "", "12 456"] {
            let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": bad })).await;
            assert_invalid(&r, "code", "invalid_format");
        }
        assert_invalid(&app.patch("/v1/customer/username", &owner.token, json!({})).await, "code", "required");
        assert_invalid(&app.patch("/v1/customer/username", &owner.token, json!({ "code": 123456 })).await, "code", "invalid_type");

        // A malformed code does not cost an attempt.
        let new = fresh_address("format");
        app.put("/v1/customer/username", &owner.token, json!({ "email": new })).await.assert(202, None);
        let code = app.code_for(&new).await;
        assert_invalid(&app.patch("/v1/customer/username", &owner.token, json!({ "code": "12ab" })).await, "code", "invalid_format");
        let wrong = app.patch("/v1/customer/username", &owner.token, json!({ "code": wrong_code(&code) })).await;
        assert_invalid(&wrong, "code", "invalid_code");
        assert!(wrong.text.contains("4 attempt(s) left"), "the malformed code did not count: {}", wrong.text);
        assert_eq!(me(&app, &owner.token).await["customer"]["email"], owner.email);
    }
}

dual_test! {
    async fn five_wrong_codes_exhaust_the_change(app) {
        let owner = app.signup().await;
        let new = fresh_address("exhaust");
        app.put("/v1/customer/username", &owner.token, json!({ "email": new })).await.assert(202, None);
        let code = app.code_for(&new).await;
        let wrong = wrong_code(&code);

        for left in (0..5).rev() {
            let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": wrong })).await;
            assert_invalid(&r, "code", "invalid_code");
            if left > 0 {
                assert!(r.text.contains(&format!("{left} attempt(s) left")), "{}", r.text);
            } else {
                assert!(r.text.contains("last attempt"), "{}", r.text);
            }
        }
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": code })).await;
        assert_invalid(&r, "code", "too_many_attempts");
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": code })).await;
        assert_invalid(&r, "code", "too_many_attempts");
        assert_eq!(me(&app, &owner.token).await["customer"]["email"], owner.email, "the right code came too late");
        app.login(&new, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));

        // A new code starts afresh.
        app.put("/v1/customer/username", &owner.token, json!({ "email": new })).await.assert(202, None);
        let fresh = app.code_for(&new).await;
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": fresh })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["email"], new);
    }
}

dual_test! {
    async fn a_code_is_single_use(app) {
        let owner = app.signup().await;
        let new = fresh_address("once");
        app.put("/v1/customer/username", &owner.token, json!({ "email": new })).await.assert(202, None);
        let code = app.code_for(&new).await;

        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": code })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["email"], new);
        let again = app.patch("/v1/customer/username", &owner.token, json!({ "code": code })).await;
        again.assert(409, Some("CONFLICT"));
        assert_eq!(me(&app, &owner.token).await["customer"]["email"], new);
    }
}

dual_test! {
    async fn a_later_code_replaces_an_earlier_one(app) {
        let owner = app.signup().await;
        let first = fresh_address("first");
        let second = fresh_address("second");
        app.put("/v1/customer/username", &owner.token, json!({ "email": first })).await.assert(202, None);
        let first_code = app.code_for(&first).await;
        app.put("/v1/customer/username", &owner.token, json!({ "email": second })).await.assert(202, None);
        let second_code = app.code_for(&second).await;

        if first_code != second_code {
            let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": first_code })).await;
            assert_invalid(&r, "code", "invalid_code");
        }
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": second_code })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer"]["email"], second, "the latest request wins");
        app.login(&first, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn an_address_taken_before_confirming_is_a_conflict(app) {
        let owner = app.signup().await;
        let new = fresh_address("raced");
        app.put("/v1/customer/username", &owner.token, json!({ "email": new })).await.assert(202, None);
        let code = app.code_for(&new).await;

        let rival = app.signup_as(&new, "Rival Ltd").await;
        let r = app.patch("/v1/customer/username", &owner.token, json!({ "code": code })).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("in use"), "{}", r.text);

        assert_eq!(me(&app, &owner.token).await["customer"]["email"], owner.email);
        assert_eq!(me(&app, &rival.token).await["customer"]["email"], new);
        app.login(&owner.email, PASSWORD).await.assert(200, None);
    }
}
