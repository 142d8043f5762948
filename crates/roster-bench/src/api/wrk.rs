//! wrk, the load generator: closed loop at a fixed number of connections for
//! a fixed time. Its Lua scripts are embedded here and written to a temporary
//! directory; each ends by printing one JSON line that this module reads.

use crate::report::Row;
use crate::stats::Latency;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

const REPORT: &str = include_str!("lua/report.lua");
const MARKER: &str = "ROSTER_BENCH_RESULT ";

/// What wrk sends.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    /// One request again and again (`BENCH_METHOD`, `BENCH_BODY`, `BENCH_TOKEN`).
    Fixed,
    /// Create a channel, delete it, and again (`BENCH_CHANNELS`, `BENCH_TOKEN`).
    CreateDelete,
}

impl Script {
    fn file(self) -> &'static str {
        match self {
            Script::Fixed => "fixed.lua",
            Script::CreateDelete => "create_delete.lua",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Script::Fixed => include_str!("lua/fixed.lua"),
            Script::CreateDelete => include_str!("lua/create_delete.lua"),
        }
    }
}

/// How hard and how long wrk drives each route.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub threads: usize,
    pub duration: String,
    /// Longer than wrk's 2 s default: a busy shared machine must not turn slow answers into errors.
    pub timeout: String,
}

/// wrk's own counts, as the scripts' `done()` prints them.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Report {
    pub requests: u64,
    pub duration_us: u64,
    pub errors: Errors,
    pub latency_us: LatencyUs,
    /// Answers by status, from scripts that look at answers (empty otherwise).
    pub statuses: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Errors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    /// Answers that were not 2xx or 3xx.
    pub status: u64,
    pub timeout: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.status + self.timeout
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LatencyUs {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One wrk run: the command as it can be typed again (the token left out), and what it reported.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub command: String,
    /// `BENCH_*` settings the script read (the token left out).
    pub script_env: Vec<String>,
    pub report: Report,
}

impl Run {
    /// As a table row: `count` requests (or whatever `unit` counts) over wrk's duration.
    pub fn row(&self, name: String, count: u64, unit: &'static str, errors: u64) -> Row {
        let r = &self.report;
        let secs = r.duration_us as f64 / 1e6;
        let ms = |us: f64| us / 1000.0;
        Row {
            name,
            count: count as usize,
            errors: errors as usize,
            elapsed_secs: secs,
            per_sec: if secs > 0.0 { count as f64 / secs } else { 0.0 },
            unit,
            latency: (r.requests > 0).then(|| Latency {
                count: r.requests as usize,
                min_ms: ms(r.latency_us.min),
                mean_ms: ms(r.latency_us.mean),
                p50_ms: ms(r.latency_us.p50),
                p90_ms: ms(r.latency_us.p90),
                p99_ms: ms(r.latency_us.p99),
                max_ms: ms(r.latency_us.max),
            }),
        }
    }
}

/// wrk with its scripts written out; the directory goes when this is dropped.
pub struct Wrk {
    dir: PathBuf,
    pub settings: Settings,
}

impl Wrk {
    /// Finds wrk and writes the scripts.
    pub fn prepare(settings: Settings) -> anyhow::Result<Self> {
        match std::process::Command::new("wrk").arg("--version").output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("wrk is not installed (or not on PATH): on Debian and Ubuntu, `apt-get install wrk`")
            }
            Err(e) => return Err(e).context("run wrk --version"),
            Ok(_) => {}
        }
        let dir = std::env::temp_dir().join(format!("roster-bench-wrk-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        for script in [Script::Fixed, Script::CreateDelete] {
            let path = dir.join(script.file());
            std::fs::write(&path, format!("{}\n{REPORT}", script.source()))
                .with_context(|| format!("write {}", path.display()))?;
        }
        Ok(Self { dir, settings })
    }

    /// Runs wrk against `url` with `connections` open; `env` goes to the script.
    pub async fn run(
        &self,
        script: Script,
        url: &str,
        connections: usize,
        token: Option<&str>,
        env: &[(&str, String)],
    ) -> anyhow::Result<Run> {
        let s = &self.settings;
        let args = [
            "--threads".to_owned(),
            s.threads.min(connections).to_string(),
            "--connections".to_owned(),
            connections.to_string(),
            "--duration".to_owned(),
            s.duration.clone(),
            "--timeout".to_owned(),
            s.timeout.clone(),
            "--latency".to_owned(),
            "--script".to_owned(),
            script.file().to_owned(),
            url.to_owned(),
        ];
        let mut cmd = tokio::process::Command::new("wrk");
        cmd.current_dir(&self.dir).args(&args).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        if let Some(token) = token {
            cmd.env("BENCH_TOKEN", token);
        }
        let output = cmd.output().await.context("run wrk")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let command = format!("wrk {}", args.join(" "));
        if !output.status.success() {
            bail!("`{command}` failed ({}):\n{stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
        }
        let report = parse(&stdout).with_context(|| format!("the output of `{command}`:\n{stdout}"))?;
        let script_env = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Ok(Run { command, script_env, report })
    }
}

/// The report line `done()` printed among wrk's own output.
fn parse(stdout: &str) -> anyhow::Result<Report> {
    let json = stdout.lines().find_map(|l| l.strip_prefix(MARKER)).context("no report line")?;
    serde_json::from_str(json).with_context(|| format!("wrk's report: {json}"))
}

impl Drop for Wrk {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_report_line_among_wrks_output() {
        let stdout = "Running 1s test @ http://127.0.0.1:1/healthz\n  2 threads and 4 connections\n\
            ROSTER_BENCH_RESULT {\"requests\":120,\"duration_us\":1000000,\
            \"errors\":{\"connect\":0,\"read\":1,\"write\":0,\"status\":3,\"timeout\":2},\
            \"latency_us\":{\"min\":100,\"mean\":250.5,\"p50\":200,\"p90\":400,\"p99\":900,\"max\":1000},\
            \"statuses\":{\"201\":60,\"200\":57,\"500\":3}}\nRequests/sec: 120.00\n";
        let report = parse(stdout).unwrap();
        assert_eq!((report.requests, report.errors.total()), (120, 6));
        assert_eq!(report.statuses["500"], 3);
        let run = Run { command: String::new(), script_env: Vec::new(), report };
        let row = run.row("pairs".into(), 57, "pairs", 3);
        assert_eq!((row.per_sec, row.errors), (57.0, 3));
        let latency = row.latency.unwrap();
        assert_eq!((latency.p50_ms, latency.p99_ms, latency.mean_ms), (0.2, 0.9, 0.2505));
        assert!(parse("Requests/sec: 1.00").is_err());
    }
}
