//! SQLite reads on the caller's thread, for the hot paths.
//!
//! sqlx runs every SQLite connection on a thread of its own: each query is a
//! message to that thread and a reply, and the pool pings the connection on
//! its way back. Profiled under load, those hand-offs cost more than the SQL:
//! an authenticated point read spent most of its time waking threads. The
//! reads every request makes (the caller's credential, profile and lists)
//! therefore run here instead, on plain connections, right on the task's
//! thread.
//!
//! That blocks the thread for the query's duration, which is acceptable only
//! because these statements are indexed lookups and pages of at most 100
//! rows over a WAL database: readers never wait for the writer, and take a
//! few microseconds from the page cache. Anything slower or unbounded stays
//! on the sqlx pool. The SQL text is the same one PostgreSQL runs; values are
//! encoded exactly as sqlx encodes them (UUIDs as 16-byte blobs, times as
//! RFC 3339 text), so both drivers read and compare the same bytes.

use crate::error::{StoreError, StoreResult};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, Row, ToSql};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// Statements kept prepared per connection: every hot statement fits.
const STATEMENT_CACHE: usize = 64;

/// Read-only connections to one SQLite file, reused across calls.
pub(crate) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Connections kept between calls; more may be open during a burst.
    keep: usize,
}

impl Reader {
    /// Opens one connection now, so a bad path fails at start.
    pub fn open(path: &Path, keep: usize) -> StoreResult<Self> {
        let reader = Self { path: path.to_owned(), idle: Mutex::new(Vec::new()), keep: keep.max(1) };
        let first = reader.connect()?;
        reader.idle.lock().expect("reader pool poisoned").push(first);
        Ok(reader)
    }

    fn connect(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `f` on an idle connection (or a new one), each statement in its
    /// own snapshot, as the PostgreSQL reads run (no explicit transaction).
    /// Most reads are one statement: a `BEGIN` and `COMMIT` around it were
    /// two more statements to look up and step, for nothing.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        self.with_connection(f)
    }

    /// Runs `f` in one read transaction: its statements see one snapshot,
    /// and the WAL's read lock is taken once rather than per statement.
    pub fn snapshot<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        self.with_connection(|conn| in_transaction(conn, f))
    }

    fn with_connection<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self.idle.lock().expect("reader pool poisoned").pop();
        let conn = match conn {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = f(&conn);
        let mut idle = self.idle.lock().expect("reader pool poisoned");
        // A connection left inside a transaction (its COMMIT failed) is dropped, not reused.
        if idle.len() < self.keep && conn.is_autocommit() {
            idle.push(conn);
        }
        Ok(result?)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY, as sqlx classifies them.
        if let rusqlite::Error::SqliteFailure(f, message) = &e {
            if matches!(f.extended_code, 2067 | 1555) {
                return StoreError::UniqueViolation(message.clone().unwrap_or_else(|| f.to_string()));
            }
        }
        StoreError::Sqlite(e)
    }
}

fn in_transaction<T>(conn: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = f(conn);
    // A read transaction has nothing to undo: ending it only releases the snapshot.
    let end = conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([]));
    let value = result?;
    end?;
    Ok(value)
}

/// Parameter names up to the most any hot statement takes.
const PARAMETERS: [&str; 24] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16", "$17",
    "$18", "$19", "$20", "$21", "$22", "$23", "$24",
];

/// Binds `params` to `$1`, `$2`, … by name, as sqlx does: SQLite numbers
/// `$N` parameters in order of first appearance, not by N.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[&dyn ToSql]) -> rusqlite::Result<()> {
    if params.len() > PARAMETERS.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), PARAMETERS.len()));
    }
    for (name, value) in PARAMETERS.iter().zip(params) {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

/// Runs `sql` (a change); how many rows it changed.
pub(crate) fn execute(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    stmt.raw_execute()
}

/// The first row of `sql`, decoded, or `None`.
pub(crate) fn one<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    decode: impl FnOnce(&Record<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let names = ColumnNames::of(&stmt);
    let mut rows = stmt.raw_query();
    match rows.next()? {
        Some(row) => decode(&Record::new(row, &names)).map(Some),
        None => Ok(None),
    }
}

/// Every row of `sql`, decoded.
pub(crate) fn all<T>(
    conn: &Connection,
    sql: &str,
    params: &[&dyn ToSql],
    decode: impl Fn(&Record<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let names = ColumnNames::of(&stmt);
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(&Record::new(row, &names))?);
    }
    Ok(out)
}

