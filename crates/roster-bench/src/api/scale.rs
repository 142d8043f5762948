//! One data scale: a fresh database seeded to N customers, the server
//! restarted on it (timed to ready), then every route driven by wrk, login at
//! low concurrency, and notify through to webhook arrival.

use super::bulk::Db;
use super::seed::{self, Caller, Counts};
use super::wrk::{self, Script, Wrk};
use super::Options;
use crate::client::{team_path, Api, PASSWORD};
use crate::database::{Backend, FreshDatabase};
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
    /// Routes not driven because their check request answered wrongly, and the answer.
    pub refused: Vec<String>,
    /// Writes failing right after a route's run; the server was restarted to go on.
    pub writes_broken: Vec<String>,
    pub notify: Row,
    /// Latency here is notify-to-arrival; the rate counts arrivals from the first notify to the last arrival.
    pub deliveries: Row,
    pub notify_statuses: BTreeMap<String, usize>,
    pub notify_first_error: Option<String>,
    pub expected_deliveries: usize,
    pub duplicate_arrivals: usize,
    pub unknown_arrivals: usize,
    /// Of the last server process (see `writes_broken` for restarts); each route records the RSS after it.
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
    /// The server's CPU time (user and system) over the run, per request
    /// wrk counted: what the route costs the server, apart from wrk's share
    /// of the same two cores. The kernel counts in ticks (10 ms), so this is
    /// good to about 10 ms over the whole run.
    pub server_cpu_us_per_request: Option<f64>,
    /// On PostgreSQL, the database server's CPU time over the run, per request.
    pub database_cpu_us_per_request: Option<f64>,
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
    let mut server = RosterServer::start(binary, db, env).await?;
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

    let launch = Launch { binary, db, env };
    let mut server = RosterServer::start(binary, db, env).await?;
    let measured = measure(options, customers, &launch, &mut server, &client, &caller, receiver, wrk).await;
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

/// The server's process: what it runs, on which database, with which settings.
struct Launch<'a> {
    binary: &'a Path,
    db: &'a FreshDatabase,
    env: &'a [(String, String)],
}

/// One step of the sequence: a wrk run, or the notify calls.
enum Step {
    Fixed { route: Route, connections: usize },
    CreateDelete,
    Notify,
}

