//! `/v1/api-keys`: creating, listing and revoking keys, what a key may do,
//! and the ceiling that keeps a key below its creator.

use crate::helpers::*;
use reqwest::Method;
use roster_core::role::Role;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Creates a key for `token`'s customer and answers the 201 body (with its `secret`).
pub(crate) async fn create_key(app: &TestApp, token: &str, name: &str, scopes: &[&str]) -> Value {
    let r = app.post("/v1/api-keys", Some(token), json!({ "name": name, "scopes": scopes })).await;
    r.assert(201, None);
    assert!(r.body["secret"].is_string(), "a new key carries its secret: {}", r.text);
    r.body.clone()
}

/// The secret of a key as `create_key` answered it.
pub(crate) fn secret_of(key: &Value) -> String {
    key["secret"].as_str().expect("the key's secret").to_owned()
}

/// Asserts a 422 validation problem that names `field` with the reason `code`.
#[track_caller]
pub(crate) fn assert_invalid(r: &Resp, field: &str, code: &str) {
    r.assert(422, Some("VALIDATION_ERROR"));
    let errors =
        r.body["errors"].as_array().unwrap_or_else(|| panic!("a validation problem lists its errors: {}", r.text));
    let Some(error) = errors.iter().find(|e| e["field"] == field) else {
        panic!("no error names `{field}` (named: {:?}): {}", r.error_fields(), r.text)
    };
    assert_eq!(error["code"], code, "unexpected reason for `{field}`: {}", r.text);
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "an error explains itself: {}", r.text);
}

pub(crate) fn wire_time(sample: &Value, t: OffsetDateTime) -> Value {
    match sample {
        Value::String(_) => json!(t.format(&Rfc3339).unwrap()),
        _ => serde_json::to_value(t).unwrap(),
    }
}

/// The caller's keys, one page, checking the paged envelope on the way.
async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get(&format!("/v1/api-keys{query}"), token).await;
    r.assert(200, None);
    let body = r.body.clone();
    assert!(body["data"].is_array(), "paged lists carry data: {}", r.text);
    assert!(body["has_more"].is_boolean(), "paged lists say whether more follow: {}", r.text);
    assert!(body["total_count"].is_i64(), "paged lists count the whole list: {}", r.text);
    assert_eq!(body.as_object().unwrap().len(), 3, "exactly data, has_more and total_count: {}", r.text);
    body
}

/// The key with `id` in the caller's listing.
async fn listed(app: &TestApp, token: &str, id: &Value) -> Value {
    let page = list(app, token, "?limit=100").await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| &k["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("key {id} not listed"))
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap().to_owned()).collect()
}

/// Moves a key's expiry straight in the test's database, so expiry can be
/// tested without waiting for the clock.
async fn set_expiry_in_db(app: &TestApp, key_id: uuid::Uuid, at: OffsetDateTime) {
    let sql = "UPDATE api_keys SET expires_at = $1 WHERE id = $2";
    let changed =
        on_db!(app, |conn| sqlx::query(sql).bind(at).bind(key_id).execute(&mut conn).await.unwrap().rows_affected());
    assert_eq!(changed, 1, "exactly the key's row is changed");
}

