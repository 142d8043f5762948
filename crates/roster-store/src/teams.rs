//! Teams and the memberships that tie people to them.
//!
//! Every change runs in one write transaction that first locks the
//! organization (PostgreSQL; SQLite serializes writers anyway) and then reads
//! what the decision depends on: the objects (404 when absent), the
//! organization's owners (the last one is never demoted), and the caller's
//! current role and memberships. The handler's `authorize` closure applies
//! `roster_core::policy` to those facts, so a concurrent change of roles can
//! never be outrun by a request that authenticated a moment earlier.

use crate::pg_reads::read_conn;
use crate::reader::{self, Columns, Decode, Id};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::role::Role;
use roster_core::Error;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// A team with how many people belong to it.
#[derive(Debug, Clone, FromRow)]
pub struct TeamSummaryRow {
    #[sqlx(try_from = "Uuid")]
    pub id: TeamId,
    pub name: String,
    pub member_count: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Decode for TeamSummaryRow {
    fn decode(r: &reader::Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.uuid("id")?.into(),
            name: r.get("name")?,
            member_count: r.get("member_count")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
        })
    }
}

/// A person as a member of one team.
#[derive(Debug, Clone, FromRow)]
pub struct TeamMemberRow {
    #[sqlx(try_from = "Uuid")]
    pub customer_id: CustomerId,
    pub email: String,
    pub name: String,
    pub surname: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
    /// When the membership was created.
    pub joined_at: OffsetDateTime,
}

impl Decode for TeamMemberRow {
    fn decode(r: &reader::Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            customer_id: r.uuid("customer_id")?.into(),
            email: r.get("email")?,
            name: r.get("name")?,
            surname: r.get("surname")?,
            role: r.parsed("role", Role::try_from)?,
            status: r.get("status")?,
            joined_at: r.time("joined_at")?,
        })
    }
}

/// The caller as the transaction sees them, for `roster_core::policy`.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    /// The caller's role now, not as of authentication.
    pub role: Role,
    /// Whether the caller belongs to the team acted on.
    pub in_team: bool,
}

/// What the rules about acting on a team's member depend on.
#[derive(Debug, Clone, Copy)]
pub struct MemberFacts {
    pub caller: Standing,
    pub target_role: Role,
    /// For a move: whether the caller belongs to the destination team.
    pub caller_in_new_team: Option<bool>,
}

/// A change to a team member: a new role, a move to another team, or both.
#[derive(Debug, Clone, Copy)]
pub struct MemberChange {
    pub role: Option<Role>,
    pub new_team: Option<TeamId>,
}

const TEAM_SUMMARY: &str = "SELECT t.id, t.name, t.created_at, t.updated_at,
        (SELECT COUNT(*) FROM memberships m WHERE m.team_id = t.id) AS member_count
     FROM teams t";
/// A team member's columns, then (`$from`) where they come from.
macro_rules! team_member {
    ($from:literal) => {
        concat!(
            "SELECT c.id AS customer_id, c.email, c.name, c.surname, c.role, c.status, m.created_at AS joined_at",
            $from
        )
    };
}
pub(crate) const TEAM_MEMBER: &str = team_member!(" FROM memberships m JOIN customers c ON c.id = m.customer_id");
/// A page of a team's members (`$1` the team, `$2` its organization, `$3`
/// the limit, `$4` the offset) in one statement, where PostgreSQL's round
/// trips count: a row proves the team is in the organization and carries
/// the team's member count, so only an empty page needs to ask more.
const TEAM_MEMBER_PAGE: &str = team_member!(
    ", (SELECT COUNT(*) FROM memberships WHERE team_id = $1) AS total
     FROM memberships m JOIN customers c ON c.id = m.customer_id JOIN teams t ON t.id = m.team_id
     WHERE m.team_id = $1 AND t.organization_id = $2
     ORDER BY m.created_at, m.id LIMIT $3 OFFSET $4"
);
pub(crate) const LAST_OWNER: &str = "this person is the organization's last active owner: \
     transfer ownership first (POST /v1/organization/ownership-transfer)";

/// Locks `$org` on PostgreSQL, inside the caller's transaction.
macro_rules! lock_organization {
    ($conn:expr, $dialect:expr, $org:expr) => {{
        if let Some(sql) = crate::customers::lock_organization_sql($dialect) {
            sqlx::query(sql).bind($org.0).execute(&mut *$conn).await?;
        }
    }};
}
pub(crate) use lock_organization;

pub(crate) const TEAM_EXISTS: &str = "SELECT 1 FROM teams WHERE id = $1 AND organization_id = $2";

