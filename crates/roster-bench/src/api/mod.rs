//! `roster-bench api`: the API's routes under wrk at two data scales, to show
//! what a request costs against the machine's HTTP limit (`GET /healthz` of
//! the same server) and how that cost grows with the tables (large = 100 ×
//! small by default).
//!
//! Per scale: a fresh database; the caller signed up and given teams,
//! services and channels through the API; everyone else written in bulk
//! while the server is stopped; the server started again on the full
//! database (start-to-ready timed); then each route in turn, closed loop.

mod bulk;
mod scale;
mod seed;
mod summary;
mod wrk;

use crate::machine::{self, Machine};
use crate::report;
use crate::server::{self, BinaryInfo};
use crate::Common;
use anyhow::bail;
use scale::Scale;
use serde::Serialize;
use summary::Growth;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub common: Common,
    /// Customers in the small data set (organizations of 10 people, the caller's included).
    #[arg(long, default_value_t = 1_000)]
    pub small: usize,
    /// Customers in the large data set.
    #[arg(long, default_value_t = 100_000)]
    pub large: usize,
    /// Connections wrk keeps open (requests in flight) on every route but login.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// wrk's threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// How long wrk drives each route, in wrk's syntax (`10s`, `1m`).
    #[arg(long, default_value = "10s")]
    pub duration: String,
    /// Connections for login, whose argon2 hash is slow on purpose.
    #[arg(long, default_value_t = 4)]
    pub login_connections: usize,
    /// Alerts raised at each scale (notify to webhook arrival).
    #[arg(long, default_value_t = 1_000)]
    pub alerts: usize,
    /// Notify calls in flight at once.
    #[arg(long, default_value_t = 16)]
    pub notify_concurrency: usize,
    /// How long to wait after the last notify answer for deliveries still on their way.
    #[arg(long, default_value_t = 90)]
    pub drain_timeout_secs: u64,
}

/// The raw results, as written to `bench/results/`.
#[derive(Debug, Serialize)]
struct Results {
    scenario: &'static str,
    backend: &'static str,
    started_at: String,
    machine: Machine,
    roster: BinaryInfo,
    wrk: wrk::Settings,
    connections: usize,
    login_connections: usize,
    alerts: usize,
    notify_concurrency: usize,
    scales: Vec<Scale>,
    /// Large over small, per route.
    growth: Vec<Growth>,
    load_at_end: Option<String>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let common = &options.common;
    for (flag, n) in [("--small", options.small), ("--large", options.large)] {
        if n < seed::ORG_SIZE || n % seed::ORG_SIZE != 0 {
            bail!("{flag} {n}: give a multiple of {} (organizations of {0} people)", seed::ORG_SIZE);
        }
    }
    let wrk = wrk::Wrk::prepare(wrk::Settings {
        threads: options.threads,
        duration: options.duration.clone(),
        timeout: "10s".into(),
    })?;
    let started_at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let machine = Machine::describe();
    let binary = server::locate(common.roster.as_deref())?;
    let roster = server::describe(&binary);
    eprintln!(
        "API benchmark on {}: {} and {} customers, wrk {} connections × {} per route; roster binary {} (built {} s ago)",
        common.backend.as_str(),
        options.small,
        options.large,
        options.connections,
        options.duration,
        roster.path,
        roster.age_secs.map_or("?".into(), |s| s.to_string()),
    );
    let env = server_env(&options)?;
    let mut scales = Vec::new();
    for customers in [options.small, options.large] {
        scales.push(scale::run(&options, customers, &binary, &env, &wrk).await?);
    }
    let growth = summary::growth(&scales[0], &scales[1]);
    let results = Results {
        scenario: "api",
        backend: common.backend.as_str(),
        started_at,
        machine,
        roster,
        wrk: wrk.settings.clone(),
        connections: options.connections,
        login_connections: options.login_connections,
        alerts: options.alerts,
        notify_concurrency: options.notify_concurrency,
        scales,
        growth,
        load_at_end: machine::load_average(),
    };
    println!("{}", summary::markdown(&results));
    let path = report::write_json(&common.out_dir, "api", common.backend.as_str(), &results)?;
    println!("raw results: {}", path.display());
    let problems = summary::problems(&results.scales);
    if !problems.is_empty() {
        bail!("the run saw errors:\n- {}", problems.join("\n- "));
    }
    Ok(())
}

/// The server's settings: limits meant against abuse are lifted so they do
/// not stand in for throughput (everything comes from one address, and
/// login and notify are driven far past what one person does).
fn server_env(options: &Options) -> anyhow::Result<Vec<(String, String)>> {
    let unlimited = || "1000000000".to_owned();
    let settings = vec![
        // The startup line carries the URL; everything else only when it is a warning.
        ("ROSTER_LOG_LEVEL", "warn,roster_server::startup=info".to_owned()),
        ("ROSTER_CHANNELS__ALLOW_PRIVATE_TARGETS", "true".to_owned()),
        ("ROSTER_CHANNELS__ALLOW_HTTP_WEBHOOKS", "true".to_owned()),
        ("ROSTER_LOGIN_MAX_PER_IP", unlimited()),
        ("ROSTER_LOGIN_MAX_FAILURES", unlimited()),
        ("ROSTER_SIGNUP_MAX_PER_IP", unlimited()),
        ("ROSTER_CODE_SENDS_PER_HOUR", unlimited()),
        ("ROSTER_CHANNELS__CODE_SENDS_PER_HOUR", unlimited()),
        ("ROSTER_CHANNELS__TEST_SENDS_PER_HOUR", unlimited()),
        ("ROSTER_NOTIFY_PER_MINUTE", unlimited()),
        ("ROSTER_WORKER__QUOTA__WEBHOOK", "0".to_owned()),
        // The create-and-delete loop holds up to one channel per connection at once.
        ("ROSTER_PLANS__FREE__CHANNELS_PER_OWNER", (options.connections + 16).to_string()),
    ];
    server::environment(settings, options.common.backend, &options.common.env)
}