impl Step {
    fn writes(&self) -> bool {
        match self {
            Step::Fixed { route, .. } => route.method != "GET",
            Step::CreateDelete | Step::Notify => true,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    options: &Options,
    customers: usize,
    launch: &Launch<'_>,
    server: &mut RosterServer,
    client: &reqwest::Client,
    caller: &Caller,
    receiver: &Receiver,
    wrk: &Wrk,
) -> anyhow::Result<Measurements> {
    let start_to_ready = server.ready_after_spawn(client).await?;
    let server_rss_after_start_kib = server.rss_kib();
    eprintln!("{customers} customers: ready {:.0} ms after spawn", start_to_ready.as_secs_f64() * 1000.0);
    let token = caller.owner.token.as_str();
    let (mut routes, mut refused, mut writes_broken) = (Vec::new(), Vec::new(), Vec::new());
    let mut notified = None;
    let postgres = options.common.backend == Backend::Postgres;
    for step in steps(options, caller) {
        let target = Target { server, client, token, wrk, postgres };
        let measured = match &step {
            Step::Fixed { route, connections } => target.fixed(route, *connections, &mut refused).await?,
            Step::CreateDelete => Some(target.create_delete(&caller.second_team_id, options.connections).await?),
            Step::Notify => {
                let api = Api::new(client.clone(), &server.url);
                let run = traffic::notify(&api, &caller.owner, options.alerts, options.notify_concurrency).await;
                notified = Some(settle(&run, receiver, options.drain_timeout_secs).await);
                None
            }
        };
        let name = measured.as_ref().map_or("notify".to_owned(), |m| m.row.name.clone());
        routes.extend(measured);
        // wrk ends a run by closing its connections, requests in flight or not:
        // the server must take that, so a write right after tells whether it did.
        if step.writes() {
            if let Err(e) = smoke(client, &server.url, &rename_customer(), token).await {
                eprintln!("  writes fail after {name}: {e:#}; restarting the server to go on");
                writes_broken.push(format!("after {name}: {e:#}"));
                server.restart(launch.binary, launch.db, launch.env).await?;
                server.ready_after_spawn(client).await?;
            }
        }
    }
    let notified = notified.context("the sequence has a notify step")?;
    Ok(Measurements {
        start_to_ready_ms: start_to_ready.as_secs_f64() * 1000.0,
        server_rss_after_start_kib,
        routes,
        refused,
        writes_broken,
        notify: notified.notify,
        deliveries: notified.deliveries,
        notify_statuses: notified.statuses,
        notify_first_error: notified.first_error,
        expected_deliveries: notified.expected,
        duplicate_arrivals: notified.duplicates,
        unknown_arrivals: notified.unknown,
        server_peak_rss_kib: server.peak_rss_kib(),
    })
}

/// Where wrk sends its load, as whom.
struct Target<'a> {
    server: &'a RosterServer,
    client: &'a reqwest::Client,
    token: &'a str,
    wrk: &'a Wrk,
    /// Whether the database's own processes are to be counted too.
    postgres: bool,
}

impl Target<'_> {
    /// Checks the route with one request, then drives it with wrk at
    /// `connections`. A route that answers the check wrongly is not driven
    /// (thousands of the same error measure nothing); why goes to `refused`.
    async fn fixed(
        &self,
        route: &Route,
        connections: usize,
        refused: &mut Vec<String>,
    ) -> anyhow::Result<Option<Measured>> {
        let name = format!("{} {}", route.method, route.shown);
        if let Err(e) = smoke(self.client, &self.server.url, route, self.token).await {
            eprintln!("  {name}: not driven: {e:#}");
            refused.push(format!("{name}: {e:#}"));
            return Ok(None);
        }
        let mut env = vec![("BENCH_METHOD", route.method.to_owned())];
        env.extend(route.body.clone().map(|b| ("BENCH_BODY", b)));
        let token = route.auth.then_some(self.token);
        let url = format!("{}{}", self.server.url, route.path);
        let cpu_before = self.cpu_us();
        let run = self.wrk.run(Script::Fixed, &url, connections, token, &env).await?;
        let ok = run.report.requests - run.report.errors.status;
        let row = run.row(name, ok, "requests", run.report.errors.total());
        Ok(Some(self.measured(route.key, row, run, cpu_before)))
    }

    /// The create-and-delete loop on a team's channels, counted in pairs (deletes answered 200).
    async fn create_delete(&self, team_id: &str, connections: usize) -> anyhow::Result<Measured> {
        let env = [("BENCH_CHANNELS", format!("{}/notification-channel", team_path(team_id)))];
        let cpu_before = self.cpu_us();
        let run = self.wrk.run(Script::CreateDelete, &self.server.url, connections, Some(self.token), &env).await?;
        let statuses = &run.report.statuses;
        let e = &run.report.errors;
        // Answers other than 201 and 200 are errors (non-2xx among them), and so is a socket error.
        let unexpected: u64 =
            statuses.iter().filter(|(s, _)| !["200", "201"].contains(&s.as_str())).map(|(_, n)| n).sum();
        let errors = e.connect + e.read + e.write + e.timeout + unexpected;
        let pairs = statuses.get("200").copied().unwrap_or(0);
        let name =
            "create+delete a channel: POST …/notification-channel, DELETE …?priority= (pairs; latency per request)";
        let row = run.row(name.into(), pairs, "pairs", errors);
        Ok(self.measured("create_delete_channel", row, run, cpu_before))
    }

