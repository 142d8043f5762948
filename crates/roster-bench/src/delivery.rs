//! `roster-bench delivery`: from `POST /v1/team/{id}/notify` to the webhook
//! request arriving at a receiver, through the real outbox and worker.
//!
//! One run measures, in order: a baseline (this process's HTTP client posting
//! straight to the receiver, at the same concurrency: the machine's round trip
//! with both ends on it), the notify calls (closed loop at `--concurrency`),
//! and the deliveries they caused (every one awaited, each timed from just
//! before its notify request was sent to its arrival at the receiver).

pub mod traffic;

use crate::client::{team_path, Api};
use crate::database::FreshDatabase;
use crate::machine::{self, Machine};
use crate::receiver::Receiver;
use crate::report::{self, Row};
use crate::server::{self, BinaryInfo, RosterServer};
use crate::Common;
use anyhow::{bail, Context};
use roster_testkit::SmtpServer;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use traffic::{baseline, deliveries, notify, notify_row, notify_statuses};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub common: Common,
    /// Alerts to raise: notify calls made.
    #[arg(long, default_value_t = 2000)]
    pub alerts: usize,
    /// Requests in flight at once, for the baseline and for notify.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Webhook channels on the team: each alert is delivered to every one.
    #[arg(long, default_value_t = 1)]
    pub channels: usize,
    /// Baseline requests; defaults to alerts × channels, and at least 20,000 so it lasts about a second.
    #[arg(long)]
    pub baseline_requests: Option<usize>,
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
    alerts: usize,
    concurrency: usize,
    channels: usize,
    drain_timeout_secs: u64,
    /// The server's environment as the benchmark set it (the secret key left out).
    server_env: Vec<String>,
    #[serde(flatten)]
    measured: Measured,
}

/// What the phases measured.
#[derive(Debug, Serialize)]
struct Measured {
    baseline: Row,
    notify: Row,
    /// Latency here is notify-to-arrival; the rate counts arrivals from the first notify to the last arrival.
    deliveries: Row,
    /// Notify answers by status (`error` for a request that got no answer).
    notify_statuses: BTreeMap<String, usize>,
    /// The first unexpected notify answer, to tell why.
    notify_first_error: Option<String>,
    expected_deliveries: usize,
    arrived_deliveries: usize,
    /// Alert requests that arrived again under a `webhook-id` already seen (retries).
    duplicate_arrivals: usize,
    /// Alert requests whose `webhook-id` or alert id no notify answer named.
    unknown_arrivals: usize,
    /// From the last notify answer to the last arrival: the backlog the worker was left with.
    drain_after_last_notify_ms: Option<f64>,
    server_rss_after_seed_kib: Option<u64>,
    server_peak_rss_kib: Option<u64>,
    load_at_end: Option<String>,
    complete: bool,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let common = &options.common;
    let started_at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let machine = Machine::describe();
    let binary = server::locate(common.roster.as_deref())?;
    let roster = server::describe(&binary);
    eprintln!(
        "delivery benchmark on {}: {} alerts, concurrency {}, {} webhook channel(s); roster binary {} (built {} s ago)",
        common.backend.as_str(),
        options.alerts,
        options.concurrency,
        options.channels,
        roster.path,
        roster.age_secs.map_or("?".into(), |s| s.to_string()),
    );
    let receiver = Receiver::start().await?;
    let smtp = SmtpServer::start().await;
    let env = server_env(&options, &smtp)?;
    let db = FreshDatabase::create(common.backend, &common.postgres_url).await?;
    let measured = measure(&options, &binary, &db, &env, &receiver, &smtp).await;
    let removed = db.remove().await;
    let measured = measured?;
    removed?;

    let results = Results {
        scenario: "delivery",
        backend: common.backend.as_str(),
        started_at,
        machine,
        roster,
        alerts: options.alerts,
        concurrency: options.concurrency,
        channels: options.channels,
        drain_timeout_secs: options.drain_timeout_secs,
        server_env: server::shown_environment(&env),
        measured,
    };
    println!("{}", summary(&results));
    let path = report::write_json(&common.out_dir, "delivery", common.backend.as_str(), &results)?;
    println!("raw results: {}", path.display());
    let m = &results.measured;
    if !m.complete {
        bail!(
            "{} of {} deliveries did not arrive within {} s of the last notify answer",
            m.expected_deliveries - m.arrived_deliveries,
            m.expected_deliveries,
            options.drain_timeout_secs
        );
    }
    Ok(())
}