/// A page of `sql` (whose last two parameters are the limit and the offset)
/// with the total that `count_sql` (taking the leading `scope` parameters) finds.
pub(crate) fn page<T: Decode>(
    conn: &Connection,
    sql: &str,
    count_sql: &str,
    scope: &[&dyn ToSql],
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(Vec<T>, i64)> {
    let params: Vec<&dyn ToSql> = scope.iter().copied().chain([&limit as &dyn ToSql, &offset]).collect();
    let rows = all(conn, sql, &params, T::decode)?;
    let total = match short_page_total(limit, offset, rows.len()) {
        Some(total) => total,
        None => count(conn, count_sql, scope)?,
    };
    Ok((rows, total))
}

/// The total of a listing whose page of `limit` from `offset` held `rows`,
/// where the page itself tells: a page that is not full is the last one, so
/// the total is `offset + rows`, without counting (most lists fit one page).
/// A full page, or an empty one past the start, needs a count.
pub(crate) fn short_page_total(limit: i64, offset: i64, rows: usize) -> Option<i64> {
    let rows = i64::try_from(rows).ok()?;
    (rows < limit && (rows > 0 || offset == 0)).then_some(offset + rows)
}

/// A `COUNT(*)` (or any single integer) query.
pub(crate) fn count(conn: &Connection, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<i64> {
    Ok(one(conn, sql, params, |r| r.at(0))?.unwrap_or(0))
}

/// A UUID as sqlx binds it on SQLite: 16 bytes.
pub(crate) struct Id(pub Uuid);

impl ToSql for Id {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Blob(self.0.as_bytes())))
    }
}

/// A time as sqlx binds it on SQLite: RFC 3339 text, which sorts and compares as text.
pub(crate) struct At(pub OffsetDateTime);

impl ToSql for At {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let text = self.0.format(&Rfc3339).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(ToSqlOutput::Owned(Value::Text(text)))
    }
}

/// A row type the reader can build, from the columns its `FromRow` reads.
pub(crate) trait Decode: Sized {
    fn decode(row: &Record<'_>) -> rusqlite::Result<Self>;
}

/// A statement's column names, read once per query. rusqlite finds a column
/// by name by asking SQLite for every column's name and comparing without
/// case, on every access: decoding a 23-column channel row that way cost more
/// than stepping the statement (`sqlite3_column_name` and the comparisons
/// were 4% of a list request's CPU).
pub(crate) struct ColumnNames(Vec<String>);

impl ColumnNames {
    fn of(stmt: &rusqlite::Statement<'_>) -> Self {
        Self(stmt.column_names().into_iter().map(str::to_owned).collect())
    }
}

/// A row and its statement's column names, for access by name as `FromRow` reads.
pub(crate) struct Record<'r> {
    row: &'r Row<'r>,
    names: &'r ColumnNames,
    /// Where the next name is looked for first: decoders read columns mostly
    /// in the order the statement selects them, so most lookups compare once.
    next: std::cell::Cell<usize>,
}

impl<'r> Record<'r> {
    fn new(row: &'r Row<'r>, names: &'r ColumnNames) -> Self {
        Self { row, names, next: std::cell::Cell::new(0) }
    }

    /// The index of the column named exactly `name`.
    fn index(&self, name: &str) -> rusqlite::Result<usize> {
        let names = &self.names.0;
        let start = self.next.get();
        let found = (start..names.len()).chain(0..start.min(names.len())).find(|&i| names[i] == name);
        let i = found.ok_or_else(|| rusqlite::Error::InvalidColumnName(name.to_owned()))?;
        self.next.set(i + 1);
        Ok(i)
    }

    /// The column named `name`, converted.
    pub fn get<T: rusqlite::types::FromSql>(&self, name: &str) -> rusqlite::Result<T> {
        self.row.get(self.index(name)?)
    }

    /// The column at `index`, converted.
    pub fn at<T: rusqlite::types::FromSql>(&self, index: usize) -> rusqlite::Result<T> {
        self.row.get(index)
    }

    fn get_ref(&self, name: &str) -> rusqlite::Result<ValueRef<'_>> {
        self.row.get_ref(self.index(name)?)
    }
}

/// Typed column access by name, decoding what sqlx wrote.
pub(crate) trait Columns {
    fn uuid(&self, name: &str) -> rusqlite::Result<Uuid>;
    fn opt_uuid(&self, name: &str) -> rusqlite::Result<Option<Uuid>>;
    fn time(&self, name: &str) -> rusqlite::Result<OffsetDateTime>;
    fn opt_time(&self, name: &str) -> rusqlite::Result<Option<OffsetDateTime>>;
    /// A column parsed by `parse` (roles and other domain values stored as text).
    fn parsed<T, E>(&self, name: &str, parse: impl FnOnce(String) -> Result<T, E>) -> rusqlite::Result<T>
    where
        E: std::fmt::Debug;
}