dual_test! {
    async fn a_new_key_shows_its_secret_once_and_authenticates_within_its_scopes(app) {
        let owner = app.signup().await;
        let r = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "  uptime checker ", "scopes": ["customers:read"] })).await;
        r.assert(201, None);
        let key = &r.body;
        let secret = secret_of(key);
        assert!(secret.starts_with("rsk_"), "API keys carry the rsk_ prefix: {secret}");
        assert_eq!(secret.len(), 4 + 36, "prefix, 30 random characters and a 6-character checksum: {secret}");
        assert_eq!(key["hint"], secret.chars().take(10).collect::<String>(), "the hint is the secret's first 10 characters");
        assert_eq!(key["status"], "active");
        assert_eq!(key["name"], "uptime checker", "the name is trimmed");
        assert_eq!(key["scopes"], json!(["customers:read"]));
        assert!(key["expires_at"].is_null(), "no expiry was asked for: {}", r.text);
        assert!(key["revoked_at"].is_null());
        let id: uuid::Uuid = key["id"].as_str().unwrap().parse().expect("the key's id is a UUID");
        let created = time_of(&key["created_at"]);
        assert!((OffsetDateTime::now_utc() - created).whole_minutes().abs() < 5, "created just now: {created}");

        // The key is a bearer token for what its scopes allow...
        let me = app.get("/v1/customer", &secret).await;
        me.assert(200, None);
        assert_eq!(me.body["customer"]["id"], owner.customer_id.to_string());
        assert_eq!(me.body["customer"]["email"], owner.email);
        let by_id = app.get(&format!("/v1/customer/{}", owner.customer_id), &secret).await;
        by_id.assert(200, None);

        // ...and nothing more: 403, not 401, because the key itself is good.
        let patch = app.patch("/v1/customer", &secret, json!({ "name": "Mallory" })).await;
        patch.assert(403, Some("FORBIDDEN"));
        assert!(patch.body["detail"].as_str().unwrap().contains("customers:write"), "says which scope is missing: {}", patch.text);
        app.get("/v1/api-keys", &secret).await.assert(403, Some("FORBIDDEN"));
        app.post("/v1/api-keys", Some(&secret), json!({ "name": "child", "scopes": ["customers:read"] }))
            .await
            .assert(403, Some("FORBIDDEN"));
        let still = app.get("/v1/customer", &owner.token).await;
        still.assert(200, None);
        assert_eq!(still.body["customer"]["name"], "Ann", "the refused PATCH changed nothing");

        // The listing shows the key but never its secret.
        let page = list(&app, &owner.token, "").await;
        assert_eq!(page["total_count"], 1);
        assert_eq!(page["has_more"], false);
        let listed = &page["data"][0];
        assert_eq!(listed["id"], id.to_string());
        assert_eq!(listed["name"], "uptime checker");
        assert_eq!(listed["hint"], key["hint"]);
        assert_eq!(listed["scopes"], json!(["customers:read"]));
        assert_eq!(listed["status"], "active");
        assert_eq!(listed["created_at"], key["created_at"], "the creation time reads back exactly");
        assert!(listed.get("secret").is_none(), "a listed key has no secret field: {listed}");
        assert!(!page.to_string().contains(&secret), "the secret never appears in a listing");
        assert!(!page.to_string().contains(&secret[10..]), "not even its unhinted part");

        // The audit log records the creation without the secret.
        let events = app.store.audit_events_for_target(id).await.unwrap();
        let created = events.iter().find(|e| e.action == "api_key.created").expect("an api_key.created audit record");
        assert_eq!(created.actor_id, Some(owner.customer_id.0));
        assert_eq!(created.data.0["scopes"], "customers:read");
        assert!(!format!("{created:?}").contains(&secret[4..]), "the audit record holds no secret");
    }
}

dual_test! {
    async fn scopes_are_sorted_and_deduplicated_and_keys_are_per_customer(app) {
        let owner = app.signup().await;
        let other = app.signup().await;
        let key = create_key(&app, &owner.token, "multi", &["teams:read", "customers:read", "teams:read"]).await;
        assert_eq!(key["scopes"], json!(["customers:read", "teams:read"]), "a set, in a stable order");

        // Another customer neither sees nor counts it.
        let theirs = list(&app, &other.token, "").await;
        assert_eq!(theirs["total_count"], 0);
        assert_eq!(theirs["data"], json!([]));
        assert_eq!(theirs["has_more"], false);
        let mine = list(&app, &owner.token, "").await;
        assert_eq!(mine["total_count"], 1);

        // A key answers as its creator.
        let me = app.get("/v1/customer", &secret_of(&key)).await;
        me.assert(200, None);
        assert_eq!(me.body["customer"]["id"], owner.customer_id.to_string());
        assert_eq!(me.body["organization"]["id"], owner.organization_id.to_string());
    }
}

