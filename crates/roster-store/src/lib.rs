//! Roster's storage on SQLite or PostgreSQL.
//!
//! Every statement is written once. [`dispatch!`] expands a method's body
//! for whichever backend the store was opened on, so the two backends run
//! the same SQL (`$1` placeholders, `RETURNING`, `ON CONFLICT` work in both)
//! and cannot drift apart. Where the dialects must differ, the body matches
//! on [`Store::dialect`]. The two migration folders hold the only other
//! per-backend text: column types.
//!
//! Methods are sized to a use case and are atomic inside: confirming a
//! sign-up creates the organization, its first team and its owner and
//! consumes the held sign-up in one transaction. No transaction type leaks out.

mod accounts;
pub mod alerts;
pub mod audit;
pub mod channel_health;
pub mod channels;
mod customers;
pub mod deliveries;
mod error;
pub mod export;
pub mod invitations;
pub mod members;
pub mod organization;
mod outbox;
mod pg_reads;
mod principals;
mod rate_limit;
mod reader;
pub mod rows;
pub mod services;
mod signups;
pub mod teams;
pub mod totp;
mod writer;

pub use accounts::{NewApiKey, NewMember, NewSignup};
pub use audit::NewAuditEvent;
pub use customers::{CodeCheck, DeleteOutcome, PURPOSE_EMAIL_CHANGE, PURPOSE_EMAIL_VERIFICATION};
pub use error::{StoreError, StoreResult};
pub use outbox::{AttemptRecord, ClaimedMessage, OutboxCounts};
pub use principals::PrincipalCacheStats;
pub use signups::{NewPendingSignup, ProvedSignup, SignupConfirmation, PURPOSE_SIGNUP};

use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Which SQL dialect a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://…`.
    pub url: String,
    /// Most connections in the (read) pool.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
}

#[derive(Clone)]
enum Backend {
    /// SQLite allows one writer at a time; giving writes their own pool of one
    /// connection queues them in the service instead of failing with "database
    /// is locked", while reads run in parallel on the WAL.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// The hot reads, without sqlx's connection threads (see [`reader`]);
        /// `None` for an in-memory database, which other connections cannot see.
        reader: Option<std::sync::Arc<reader::Reader>>,
        /// The hot writes, grouped on a thread of their own (see [`writer`]);
        /// `None` in memory, like `reader`.
        writer: Option<std::sync::Arc<writer::Writer>>,
        /// The database file; `None` in memory.
        file: Option<std::path::PathBuf>,
    },
    Postgres {
        pool: PgPool,
        /// The hot reads, on connections handed back without sqlx's ping (see [`pg_reads`]).
        reads: std::sync::Arc<pg_reads::PgReads>,
    },
}

/// The handle every layer above uses; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Set by [`Store::cache_principals`]; see [`principals`].
    principals: Option<std::sync::Arc<principals::PrincipalCache>>,
}

/// Runs `$body` with `$pool` bound to the backend's pool: the `read` pool or
/// the `write` pool on SQLite, the one pool on PostgreSQL.
macro_rules! dispatch {
    ($store:expr, $mode:ident, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { $mode: $pool, .. } => $body,
            $crate::Backend::Postgres { pool: $pool, .. } => $body,
        }
    };
}
pub(crate) use dispatch;

impl Store {
    /// Opens (creating where needed) the database named by `opts.url`.
    pub async fn connect(opts: &StoreOptions) -> StoreResult<Self> {
        let url = opts.url.as_str();
        let backend = if url.starts_with("sqlite:") {
            sqlite_without_memory_statistics();
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .pragma("journal_size_limit", SQLITE_JOURNAL_SIZE_LIMIT.to_string());
            let write =
                pool_options(1, opts).after_release(discard_if_in_transaction).connect_with(connect.clone()).await?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let file = (!in_memory).then(|| connect.get_filename().to_owned());
            let reader = match &file {
                None => None,
                Some(path) => Some(std::sync::Arc::new(reader::Reader::open(path, opts.max_connections as usize)?)),
            };
            let writer = match &file {
                None => None,
                Some(path) => Some(std::sync::Arc::new(writer::Writer::open(
                    path,
                    write.clone(),
                    tokio::runtime::Handle::current(),
                )?)),
            };
            let read = pool_options(opts.max_connections, opts).connect_with(connect.read_only(true)).await?;
            Backend::Sqlite { read, write, reader, writer, file }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?;
            let pool = pool_options(opts.max_connections, opts).connect_with(connect.clone()).await?;
            let reads = pg_reads::PgReads::new(connect, opts.max_connections, opts.acquire_timeout);
            Backend::Postgres { pool, reads: std::sync::Arc::new(reads) }
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL scheme in `{}`: use sqlite:// or postgres://",
                redact_url(url)
            )));
        };
        Ok(Self { backend, principals: None })
    }

    /// Answers principal lookups from memory, for entries up to `max_age` old
    /// (zero keeps none). For the API server: this handle and its clones must
    /// be told of every change it makes ([`Store::principals_changed`]). Other
    /// writers are heard of through PostgreSQL's notifications; on SQLite the
    /// cache serves only while no other API server has the database open.
    pub fn cache_principals(&mut self, max_age: Duration) -> StoreResult<()> {
        let cache = match &self.backend {
            Backend::Sqlite { file, .. } => principals::for_sqlite(file.as_deref(), max_age)
                .map_err(|e| StoreError::Config(format!("cannot announce this server beside the database: {e}")))?,
            Backend::Postgres { pool, .. } => principals::for_postgres(pool, max_age),
        };
        self.principals = Some(cache);
        Ok(())
    }

    /// Forgets cached principals: something that could change one was just written.
    pub fn principals_changed(&self) {
        if let Some(cache) = &self.principals {
            cache.invalidate();
        }
    }

    /// What the principal cache has done; `None` without one.
    pub fn principal_cache_stats(&self) -> Option<PrincipalCacheStats> {
        self.principals.as_deref().map(principals::PrincipalCache::stats)
    }

    /// The SQLite reader for the hot paths, where there is one.
    pub(crate) fn reader(&self) -> Option<&reader::Reader> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => reader.as_deref(),
            Backend::Postgres { .. } => None,
        }
    }

    /// The SQLite writer for the hot writes, where there is one.
    pub(crate) fn writer(&self) -> Option<&writer::Writer> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => writer.as_deref(),
            Backend::Postgres { .. } => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Applies pending migrations. On PostgreSQL the migrator holds an advisory
    /// lock, so instances starting together apply them once.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await?,
            Backend::Postgres { pool, .. } => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> StoreResult<()> {
        dispatch!(self, read, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Moves the SQLite write-ahead log back into the database file. Under a
    /// steady read load SQLite's automatic checkpoints never get to reset the
    /// log, so the service calls this on a timer; `truncate` also shrinks the
    /// file (and waits for readers, so it is used only when the log is large).
    /// Returns the log's size in pages before the checkpoint; a no-op on PostgreSQL.
    pub async fn checkpoint(&self, truncate: bool) -> StoreResult<i64> {
        if let Backend::Sqlite { write, .. } = &self.backend {
            let sql = if truncate { "PRAGMA wal_checkpoint(TRUNCATE)" } else { "PRAGMA wal_checkpoint(PASSIVE)" };
            let (_busy, log_pages, _done): (i64, i64, i64) = sqlx::query_as(sql).fetch_one(write).await?;
            return Ok(log_pages);
        }
        Ok(0)
    }

    /// Closes every connection; pending work on them finishes first.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres { pool, reads } => {
                reads.close().await;
                pool.close().await;
            }
        }
    }
}

