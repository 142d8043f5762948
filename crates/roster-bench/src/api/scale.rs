//! One data scale: a fresh database seeded to N customers, the server
//! restarted on it (timed to ready), then every route driven by wrk, login at
//! low concurrency, and notify through to webhook arrival.

use super::bulk::Db;
use super::seed::{self, Caller, Counts};
use super::wrk::{self, Script, Wrk};
use super::Options;
use crate::client::{team_path, Api, PASSWORD};
use crate::database::FreshDatabase;
use crate::delivery::traffic::{self, NotifyOutcome};
use crate::load::Run;
use crate::receiver::Receiver;
use crate::report::Row;
use crate::server::{self, RosterServer};
use anyhow::{bail, Context};
use roster_testkit::SmtpServer;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// What one scale seeded and measured.
#[derive(Debug, Serialize)]
pub struct Scale {
    pub customers: usize,
    /// Rows written in bulk (the caller's API-made organization, teams, services and channels come on top).
    pub bulk_rows: Counts,
    pub seed_api_secs: f64,
    pub seed_bulk_secs: f64,
    /// The server's environment as the benchmark set it (the secret key left out).
    pub server_env: Vec<String>,
    #[serde(flatten)]
    pub measured: Measurements,
}

#[derive(Debug, Serialize)]
pub struct Measurements {
    /// From spawning `roster serve` on the seeded database to its first 200 from `GET /readyz`.
    pub start_to_ready_ms: f64,
    pub server_rss_after_start_kib: Option<u64>,
    /// The baseline (`GET /healthz`) first.
    pub routes: Vec<Measured>,
    pub notify: Row,
    /// Latency here is notify-to-arrival; the rate counts arrivals from the first notify to the last arrival.
    pub deliveries: Row,
    pub notify_statuses: BTreeMap<String, usize>,
    pub notify_first_error: Option<String>,
    pub expected_deliveries: usize,
    pub duplicate_arrivals: usize,
    pub unknown_arrivals: usize,
    pub server_peak_rss_kib: Option<u64>,
}

/// One route under wrk.
#[derive(Debug, Serialize)]
pub struct Measured {
    /// Stable across scales and runs: what growth ratios pair up.
    pub key: &'static str,
    pub row: Row,
    pub wrk: wrk::Run,
    /// The server's resident memory right after: which route grows it.
    pub server_rss_after_kib: Option<u64>,
}

/// A route answered the same way every time: wrk's fixed script.
struct Route {
    key: &'static str,
    method: &'static str,
    /// As shown, with `{id}` for ids.
    shown: &'static str,
    path: String,
    body: Option<String>,
    /// Whether the request carries the caller's session token.
    auth: bool,
    expect: u16,
}

/// Seeds a fresh database to `customers`, measures it, and removes it.
pub async fn run(
    options: &Options,
    customers: usize,
    binary: &Path,
    base_env: &[(String, String)],
    wrk: &Wrk,
) -> anyhow::Result<Scale> {
    let receiver = Receiver::start().await?;
    let smtp = SmtpServer::start().await;
    let mut env = base_env.to_vec();
    env.push(("ROSTER_SMTP_URL".into(), smtp.url()));
    let db = FreshDatabase::create(options.common.backend, &options.common.postgres_url).await?;
    let scale = seed_and_measure(options, customers, binary, &db, &env, &receiver, &smtp, wrk).await;
    let removed = db.remove().await;
    let scale = scale?;
    removed?;
    Ok(scale)
}

