//! `roster-bench`: benchmarks of the release `roster` binary, run as a real
//! process on a fresh database and driven over HTTP from this process.
//!
//! Each scenario measures a baseline (the machine's HTTP round trip) in the
//! same run, so results read as ratios that carry over between machines.
//! Nothing here asserts a time: a run reports what it measured, and fails
//! only when the system under test misbehaves (an alert not delivered, a
//! seeding call refused, an error answer under load).

mod api;
mod client;
mod database;
mod delivery;
mod load;
mod machine;
mod receiver;
mod report;
mod server;
mod stats;

use clap::{Parser, Subcommand};
use database::Backend;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "roster-bench",
    about = "Benchmarks of the release roster binary (build it first: cargo build --release)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// `notify` to webhook arrival: notify requests/s, sustained deliveries/s,
    /// notify-to-arrival latency and the server's peak memory, against a
    /// direct HTTP baseline to the same receiver.
    Delivery(delivery::Options),
    /// The API's routes under wrk at two data scales (1,000 and 100,000
    /// customers): requests/s and latency against `GET /healthz`, their growth
    /// with the data, login, notify to delivery, start-to-ready and memory.
    Api(api::Options),
}

/// Settings every scenario shares: which server, which database, where results go.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// A PostgreSQL server where a fresh database is created and dropped (trust auth or a password in the URL).
    /// Settings after `?` apply to every connection. The default turns TLS off: on the loopback it
    /// only costs CPU (sqlx's default, `prefer`, took about a quarter of read throughput), as a
    /// server on the same host would be reached without it; a remote one wants `sslmode=require`.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432?sslmode=disable")]
    pub postgres_url: String,
    /// The `roster` binary; defaults to the one next to this executable (target/release/roster).
    #[arg(long)]
    pub roster: Option<PathBuf>,
    /// Extra server settings, `ROSTER_NAME=value`, applied after the benchmark's own (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Where the JSON results go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/results"))]
    pub out_dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Delivery(options) => delivery::run(options).await,
            Command::Api(options) => api::run(options).await,
        }
    })
}