    /// CPU time so far of the server and, on PostgreSQL, of the database server.
    fn cpu_us(&self) -> (Option<u64>, Option<u64>) {
        (self.server.cpu_us(), if self.postgres { server::postgres_cpu_us() } else { None })
    }

    fn measured(&self, key: &'static str, row: Row, run: wrk::Run, before: (Option<u64>, Option<u64>)) -> Measured {
        let requests = run.report.requests;
        let after = self.cpu_us();
        let per_request = |before: Option<u64>, after: Option<u64>| {
            let used = before.zip(after).map(|(before, after)| after.saturating_sub(before));
            used.filter(|_| requests > 0).map(|us| us as f64 / requests as f64)
        };
        let server_cpu_us_per_request = per_request(before.0, after.0);
        let database_cpu_us_per_request = per_request(before.1, after.1);
        let mut cpu_shown = String::new();
        if let Some(us) = server_cpu_us_per_request {
            cpu_shown.push_str(&format!(", server CPU {us:.1} µs/request"));
        }
        if let Some(us) = database_cpu_us_per_request {
            cpu_shown.push_str(&format!(", PostgreSQL CPU {us:.1} µs/request"));
        }
        eprintln!("  {}: {:.0} {}/s, {} errors{cpu_shown}", row.name, row.per_sec, row.unit, row.errors);
        let server_rss_after_kib = self.server.rss_kib();
        Measured { key, row, wrk: run, server_rss_after_kib, server_cpu_us_per_request, database_cpu_us_per_request }
    }
}

/// The notify calls and the deliveries they caused.
struct Notified {
    notify: Row,
    deliveries: Row,
    statuses: BTreeMap<String, usize>,
    first_error: Option<String>,
    expected: usize,
    duplicates: usize,
    unknown: usize,
}

/// Waits for the deliveries the notify answers named, and tallies both.
async fn settle(notified: &Run<NotifyOutcome>, receiver: &Receiver, drain_secs: u64) -> Notified {
    let expected: usize = notified.samples.iter().map(|s| s.value.delivery_ids.len()).sum();
    receiver.wait_for_alerts(expected, Instant::now() + Duration::from_secs(drain_secs)).await;
    let tally = traffic::deliveries(notified, &receiver.arrivals(), expected);
    Notified {
        notify: traffic::notify_row(notified),
        deliveries: tally.row,
        statuses: traffic::notify_statuses(notified),
        first_error: notified.samples.iter().find_map(|s| s.value.error.clone()),
        expected,
        duplicates: tally.duplicates,
        unknown: tally.unknown,
    }
}

/// The sequence: the baseline first, reads before writes; notify before the
/// channel loop, whose verification emails would otherwise queue ahead of its
/// deliveries; login (slow on purpose) last, at its own concurrency.
fn steps(options: &Options, caller: &Caller) -> Vec<Step> {
    let team = team_path(&caller.team_id);
    let reads = [
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
        rename_customer(),
    ];
    let login = Route {
        key: "login",
        method: "POST",
        shown: "/v1/auth/login (argon2)",
        path: "/v1/auth/login".into(),
        body: Some(json!({"email": caller.owner.email, "password": PASSWORD}).to_string()),
        auth: false,
        expect: 200,
    };
    let mut steps: Vec<Step> =
        reads.into_iter().map(|route| Step::Fixed { route, connections: options.connections }).collect();
    steps.extend([Step::Notify, Step::CreateDelete]);
    steps.push(Step::Fixed { route: login, connections: options.login_connections });
    steps
}

fn get(key: &'static str, shown: &'static str, path: String) -> Route {
    Route { key, method: "GET", shown, path, body: None, auth: true, expect: 200 }
}

/// The write measured, and the probe that tells whether writes still work.
fn rename_customer() -> Route {
    Route {
        method: "PATCH",
        body: Some(json!({"name": "Benchmarked"}).to_string()),
        ..get("rename_customer", "/v1/customer {\"name\":…}", "/v1/customer".into())
    }
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
