//! A real HTTP/1.1 receiver on a loopback port, for testing senders of
//! webhooks, chat messages and API calls: it records every request and
//! answers as the test programs it to.

mod behavior;
mod request;

pub use behavior::{Behavior, Reply};
pub use request::RecordedRequest;

use behavior::{Plan, ResponseBody};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// An HTTP receiver for tests, listening on `127.0.0.1` until dropped.
///
/// Waiting is signal-based, as with [`SmtpServer`](crate::SmtpServer): a
/// A signal is rung on every recorded request.
pub struct HttpReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// What the connections and the test handle share.
type Shared = crate::watched::Watched<State>;

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    /// The index of the request `next_request` answers next.
    next: usize,
    behavior: Behavior,
    /// How many requests had arrived when `behavior` was set.
    behavior_since: usize,
    connections: usize,
}

impl Shared {
    /// Records `request` and answers how to respond to it.
    fn record(&self, request: RecordedRequest) -> Plan {
        self.update(|state| {
            let plan = state.behavior.plan(state.requests.len() - state.behavior_since);
            state.requests.push(request);
            plan
        })
    }
}

impl HttpReceiver {
    /// Starts a receiver on an ephemeral port of `127.0.0.1`, answering
    /// `200` with an empty body until told otherwise.
    ///
    /// # Panics
    /// When no loopback port can be bound: a test cannot go on without one.
    pub async fn start() -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an HTTP test receiver to 127.0.0.1:0");
        let addr = listener.local_addr().expect("the test receiver's local address");
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        HttpReceiver { addr, shared, accept }
    }

    /// `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` (with or without its leading `/`, query allowed) on this receiver.
    pub fn url_for(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("{}{slash}{path}", self.url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers every request from now on this way; a [`Behavior::Sequence`]
    /// starts over from its first status.
    pub fn respond_with(&self, behavior: Behavior) {
        let mut state = self.shared.lock();
        state.behavior_since = state.requests.len();
        state.behavior = behavior;
    }

    /// Every request recorded so far, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many TCP connections the receiver has accepted, requests or not.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }

    /// The next request `next_request` has not answered yet, in order of
    /// arrival, waiting up to `timeout` for one to arrive.
    pub async fn next_request(&self, timeout: Duration) -> Option<RecordedRequest> {
        self.wait_until(timeout, |state| {
            let request = state.requests.get(state.next).cloned()?;
            state.next += 1;
            Some(request)
        })
        .await
    }

    /// Every request so far once there are at least `n`, waiting up to
    /// `timeout` for them to arrive.
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> Option<Vec<RecordedRequest>> {
        self.wait_until(timeout, |state| (state.requests.len() >= n).then(|| state.requests.clone())).await
    }

    async fn wait_until<T>(&self, timeout: Duration, pick: impl FnMut(&mut State) -> Option<T>) -> Option<T> {
        self.shared.wait_until(timeout, pick).await
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which ends every
        // connection, hanging ones included.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (a peer that reset at once) concerns that peer only.
                if let Ok((stream, _)) = accepted {
                    shared.lock().connections += 1;
                    connections.spawn(serve(stream, Arc::clone(&shared)));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |request| answer(request, Arc::clone(&shared)));
    // A client that goes away mid-request ends its connection, nothing more.
    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
}

async fn answer(request: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<ResponseBody>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    match shared.record(recorded) {
        Plan::Answer(response) => Ok(response),
        Plan::Hang => std::future::pending().await,
    }
}
