//! A webhook receiver in this process: answers 200 at once and records when
//! each request arrived, under which `webhook-id`, for which alert.
//!
//! It does as little as a real receiver could (read the body, parse the JSON,
//! note four fields) so that the baseline measured against it is the
//! machine's HTTP round trip, not the receiver's work.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use bytes::Bytes;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub webhook_id: Option<String>,
    /// The body's `type`: `alert`, `channel_verification`, `baseline`, …
    pub kind: Option<String>,
    pub alert_id: Option<String>,
}

#[derive(Default)]
struct Log {
    arrivals: Vec<Arrival>,
    /// Distinct `webhook-id`s of alert requests: what "all delivered" counts.
    alert_ids: HashSet<String>,
    /// The latest code each path was sent (channel verification).
    codes: HashMap<String, String>,
}

#[derive(Default)]
struct Shared {
    log: Mutex<Log>,
    changed: Notify,
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        // A panic elsewhere cannot leave the log half-written: every update is one push.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: Option<String>,
    alert_id: Option<String>,
    code: Option<String>,
}

async fn record(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let webhook_id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Option<Body> = serde_json::from_slice(&body).ok();
    let (kind, alert_id, code) = body.map_or((None, None, None), |b| (b.kind, b.alert_id, b.code));
    {
        let mut log = shared.log();
        if let Some(code) = code {
            log.codes.insert(uri.path().to_owned(), code);
        }
        if let (Some("alert"), Some(id)) = (kind.as_deref(), &webhook_id) {
            log.alert_ids.insert(id.clone());
        }
        log.arrivals.push(Arrival { at, webhook_id, kind, alert_id });
    }
    shared.changed.notify_waiters();
    StatusCode::OK
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new().fallback(record).with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the benchmark's receiver stopped: {e}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    pub fn url_for(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The code sent to `path`, waiting up to `timeout` for it.
    pub async fn code_at(&self, path: &str, timeout: std::time::Duration) -> Option<String> {
        self.wait(timeout, |log| log.codes.remove(path)).await
    }

    /// Waits until `expected` distinct alert deliveries arrived or `deadline`
    /// passed; answers how many did.
    pub async fn wait_for_alerts(&self, expected: usize, deadline: Instant) -> usize {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let done = self.wait(timeout, |log| (log.alert_ids.len() >= expected).then_some(log.alert_ids.len())).await;
        done.unwrap_or_else(|| self.shared.log().alert_ids.len())
    }

    /// Every request received so far, in order of arrival.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.log().arrivals.clone()
    }

    async fn wait<T>(&self, timeout: std::time::Duration, mut pick: impl FnMut(&mut Log) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so an arrival between the two still wakes us.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = pick(&mut self.shared.log()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
