//! Notification channels of customers and teams, their verification codes,
//! and customers' quiet hours. Reads live here; changes in `write.rs`.

mod grouped;
mod order;
mod signing;
mod write;

pub use signing::{SigningSecretRotation, UnsubscribeTarget};
pub use write::{ChannelControls, NewChannel, NewChannelCode};

use crate::pg_reads::read_conn;
use crate::reader::{self, Columns, Decode, Id};
use crate::{dispatch, Store, StoreResult};
use roster_core::ids::{CustomerId, OrganizationId, TeamId};
use roster_core::role::Role;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// Whose channels: a customer's personal ones, or a team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOwner {
    Customer(CustomerId),
    Team(TeamId),
}

impl ChannelOwner {
    /// The id repeated in `owner_id`, which the per-owner unique indexes use.
    pub fn id(self) -> Uuid {
        match self {
            ChannelOwner::Customer(c) => c.0,
            ChannelOwner::Team(t) => t.0,
        }
    }

    pub fn customer(self) -> Option<CustomerId> {
        match self {
            ChannelOwner::Customer(c) => Some(c),
            ChannelOwner::Team(_) => None,
        }
    }

    pub fn team(self) -> Option<TeamId> {
        match self {
            ChannelOwner::Team(t) => Some(t),
            ChannelOwner::Customer(_) => None,
        }
    }
}

/// A channel's owner as the object rules need it.
#[derive(Debug, Clone)]
pub struct OwnerFacts {
    /// The customer's first name, or the team's name.
    pub name: String,
    /// The caller's current role in the organization.
    pub caller_role: Role,
    /// Personal channels: whether the caller is the owner; team channels:
    /// whether the caller belongs to the team.
    pub caller_related: bool,
    /// The organization's plan, whose limits apply.
    pub plan: String,
}

/// A stored channel.
#[derive(Debug, Clone, FromRow)]
pub struct ChannelRow {
    pub id: Uuid,
    pub channel_type: String,
    pub value: String,
    pub pending_value: Option<String>,
    pub priority: i64,
    pub enabled: bool,
    pub verified_at: Option<OffsetDateTime>,
    pub mute: String,
    pub suppress_up: bool,
    pub suppress_down: bool,
    pub suppress_first: bool,
    pub suppress_diagnostic: bool,
    pub suppress_all: bool,
    pub bypass_quiet_hours: bool,
    pub webhook_config: Option<sqlx::types::Json<serde_json::Value>>,
    /// The owner's channel to try when a delivery through this one fails for good.
    pub fallback_channel_id: Option<Uuid>,
    /// Webhooks: the first characters of the signing secret, never the secret itself.
    pub signing_secret_hint: Option<String>,
    /// Until when the secret replaced by the last rotation still signs too.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Set when the system turned the channel off (its receiver is gone, or it kept failing).
    pub disabled_by_system_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    /// Since when every delivery through the channel has failed.
    pub failing_since: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Decode for ChannelRow {
    fn decode(r: &reader::Record<'_>) -> rusqlite::Result<Self> {
        let webhook_config: Option<String> = r.get("webhook_config")?;
        let webhook_config = webhook_config
            .map(|text| serde_json::from_str(&text).map(sqlx::types::Json))
            .transpose()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
        Ok(Self {
            id: r.uuid("id")?,
            channel_type: r.get("channel_type")?,
            value: r.get("value")?,
            pending_value: r.get("pending_value")?,
            priority: r.get("priority")?,
            enabled: r.get("enabled")?,
            verified_at: r.opt_time("verified_at")?,
            mute: r.get("mute")?,
            suppress_up: r.get("suppress_up")?,
            suppress_down: r.get("suppress_down")?,
            suppress_first: r.get("suppress_first")?,
            suppress_diagnostic: r.get("suppress_diagnostic")?,
            suppress_all: r.get("suppress_all")?,
            bypass_quiet_hours: r.get("bypass_quiet_hours")?,
            webhook_config,
            fallback_channel_id: r.opt_uuid("fallback_channel_id")?,
            signing_secret_hint: r.get("signing_secret_hint")?,
            previous_secret_expires_at: r.opt_time("previous_secret_expires_at")?,
            disabled_by_system_at: r.opt_time("disabled_by_system_at")?,
            disabled_reason: r.get("disabled_reason")?,
            failing_since: r.opt_time("failing_since")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
        })
    }
}

/// The caller's standing toward a channel owner, as one statement reads it.
#[derive(FromRow)]
struct OwnerRow {
    owner_name: Option<String>,
    #[sqlx(try_from = "String")]
    role: Role,
    status: String,
    plan: String,
    caller_related: bool,
}

impl Decode for OwnerRow {
    fn decode(r: &reader::Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            owner_name: r.get("owner_name")?,
            role: r.parsed("role", Role::try_from)?,
            status: r.get("status")?,
            plan: r.get("plan")?,
            caller_related: r.get("caller_related")?,
        })
    }
}

