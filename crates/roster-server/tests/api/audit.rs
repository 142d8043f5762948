//! `GET /v1/audit-events`: real changes made through the API show up with
//! who made them, on what, from where and in which request; filters narrow
//! the list; only owners and admins (and keys with `audit:read`) read it,
//! and only their own organization's.

use crate::api_keys::{assert_invalid, create_key, secret_of};
use crate::helpers::*;
use reqwest::Method;
use roster_core::role::Role;
use serde_json::{json, Value};

/// Sends a request carrying our own `x-request-id`.
async fn call_as(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    request_id: &str,
) -> Resp {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token).header("x-request-id", request_id);
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestApp::read(req.send().await.expect("the server answers")).await
}

/// The listed events of one page.
async fn events(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/audit-events?{query}"), token).await;
    r.assert(200, None);
    r.body["data"].as_array().unwrap().clone()
}

fn actions(list: &[Value]) -> Vec<&str> {
    list.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

/// The one listed event with `action` on `target`.
#[track_caller]
fn find<'a>(list: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found: Vec<_> = list.iter().filter(|e| e["action"] == action && e["target_id"] == target).collect();
    assert_eq!(found.len(), 1, "one {action} on {target}: {list:#?}");
    found[0]
}

dual_test! {
    async fn changes_are_recorded_with_actor_target_request_and_address(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let admin = app.add_member(&owner, Role::Admin).await;

        let r = call_as(&app, Method::POST, "/v1/team", &owner.token, Some(json!({ "name": "Ops" })), "req-team-1").await;
        r.assert(201, None);
        let team = r.body["team_id"].as_str().unwrap().to_owned();
        let path = format!("/v1/team/{}/member/{}", owner.team_id, member.customer_id);
        let body = json!({ "role": "manager" });
        call_as(&app, Method::PATCH, &path, &owner.token, Some(body), "req-role-2").await.assert(200, None);
        let path = format!("/v1/customer/{}/notification-channel", admin.customer_id);
        let body = json!({ "type": "email", "value": fresh_address("pager") });
        let r = call_as(&app, Method::POST, &path, &admin.token, Some(body), "req-channel-3").await;
        r.assert(201, None);
        let channel = r.body["id"].as_str().unwrap().to_owned();
        // A refused change leaves no record.
        let r = call_as(&app, Method::POST, "/v1/team", &member.token, Some(json!({ "name": "Nope" })), "req-no").await;
        r.assert(403, Some("FORBIDDEN"));

        let r = app.get("/v1/audit-events?limit=100", &owner.token).await;
        r.assert(200, None);
        let list = r.body["data"].as_array().unwrap().clone();
        assert_eq!(r.body["total_count"].as_i64().unwrap() as usize, list.len());
        assert_eq!(r.body["has_more"], false);
        // Newest first: the three changes, in reverse, then the sign-up.
        assert_eq!(&actions(&list)[..3], ["channel.created", "team.member_updated", "team.created"], "{list:#?}");
        assert!(actions(&list).contains(&"organization.created"));
        assert!(list.windows(2).all(|w| time_of(&w[0]["created_at"]) >= time_of(&w[1]["created_at"])));
        assert!(!r.text.contains("req-no"), "{}", r.text);

        let e = find(&list, "team.created", &team);
        assert_eq!(e["actor_id"], owner.customer_id.to_string());
        assert_eq!(e["target_type"], "team");
        assert_eq!(e["request_id"], "req-team-1");
        assert_eq!(e["ip"], "127.0.0.1");
        assert_eq!(e["data"]["name"], "Ops");
        assert!(e["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());

        let e = find(&list, "team.member_updated", &member.customer_id.to_string());
        assert_eq!(e["actor_id"], owner.customer_id.to_string());
        assert_eq!(e["target_type"], "customer");
        assert_eq!(e["request_id"], "req-role-2");
        assert_eq!(e["ip"], "127.0.0.1");
        assert_eq!(e["data"]["role"], "manager");
        assert_eq!(e["data"]["team_id"], owner.team_id.to_string());

        let e = find(&list, "channel.created", &channel);
        assert_eq!(e["actor_id"], admin.customer_id.to_string());
        assert_eq!(e["target_type"], "notification_channel");
        assert_eq!(e["request_id"], "req-channel-3");
        assert!(!e.to_string().contains("pager-"), "no address in the audit: {e}");

        // Without our own id, the generated one (echoed in the response) is recorded.
        let r = app.post("/v1/team", Some(&owner.token), json!({ "name": "Db" })).await;
        r.assert(201, None);
        let echoed = r.headers["x-request-id"].to_str().unwrap().to_owned();
        let list = events(&app, &owner.token, "action=team.created&limit=1").await;
        assert_eq!(list[0]["target_id"], r.body["team_id"]);
        assert_eq!(list[0]["request_id"], echoed.as_str());

        // Admins read the trail too.
        assert!(!events(&app, &admin.token, "").await.is_empty());
    }
}

dual_test! {
    async fn filters_narrow_the_list(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        let db = app.create_team(&admin.token, "Db").await;
        let r = app.put(&format!("/v1/team/{ops}"), &admin.token, json!({ "name": "Operations" })).await;
        r.assert(200, None);

        let by_admin = events(&app, &owner.token, &format!("actor={}&limit=100", admin.customer_id)).await;
        assert_eq!(actions(&by_admin), ["team.renamed", "team.created"]);
        assert!(by_admin.iter().all(|e| e["actor_id"] == admin.customer_id.to_string()));

        let created = events(&app, &owner.token, "action=team.created&limit=100").await;
        let targets: Vec<_> = created.iter().map(|e| e["target_id"].as_str().unwrap()).collect();
        assert_eq!(targets, [db.to_string(), ops.to_string()]);

        let about_ops = events(&app, &owner.token, &format!("target={ops}")).await;
        assert_eq!(actions(&about_ops), ["team.renamed", "team.created"]);
        assert_eq!(about_ops[0]["data"]["name"], "Operations");

        // Filters combine.
        let q = format!("actor={}&action=team.created&target={ops}", owner.customer_id);
        assert_eq!(actions(&events(&app, &owner.token, &q).await), ["team.created"]);
        let q = format!("actor={}&target={ops}&action=team.deleted", admin.customer_id);
        assert!(events(&app, &owner.token, &q).await.is_empty());

        // Time: `since` is inclusive, `until` exclusive; offsets are understood.
        let renamed = time_of(&about_ops[0]["created_at"]);
        let fmt = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
        let since = events(&app, &owner.token, &format!("since={}&limit=100", fmt(renamed))).await;
        assert_eq!(actions(&since), ["team.renamed"]);
        let until = events(&app, &owner.token, &format!("until={}&limit=100", fmt(renamed))).await;
        assert!(!actions(&until).contains(&"team.renamed") && actions(&until).contains(&"team.created"));
        let two_hours_ahead = fmt(renamed.to_offset(time::macros::offset!(+2)));
        assert!(two_hours_ahead.contains("+02:00"));
        let encoded = two_hours_ahead.replace('+', "%2B");
        assert_eq!(actions(&events(&app, &owner.token, &format!("since={encoded}")).await), ["team.renamed"]);
        let window = format!("since={}&until={}", fmt(renamed - time::Duration::hours(1)), fmt(renamed));
        assert_eq!(events(&app, &owner.token, &format!("{window}&limit=100")).await.len(), until.len());

        // Paging, as every list pages.
        let r = app.get("/v1/audit-events?limit=2", &owner.token).await;
        r.assert(200, None);
        let total = r.body["total_count"].as_i64().unwrap();
        assert!(total >= 4, "{}", r.text);
        assert_eq!(r.body["has_more"], true);
        let page2 = events(&app, &owner.token, "limit=2&page=2").await;
        let all = events(&app, &owner.token, "limit=100").await;
        assert_eq!(page2, all[2..4].to_vec());
        let r = app.get("/v1/audit-events?action=team.created&offset=1&limit=1", &owner.token).await;
        assert_eq!((r.body["total_count"].as_i64(), r.body["has_more"].as_bool()), (Some(2), Some(false)));
        assert_eq!(r.body["data"][0]["target_id"], ops.to_string());
    }
}

dual_test! {
    async fn bad_filters_are_named(app) {
        let owner = app.signup().await;
        let get = |q: &str| {
            let path = format!("/v1/audit-events?{q}");
            let (app, token) = (&app, owner.token.clone());
            async move { app.get(&path, &token).await }
        };
        assert_invalid(&get("actor=somebody").await, "actor", "invalid_id");
        assert_invalid(&get("target=42").await, "target", "invalid_id");
        assert_invalid(&get("action=Team%20Created").await, "action", "invalid_format");
        assert_invalid(&get(&format!("action={}", "a".repeat(65))).await, "action", "invalid_format");
        assert_invalid(&get("since=yesterday").await, "since", "invalid_format");
        assert_invalid(&get("until=2025-13-01T00:00:00Z").await, "until", "invalid_format");
        let r = get("since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z").await;
        assert_invalid(&r, "until", "invalid_range");
        let r = get("since=2025-01-01T00:00:00Z&until=2025-01-01T00:00:00Z").await;
        assert_invalid(&r, "until", "invalid_range");
        // Every problem at once, paging included.
        let r = get("actor=x&target=y&since=z&limit=0").await;
        let mut fields = r.error_fields();
        fields.sort();
        assert_eq!(fields, ["actor", "limit", "since", "target"], "{}", r.text);
        assert_invalid(&get("page=1&offset=3").await, "page", "conflicting");
        // A good but unknown value is just an empty list.
        let r = get(&format!("target={}&action=nothing.happened", uuid::Uuid::now_v7())).await;
        r.assert(200, None);
        assert_eq!(r.body, json!({ "data": [], "has_more": false, "total_count": 0 }));
    }
}

dual_test! {
    async fn only_owners_and_admins_read_it_and_only_their_own(app) {
        let owner = app.signup().await;
        for role in [Role::Manager, Role::User, Role::Viewer] {
            let person = app.add_member(&owner, role).await;
            let r = app.get("/v1/audit-events", &person.token).await;
            r.assert(403, Some("FORBIDDEN"));
            assert!(!r.text.contains("organization.created"), "{}", r.text);
        }
        app.call(Method::GET, "/v1/audit-events", None, None).await.assert(401, Some("UNAUTHORIZED"));

        // Another organization's changes never show, whatever the filter.
        let ours = app.create_team(&owner.token, "Ours").await;
        let stranger = app.signup().await;
        let theirs = app.create_team(&stranger.token, "Theirs").await;
        let mine = events(&app, &owner.token, "limit=100").await;
        assert!(!mine.is_empty());
        assert!(mine.iter().all(|e| e["actor_id"] != stranger.customer_id.to_string()), "{mine:#?}");
        assert!(mine.iter().all(|e| e["target_id"] != theirs.to_string() && e["target_id"] != stranger.organization_id.to_string()));
        assert!(events(&app, &owner.token, &format!("target={theirs}")).await.is_empty());
        assert!(events(&app, &owner.token, &format!("actor={}", stranger.customer_id)).await.is_empty());
        let theirs_listed = events(&app, &stranger.token, "limit=100").await;
        assert!(theirs_listed.iter().any(|e| e["target_id"] == theirs.to_string()));
        assert!(theirs_listed.iter().all(|e| e["target_id"] != ours.to_string() && e["actor_id"] != owner.customer_id.to_string()));

        // API keys need `audit:read`, and their creator's role must allow it.
        let without = create_key(&app, &owner.token, "no audit", &["teams:read", "customers:read"]).await;
        let r = app.get("/v1/audit-events", &secret_of(&without)).await;
        r.assert(403, Some("FORBIDDEN"));
        assert!(r.body["detail"].as_str().unwrap().contains("audit:read"), "{}", r.text);
        let with = create_key(&app, &owner.token, "auditor", &["audit:read"]).await;
        let listed = events(&app, &secret_of(&with), "action=team.created").await;
        assert_eq!(listed[0]["target_id"], ours.to_string());
        let manager = app.add_member(&owner, Role::Manager).await;
        let r = app.post("/v1/api-keys", Some(&manager.token), json!({ "name": "x", "scopes": ["audit:read"] })).await;
        r.assert(422, Some("VALIDATION_ERROR"));
    }
}