dual_test! {
    async fn listing_pages_newest_first_with_limit_offset_and_page(app) {
        let owner = app.signup().await;
        let mut created = Vec::new();
        for name in ["first", "second", "third"] {
            created.push(create_key(&app, &owner.token, name, &["customers:read"]).await["id"].as_str().unwrap().to_owned());
        }

        let all = list(&app, &owner.token, "").await;
        assert_eq!(all["total_count"], 3);
        assert_eq!(all["has_more"], false);
        let newest_first: Vec<String> = created.iter().rev().cloned().collect();
        assert_eq!(ids(&all), newest_first, "newest first");
        let names: Vec<&str> = all["data"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["third", "second", "first"]);

        let one = list(&app, &owner.token, "?limit=2").await;
        assert_eq!(one["data"].as_array().unwrap().len(), 2);
        assert_eq!(one["has_more"], true);
        assert_eq!(one["total_count"], 3);

        let two = list(&app, &owner.token, "?page=2&limit=2").await;
        assert_eq!(two["data"].as_array().unwrap().len(), 1);
        assert_eq!(two["has_more"], false);
        assert_eq!(two["total_count"], 3);
        let mut paged = ids(&one);
        paged.extend(ids(&two));
        assert_eq!(paged, newest_first, "the pages together are the list, each key once");

        let page1 = list(&app, &owner.token, "?page=1&limit=2").await;
        assert_eq!(ids(&page1), ids(&one), "page 1 is the first limit's worth");

        let middle = list(&app, &owner.token, "?offset=1&limit=1").await;
        assert_eq!(ids(&middle), [newest_first[1].clone()]);
        assert_eq!(middle["has_more"], true);

        let past_end = list(&app, &owner.token, "?offset=10").await;
        assert_eq!(past_end["data"], json!([]));
        assert_eq!(past_end["has_more"], false);
        assert_eq!(past_end["total_count"], 3, "the total holds past the end");

        let boundary = list(&app, &owner.token, "?limit=100&offset=0").await;
        assert_eq!(boundary["data"].as_array().unwrap().len(), 3, "limit=100 is allowed");
        let min = list(&app, &owner.token, "?limit=1").await;
        assert_eq!(min["data"].as_array().unwrap().len(), 1, "limit=1 is allowed");

        for (query, field) in [
            ("?limit=0", "limit"),
            ("?limit=101", "limit"),
            ("?limit=-1", "limit"),
            ("?offset=-1", "offset"),
            ("?offset=0&page=1", "page"),
            ("?offset=2&page=2&limit=1", "page"),
            ("?page=0", "page"),
            ("?limit=abc", "limit"),
            ("?offset=1.5", "offset"),
        ] {
            let r = app.get(&format!("/v1/api-keys{query}"), &owner.token).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert!(r.error_fields().iter().any(|f| f == field), "{query} should name `{field}`: {}", r.text);
        }
    }
}

