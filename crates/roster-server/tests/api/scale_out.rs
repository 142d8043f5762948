//! Several instances on one database: nothing that must be shared lives in
//! one process. Two API instances enforce one rate limit and see each other's
//! sessions; migrations started together apply once; readiness follows the
//! database and recovers without a restart.

use crate::helpers::*;
use crate::principal_cache::{cache_reaches, stats};
use roster_store::{Store, StoreOptions};
use serde_json::json;
use std::time::{Duration, Instant};

/// A second instance on `app`'s database, with its secret key, as a scaled-out deployment runs it.
async fn second_instance(app: &TestApp) -> TestApp {
    let (url, key) = (app.config.database_url.clone(), app.config.secret_key.clone());
    TestApp::spawn_with(app.backend, move |c| {
        c.database_url = url;
        c.secret_key = key;
    })
    .await
    .expect("the second instance starts")
}

dual_test! {
    async fn two_instances_share_sessions_and_enforce_one_rate_limit(app) {
        let other = second_instance(&app).await;
        let owner = app.signup().await;
        // A session made on one instance works on the other, and a logout on one ends it on both.
        other.get("/v1/customer", &owner.token).await.assert(200, None);
        let r = other.login(&owner.email, PASSWORD).await;
        r.assert(200, None);
        let token = r.body["token"].as_str().unwrap().to_owned();
        app.get("/v1/customer", &token).await.assert(200, None);
        app.post("/v1/auth/logout", Some(&token), json!({})).await;
        other.get("/v1/customer", &token).await.assert(401, Some("UNAUTHORIZED"));

        // Failed logins alternate between the instances: the limit counts them together.
        let max = app.config.login_max_failures;
        for i in 0..max {
            let instance = if i % 2 == 0 { &app } else { &other };
            instance.login(&owner.email, "wrong password, surely").await.assert(401, None);
        }
        let r = other.login(&owner.email, "wrong password, surely").await;
        r.assert(429, Some("RATE_LIMITED"));
        app.login(&owner.email, PASSWORD).await.assert(429, Some("RATE_LIMITED"));
    }
}

/// Each instance caches principals; PostgreSQL announces every change that
/// matters, so one made on another instance, or straight in the database by
/// an operator, reaches this instance's cache without a request of its own.
#[tokio::test]
async fn a_change_anywhere_reaches_every_instances_principal_cache_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let other = second_instance(&app).await;
    let owner = app.signup().await;
    cache_reaches(&other, "went live", |s| s.live).await;

    // A logout on one instance ends the session the other had cached.
    other.get("/v1/customer", &owner.token).await.assert(200, None);
    let hits = stats(&other).hits;
    other.get("/v1/customer", &owner.token).await.assert(200, None);
    assert_eq!(stats(&other).hits, hits + 1, "the other instance answers from memory");
    let heard = stats(&other).invalidations;
    app.post("/v1/auth/logout", Some(&owner.token), json!({})).await.assert(204, None);
    cache_reaches(&other, "heard of the logout", |s| s.invalidations > heard).await;
    other.get("/v1/customer", &owner.token).await.assert(401, Some("UNAUTHORIZED"));

    // An operator suspends the account in psql: neither instance made the change.
    let token = app.login(&owner.email, PASSWORD).await.body["token"].as_str().unwrap().to_owned();
    for instance in [&app, &other] {
        instance.get("/v1/customer", &token).await.assert(200, None);
    }
    let heard = [stats(&app).invalidations, stats(&other).invalidations];
    let url = app.config.database_url.as_ref().unwrap().expose().to_owned();
    let mut psql = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query("UPDATE customers SET status = 'suspended' WHERE id = $1")
        .bind(owner.customer_id.0)
        .execute(&mut psql)
        .await
        .unwrap();
    for (instance, heard) in [&app, &other].into_iter().zip(heard) {
        cache_reaches(instance, "heard of the suspension", |s| s.invalidations > heard).await;
        instance.get("/v1/customer", &token).await.assert(401, Some("UNAUTHORIZED"));
    }
}