fn conversion(row: &Record<'_>, name: &str, error: impl std::fmt::Debug) -> rusqlite::Error {
    let index = row.names.0.iter().position(|n| n == name).unwrap_or(0);
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        format!("column `{name}`: {error:?}").into(),
    )
}

impl Columns for Record<'_> {
    fn uuid(&self, name: &str) -> rusqlite::Result<Uuid> {
        self.opt_uuid(name)?.ok_or_else(|| conversion(self, name, "NULL where a UUID was expected"))
    }

    fn opt_uuid(&self, name: &str) -> rusqlite::Result<Option<Uuid>> {
        match self.get_ref(name)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes).map(Some).map_err(|e| conversion(self, name, e)),
            other => Err(conversion(self, name, format!("a UUID stored as {:?}", other.data_type()))),
        }
    }

    fn time(&self, name: &str) -> rusqlite::Result<OffsetDateTime> {
        self.opt_time(name)?.ok_or_else(|| conversion(self, name, "NULL where a time was expected"))
    }

    fn opt_time(&self, name: &str) -> rusqlite::Result<Option<OffsetDateTime>> {
        match self.get_ref(name)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(text) => {
                let text = std::str::from_utf8(text).map_err(|e| conversion(self, name, e))?;
                OffsetDateTime::parse(text, &Rfc3339).map(Some).map_err(|e| conversion(self, name, e))
            }
            other => Err(conversion(self, name, format!("a time stored as {:?}", other.data_type()))),
        }
    }

    fn parsed<T, E>(&self, name: &str, parse: impl FnOnce(String) -> Result<T, E>) -> rusqlite::Result<T>
    where
        E: std::fmt::Debug,
    {
        parse(self.get(name)?).map_err(|e| conversion(self, name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_short_page_gives_its_total_without_a_count() {
        assert_eq!(short_page_total(20, 0, 7), Some(7));
        assert_eq!(short_page_total(20, 0, 0), Some(0), "an empty first page: nothing at all");
        assert_eq!(short_page_total(20, 40, 3), Some(43));
        assert_eq!(short_page_total(20, 0, 20), None, "a full page may have more after it");
        assert_eq!(short_page_total(20, 40, 0), None, "past the end: the total is unknown");
        assert_eq!(short_page_total(0, 0, 0), None);
    }

    #[test]
    fn binds_dollar_parameters_by_number_not_by_position() {
        let conn = Connection::open_in_memory().unwrap();
        // `$2` appears first: SQLite gives it index 1.
        let got = one(&conn, "SELECT $2 || '-' || $1", &[&"one", &"two"], |r| r.at::<String>(0)).unwrap();
        assert_eq!(got.as_deref(), Some("two-one"));
    }

    #[test]
    fn finds_columns_by_exact_name_in_any_order() {
        let conn = Connection::open_in_memory().unwrap();
        let got = one(&conn, "SELECT 1 AS a, 'two' AS b, 3 AS c", &[], |r| {
            Ok((r.get::<i64>("c")?, r.get::<i64>("a")?, r.get::<String>("b")?, r.get::<i64>("c")?))
        })
        .unwrap();
        assert_eq!(got, Some((3, 1, "two".to_owned(), 3)));
        let missing = one(&conn, "SELECT 1 AS a", &[], |r| r.get::<i64>("A")).unwrap_err();
        assert!(matches!(&missing, rusqlite::Error::InvalidColumnName(n) if n == "A"), "{missing:?}");
    }

    #[test]
    fn reads_back_what_it_binds() {
        let conn = Connection::open_in_memory().unwrap();
        let id = Uuid::now_v7();
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_888_000_123_456_000).unwrap();
        let (got_id, got_at) =
            one(&conn, "SELECT $1 AS id, $2 AS at", &[&Id(id), &At(at)], |r| Ok((r.uuid("id")?, r.time("at")?)))
                .unwrap()
                .unwrap();
        assert_eq!((got_id, got_at), (id, at));
        let text: String = one(&conn, "SELECT $1", &[&At(at)], |r| r.at(0)).unwrap().unwrap();
        assert_eq!(text, at.format(&Rfc3339).unwrap(), "times compare as text: the same format as sqlx");
    }
}
