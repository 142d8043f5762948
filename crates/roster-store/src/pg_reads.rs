//! PostgreSQL connections for the hot reads, handed back without a round trip.
//!
//! sqlx's pool pings every connection on its way back to the pool
//! (`PoolConnection::return_to_pool`, to flush a rollback a dropped
//! transaction left queued): one more round trip to PostgreSQL, and two more
//! process wake-ups, after every statement run on the pool. For a page read
//! that doubled the database's share of the request (see
//! `docs/benchmarks.md`). These connections never hold a transaction, so
//! there is nothing to flush: a read that ran to its end, whether it found
//! rows or PostgreSQL answered with an error, leaves its connection ready
//! for the next one. A read abandoned midway (the client hung up, a `?` left
//! early) may have left a reply on the wire; that connection is closed
//! instead, and the connections idle at that moment are checked before they
//! are used again, since a failure is often a server restart that cut them all.

use crate::error::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A connection older than this is closed when it comes back, as sqlx's pool
/// does by default, so the server's per-backend memory does not grow forever.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

pub(crate) struct PgReads {
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    /// One permit per connection that may be open.
    permits: Semaphore,
    acquire_timeout: Duration,
    /// How many connections were abandoned midway; see [`Idle::discards`].
    discards: AtomicU64,
}

struct Idle {
    conn: PgConnection,
    opened: Instant,
    since: Instant,
    /// [`PgReads::discards`] when it came back: a connection that was idle
    /// while another one failed is pinged before it is used.
    discards: u64,
}

/// A connection lent out by [`PgReads::acquire`]. Call [`ReadConn::finish`]
/// once the read has run to its end; dropped without that, it is closed.
pub(crate) struct ReadConn<'a> {
    reads: &'a PgReads,
    /// Present until [`ReadConn::finish`] hands it back.
    conn: Option<PgConnection>,
    opened: Instant,
    _permit: SemaphorePermit<'a>,
}

impl PgReads {
    pub fn new(options: PgConnectOptions, size: u32, acquire_timeout: Duration) -> Self {
        Self {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1) as usize),
            acquire_timeout,
            discards: AtomicU64::new(0),
        }
    }

    /// An idle connection, or a new one; waits up to the acquire timeout.
    pub async fn acquire(&self) -> StoreResult<ReadConn<'_>> {
        match tokio::time::timeout(self.acquire_timeout, self.checkout()).await {
            Ok(conn) => conn,
            Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
        }
    }

    async fn checkout(&self) -> StoreResult<ReadConn<'_>> {
        let permit = self.permits.acquire().await.map_err(|_| sqlx::Error::PoolClosed)?;
        let (conn, opened) = loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(mut idle) = idle else {
                break (PgConnection::connect_with(&self.options).await?, Instant::now());
            };
            let suspect = idle.discards != self.discards.load(Ordering::Acquire);
            // As the sqlx pool is set up (see `pool_options`): a connection
            // that sat idle may have been cut by a restart or a proxy.
            if (suspect || idle.since.elapsed() >= crate::PING_AFTER_IDLE) && idle.conn.ping().await.is_err() {
                continue;
            }
            break (idle.conn, idle.opened);
        };
        Ok(ReadConn { reads: self, conn: Some(conn), opened, _permit: permit })
    }

    /// Takes back a connection whose read ran to its end.
    fn give_back(&self, conn: PgConnection, opened: Instant) {
        if opened.elapsed() >= MAX_LIFETIME || self.permits.is_closed() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = conn.close().await;
                });
            }
            return;
        }
        let discards = self.discards.load(Ordering::Acquire);
        let idle = Idle { conn, opened, since: Instant::now(), discards };
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(idle);
    }

    /// Closes the idle connections; later reads fail with "pool closed".
    pub async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for Idle { conn, .. } in idle {
            let _ = conn.close().await;
        }
    }
}