/// Whether team `$team` belongs to `$org`.
macro_rules! team_exists {
    ($conn:expr, $org:expr, $team:expr) => {{
        let found: Option<i32> = sqlx::query_scalar(crate::teams::TEAM_EXISTS)
            .bind($team.0)
            .bind($org.0)
            .fetch_optional(&mut *$conn)
            .await?;
        found.is_some()
    }};
}
pub(crate) use team_exists;

/// Whether customer `$customer` belongs to team `$team`.
macro_rules! is_member {
    ($conn:expr, $team:expr, $customer:expr) => {{
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM memberships WHERE team_id = $1 AND customer_id = $2")
                .bind($team.0)
                .bind($customer.0)
                .fetch_optional(&mut *$conn)
                .await?;
        found.is_some()
    }};
}
pub(crate) use is_member;

/// A person's role and status, as the rules need them.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct RoleStatus {
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
}

impl RoleStatus {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

/// Customer `$id` of `$org` as a [`RoleStatus`], or `None`.
macro_rules! role_status {
    ($conn:expr, $org:expr, $id:expr) => {{
        sqlx::query_as::<_, crate::teams::RoleStatus>(
            "SELECT role, status FROM customers WHERE id = $1 AND organization_id = $2",
        )
        .bind($id.0)
        .bind($org.0)
        .fetch_optional(&mut *$conn)
        .await?
    }};
}
pub(crate) use role_status;

/// The caller's current role, or `None` when they were removed or suspended
/// since they authenticated.
macro_rules! caller_role {
    ($conn:expr, $org:expr, $caller:expr) => {{
        crate::teams::role_status!($conn, $org, $caller).filter(|p| p.is_active()).map(|p| p.role)
    }};
}
pub(crate) use caller_role;

/// The caller's current [`Standing`] toward team `$team`; returns
/// [`caller_gone`] from the enclosing transaction when they stopped being
/// active since they authenticated.
macro_rules! caller_standing {
    ($conn:expr, $org:expr, $team:expr, $caller:expr) => {{
        let Some(role) = crate::teams::caller_role!($conn, $org, $caller) else {
            return Ok(Err(crate::teams::caller_gone()));
        };
        let in_team = crate::teams::is_member!($conn, $team, $caller);
        crate::teams::Standing { role, in_team }
    }};
}
pub(crate) use caller_standing;

/// Gives a customer of `$org` the role `$role` on their record and every
/// membership (the two always agree), inside the caller's transaction; with
/// `$only_if` = `Some(r)`, only while they still hold `r`.
macro_rules! set_role {
    ($conn:expr, $org:expr, $customer:expr, $role:expr, $only_if:expr, $now:expr) => {{
        let only_if: Option<roster_core::role::Role> = $only_if;
        let changed = sqlx::query(
            "UPDATE customers SET role = $1, updated_at = $2
             WHERE id = $3 AND organization_id = $4 AND ($5 IS NULL OR role = $5)",
        )
        .bind($role.as_str())
        .bind($now)
        .bind($customer.0)
        .bind($org.0)
        .bind(only_if.map(roster_core::role::Role::as_str))
        .execute(&mut *$conn)
        .await?
        .rows_affected()
            > 0;
        if changed {
            sqlx::query(
                "UPDATE memberships SET role = $1, updated_at = $2 WHERE customer_id = $3 AND organization_id = $4",
            )
            .bind($role.as_str())
            .bind($now)
            .bind($customer.0)
            .bind($org.0)
            .execute(&mut *$conn)
            .await?;
        }
    }};
}
pub(crate) use set_role;

/// One page of `$row`s from `$sql` (its last two placeholders are LIMIT and
/// OFFSET) and the total from `$count_sql`, both filtered by the `$scope` binds.
macro_rules! fetch_page {
    ($conn:expr, $row:ty, $sql:expr, $count_sql:expr, ($($scope:expr),+), $limit:expr, $offset:expr) => {{
        let rows = sqlx::query_as::<_, $row>($sql)
            $(.bind($scope))+
            .bind($limit)
            .bind($offset)
            .fetch_all($conn)
            .await?;
        let total: i64 = match crate::reader::short_page_total($limit, $offset, rows.len()) {
            Some(total) => total,
            None => sqlx::query_scalar($count_sql)$(.bind($scope))+.fetch_one($conn).await?,
        };
        (rows, total)
    }};
}
pub(crate) use fetch_page;

/// A row of a page that carries the listing's total (a `total` column).
pub(crate) struct WithTotal<T> {
    pub row: T,
    pub total: i64,
}

impl<'r, R: sqlx::Row, T: FromRow<'r, R>> FromRow<'r, R> for WithTotal<T>
where
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'static str: sqlx::ColumnIndex<R>,
{
    fn from_row(row: &'r R) -> sqlx::Result<Self> {
        Ok(Self { row: T::from_row(row)?, total: row.try_get("total")? })
    }
}

impl<T> WithTotal<T> {
    /// The rows and the total they carry; `None` for an empty page, which carries none.
    pub fn page(rows: Vec<Self>) -> Option<(Vec<T>, i64)> {
        let total = rows.first()?.total;
        Some((rows.into_iter().map(|r| r.row).collect(), total))
    }
}

impl<T: Decode> Decode for WithTotal<T> {
    fn decode(r: &reader::Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self { row: T::decode(r)?, total: r.get("total")? })
    }
}