/// Turns off SQLite's memory statistics, which this service never reads: with
/// them on, every allocation SQLite makes, on any connection, takes one
/// process-wide mutex, and the reader's connections on the runtime's threads
/// contended for it under load (`pthread_mutex_lock` waits in the profile).
/// It must precede SQLite's initialisation; a process that already opened a
/// database (another store in the same test binary) keeps the setting it has.
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. Before sqlite3_initialize
        // the call only sets a flag; after it, it returns SQLITE_MISUSE and changes nothing.
        let rc = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
        tracing::debug!(rc, "SQLite memory statistics off");
    });
}

/// How long a SQLite connection waits for another process's write lock,
/// on every connection: sqlx's, the reader's and the writer's.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps the WAL file from staying large after a checkpoint (bytes).
pub(crate) const SQLITE_JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// How long a pooled connection may sit unused before it is checked on its way out.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

/// sqlx's default pings every connection it hands out: one more round trip
/// (to PostgreSQL, or to the SQLite connection's thread) before every query.
/// A connection in steady use needs no such check; one that sat idle may have
/// been cut by a database restart or a proxy's idle timeout, so only those
/// are pinged, and a dead one is replaced before the caller sees it.
fn pool_options<DB: sqlx::Database>(max_connections: u32, opts: &StoreOptions) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(opts.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Keeps the one SQLite write connection usable when a request is dropped
/// mid-`BEGIN IMMEDIATE` (a client that hangs up, a timeout). sqlx 0.8 counts
/// the transaction as open once `BEGIN` ran but hands out the `Transaction`
/// only after a further await; cancelled in between, nothing rolls it back,
/// and every later write fails with "non-zero transaction depth" until a
/// restart (seen under load when wrk closed its connections). A connection
/// that comes back still inside a transaction is closed instead; the pool
/// opens a fresh one, and SQLite rolls the abandoned transaction back.
fn discard_if_in_transaction(
    conn: &mut sqlx::SqliteConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the handle is locked for this call and points to an open connection.
        let autocommit = unsafe { rusqlite::ffi::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) } != 0;
        Ok(autocommit)
    })
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A pool that can open a transaction. A write transaction on SQLite is
/// `BEGIN IMMEDIATE`: a deferred transaction that reads before it writes
/// cannot upgrade when another process wrote in between, and fails at once.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send;
    fn begin_read(
        &self,
    ) -> impl std::future::Future<Output = sqlx::Result<sqlx::Transaction<'static, Self::Db>>> + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
    async fn begin_read(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin().await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        begin_whole(self).await
    }
    async fn begin_read(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        begin_whole(self).await
    }
}

/// `BEGIN` on PostgreSQL, run to its end even when the caller is dropped.
/// sqlx 0.8 counts a transaction as open only once `BEGIN` has answered; a
/// request dropped while waiting for that answer (a client hanging up, a
/// timeout) returned its connection to the pool inside a transaction nobody
/// owned: the next request's `BEGIN` warned "there is already a transaction
/// in progress" (seen under wrk), and a statement run there without a
/// transaction of its own stayed uncommitted, unseen by other connections,
/// and lost if the connection closed. In a task of its own, `BEGIN` always
/// completes, and a `Transaction` nobody takes is dropped: rolled back.
async fn begin_whole(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await }).await.map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
}

/// A transaction for reads that must agree with each other.
pub(crate) async fn begin_read<P: WritePool>(pool: &P) -> sqlx::Result<sqlx::Transaction<'static, P::Db>> {
    pool.begin_read().await
}

pub(crate) async fn begin_write<P: WritePool>(pool: &P) -> sqlx::Result<sqlx::Transaction<'static, P::Db>> {
    pool.begin_write().await
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite://data/roster.db"), "sqlite://data/roster.db");
    }
}
