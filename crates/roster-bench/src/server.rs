//! The release `roster` binary as an operator runs it: `roster serve` on an
//! ephemeral loopback port, configured only through its environment.

use crate::database::{Backend, FreshDatabase};
use anyhow::{bail, Context};
use rand::RngCore;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary found next to this executable, or the one named.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_owned(),
        None => {
            let exe = std::env::current_exe().context("find this executable")?;
            exe.with_file_name(format!("roster{}", std::env::consts::EXE_SUFFIX))
        }
    };
    if !path.is_file() {
        bail!(
            "no roster binary at {}: build it with `cargo build --release` (it builds roster and roster-bench), \
             or name one with --roster",
            path.display()
        );
    }
    Ok(path)
}

/// The server's environment: a scenario's `settings`, a random secret key on
/// PostgreSQL (required there; SQLite generates one into its data directory),
/// then the `--env KEY=VALUE` overrides.
pub fn environment(
    settings: Vec<(&str, String)>,
    backend: Backend,
    overrides: &[String],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = settings.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if backend == Backend::Postgres {
        let mut key = [0u8; 64];
        rand::thread_rng().fill_bytes(&mut key);
        env.push(("ROSTER_SECRET_KEY".into(), hex::encode(key)));
    }
    for extra in overrides {
        let (k, v) = extra.split_once('=').with_context(|| format!("--env {extra}: expected KEY=VALUE"))?;
        env.retain(|(key, _)| key != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    Ok(env)
}

/// The environment as results record it: the secret key left out.
pub fn shown_environment(env: &[(String, String)]) -> Vec<String> {
    env.iter().filter(|(k, _)| k != "ROSTER_SECRET_KEY").map(|(k, v)| format!("{k}={v}")).collect()
}

/// What the results say about the binary, so a stale build is visible.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryInfo {
    /// Relative to the workspace when the binary is inside it.
    pub path: String,
    /// Seconds since the binary was written.
    pub age_secs: Option<u64>,
}

pub fn describe(path: &Path) -> BinaryInfo {
    let age_secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs());
    // Relative to the workspace when inside it, so results name no machine's directories.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().ok();
    let shown = match (path.canonicalize(), workspace) {
        (Ok(full), Some(root)) => full.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(full),
        _ => path.to_owned(),
    };
    BinaryInfo { path: shown.display().to_string(), age_secs }
}

pub struct RosterServer {
    child: Child,
    pid: u32,
    /// Just before the process was spawned: what start-up time counts from.
    spawned_at: Instant,
    pub url: String,
}

impl RosterServer {
    /// Starts `roster serve` with a clean environment plus `env`, and waits for
    /// the URL it logs once listening.
    pub async fn start(binary: &Path, db: &FreshDatabase, env: &[(String, String)]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(binary);
        cmd.current_dir(&db.data_dir)
            // Only what the benchmark sets: the caller's own ROSTER_* must not change the result.
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROSTER_DATA_DIR", &db.data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = &db.url {
            cmd.env("ROSTER_DATABASE_URL", url);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let spawned_at = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("start {}", binary.display()))?;
        let pid = child.id().context("the server's process id")?;
        let mut lines = BufReader::new(child.stderr.take().context("the server's stderr")?).lines();
        let mut seen = Vec::new();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on ".len()..];
                    return Ok(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                seen.push(line);
            }
            bail!("roster serve exited before listening:\n{}", seen.join("\n"))
        })
        .await
        .context("roster serve did not log its URL within 30 s")??;
        // Echo what the server logs later (warnings and errors at the benchmark's
        // log level), and keep the pipe drained so it never blocks.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[roster] {line}");
            }
        });
        Ok(Self { child, pid, spawned_at, url })
    }

    /// Time from spawning the process to its first 200 from `GET /readyz`
    /// (the database answers), polling every millisecond.
    pub async fn ready_after_spawn(&self, client: &reqwest::Client) -> anyhow::Result<Duration> {
        let url = format!("{}/readyz", self.url);
        let deadline = self.spawned_at + Duration::from_secs(30);
        loop {
            if client.get(&url).send().await.is_ok_and(|r| r.status() == reqwest::StatusCode::OK) {
                return Ok(self.spawned_at.elapsed());
            }
            if Instant::now() > deadline {
                bail!("GET /readyz did not answer 200 within 30 s of starting the server");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The process's peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid, "VmHWM:")
    }

    /// The process's resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid, "VmRSS:")
    }

    /// CPU time the process has used so far, user and system, in microseconds.
    pub fn cpu_us(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        cpu_us_of(&stat).map(|(_, cpu)| cpu.own)
    }

    /// Stops this server and starts another in its place, on the same database with the same settings.
    pub async fn restart(&mut self, binary: &Path, db: &FreshDatabase, env: &[(String, String)]) -> anyhow::Result<()> {
        self.stop().await?;
        *self = Self::start(binary, db, env).await?;
        Ok(())
    }

    /// SIGTERM, then up to 30 s for a graceful stop, then SIGKILL.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let term = std::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        if term.is_ok_and(|s| s.success()) {
            if let Ok(status) = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
                let status = status?;
                if !status.success() {
                    eprintln!("roster serve exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            eprintln!("roster serve did not stop within 30 s of SIGTERM; killing it");
        }
        self.child.kill().await?;
        Ok(())
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// CPU time, user and system in microseconds, of every process on this
/// machine whose command is `postgres`, and of the children they have
/// reaped: the database server's share of a run on PostgreSQL. A backend
/// that exits is reaped by the postmaster, and its time moves into the
/// postmaster's children's time, so the sum only grows.
pub fn postgres_cpu_us() -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some(("postgres", cpu)) = cpu_us_of(&stat) {
            total += cpu.own + cpu.reaped_children;
        }
    }
    Some(total)
}

struct Cpu {
    own: u64,
    reaped_children: u64,
}

/// A `/proc/<pid>/stat` line's command and CPU times (user and system) in microseconds.
fn cpu_us_of(stat: &str) -> Option<(&str, Cpu)> {
    // The command is in parentheses and may hold spaces. After it, the
    // state is the first field; utime, stime, cutime and cstime the 12th to 15th.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let command = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace().skip(11).map(|f| f.parse::<u64>().ok());
    let mut next = || fields.next().flatten();
    let (own, reaped_children) = (next()? + next()?, next()? + next()?);
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let per_sec = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|&t| t > 0)?;
    let us = |ticks: u64| ticks * 1_000_000 / per_sec;
    Some((command, Cpu { own: us(own), reaped_children: us(reaped_children) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_command_and_times_past_a_command_with_spaces_and_parentheses() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
        let stat = "4242 (post gres) (x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 1000 200 20 0 1 0";
        let (command, cpu) = cpu_us_of(stat).unwrap();
        assert_eq!(command, "post gres) (x)");
        // SAFETY: as in `cpu_us_of`.
        let tick_us = 1_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert_eq!((cpu.own, cpu.reaped_children), (300 * tick_us, 1200 * tick_us));
    }
}