dual_test! {
    async fn invalid_key_requests_are_refused_naming_the_field(app) {
        let owner = app.signup().await;
        let sample = app.get("/v1/customer", &owner.token).await.body["customer"]["created_at"].clone();
        let past = wire_time(&sample, OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::hours(1));

        let cases = [
            (json!({ "name": "k", "scopes": ["customers:admin"] }), "scopes[0]", "invalid_scope"),
            (json!({ "name": "k", "scopes": ["customers:read", "nope"] }), "scopes[1]", "invalid_scope"),
            (json!({ "name": "k", "scopes": [] }), "scopes", "required"),
            (json!({ "name": "k" }), "scopes", "required"),
            (json!({ "name": "k", "scopes": "customers:read" }), "scopes", "invalid_type"),
            (json!({ "name": "k", "scopes": ["customers:read"], "expires_at": past }), "expires_at", "in_the_past"),
            (json!({ "name": "", "scopes": ["customers:read"] }), "name", "required"),
            (json!({ "name": "   ", "scopes": ["customers:read"] }), "name", "required"),
            (json!({ "name": "x".repeat(101), "scopes": ["customers:read"] }), "name", "too_long"),
            (json!({ "scopes": ["customers:read"] }), "name", "required"),
            (json!({ "name": "k", "scopes": ["customers:read"], "owner": "someone" }), "owner", "unknown_field"),
        ];
        for (body, field, code) in cases {
            let r = app.post("/v1/api-keys", Some(&owner.token), body.clone()).await;
            assert_invalid(&r, field, code);
            assert!(r.body.get("secret").is_none(), "a refused request mints nothing: {body}");
        }

        // Every invalid field is reported at once.
        let r = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "", "scopes": ["bogus"] })).await;
        assert_invalid(&r, "name", "required");
        assert_invalid(&r, "scopes[0]", "invalid_scope");
        assert_eq!(r.error_fields().len(), 2, "{}", r.text);

        let page = list(&app, &owner.token, "").await;
        assert_eq!(page["total_count"], 0, "no refused request created a key");

        // The longest allowed name is fine.
        let ok = create_key(&app, &owner.token, &"x".repeat(100), &["customers:read"]).await;
        assert_eq!(ok["name"].as_str().unwrap().len(), 100);
    }
}

dual_test! {
    async fn a_user_member_cannot_grant_scopes_beyond_their_role(app) {
        let owner = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;

        for scope in ["teams:write", "audit:read", "organization:write", "services:write"] {
            let r = app.post("/v1/api-keys", Some(&member.token), json!({ "name": "k", "scopes": [scope] })).await;
            assert_invalid(&r, "scopes[0]", "scope_not_allowed");
            assert!(r.text.contains(scope), "the refusal names the scope: {}", r.text);
        }
        // One scope too many spoils the request, and the error points at it.
        let r = app.post("/v1/api-keys", Some(&member.token), json!({ "name": "k", "scopes": ["customers:read", "teams:write"] })).await;
        assert_invalid(&r, "scopes[1]", "scope_not_allowed");
        assert_eq!(r.error_fields(), ["scopes[1]"], "only the disallowed scope is named: {}", r.text);
        assert_eq!(list(&app, &member.token, "").await["total_count"], 0);

        let key = create_key(&app, &member.token, "mine", &["customers:read"]).await;
        assert_eq!(key["scopes"], json!(["customers:read"]));
        let me = app.get("/v1/customer", &secret_of(&key)).await;
        me.assert(200, None);
        assert_eq!(me.body["customer"]["id"], member.customer_id.to_string(), "the key acts as the member");
        assert_eq!(me.body["customer"]["role"], "user");

        // The owner may grant what the member may not.
        let owners = create_key(&app, &owner.token, "ops", &["teams:write", "audit:read"]).await;
        assert_eq!(owners["scopes"], json!(["teams:write", "audit:read"]));
    }
}

dual_test! {
    async fn a_key_cannot_mint_keys(app) {
        let owner = app.signup().await;
        let manager = create_key(&app, &owner.token, "key manager", &["api-keys:write", "api-keys:read"]).await;
        let secret = secret_of(&manager);

        // Not wider, and not even narrower: minting keys is for confirmed login sessions
        // (a stolen key must not be able to make itself a successor).
        for scopes in [json!(["customers:read"]), json!(["api-keys:read"])] {
            let r = app.post("/v1/api-keys", Some(&secret), json!({ "name": "child", "scopes": scopes })).await;
            r.assert(403, Some("REAUTHENTICATION_REQUIRED"));
        }

        // It lists its creator's keys, but cannot read the profile.
        let page = list(&app, &secret, "").await;
        assert_eq!(page["total_count"], 1);
        app.get("/v1/customer", &secret).await.assert(403, Some("FORBIDDEN"));
        // A key with only api-keys:read can neither mint nor revoke.
        let reader = create_key(&app, &owner.token, "reader", &["api-keys:read"]).await;
        let reader_secret = secret_of(&reader);
        app.post("/v1/api-keys", Some(&reader_secret), json!({ "name": "x", "scopes": ["api-keys:read"] }))
            .await
            .assert(403, Some("FORBIDDEN"));
        let manager_id = manager["id"].as_str().unwrap();
        app.delete(&format!("/v1/api-keys/{manager_id}"), &reader_secret, None).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(listed(&app, &owner.token, &manager["id"]).await["status"], "active");
    }
}