impl ReadConn<'_> {
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a lent connection is present until dropped")
    }

    /// The read ran to its end: the connection may serve the next one.
    pub fn finish(mut self) {
        if let Some(conn) = self.conn.take() {
            self.reads.give_back(conn, self.opened);
        }
    }
}

impl Drop for ReadConn<'_> {
    /// Still holding its connection, the read was abandoned midway: the
    /// connection is closed, and those idle now are suspect.
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.reads.discards.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Runs `$body` with `$conn` bound to a `&mut` connection for reads: from
/// the sqlx read pool on SQLite (the in-memory database, or reads the SQLite
/// reader does not take), from [`PgReads`] on PostgreSQL. A `?` inside
/// `$body` leaves early and so closes a PostgreSQL connection; errors that
/// should keep it belong in `$body`'s value.
macro_rules! read_conn {
    ($store:expr, |$conn:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { read, .. } => {
                let mut lent = read.acquire().await?;
                let $conn = &mut *lent;
                $body
            }
            $crate::Backend::Postgres { reads, .. } => {
                let mut lent = reads.acquire().await?;
                let value = {
                    let $conn = lent.conn();
                    $body
                };
                lent.finish();
                value
            }
        }
    };
}
pub(crate) use read_conn;

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// The test server, or `None` (a skip) when it is not running, unless
    /// `ROSTER_TEST_REQUIRE_POSTGRES=1` makes that a failure.
    async fn reads(size: u32) -> Option<(PgReads, PgConnection)> {
        let options = PgConnectOptions::from_str(&roster_testkit::postgres::admin_url()).expect("a PostgreSQL URL");
        match PgConnection::connect_with(&options).await {
            Ok(admin) => Some((PgReads::new(options, size, Duration::from_secs(5)), admin)),
            Err(e) if roster_testkit::postgres::required() => panic!("PostgreSQL is required but not reachable: {e}"),
            Err(_) => None,
        }
    }

    async fn backend_pid(conn: &mut ReadConn<'_>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn.conn()).await.unwrap()
    }

    fn idle(reads: &PgReads) -> usize {
        reads.idle.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_finished_read_keeps_its_connection_and_an_abandoned_one_closes_it() {
        let Some((reads, _admin)) = reads(2).await else { return };
        let mut first = reads.acquire().await.unwrap();
        let pid = backend_pid(&mut first).await;
        first.finish();
        assert_eq!(idle(&reads), 1);

        let mut again = reads.acquire().await.unwrap();
        assert_eq!(backend_pid(&mut again).await, pid, "the same connection, reused");
        drop(again);
        assert_eq!((idle(&reads), reads.discards.load(Ordering::Acquire)), (0, 1), "abandoned: closed");

        let mut fresh = reads.acquire().await.unwrap();
        assert_ne!(backend_pid(&mut fresh).await, pid, "a new connection");
        fresh.finish();
        reads.close().await;
        assert!(reads.acquire().await.is_err(), "closed for good");
    }

    #[tokio::test]
    async fn connections_idle_while_one_failed_are_checked_before_use() {
        let Some((reads, mut admin)) = reads(2).await else { return };
        let mut a = reads.acquire().await.unwrap();
        let mut b = reads.acquire().await.unwrap();
        let killed = backend_pid(&mut a).await;
        backend_pid(&mut b).await;
        a.finish();
        // The server cuts the idle connection (a restart, an administrator).
        let cut: bool =
            sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(killed).fetch_one(&mut admin).await.unwrap();
        assert!(cut);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)";
        while !sqlx::query_scalar::<_, bool>(gone).bind(killed).fetch_one(&mut admin).await.unwrap() {
            assert!(std::time::Instant::now() < deadline, "the backend never exited");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another read fails midway, which makes every idle connection suspect.
        drop(b);
        let mut next = reads.acquire().await.unwrap();
        let pid = backend_pid(&mut next).await;
        assert_ne!(pid, killed, "the cut connection was found out by its check, not by a failed read");
        next.finish();
    }
}
