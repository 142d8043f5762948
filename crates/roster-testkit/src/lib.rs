//! Test helpers for Roster.
//!
//! [`SmtpServer`] is a real SMTP server on a loopback port: the service under
//! test sends through its ordinary SMTP transport, and the test reads what
//! arrived, decoded. [`HttpReceiver`] does the same for HTTP (webhooks, chat,
//! SMS and paging APIs), answering as the test programs it to. Waiting is
//! signal-based (a signal rung on every delivery), so tests never poll or
//! sleep. [`Tally`] counts what a receiver got by a header's value (a
//! webhook's `webhook-id`), to show each message arrived once, or at least once.
//! [`postgres`] says where the tests find PostgreSQL.

mod http;
mod mail;
pub mod postgres;
mod session;
mod tally;
mod watched;

pub use http::{Behavior, HttpReceiver, RecordedRequest, Reply};
pub use mail::ReceivedMail;
pub use tally::Tally;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// How the server turns mail away, to exercise a sender's retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectMode {
    /// `451` in answer to `DATA`: try again later.
    Transient,
    /// `550` in answer to `RCPT TO`: no such mailbox.
    Permanent,
}

/// An SMTP server for tests, listening on `127.0.0.1` until dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// What the connections and the test handle share.
pub(crate) type Shared = crate::watched::Watched<State>;

#[derive(Default)]
struct State {
    mails: Vec<ReceivedMail>,
    reject: Option<RejectMode>,
    /// The index of the mail `next_message` answers next.
    next: usize,
    /// Which mails `wait_for` has already answered.
    taken: Vec<bool>,
}

impl Shared {
    pub(crate) fn reject(&self) -> Option<RejectMode> {
        self.lock().reject
    }

    pub(crate) fn deliver(&self, mail: ReceivedMail) {
        self.update(|state| {
            state.mails.push(mail);
            state.taken.push(false);
        });
    }
}

impl SmtpServer {
    /// Starts a server on an ephemeral port of `127.0.0.1`.
    ///
    /// # Panics
    /// When no loopback port can be bound: a test cannot go on without one.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an SMTP test server to 127.0.0.1:0");
        let addr = listener.local_addr().expect("the test server's local address");
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        SmtpServer { addr, shared, accept }
    }

    /// The URL a sender uses to reach this server (plain SMTP, no auth).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next mail `next_message` has not answered yet, in order of arrival,
    /// waiting up to `timeout` for one to arrive.
    pub async fn next_message(&self, timeout: Duration) -> Option<ReceivedMail> {
        self.wait_until(timeout, |state| {
            let mail = state.mails.get(state.next).cloned()?;
            state.next += 1;
            Some(mail)
        })
        .await
    }

    /// Every mail received so far, in order of arrival.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.lock().mails.clone()
    }

    /// The first mail to `to` (compared without case) that `wait_for` has not
    /// answered yet, waiting up to `timeout` for one to arrive.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> Option<ReceivedMail> {
        self.wait_until(timeout, |state| {
            let State { mails, taken, .. } = state;
            let i =
                (0..mails.len()).find(|&i| !taken[i] && mails[i].rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(to)))?;
            taken[i] = true;
            Some(mails[i].clone())
        })
        .await
    }

    /// Makes the server reject every new transaction this way, or accept again with `None`.
    pub fn set_reject(&self, mode: Option<RejectMode>) {
        self.shared.lock().reject = mode;
    }

    async fn wait_until<T>(&self, timeout: Duration, pick: impl FnMut(&mut State) -> Option<T>) -> Option<T> {
        self.shared.wait_until(timeout, pick).await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which ends every session.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (a peer that reset at once) concerns that peer only.
                if let Ok((stream, _)) = accepted {
                    sessions.spawn(session::serve(stream, Arc::clone(&shared)));
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}