#[allow(clippy::too_many_arguments)]
async fn seed_and_measure(
    options: &Options,
    customers: usize,
    binary: &Path,
    db: &FreshDatabase,
    env: &[(String, String)],
    receiver: &Receiver,
    smtp: &SmtpServer,
    wrk: &Wrk,
) -> anyhow::Result<Scale> {
    let client = reqwest::Client::builder().tcp_nodelay(true).timeout(Duration::from_secs(60)).build()?;

    let started = Instant::now();
    let server = RosterServer::start(binary, db, env).await?;
    let caller = seed::caller(&Api::new(client.clone(), &server.url), smtp, receiver).await;
    server.stop().await?;
    let caller = caller?;
    let seed_api_secs = started.elapsed().as_secs_f64();

    // The server is stopped: on SQLite nothing else writes, so one long transaction locks no one out.
    let started = Instant::now();
    let mut bulk = Db::open(db).await?;
    let bulk_rows = seed::bulk(&mut bulk, &caller, customers).await.context("bulk seeding")?;
    bulk.close().await?;
    let seed_bulk_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{customers} customers seeded: the caller through the API in {seed_api_secs:.1} s, \
         {} organizations and {} people in bulk in {seed_bulk_secs:.1} s",
        bulk_rows.organizations, bulk_rows.customers
    );

    let server = RosterServer::start(binary, db, env).await?;
    let measured = measure(options, customers, &server, &client, &caller, receiver, wrk).await;
    let stopped = server.stop().await;
    let measured = measured?;
    stopped?;
    Ok(Scale {
        customers,
        bulk_rows,
        seed_api_secs,
        seed_bulk_secs,
        server_env: server::shown_environment(env),
        measured,
    })
}

async fn measure(
    options: &Options,
    customers: usize,
    server: &RosterServer,
    client: &reqwest::Client,
    caller: &Caller,
    receiver: &Receiver,
    wrk: &Wrk,
) -> anyhow::Result<Measurements> {
    let start_to_ready = server.ready_after_spawn(client).await?;
    let server_rss_after_start_kib = server.rss_kib();
    eprintln!("{customers} customers: ready {:.0} ms after spawn", start_to_ready.as_secs_f64() * 1000.0);
    let owner = &caller.owner;
    let mut routes = Vec::new();
    for route in fixed_routes(caller) {
        smoke(client, &server.url, &route, &owner.token).await?;
        let name = format!("{} {}", route.method, route.shown);
        let mut env = vec![("BENCH_METHOD", route.method.to_owned())];
        env.extend(route.body.clone().map(|b| ("BENCH_BODY", b)));
        let token = route.auth.then_some(owner.token.as_str());
        let url = format!("{}{}", server.url, route.path);
        let run = wrk.run(Script::Fixed, &url, options.connections, token, &env).await?;
        let ok = run.report.requests - run.report.errors.status;
        routes.push(report(route.key, run.row(name, ok, "requests", run.report.errors.total()), run, server));
    }

    let channels = format!("{}/notification-channel", team_path(&caller.second_team_id));
    let env = [("BENCH_CHANNELS", channels)];
    let run = wrk.run(Script::CreateDelete, &server.url, options.connections, Some(&owner.token), &env).await?;
    let status = |s: &str| run.report.statuses.get(s).copied().unwrap_or(0);
    let e = &run.report.errors;
    // Answers other than 201 and 200 are errors, and so is a socket error.
    let unexpected: u64 =
        run.report.statuses.iter().filter(|(s, _)| !["200", "201"].contains(&s.as_str())).map(|(_, n)| n).sum();
    let errors = e.connect + e.read + e.write + e.timeout + unexpected;
    let name = "create+delete a channel: POST …/notification-channel, DELETE …?priority= (pairs; latency per request)";
    routes.push(report("create_delete_channel", run.row(name.into(), status("200"), "pairs", errors), run, server));

    let login = Route {
        key: "login",
        method: "POST",
        shown: "/v1/auth/login",
        path: "/v1/auth/login".into(),
        body: Some(json!({"email": owner.email, "password": PASSWORD}).to_string()),
        auth: false,
        expect: 200,
    };
    smoke(client, &server.url, &login, &owner.token).await?;
    let env = [("BENCH_METHOD", "POST".to_owned()), ("BENCH_BODY", login.body.clone().unwrap_or_default())];
    let url = format!("{}{}", server.url, login.path);
    let run = wrk.run(Script::Fixed, &url, options.login_connections, None, &env).await?;
    let ok = run.report.requests - run.report.errors.status;
    let name = format!("POST /v1/auth/login ({} connections: argon2)", options.login_connections);
    routes.push(report("login", run.row(name, ok, "requests", run.report.errors.total()), run, server));

    let api = Api::new(client.clone(), &server.url);
    let notified = traffic::notify(&api, owner, options.alerts, options.notify_concurrency).await;
    let (deliveries, expected, duplicates, unknown) = settle(&notified, receiver, options.drain_timeout_secs).await;
    Ok(Measurements {
        start_to_ready_ms: start_to_ready.as_secs_f64() * 1000.0,
        server_rss_after_start_kib,
        routes,
        notify: traffic::notify_row(&notified),
        deliveries,
        notify_statuses: traffic::notify_statuses(&notified),
        notify_first_error: notified.samples.iter().find_map(|s| s.value.error.clone()),
        expected_deliveries: expected,
        duplicate_arrivals: duplicates,
        unknown_arrivals: unknown,
        server_peak_rss_kib: server.peak_rss_kib(),
    })
}

