//! One `roster` process with its log: JSON lines read from stderr as they
//! come, so a test waits for what the process says, never for a while.

use super::BOUND;
use serde_json::{json, Value};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A running `roster` process, killed (SIGKILL) if dropped while running, so
/// a failing test leaves nothing behind.
pub struct Process {
    name: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    /// The lines read so far.
    seen: Vec<Value>,
}

impl Process {
    /// Starts `cmd` (its stderr piped, killed on drop) and reads its log.
    pub fn spawn(mut cmd: Command, name: String) -> Process {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            // Read to the end whether or not anyone listens, so the process never blocks on a full pipe.
            while let Ok(Some(line)) = reader.next_line().await {
                // JSON lines; anything else (an error printed at exit) is kept as its text.
                let _ = tx.send(serde_json::from_str(&line).unwrap_or_else(|_| json!({ "message": line })));
            }
        });
        Process { name, child, lines, seen: Vec::new() }
    }

    /// The first log line from now on for which `matches` holds. Panics, with
    /// the log, when the process ends first or stays silent past [`BOUND`].
    pub async fn wait_for_log(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(BOUND, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if matches(&line) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            Ok(None) => panic!("the process ended before it logged {what}:\n{}", self.tail()),
            Err(_) => panic!("the process did not log {what} within {BOUND:?}:\n{}", self.tail()),
        }
    }

    /// The last lines of the log so far, for a failure's message.
    pub fn tail(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let start = self.seen.len().saturating_sub(40);
        let lines: Vec<String> = self.seen[start..].iter().map(Value::to_string).collect();
        format!("--- {} (last {} lines) ---\n{}", self.name, lines.len(), lines.join("\n"))
    }

    /// SIGKILL, as a crash or the kernel's OOM killer would: nothing is
    /// finished or released. Returns once the process is gone.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap_or_else(|e| panic!("cannot kill {}: {e}", self.name));
    }

    /// SIGTERM, then waits for a clean exit (the worker finishes what it holds)
    /// and answers the whole log.
    pub async fn stop(mut self) -> Vec<Value> {
        let pid = self.child.id().unwrap_or_else(|| panic!("{} already ended", self.name)).to_string();
        let signalled = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(signalled.is_ok_and(|s| s.success()), "cannot signal {}", self.name);
        let Ok(status) = tokio::time::timeout(BOUND, self.child.wait()).await else {
            panic!("the process did not stop within {BOUND:?} of SIGTERM:\n{}", self.tail());
        };
        let status = status.unwrap();
        // The pipe closes with the process: the rest of the log is there to read.
        while let Ok(Some(line)) = tokio::time::timeout(BOUND, self.lines.recv()).await {
            self.seen.push(line);
        }
        assert!(status.success(), "the process exited with {status}:\n{}", self.tail());
        self.seen
    }
}

/// Whether `line`'s message contains `text`.
pub fn says(line: &Value, text: &str) -> bool {
    line["message"].as_str().is_some_and(|m| m.contains(text))
}

/// The ids of the messages a worker's log says it sent, in order.
pub fn sent_ids(log: &[Value]) -> Vec<String> {
    log.iter()
        .filter(|line| says(line, "outbox: message sent"))
        .filter_map(|line| line["message_id"].as_str().map(str::to_owned))
        .collect()
}