/// The server's settings: the receiver and the SMTP server are on loopback,
/// and limits meant for abuse (notify per minute, webhook quota per
/// destination) are lifted so they do not stand in for throughput.
fn server_env(options: &Options, smtp: &SmtpServer) -> anyhow::Result<Vec<(String, String)>> {
    let mut settings = vec![
        // The startup line carries the URL; everything else only when it is a warning.
        ("ROSTER_LOG_LEVEL", "warn,roster_server::startup=info".to_owned()),
        ("ROSTER_SMTP_URL", smtp.url()),
        ("ROSTER_CHANNELS__ALLOW_PRIVATE_TARGETS", "true".to_owned()),
        ("ROSTER_CHANNELS__ALLOW_HTTP_WEBHOOKS", "true".to_owned()),
        ("ROSTER_NOTIFY_PER_MINUTE", "1000000000".to_owned()),
        ("ROSTER_WORKER__QUOTA__WEBHOOK", "0".to_owned()),
    ];
    if options.channels > 10 {
        settings.push(("ROSTER_PLANS__FREE__CHANNELS_PER_OWNER", options.channels.to_string()));
    }
    server::environment(settings, options.common.backend, &options.common.env)
}

/// Starts the server, runs every phase, and stops it whatever happened.
async fn measure(
    options: &Options,
    binary: &Path,
    db: &FreshDatabase,
    env: &[(String, String)],
    receiver: &Receiver,
    smtp: &SmtpServer,
) -> anyhow::Result<Measured> {
    let mut server = RosterServer::start(binary, db, env).await?;
    let result = phases(options, &server, receiver, smtp).await;
    let stopped = server.stop().await;
    let results = result?;
    stopped?;
    Ok(results)
}

async fn phases(
    options: &Options,
    server: &RosterServer,
    receiver: &Receiver,
    smtp: &SmtpServer,
) -> anyhow::Result<Measured> {
    let client = reqwest::Client::builder().tcp_nodelay(true).timeout(Duration::from_secs(60)).build()?;
    let api = Api::new(client.clone(), &server.url);
    let owner = api.signup(smtp).await.context("sign up")?;
    for i in 0..options.channels {
        api.add_verified_webhook(&owner, &team_path(&owner.team_id), receiver, &format!("/hook/{i}"))
            .await
            .context("add a webhook channel")?;
    }
    let server_rss_after_seed_kib = server.rss_kib();
    eprintln!("seeded: one organization, {} verified webhook channel(s) on its team", options.channels);

    let count = options.baseline_requests.unwrap_or((options.alerts * options.channels).max(20_000));
    let baseline = baseline(&client, receiver, count, options.concurrency).await;
    eprintln!("baseline done: {:.0} requests/s", baseline.per_sec);
    let notified = notify(&api, &owner, options.alerts, options.concurrency).await;
    let notify_end = notified.samples.iter().map(|s| s.end).max().unwrap_or(notified.started);
    let expected: usize = notified.samples.iter().map(|s| s.value.delivery_ids.len()).sum();
    eprintln!("notify done: {} calls, {expected} deliveries queued; waiting for them", notified.samples.len());
    let deadline = Instant::now() + Duration::from_secs(options.drain_timeout_secs);
    receiver.wait_for_alerts(expected, deadline).await;
    let server_peak_rss_kib = server.peak_rss_kib();

    let tally = deliveries(&notified, &receiver.arrivals(), expected);
    let drain_after_last_notify_ms =
        tally.last_arrival.map(|last| last.saturating_duration_since(notify_end).as_secs_f64() * 1000.0);
    Ok(Measured {
        baseline,
        notify: notify_row(&notified),
        complete: tally.arrived == expected && expected > 0,
        deliveries: tally.row,
        notify_statuses: notify_statuses(&notified),
        notify_first_error: notified.samples.iter().find_map(|s| s.value.error.clone()),
        expected_deliveries: expected,
        arrived_deliveries: tally.arrived,
        duplicate_arrivals: tally.duplicates,
        unknown_arrivals: tally.unknown,
        drain_after_last_notify_ms,
        server_rss_after_seed_kib,
        server_peak_rss_kib,
        load_at_end: machine::load_average(),
    })
}

/// The human summary: parameters, the table, memory.
fn summary(r: &Results) -> String {
    let m = &r.measured;
    let mib = |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    format!(
        "\n### delivery on {} — {} alerts × {} channel(s), concurrency {}\n\n{}\n\
         deliveries: {} of {} arrived ({} duplicate, {} unknown); backlog drained {} ms after the last notify answer\n\
         server memory: {} after seeding, peak {} (VmHWM); load average at start {}, at end {}\n\
         notify answers: {:?}{}",
        r.backend,
        r.alerts,
        r.channels,
        r.concurrency,
        report::table(&m.baseline, &[&m.notify, &m.deliveries]),
        m.arrived_deliveries,
        m.expected_deliveries,
        m.duplicate_arrivals,
        m.unknown_arrivals,
        m.drain_after_last_notify_ms.map_or("?".into(), |ms| format!("{ms:.0}")),
        mib(m.server_rss_after_seed_kib),
        mib(m.server_peak_rss_kib),
        r.machine.load_at_start.as_deref().unwrap_or("?"),
        m.load_at_end.as_deref().unwrap_or("?"),
        m.notify_statuses,
        m.notify_first_error.as_ref().map_or(String::new(), |e| format!("\nfirst unexpected notify answer: {e}")),
    )
}