/// Records `$audit` when `$changed` (a change that may find nothing to do),
/// commits `$tx` and answers `$changed`.
macro_rules! commit_audited_if {
    ($tx:ident, $changed:expr, $audit:expr) => {{
        let changed: bool = $changed;
        if changed {
            crate::audit::insert_audit!(&mut *$tx, $audit);
        }
        $tx.commit().await?;
        changed
    }};
}
pub(crate) use commit_audited_if;

/// How many active owners `$org` has besides `$except`.
macro_rules! other_active_owners {
    ($conn:expr, $org:expr, $except:expr) => {{
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers WHERE organization_id = $1 AND role = $2 AND status = 'active' AND id <> $3",
        )
        .bind($org.0)
        .bind(roster_core::role::Role::Root.as_str())
        .bind($except.0)
        .fetch_one(&mut *$conn)
        .await?;
        n
    }};
}
pub(crate) use other_active_owners;

fn name_taken(name: &str) -> String {
    format!("a team named `{name}` already exists in the organization")
}

/// The answer when the caller's account stopped being usable mid-request.
pub(crate) fn caller_gone() -> Error {
    Error::Unauthorized("your account is no longer active in this organization".into())
}

impl Store {
    /// Creates a team, within the plan's limit (`max_teams` maps the
    /// organization's plan to it) and with a name unique in the organization.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_team(
        &self,
        org: OrganizationId,
        id: TeamId,
        name: &str,
        name_key: &str,
        max_teams: impl FnOnce(&str) -> Result<u32, Error> + Send,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<TeamSummaryRow, Error> {
        let dialect = self.dialect();
        let r: StoreResult<Result<TeamSummaryRow, Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                let plan: String = sqlx::query_scalar("SELECT plan FROM organizations WHERE id = $1")
                    .bind(org.0)
                    .fetch_one(&mut *tx)
                    .await?;
                let max = match max_teams(&plan) {
                    Ok(max) => max,
                    Err(e) => return Ok(Err(e)),
                };
                let teams: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM teams WHERE organization_id = $1")
                    .bind(org.0)
                    .fetch_one(&mut *tx)
                    .await?;
                if teams >= i64::from(max) {
                    return Ok(Err(Error::LimitReached { what: "teams", max }));
                }
                let taken: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM teams WHERE organization_id = $1 AND name_key = $2")
                        .bind(org.0)
                        .bind(name_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                if taken.is_some() {
                    return Ok(Err(Error::Conflict(name_taken(name))));
                }
                let row = sqlx::query_as::<_, TeamSummaryRow>(
                    "INSERT INTO teams (id, organization_id, name, name_key, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5)
                     RETURNING id, name, CAST(0 AS BIGINT) AS member_count, created_at, updated_at",
                )
                .bind(id.0)
                .bind(org.0)
                .bind(name)
                .bind(name_key)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                crate::audit::insert_audit!(&mut *tx, audit);
                tx.commit().await?;
                Ok(Ok(row))
            }
            .await
        });
        r.map_err(|e| e.or_conflict(&name_taken(name)))?
    }

    /// The organization's teams with their member counts, oldest first, paged.
    pub async fn list_teams(
        &self,
        org: OrganizationId,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<TeamSummaryRow>, i64)> {
        let sql = format!("{TEAM_SUMMARY} WHERE t.organization_id = $1 ORDER BY t.created_at, t.id LIMIT $2 OFFSET $3");
        let count_sql = "SELECT COUNT(*) FROM teams WHERE organization_id = $1";
        if let Some(r) = self.reader() {
            return r.read(|c| reader::page(c, &sql, count_sql, &[&Id(org.0)], limit, offset));
        }
        Ok(read_conn!(self, |conn| fetch_page!(&mut *conn, TeamSummaryRow, &sql, count_sql, (org.0), limit, offset)))
    }

    /// Renames a team the caller may manage (`authorize` decides on their standing).
    #[allow(clippy::too_many_arguments)]
    pub async fn rename_team(
        &self,
        org: OrganizationId,
        team: TeamId,
        caller: CustomerId,
        name: &str,
        name_key: &str,
        authorize: impl FnOnce(Standing) -> Result<(), Error> + Send,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<TeamSummaryRow, Error> {
        let dialect = self.dialect();
        let summary = format!("{TEAM_SUMMARY} WHERE t.id = $1");
        let r: StoreResult<Result<TeamSummaryRow, Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                if !team_exists!(&mut *tx, org, team) {
                    return Ok(Err(Error::NotFound("team")));
                }
                if let Err(e) = authorize(caller_standing!(&mut *tx, org, team, caller)) {
                    return Ok(Err(e));
                }
                let taken: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM teams WHERE organization_id = $1 AND name_key = $2 AND id <> $3")
                        .bind(org.0)
                        .bind(name_key)
                        .bind(team.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                if taken.is_some() {
                    return Ok(Err(Error::Conflict(name_taken(name))));
                }
                sqlx::query("UPDATE teams SET name = $1, name_key = $2, updated_at = $3 WHERE id = $4")
                    .bind(name)
                    .bind(name_key)
                    .bind(now)
                    .bind(team.0)
                    .execute(&mut *tx)
                    .await?;
                crate::audit::insert_audit!(&mut *tx, audit);
                let row = sqlx::query_as::<_, TeamSummaryRow>(&summary).bind(team.0).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(Ok(row))
            }
            .await
        });
        r.map_err(|e| e.or_conflict(&name_taken(name)))?
    }

    /// Deletes a team with its memberships and invitations; people stay in the
    /// organization. A team that owns services is a conflict unless `cascade`,
    /// which deletes them first. Answers how many services went.
    pub async fn delete_team(
        &self,
        org: OrganizationId,
        team: TeamId,
        cascade: bool,
        audit: &NewAuditEvent,
    ) -> Result<i64, Error> {
        let dialect = self.dialect();
        let r: StoreResult<Result<i64, Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                if !team_exists!(&mut *tx, org, team) {
                    return Ok(Err(Error::NotFound("team")));
                }
                let services: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM services WHERE team_id = $1")
                    .bind(team.0)
                    .fetch_one(&mut *tx)
                    .await?;
                if services > 0 && !cascade {
                    return Ok(Err(Error::Conflict(format!(
                        "the team owns {services} service(s): reassign them to another team \
                         (PUT /v1/service/{{id}} with `team_id`), or pass ?cascade=true to delete them with the team"
                    ))));
                }
                if services > 0 {
                    sqlx::query("DELETE FROM services WHERE team_id = $1").bind(team.0).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM teams WHERE id = $1").bind(team.0).execute(&mut *tx).await?;
                let mut audit = audit.clone();
                audit.data["deleted_services"] = services.into();
                crate::audit::insert_audit!(&mut *tx, &audit);
                tx.commit().await?;
                Ok(Ok(services))
            }
            .await
        });
        r?
    }

    /// A team's members, in the order they joined, paged; a team outside the organization is not found.
    pub async fn list_team_members(
        &self,
        org: OrganizationId,
        team: TeamId,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<TeamMemberRow>, i64), Error> {
        let count_sql = "SELECT COUNT(*) FROM memberships WHERE team_id = $1";
        let scope: [&dyn rusqlite::ToSql; 2] = [&Id(team.0), &Id(org.0)];
        if let Some(r) = self.reader() {
            return r.read(|c| {
                let params: Vec<&dyn rusqlite::ToSql> =
                    scope.iter().copied().chain([&limit as _, &offset as _]).collect();
                let rows = reader::all(c, TEAM_MEMBER_PAGE, &params, WithTotal::<TeamMemberRow>::decode)?;
                if let Some(page) = WithTotal::page(rows) {
                    return Ok(Ok(page));
                }
                if reader::one(c, TEAM_EXISTS, &scope, |_| Ok(()))?.is_none() {
                    return Ok(Err(Error::NotFound("team")));
                }
                let total = if offset == 0 { 0 } else { reader::count(c, count_sql, &scope)? };
                Ok(Ok((Vec::new(), total)))
            })?;
        }
        let found: StoreResult<Result<_, Error>> = async {
            Ok(read_conn!(self, |conn| {
                let rows = sqlx::query_as::<_, WithTotal<TeamMemberRow>>(TEAM_MEMBER_PAGE)
                    .bind(team.0)
                    .bind(org.0)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&mut *conn)
                    .await?;
                if let Some(page) = WithTotal::page(rows) {
                    Ok(page)
                } else if !team_exists!(&mut *conn, org, team) {
                    Err(Error::NotFound("team"))
                } else if offset == 0 {
                    Ok((Vec::new(), 0))
                } else {
                    Ok((Vec::new(), sqlx::query_scalar(count_sql).bind(team.0).fetch_one(&mut *conn).await?))
                }
            }))
        }
        .await;
        found?
    }
}
