//! The principal cache: a credential's owner is looked up in memory once
//! seen, and every change to who holds it takes effect on the very next
//! request: on the instance that made it at once, and on PostgreSQL on every
//! other instance as soon as the database announces it.

use crate::api_keys::{create_key, secret_of};
use crate::helpers::*;
use crate::teams::member_path;
use roster_core::role::Role;
use roster_store::PrincipalCacheStats;
use serde_json::json;
use std::time::{Duration, Instant};

pub(crate) fn stats(app: &TestApp) -> PrincipalCacheStats {
    app.store.principal_cache_stats().expect("the API server caches principals")
}

/// Waits until `app`'s cache holds to `ready`: on PostgreSQL it serves
/// nothing until its listener is connected, and it hears of other
/// instances' changes a moment after they commit.
pub(crate) async fn cache_reaches(app: &TestApp, what: &str, ready: impl Fn(&PrincipalCacheStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = stats(app);
        if ready(&now) {
            return;
        }
        assert!(Instant::now() < deadline, "the principal cache never {what}: {now:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that `token` is answered from the cache now. On PostgreSQL the
/// notice of an earlier change (the signup's own session, say) may still
/// arrive between the two lookups and clear the cache: a second lookup that
/// missed is accepted only when a clearing explains it, and then tried again.
async fn served_from_memory(app: &TestApp, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.get("/v1/customer", token).await.assert(200, None);
        let before = stats(app);
        app.get("/v1/customer", token).await.assert(200, None);
        let after = stats(app);
        if after.hits == before.hits + 1 {
            return;
        }
        assert!(after.invalidations > before.invalidations, "the second lookup is answered from memory: {after:?}");
        assert!(Instant::now() < deadline, "the cache kept being cleared: {after:?}");
    }
}

dual_test! {
    async fn a_cached_credential_is_refused_as_soon_as_it_is_revoked(app) {
        let owner = app.signup().await;
        cache_reaches(&app, "went live", |s| s.live).await;
        served_from_memory(&app, &owner.token).await;

        // A demotion: the admin's next write is judged by the new role.
        let admin = app.add_member(&owner, Role::Admin).await;
        served_from_memory(&app, &admin.token).await;
        app.create_team(&admin.token, "Before").await;
        let path = member_path(owner.team_id, admin.customer_id);
        app.patch(&path, &owner.token, json!({ "role": "viewer" })).await.assert(200, None);
        app.post("/v1/team", Some(&admin.token), json!({ "name": "After" })).await.assert(403, Some("FORBIDDEN"));

        // A revoked key.
        let key = create_key(&app, &owner.token, "reader", &["customers:read"]).await;
        let secret = secret_of(&key);
        served_from_memory(&app, &secret).await;
        let id = key["id"].as_str().unwrap();
        app.delete(&format!("/v1/api-keys/{id}"), &owner.token, None).await.assert(204, None);
        app.get("/v1/customer", &secret).await.assert(401, Some("UNAUTHORIZED"));

        // A logout.
        served_from_memory(&app, &owner.token).await;
        app.post("/v1/auth/logout", Some(&owner.token), json!({})).await.assert(204, None);
        app.get("/v1/customer", &owner.token).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn a_change_written_behind_the_servers_back_is_seen(app) {
        let owner = app.signup().await;
        cache_reaches(&app, "went live", |s| s.live).await;
        served_from_memory(&app, &owner.token).await;
        // `on_db!` tells the cache, as the server does after its own writes.
        on_db!(app, |conn| {
            sqlx::query("UPDATE customers SET status = 'suspended' WHERE id = $1")
                .bind(owner.customer_id.0)
                .execute(&mut conn)
                .await
                .unwrap();
        });
        let r = app.get("/v1/customer", &owner.token).await;
        r.assert(401, Some("UNAUTHORIZED"));
        assert!(r.body["detail"].as_str().unwrap().contains("suspended"), "{}", r.text);
    }
}

/// Off, every lookup goes to the database and nothing is kept.
#[tokio::test]
async fn a_zero_age_turns_the_cache_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.principal_cache_secs = 0).await.unwrap();
    let owner = app.signup().await;
    for _ in 0..3 {
        app.get("/v1/customer", &owner.token).await.assert(200, None);
    }
    assert_eq!(stats(&app).hits, 0);
}
