//! SQLite writes on a thread of their own, committed in groups, for the hot
//! write paths.
//!
//! SQLite runs one write transaction at a time. Through sqlx, each statement
//! of that transaction (`BEGIN IMMEDIATE`, the change, its audit record,
//! `COMMIT`) is a hand-off to the connection's thread and a wake-up of the
//! request's task; profiled under load, the one write connection spent most
//! of its time waiting on those hops, not on SQL. Here a dedicated thread
//! owns a write connection and takes the queued writes as a group: one
//! `BEGIN IMMEDIATE`, each write inside a savepoint of its own (a failed one
//! is undone alone and reports its error), one `COMMIT`; every caller gets
//! its answer only once that commit has returned, so an acknowledged write is
//! as durable as one committed alone.
//!
//! Writes that do not come here keep using sqlx's write pool of one
//! connection. For the length of a group this thread holds that pool's
//! connection, so the two never contend for SQLite's lock inside one process
//! (where the loser would sleep in SQLite's busy handler). Other processes on
//! the same file are waited for by the busy timeout, as on any connection.

use crate::error::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use sqlx::SqlitePool;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Most writes in one transaction: bounds how long the sqlx writers wait.
const MOST_PER_GROUP: usize = 128;

/// Statements kept prepared on the connection.
const STATEMENT_CACHE: usize = 64;

/// The queue of the writer thread; cheap to share.
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Opens the write connection (so a bad path fails at start) and starts
    /// the thread. `pool` is sqlx's write pool, held during each group; the
    /// thread uses `runtime` to wait for it.
    pub fn open(path: &Path, pool: SqlitePool, runtime: Handle) -> StoreResult<Self> {
        let conn = connect(path)?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queue, pool, runtime))
            .map_err(|e| StoreError::Config(format!("cannot start the SQLite writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next group's transaction and returns its result once
    /// that transaction has committed. An `Err` from `work` undoes its own
    /// statements only. Dropping the future does not withdraw the write.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending { work: Some(work), result: None, reply };
        self.jobs.send(Box::new(job)).map_err(|_| StoreError::Writer("the writer thread has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Writer("the writer thread dropped a write".into()))?
    }
}

/// JSON as sqlx stores it on SQLite: text.
pub(crate) fn json_text(value: &serde_json::Value) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Writer(format!("cannot encode JSON: {e}")))
}

fn connect(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The per-connection settings the sqlx connections get (`Store::connect`), and one
    // of this thread's own: `temp_store = MEMORY` keeps the savepoint journal of a group
    // (one savepoint per write) in memory. Past 64 KiB SQLite spilled it to a temporary
    // file, and writing that file was 40% of this thread's time under channel creation.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = {};",
        crate::SQLITE_JOURNAL_SIZE_LIMIT
    ))?;
    Ok(conn)
}

/// One queued write, as the thread sees it.
trait Job: Send {
    /// Runs the write; false if it failed (and must be undone).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the group has ended: `group` is the group's
    /// own failure (to begin or to commit), if any.
    fn finish(self: Box<Self>, group: Option<&str>);
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        // A panicking write fails alone rather than taking the thread (and every later write) down.
        let result = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Writer("a write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, group: Option<&str>) {
        let answer = match (group, self.result) {
            (None, Some(result)) => result,
            // Its own error says more than the group's.
            (Some(_), Some(Err(e))) => Err(e),
            (Some(why), _) => Err(StoreError::Writer(why.to_owned())),
            (None, None) => Err(StoreError::Writer("a write was not run".into())),
        };
        // The caller may have gone away; the write stands either way.
        let _ = self.reply.send(answer);
    }
}

