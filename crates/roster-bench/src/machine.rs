//! What the numbers were measured on: results mean little without the
//! machine, its load at the time, and the code that ran.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_total_kib: Option<u64>,
    pub kernel: Option<String>,
    /// 1-, 5- and 15-minute load averages when the run started: other work on the machine shows here.
    pub load_at_start: Option<String>,
    pub git_commit: Option<String>,
    /// Whether the working tree had uncommitted changes.
    pub git_dirty: Option<bool>,
}

impl Machine {
    pub fn describe() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo.as_deref().and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        });
        let memory_total_kib = read("/proc/meminfo").and_then(|m| {
            m.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        });
        Self {
            cpus,
            cpu_model,
            memory_total_kib,
            kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()),
            load_at_start: load_average(),
            git_commit: git(&["rev-parse", "HEAD"]),
            git_dirty: git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()),
        }
    }
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> Option<String> {
    let s = read("/proc/loadavg")?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
