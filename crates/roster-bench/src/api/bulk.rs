//! Rows written straight into the server's database, many per statement:
//! how 100,000 customers seed in seconds rather than through 100,000 API calls.
//!
//! Values are bound through sqlx as the same Rust types the store binds
//! (`Uuid`, `OffsetDateTime`, `bool`, `i64`), so each backend encodes them
//! exactly as the server would: on SQLite a 16-byte BLOB and RFC 3339 text, on
//! PostgreSQL `uuid` and `timestamptz`.

use crate::database::FreshDatabase;
use anyhow::{bail, Context};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Postgres, QueryBuilder, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

/// SQLite binds at most 32,766 values per statement.
const SQLITE_MAX_BINDS: usize = 32_000;
/// PostgreSQL takes one array per column, so only the statement's size limits it.
const POSTGRES_ROWS_PER_STATEMENT: usize = 10_000;

#[derive(Debug, Clone)]
pub enum Value {
    Uuid(Uuid),
    Text(String),
    Time(OffsetDateTime),
    MaybeTime(Option<OffsetDateTime>),
    Bool(bool),
    Int(i64),
    Bytes(Vec<u8>),
}

impl Value {
    /// The PostgreSQL array type a column of these values is bound as.
    fn pg_array(&self) -> &'static str {
        match self {
            Value::Uuid(_) => "uuid[]",
            Value::Text(_) => "text[]",
            Value::Time(_) | Value::MaybeTime(_) => "timestamptz[]",
            Value::Bool(_) => "boolean[]",
            Value::Int(_) => "bigint[]",
            Value::Bytes(_) => "bytea[]",
        }
    }
}

/// Rows waiting to be inserted into one table.
pub struct Table {
    name: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(name: &'static str, columns: &[&'static str]) -> Self {
        Self { name, columns: columns.to_vec(), rows: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn push(&mut self, row: Vec<Value>) {
        assert_eq!(row.len(), self.columns.len(), "a row of {} has one value per column", self.name);
        self.rows.push(row);
    }
}

/// A connection of the benchmark's own, beside the server's.
pub enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Runs `$body` with `$conn` bound to whichever backend's connection `$db` holds.
macro_rules! on_backend {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db {
            Db::Sqlite($conn) => $body,
            Db::Postgres($conn) => $body,
        }
    };
}

impl Db {
    /// Opens the database the server migrated (its default file on SQLite).
    pub async fn open(db: &FreshDatabase) -> anyhow::Result<Self> {
        Ok(match &db.url {
            None => {
                let path = db.data_dir.join("roster.db");
                let conn = SqliteConnectOptions::new()
                    .filename(&path)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .connect()
                    .await
                    .with_context(|| format!("open {}", path.display()))?;
                Db::Sqlite(conn)
            }
            Some(url) => Db::Postgres(PgConnection::connect(url).await.context("connect to the run's database")?),
        })
    }

    /// Closes the connection; on SQLite the last one to close checkpoints the WAL into the file.
    pub async fn close(self) -> anyhow::Result<()> {
        on_backend!(self, |conn| conn.close().await)?;
        Ok(())
    }

    pub async fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        on_backend!(self, |conn| sqlx::raw_sql(sql).execute(&mut *conn).await.map(drop))?;
        Ok(())
    }

    /// A customer's password hash, and their organization's plan and trial end.
    pub async fn owner_facts(&mut self, customer: Uuid) -> anyhow::Result<(String, String, Option<OffsetDateTime>)> {
        let sql = "SELECT c.password_hash, o.plan, o.trial_ends_at
                   FROM customers c JOIN organizations o ON o.id = c.organization_id WHERE c.id = $1";
        let facts = on_backend!(self, |conn| sqlx::query_as(sql).bind(customer).fetch_one(&mut *conn).await)?;
        Ok(facts)
    }

    /// Inserts the table's rows and empties it.
    pub async fn insert(&mut self, table: &mut Table) -> anyhow::Result<()> {
        if table.rows.is_empty() {
            return Ok(());
        }
        let columns = table.columns.join(", ");
        match self {
            Db::Sqlite(conn) => {
                for chunk in table.rows.chunks(SQLITE_MAX_BINDS / table.columns.len()) {
                    let mut q = QueryBuilder::<Sqlite>::new(format!("INSERT INTO {} ({columns}) ", table.name));
                    q.push_values(chunk, |mut row, values| {
                        for v in values {
                            match v {
                                Value::Uuid(u) => row.push_bind(*u),
                                Value::Text(t) => row.push_bind(t.as_str()),
                                Value::Time(t) => row.push_bind(*t),
                                Value::MaybeTime(t) => row.push_bind(*t),
                                Value::Bool(b) => row.push_bind(*b),
                                Value::Int(i) => row.push_bind(*i),
                                Value::Bytes(b) => row.push_bind(b.as_slice()),
                            };
                        }
                    });
                    q.build().execute(&mut *conn).await.with_context(|| format!("insert into {}", table.name))?;
                }
            }
            Db::Postgres(conn) => {
                for chunk in table.rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
                    insert_unnest(conn, table.name, &columns, chunk).await?;
                }
            }
        }
        table.rows.clear();
        Ok(())
    }
}

/// `INSERT … SELECT * FROM UNNEST($1::uuid[], …)`: one array per column.
async fn insert_unnest(conn: &mut PgConnection, table: &str, columns: &str, rows: &[Vec<Value>]) -> anyhow::Result<()> {
    let arrays: Vec<String> =
        rows[0].iter().enumerate().map(|(i, v)| format!("${}::{}", i + 1, v.pg_array())).collect();
    let sql = format!("INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({})", arrays.join(", "));
    let mut query = sqlx::query::<Postgres>(&sql);
    for (i, first) in rows[0].iter().enumerate() {
        macro_rules! column {
            ($variant:ident, |$v:ident| $get:expr) => {{
                let mut values = Vec::with_capacity(rows.len());
                for row in rows {
                    match &row[i] {
                        Value::$variant($v) => values.push($get),
                        other => bail!("{table}: column {i} mixes {first:?} and {other:?}"),
                    }
                }
                query.bind(values)
            }};
        }
        query = match first {
            Value::Uuid(_) => column!(Uuid, |u| *u),
            Value::Text(_) => column!(Text, |t| t.clone()),
            Value::Time(_) => column!(Time, |t| *t),
            Value::MaybeTime(_) => column!(MaybeTime, |t| *t),
            Value::Bool(_) => column!(Bool, |b| *b),
            Value::Int(_) => column!(Int, |n| *n),
            Value::Bytes(_) => column!(Bytes, |b| b.clone()),
        };
    }
    query.execute(&mut *conn).await.with_context(|| format!("insert into {table}"))?;
    Ok(())
}