fn report(key: &'static str, row: Row, run: wrk::Run, server: &RosterServer) -> Measured {
    eprintln!("  {}: {:.0} {}/s, {} errors", row.name, row.per_sec, row.unit, row.errors);
    Measured { key, row, wrk: run, server_rss_after_kib: server.rss_kib() }
}

/// Waits for the deliveries the notify answers named; answers them as a row,
/// with how many were expected, duplicated and unknown.
async fn settle(notified: &Run<NotifyOutcome>, receiver: &Receiver, drain_secs: u64) -> (Row, usize, usize, usize) {
    let expected: usize = notified.samples.iter().map(|s| s.value.delivery_ids.len()).sum();
    receiver.wait_for_alerts(expected, Instant::now() + Duration::from_secs(drain_secs)).await;
    let tally = traffic::deliveries(notified, &receiver.arrivals(), expected);
    (tally.row, expected, tally.duplicates, tally.unknown)
}

/// The routes with one fixed request, baseline first, reads before writes.
fn fixed_routes(caller: &Caller) -> Vec<Route> {
    let get = |key, shown, path: String| Route { key, method: "GET", shown, path, body: None, auth: true, expect: 200 };
    let team = team_path(&caller.team_id);
    vec![
        Route { auth: false, ..get("healthz", "/healthz (baseline)", "/healthz".into()) },
        get("customer", "/v1/customer", "/v1/customer".into()),
        get("teams", "/v1/teams", "/v1/teams".into()),
        get("team_members", "/v1/team/{id}/members", format!("{team}/members")),
        get(
            "personal_channels",
            "/v1/customer/{id}/notification-channels",
            format!("{}/notification-channels", caller.owner.personal_path()),
        ),
        get("team_channels", "/v1/team/{id}/notification-channels", format!("{team}/notification-channels")),
        Route {
            method: "PATCH",
            body: Some(json!({"name": "Benchmarked"}).to_string()),
            ..get("rename_customer", "/v1/customer {\"name\":…}", "/v1/customer".into())
        },
    ]
}

/// One request before wrk's thousands: a route that answers wrongly stops the run here, with the answer.
async fn smoke(client: &reqwest::Client, base: &str, route: &Route, token: &str) -> anyhow::Result<()> {
    let method = reqwest::Method::from_bytes(route.method.as_bytes())?;
    let mut request = client.request(method, format!("{base}{}", route.path));
    if route.auth {
        request = request.bearer_auth(token);
    }
    if let Some(body) = &route.body {
        request = request.header("content-type", "application/json").body(body.clone());
    }
    let response = request.send().await.with_context(|| format!("{} {}", route.method, route.path))?;
    let status = response.status().as_u16();
    if status != route.expect {
        let body = response.text().await.unwrap_or_default();
        bail!("{} {} answered {status}, expected {}: {body}", route.method, route.path, route.expect);
    }
    Ok(())
}