impl OwnerRow {
    /// The facts, for an owner of the organization and a caller still active.
    fn facts(self) -> Option<OwnerFacts> {
        let name = self.owner_name?;
        (self.status == "active").then_some(OwnerFacts {
            name,
            caller_role: self.role,
            caller_related: self.caller_related,
            plan: self.plan,
        })
    }
}

/// One statement for the caller's standing and plan, and the owner's name
/// (NULL when the owner is not of the organization): `$1` the organization,
/// `$2` the caller, `$3` the owner.
fn owner_sql(owner: ChannelOwner) -> String {
    let (owner_name, related) = match owner {
        ChannelOwner::Customer(_) => ("SELECT name FROM customers WHERE id = $3 AND organization_id = $1", "$2 = $3"),
        ChannelOwner::Team(_) => (
            "SELECT name FROM teams WHERE id = $3 AND organization_id = $1",
            "EXISTS (SELECT 1 FROM memberships WHERE team_id = $3 AND customer_id = $2)",
        ),
    };
    format!(
        "SELECT ({owner_name}) AS owner_name, c.role, c.status, o.plan, {related} AS caller_related
         FROM customers c JOIN organizations o ON o.id = c.organization_id
         WHERE c.id = $2 AND c.organization_id = $1"
    )
}

/// [`owner_sql`]'s row on a reader connection.
fn owner_row(
    c: &rusqlite::Connection,
    sql: &str,
    org: OrganizationId,
    owner: ChannelOwner,
    caller: CustomerId,
) -> rusqlite::Result<Option<OwnerRow>> {
    reader::one(c, sql, &[&Id(org.0), &Id(caller.0), &Id(owner.id())], OwnerRow::decode)
}

/// A page of an owner's channels by priority (`$1` the owner, then the
/// filter's types, the limit and the offset), and its count.
fn list_sql(filter: &TypeFilter) -> (String, String) {
    let cond = filter.sql(2);
    let n = 2 + filter.include.len() + filter.exclude.len();
    let list = format!(
        "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE owner_id = $1{cond}
         ORDER BY priority, id LIMIT ${n} OFFSET ${}",
        n + 1
    );
    (list, format!("SELECT COUNT(*) FROM notification_channels WHERE owner_id = $1{cond}"))
}

/// [`owner_sql`] with a page of the owner's channels joined on, for a
/// listing in one round trip (`$1` the organization, `$2` the caller, `$3` the
/// owner, then the filter's types, the limit and the offset): a row per
/// channel, or one with NULL channel columns for an empty page; none when the
/// caller is not found.
fn owner_and_list_sql(owner: ChannelOwner, filter: &TypeFilter) -> String {
    let cond = filter.sql(4);
    let n = 4 + filter.include.len() + filter.exclude.len();
    format!(
        "SELECT o.*, ch.* FROM ({}) o LEFT JOIN (
             SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE owner_id = $3{cond}
             ORDER BY priority, id LIMIT ${n} OFFSET ${}) ch ON TRUE
         ORDER BY ch.priority, ch.id",
        owner_sql(owner),
        n + 1
    )
}