fn run(conn: Connection, queue: mpsc::Receiver<Box<dyn Job>>, pool: SqlitePool, runtime: Handle) {
    // Returning sqlx's connection to its pool spawns a task.
    let _entered = runtime.enter();
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MOST_PER_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let held = match runtime.block_on(pool.acquire()) {
            Ok(held) => held,
            Err(e) => {
                let why = format!("the write connection is unavailable: {e}");
                group.into_iter().for_each(|job| job.finish(Some(&why)));
                continue;
            }
        };
        let failure = commit_group(&conn, &mut group).err().map(|e| e.to_string());
        drop(held);
        for job in group {
            job.finish(failure.as_deref());
        }
    }
}

/// Runs every job of `group` in one transaction, each inside a savepoint.
fn commit_group(conn: &Connection, group: &mut [Box<dyn Job>]) -> rusqlite::Result<()> {
    statement(conn, "BEGIN IMMEDIATE")?;
    let ran = group.iter_mut().try_for_each(|job| {
        statement(conn, "SAVEPOINT job")?;
        if !job.run(conn) {
            statement(conn, "ROLLBACK TO job")?;
        }
        statement(conn, "RELEASE job")
    });
    let ended = ran.and_then(|()| statement(conn, "COMMIT"));
    if ended.is_err() && !conn.is_autocommit() {
        // Nothing of a group that could not commit stays; the next group starts clean.
        let _ = statement(conn, "ROLLBACK");
    }
    ended
}

fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

    /// A directory removed when the test ends.
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn open() -> (Scratch, Writer, SqlitePool) {
        let dir = Scratch(std::env::temp_dir().join(format!("roster-writer-{}", uuid::Uuid::new_v4())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("w.db");
        let opts =
            SqliteConnectOptions::new().filename(&path).create_if_missing(true).journal_mode(SqliteJournalMode::Wal);
        let pool = sqlx::pool::PoolOptions::new().max_connections(1).connect_with(opts).await.unwrap();
        sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY)").execute(&pool).await.unwrap();
        let writer = Writer::open(&path, pool.clone(), Handle::current()).unwrap();
        (dir, writer, pool)
    }

    fn insert(k: &'static str) -> impl FnOnce(&Connection) -> StoreResult<usize> + Send {
        move |c| Ok(c.execute("INSERT INTO t (k) VALUES (?1)", [k])?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_is_undone_alone_and_the_others_commit() {
        let (_dir, writer, pool) = open().await;
        writer.write(insert("a")).await.unwrap();
        // Queued together, so very likely in one group: the duplicate fails, its neighbours stand.
        let (b, dup, c) = tokio::join!(
            writer.write(insert("b")),
            writer.write(|c| {
                c.execute("INSERT INTO t (k) VALUES ('half')", [])?;
                Ok(c.execute("INSERT INTO t (k) VALUES ('a')", [])?)
            }),
            writer.write(insert("c")),
        );
        assert_eq!((b.unwrap(), c.unwrap()), (1, 1));
        assert!(matches!(dup, Err(StoreError::UniqueViolation(_))), "{dup:?}");
        let keys: Vec<String> = sqlx::query_scalar("SELECT k FROM t ORDER BY k").fetch_all(&pool).await.unwrap();
        assert_eq!(keys, ["a", "b", "c"], "the failed write's first statement was undone with it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_fails_and_the_thread_goes_on() {
        let (_dir, writer, pool) = open().await;
        let panicked = writer.write(|_| -> StoreResult<()> { panic!("boom") }).await;
        assert!(matches!(panicked, Err(StoreError::Writer(_))), "{panicked:?}");
        writer.write(insert("after")).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlx_writes_and_grouped_writes_interleave_without_busy_errors() {
        let (_dir, writer, pool) = open().await;
        let writer = std::sync::Arc::new(writer);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let (writer, pool) = (writer.clone(), pool.clone());
            tasks.push(tokio::spawn(async move {
                let key = format!("{i}");
                if i % 2 == 0 {
                    writer.write(move |c| Ok(c.execute("INSERT INTO t (k) VALUES (?1)", [key])?)).await.map(drop)
                } else {
                    let mut tx = pool.begin().await?;
                    sqlx::query("INSERT INTO t (k) VALUES ($1)").bind(key).execute(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(())
                }
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 200);
    }
}