/// SQLite announces nothing: while two API servers share a database file,
/// neither answers from memory, so a logout on one is refused on the other
/// at once; alone again, a server caches again.
#[tokio::test]
async fn servers_sharing_a_sqlite_database_do_not_cache_principals() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let owner = app.signup().await;
    app.get("/v1/customer", &owner.token).await.assert(200, None);
    let other = second_instance(&app).await;
    assert!(!stats(&app).live && !stats(&other).live, "{:?} {:?}", stats(&app), stats(&other));
    let hits = (stats(&app).hits, stats(&other).hits);
    for _ in 0..2 {
        for instance in [&app, &other] {
            instance.get("/v1/customer", &owner.token).await.assert(200, None);
        }
    }
    assert_eq!((stats(&app).hits, stats(&other).hits), hits, "nothing is served from memory");
    other.post("/v1/auth/logout", Some(&owner.token), json!({})).await.assert(204, None);
    app.get("/v1/customer", &owner.token).await.assert(401, Some("UNAUTHORIZED"));

    drop(other);
    cache_reaches(&app, "went live once alone", |s| s.live).await;
    let token = app.login(&owner.email, PASSWORD).await.body["token"].as_str().unwrap().to_owned();
    app.get("/v1/customer", &token).await.assert(200, None);
    let hits = stats(&app).hits;
    app.get("/v1/customer", &token).await.assert(200, None);
    assert_eq!(stats(&app).hits, hits + 1);
}

dual_test! {
    async fn an_idempotency_key_holds_across_instances(app) {
        let other = second_instance(&app).await;
        let owner = app.signup().await;
        let channel = format!("/v1/team/{}/notification-channel", owner.team_id);
        let address = fresh_address("oncall");
        app.post(&channel, Some(&owner.token), json!({"type": "email", "value": address})).await.assert(201, None);
        let code = app.code_for(&address).await;
        other.patch(&format!("{channel}/verification"), &owner.token, json!({"priority": 1, "code": code})).await.assert(200, None);
        let body = json!({"event": "down", "title": "one alert", "idempotency_key": "shared-key"});
        let path = format!("/v1/team/{}/notify", owner.team_id);
        let first = app.post(&path, Some(&owner.token), body.clone()).await;
        first.assert(202, None);
        let again = other.post(&path, Some(&owner.token), body).await;
        again.assert(202, None);
        assert_eq!(again.body, first.body);
        let alerts: i64 = on_db!(app, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM alerts").fetch_one(&mut conn).await.unwrap()
        });
        assert_eq!(alerts, 1);
    }
}

fn database_url(name: &str) -> String {
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// Connects to PostgreSQL as the administrator, or `None` (and a note) when it is not running.
async fn admin() -> Option<sqlx::PgConnection> {
    use sqlx::Connection;
    match sqlx::PgConnection::connect(&postgres_admin_url()).await {
        Ok(conn) => Some(conn),
        Err(e) => {
            assert!(std::env::var("ROSTER_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"), "PostgreSQL is required: {e}");
            eprintln!("skipped: PostgreSQL is not reachable ({e})");
            None
        }
    }
}

#[tokio::test]
async fn instances_starting_together_apply_migrations_once_on_postgres() {
    let Some(mut admin) = admin().await else { return };
    let name = format!("roster_migrate_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap();
    let opts = StoreOptions { url: database_url(&name), max_connections: 2, acquire_timeout: Duration::from_secs(30) };
    let starts = (0..4).map(|_| {
        let opts = opts.clone();
        tokio::spawn(async move {
            let store = Store::connect(&opts).await?;
            store.migrate().await?;
            store.close().await;
            Ok::<_, roster_store::StoreError>(())
        })
    });
    let results = futures::future::join_all(starts).await;
    for r in results {
        r.unwrap().expect("every instance starts: one migrates, the others wait and find nothing to do");
    }
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&opts.url).await.unwrap();
        let (applied, versions): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(applied, versions, "each migration applied once");
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../roster-store/migrations/postgres"))
            .unwrap()
            .count();
        assert_eq!(applied, files as i64);
        conn.close().await.unwrap();
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.unwrap();
}

/// Polls readiness until it answers `status`, within a bound: the pool notices a dead database on its next use.
async fn ready_becomes(app: &TestApp, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.call(reqwest::Method::GET, "/readyz", None, None).await;
        if r.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz never answered {status}: {} {}", r.status, r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn readiness_follows_postgres_away_and_back_without_a_restart() {
    let Some(mut admin) = admin().await else { return };
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |c| c.database_acquire_timeout_secs = 1).await else {
        return;
    };
    let owner = app.signup().await;
    ready_becomes(&app, 200).await;
    let url = app.config.database_url.as_ref().unwrap().expose().to_owned();
    let name = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();

    // The database goes away: new connections are refused and the open ones are cut.
    sqlx::query(&format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")).execute(&mut admin).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&name)
    .execute(&mut admin)
    .await
    .unwrap();
    ready_becomes(&app, 503).await;
    let r = app.get("/v1/customer", &owner.token).await;
    assert!(r.status.is_server_error(), "no database, no answer: {}", r.text);
    let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(ct.starts_with("application/problem+json"), "{ct}");

    // It comes back: the same process serves again.
    sqlx::query(&format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")).execute(&mut admin).await.unwrap();
    ready_becomes(&app, 200).await;
    app.get("/v1/customer", &owner.token).await.assert(200, None);
}