/// A row of [`owner_and_list_sql`]. The owner is taken from the first row.
struct OwnerWithChannel {
    owner: OwnerRow,
    channel: Option<ChannelRow>,
}

impl<'r, R: sqlx::Row> FromRow<'r, R> for OwnerWithChannel
where
    OwnerRow: FromRow<'r, R>,
    ChannelRow: FromRow<'r, R>,
    Uuid: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'static str: sqlx::ColumnIndex<R>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        let id: Option<Uuid> = row.try_get("id")?;
        let channel = match id {
            Some(_) => Some(ChannelRow::from_row(row)?),
            None => None,
        };
        Ok(Self { owner: OwnerRow::from_row(row)?, channel })
    }
}

/// [`list_sql`]'s count on a sqlx connection.
macro_rules! fetch_channel_count {
    ($conn:expr, $owner:expr, $filter:expr, $count_sql:expr) => {{
        let mut c = sqlx::query_scalar::<_, i64>($count_sql).bind($owner.id());
        for t in $filter.values() {
            c = c.bind(t);
        }
        c.fetch_one(&mut *$conn).await?
    }};
}

/// [`list_sql`]'s page on a reader connection.
fn list_page(
    c: &rusqlite::Connection,
    owner: ChannelOwner,
    filter: &TypeFilter,
    list_sql: &str,
    count_sql: &str,
    limit: i64,
    offset: i64,
) -> rusqlite::Result<(Vec<ChannelRow>, i64)> {
    let owner_id = Id(owner.id());
    let mut scope: Vec<&dyn rusqlite::ToSql> = vec![&owner_id];
    let types: Vec<&str> = filter.values().collect();
    scope.extend(types.iter().map(|t| t as &dyn rusqlite::ToSql));
    reader::page(c, list_sql, count_sql, &scope, limit, offset)
}

/// Characters of a signing secret a listing may show: `whsec_` and 4 of its
/// base64 (24 of its 256 bits), enough to tell two secrets apart.
pub const SIGNING_SECRET_HINT_LEN: usize = 10;

pub(crate) const CHANNEL_COLUMNS: &str =
    "id, type AS channel_type, value, pending_value, priority, enabled, verified_at, \
     mute, suppress_up, suppress_down, suppress_first, suppress_diagnostic, suppress_all, bypass_quiet_hours, \
     webhook_config, fallback_channel_id, SUBSTR(signing_secret, 1, 10) AS signing_secret_hint, \
     previous_secret_expires_at, disabled_by_system_at, disabled_reason, failing_since, created_at, updated_at";

/// Which channels a listing shows.
#[derive(Debug, Clone, Default)]
pub struct TypeFilter {
    pub include: Vec<&'static str>,
    pub exclude: Vec<&'static str>,
}

impl TypeFilter {
    /// SQL conditions for the filter, numbering placeholders from `first`.
    fn sql(&self, first: usize) -> String {
        let list = |from: usize, n: usize| (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let mut sql = String::new();
        if !self.include.is_empty() {
            sql.push_str(&format!(" AND type IN ({})", list(first, self.include.len())));
        }
        if !self.exclude.is_empty() {
            sql.push_str(&format!(" AND type NOT IN ({})", list(first + self.include.len(), self.exclude.len())));
        }
        sql
    }

    fn values(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.include.iter().chain(self.exclude.iter()).copied()
    }
}

impl Store {
    /// The owner, when it belongs to `org`, with the caller's standing toward
    /// it; `None` for an owner of another organization, a random id, or a
    /// caller who is no longer active.
    pub async fn channel_owner(
        &self,
        org: OrganizationId,
        owner: ChannelOwner,
        caller: CustomerId,
    ) -> StoreResult<Option<OwnerFacts>> {
        let sql = owner_sql(owner);
        let row = if let Some(r) = self.reader() {
            r.read(|c| owner_row(c, &sql, org, owner, caller))?
        } else {
            read_conn!(self, |conn| {
                sqlx::query_as::<_, OwnerRow>(&sql)
                    .bind(org.0)
                    .bind(caller.0)
                    .bind(owner.id())
                    .fetch_optional(&mut *conn)
                    .await?
            })
        };
        Ok(row.and_then(OwnerRow::facts))
    }