dual_test! {
    async fn a_revoked_key_stops_working_at_once(app) {
        let owner = app.signup().await;
        let key = create_key(&app, &owner.token, "doomed", &["customers:read"]).await;
        let keep = create_key(&app, &owner.token, "kept", &["customers:read"]).await;
        let secret = secret_of(&key);
        let id = key["id"].as_str().unwrap().to_owned();
        app.get("/v1/customer", &secret).await.assert(200, None);

        let r = app.delete(&format!("/v1/api-keys/{id}"), &owner.token, None).await;
        r.assert(204, None);
        assert!(r.text.is_empty(), "204 has no body: {}", r.text);

        let refused = app.get("/v1/customer", &secret).await;
        refused.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(refused.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
        app.get("/v1/customer", &secret_of(&keep)).await.assert(200, None);

        let revoked = listed(&app, &owner.token, &key["id"]).await;
        assert_eq!(revoked["status"], "revoked");
        let revoked_at = time_of(&revoked["revoked_at"]);
        assert!(revoked_at >= time_of(&revoked["created_at"]));
        assert_eq!(listed(&app, &owner.token, &keep["id"]).await["status"], "active");
        assert_eq!(list(&app, &owner.token, "").await["total_count"], 2, "revoked keys stay listed");

        // Revoking again finds the row and answers 204; the first revocation time stands.
        app.delete(&format!("/v1/api-keys/{id}"), &owner.token, None).await.assert(204, None);
        let again = listed(&app, &owner.token, &key["id"]).await;
        assert_eq!(again["status"], "revoked");
        assert_eq!(again["revoked_at"], revoked["revoked_at"], "revoked_at does not move");
        app.get("/v1/customer", &secret).await.assert(401, Some("UNAUTHORIZED"));

        let events = app.store.audit_events_for_target(id.parse().unwrap()).await.unwrap();
        assert!(events.iter().any(|e| e.action == "api_key.revoked" && e.actor_id == Some(owner.customer_id.0)));
    }
}

dual_test! {
    async fn only_the_creator_can_revoke_and_bad_ids_are_refused(app) {
        let owner = app.signup().await;
        let other = app.signup().await;
        let member = app.add_member(&owner, Role::User).await;
        let theirs = create_key(&app, &other.token, "theirs", &["customers:read"]).await;
        let mine = create_key(&app, &owner.token, "mine", &["customers:read"]).await;
        let their_id = theirs["id"].as_str().unwrap();

        // Another organization's key and a colleague's key look like no key at all.
        let foreign = app.delete(&format!("/v1/api-keys/{their_id}"), &owner.token, None).await;
        foreign.assert(404, Some("NOT_FOUND"));
        let colleague = app.delete(&format!("/v1/api-keys/{}", mine["id"].as_str().unwrap()), &member.token, None).await;
        colleague.assert(404, Some("NOT_FOUND"));
        let random = app.delete(&format!("/v1/api-keys/{}", uuid::Uuid::new_v4()), &owner.token, None).await;
        random.assert(404, Some("NOT_FOUND"));
        assert_eq!(foreign.body, random.body, "a foreign key's 404 tells nothing a random id's does not");

        let bad = app.delete("/v1/api-keys/not-a-uuid", &owner.token, None).await;
        assert_invalid(&bad, "id", "invalid_id");

        // Both keys still work.
        app.get("/v1/customer", &secret_of(&theirs)).await.assert(200, None);
        app.get("/v1/customer", &secret_of(&mine)).await.assert(200, None);
        assert_eq!(listed(&app, &other.token, &theirs["id"]).await["status"], "active");

        // No credentials at all is 401 before anything else.
        let anonymous = app.call(Method::DELETE, &format!("/v1/api-keys/{their_id}"), None, None).await;
        anonymous.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn an_expiry_is_kept_as_sent_and_enforced(app) {
        let owner = app.signup().await;
        let sample = app.get("/v1/customer", &owner.token).await.body["customer"]["created_at"].clone();
        let at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::minutes(10);
        let sent = wire_time(&sample, at);
        let r = app
            .post("/v1/api-keys", Some(&owner.token), json!({ "name": "temporary", "scopes": ["customers:read"], "expires_at": sent }))
            .await;
        r.assert(201, None);
        assert_eq!(r.body["expires_at"], sent, "the expiry reads back as sent: {}", r.text);
        assert_eq!(time_of(&r.body["expires_at"]), at);
        assert_eq!(r.body["status"], "active");
        let secret = secret_of(&r.body);
        app.get("/v1/customer", &secret).await.assert(200, None);

        let shown = listed(&app, &owner.token, &r.body["id"]).await;
        assert_eq!(shown["expires_at"], sent, "the listing shows the expiry exactly as sent");
        assert_eq!(shown["status"], "active");

        // Once the expiry has passed (moved in the database rather than waited
        // for), the key is refused and listed as expired.
        let id: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
        set_expiry_in_db(&app, id, roster_core::clock::now() - time::Duration::seconds(1)).await;
        let refused = app.get("/v1/customer", &secret).await;
        refused.assert(401, Some("UNAUTHORIZED"));
        let expired = listed(&app, &owner.token, &r.body["id"]).await;
        assert_eq!(expired["status"], "expired");
        assert!(expired["revoked_at"].is_null(), "expired is not revoked");
    }
}

dual_test! {
    async fn logout_ends_a_session_but_refuses_an_api_key(app) {
        let owner = app.signup().await;
        let key = create_key(&app, &owner.token, "survivor", &["customers:read"]).await;
        let secret = secret_of(&key);

        let r = app.call(Method::POST, "/v1/auth/logout", Some(&secret), None).await;
        assert_invalid(&r, "authorization", "not_a_session");
        app.get("/v1/customer", &secret).await.assert(200, None);
        app.get("/v1/customer", &owner.token).await.assert(200, None);

        let out = app.call(Method::POST, "/v1/auth/logout", Some(&owner.token), None).await;
        out.assert(204, None);
        assert!(out.text.is_empty());
        let dead = app.get("/v1/customer", &owner.token).await;
        dead.assert(401, Some("UNAUTHORIZED"));
        app.call(Method::POST, "/v1/auth/logout", Some(&owner.token), None).await.assert(401, Some("UNAUTHORIZED"));

        // The key outlives the session that created it.
        let me = app.get("/v1/customer", &secret).await;
        me.assert(200, None);
        assert_eq!(me.body["customer"]["id"], owner.customer_id.to_string());
    }
}

dual_test! {
    async fn api_key_routes_need_valid_credentials(app) {
        let owner = app.signup().await;
        let unknown = roster_core::secret::generate_token(roster_core::secret::TokenKind::ApiKey);
        let mut tampered = create_key(&app, &owner.token, "k", &["api-keys:read"]).await["secret"].as_str().unwrap().to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'a' { 'b' } else { 'a' });

        for token in [None, Some("rsk_short"), Some(unknown.as_str()), Some(tampered.as_str())] {
            let r = app.call(Method::GET, "/v1/api-keys", token, None).await;
            r.assert(401, Some("UNAUTHORIZED"));
            assert_eq!(r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"), "{token:?}");
            let r = app.call(Method::POST, "/v1/api-keys", token, Some(json!({ "name": "k", "scopes": ["customers:read"] }))).await;
            r.assert(401, Some("UNAUTHORIZED"));
        }
        let basic = app.client.get(app.url("/v1/api-keys")).basic_auth("user", Some("pass")).send().await.unwrap();
        TestApp::read(basic).await.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(list(&app, &owner.token, "").await["total_count"], 1, "nothing was created without credentials");
    }
}