    /// One page of an owner's channels by priority, and how many match.
    pub async fn list_channels(
        &self,
        owner: ChannelOwner,
        filter: &TypeFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ChannelRow>, i64)> {
        let (list_sql, count_sql) = list_sql(filter);
        if let Some(r) = self.reader() {
            return r.read(|c| list_page(c, owner, filter, &list_sql, &count_sql, limit, offset));
        }
        Ok(read_conn!(self, |conn| {
            let mut q = sqlx::query_as::<_, ChannelRow>(&list_sql).bind(owner.id());
            for t in filter.values() {
                q = q.bind(t);
            }
            let rows = q.bind(limit).bind(offset).fetch_all(&mut *conn).await?;
            let total = match reader::short_page_total(limit, offset, rows.len()) {
                Some(total) => total,
                None => fetch_channel_count!(conn, owner, filter, &count_sql),
            };
            (rows, total)
        }))
    }

    /// [`Store::channel_owner`] and, when the owner is there,
    /// [`Store::list_channels`], as a listing request needs both: on SQLite
    /// in one read transaction (one snapshot, one WAL read lock), on
    /// PostgreSQL on one connection.
    #[allow(clippy::too_many_arguments)]
    pub async fn owner_and_channels(
        &self,
        org: OrganizationId,
        owner: ChannelOwner,
        caller: CustomerId,
        filter: &TypeFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Option<(OwnerFacts, Vec<ChannelRow>, i64)>> {
        let (list_sql, count_sql) = list_sql(filter);
        let Some(r) = self.reader() else {
            let both_sql = owner_and_list_sql(owner, filter);
            return Ok(read_conn!(self, |conn| {
                let mut q =
                    sqlx::query_as::<_, OwnerWithChannel>(&both_sql).bind(org.0).bind(caller.0).bind(owner.id());
                for t in filter.values() {
                    q = q.bind(t);
                }
                let mut joined = q.bind(limit).bind(offset).fetch_all(&mut *conn).await?.into_iter();
                match joined.next().and_then(|first| Some((first.owner.facts()?, first.channel))) {
                    None => None,
                    Some((facts, first)) => {
                        let rows: Vec<ChannelRow> = first.into_iter().chain(joined.filter_map(|j| j.channel)).collect();
                        let total = match reader::short_page_total(limit, offset, rows.len()) {
                            Some(total) => total,
                            None => fetch_channel_count!(conn, owner, filter, &count_sql),
                        };
                        Some((facts, rows, total))
                    }
                }
            }));
        };
        let sql = owner_sql(owner);
        r.snapshot(|c| {
            let Some(facts) = owner_row(c, &sql, org, owner, caller)?.and_then(OwnerRow::facts) else {
                return Ok(None);
            };
            let (rows, total) = list_page(c, owner, filter, &list_sql, &count_sql, limit, offset)?;
            Ok(Some((facts, rows, total)))
        })
    }

    /// The owner's channel of `priority`, or `None`.
    pub async fn channel_by_priority(&self, owner: ChannelOwner, priority: i64) -> StoreResult<Option<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE owner_id = $1 AND priority = $2");
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, ChannelRow>(&sql).bind(owner.id()).bind(priority).fetch_optional(pool).await?
        }))
    }

    /// A customer's quiet hours as stored (JSON), or `None`.
    pub async fn quiet_hours(&self, customer: CustomerId) -> StoreResult<Option<serde_json::Value>> {
        Ok(dispatch!(self, read, |pool| {
            let row: Option<Option<sqlx::types::Json<serde_json::Value>>> =
                sqlx::query_scalar("SELECT quiet_hours FROM customers WHERE id = $1")
                    .bind(customer.0)
                    .fetch_optional(pool)
                    .await?;
            row.flatten().map(|j| j.0)
        }))
    }
}
