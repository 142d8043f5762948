//! Services: what an organization monitors, each owned by one of its teams.
//!
//! Whether the caller may manage a service depends on the team that owns it
//! (a manager only their own teams'), so each change looks the team and the
//! caller's membership up inside its transaction and applies
//! [`roster_core::policy::can_manage_team`] there, after the objects are found.

use crate::teams::{fetch_page, lock_organization, team_exists};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::policy::can_manage_team;
use roster_core::role::Role;
use roster_core::Error;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

const SERVICE_COLUMNS: &str =
    "id, organization_id, team_id, name, resource_count, heartbeat_count, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct ServiceRow {
    #[sqlx(try_from = "Uuid")]
    pub id: ServiceId,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    #[sqlx(try_from = "Uuid")]
    pub team_id: TeamId,
    pub name: String,
    pub resource_count: i64,
    pub heartbeat_count: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Who is changing services, for the team rule.
#[derive(Debug, Clone, Copy)]
pub struct ServiceActor {
    pub customer_id: CustomerId,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct NewService {
    pub id: ServiceId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: String,
    /// The plan's limit on the organization's services.
    pub max_services: u32,
    pub actor: ServiceActor,
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

/// Finds team `$team` of `$org` and checks that `$actor` may manage it,
/// inside the caller's transaction; evaluates to `Err` (not found, or
/// forbidden) to hand back to the caller.
macro_rules! check_team {
    ($conn:expr, $org:expr, $team:expr, $actor:expr) => {{
        let org: OrganizationId = $org;
        let team: TeamId = $team;
        let actor: ServiceActor = $actor;
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM teams WHERE id = $1 AND organization_id = $2")
            .bind(team.0)
            .bind(org.0)
            .fetch_optional(&mut *$conn)
            .await?;
        if found.is_none() {
            Err(Error::NotFound("team"))
        } else {
            let member: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM memberships WHERE team_id = $1 AND customer_id = $2")
                    .bind(team.0)
                    .bind(actor.customer_id.0)
                    .fetch_optional(&mut *$conn)
                    .await?;
            if can_manage_team(actor.role, member.is_some()) {
                Ok(())
            } else {
                Err(Error::Forbidden("a manager manages only the services of teams they belong to".into()))
            }
        }
    }};
}

/// The team owning service `$id` of `$org`, inside the caller's transaction; `None` when there is no such service.
macro_rules! current_team {
    ($conn:expr, $org:expr, $id:expr) => {{
        let team: Option<Uuid> =
            sqlx::query_scalar("SELECT team_id FROM services WHERE id = $1 AND organization_id = $2")
                .bind($id.0)
                .bind($org.0)
                .fetch_optional(&mut *$conn)
                .await?;
        team.map(TeamId)
    }};
}

impl Store {
    /// Creates a service for a team the actor may manage, within the plan's limit.
    pub async fn create_service(&self, s: &NewService) -> Result<ServiceRow, Error> {
        let dialect = self.dialect();
        let sql = format!(
            "INSERT INTO services ({SERVICE_COLUMNS}) VALUES ($1, $2, $3, $4, 0, 0, $5, $5) RETURNING {SERVICE_COLUMNS}"
        );
        let r: StoreResult<Result<ServiceRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            // Serializes creations on PostgreSQL so two cannot both pass the limit.
            lock_organization!(&mut *tx, dialect, s.organization_id);
            if let Err(e) = check_team!(&mut *tx, s.organization_id, s.team_id, s.actor) {
                return Ok(Err(e));
            }
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM services WHERE organization_id = $1")
                .bind(s.organization_id.0)
                .fetch_one(&mut *tx)
                .await?;
            if count >= i64::from(s.max_services) {
                return Ok(Err(Error::LimitReached { what: "services", max: s.max_services }));
            }
            let row = sqlx::query_as::<_, ServiceRow>(&sql)
                .bind(s.id.0)
                .bind(s.organization_id.0)
                .bind(s.team_id.0)
                .bind(&s.name)
                .bind(s.now)
                .fetch_one(&mut *tx)
                .await?;
            crate::audit::insert_audit!(&mut *tx, &s.audit);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r?
    }

    /// A service of `org`, or `None`.
    pub async fn service(&self, org: OrganizationId, id: ServiceId) -> StoreResult<Option<ServiceRow>> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE id = $1 AND organization_id = $2");
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, ServiceRow>(&sql).bind(id.0).bind(org.0).fetch_optional(pool).await?
        }))
    }

    /// The organization's services, or one of its teams', oldest first, paged.
    /// A team outside the organization is not found.
    pub async fn list_services(
        &self,
        org: OrganizationId,
        team: Option<TeamId>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ServiceRow>, i64), Error> {
        let filter = "organization_id = $1 AND ($2 IS NULL OR team_id = $2)";
        let sql =
            format!("SELECT {SERVICE_COLUMNS} FROM services WHERE {filter} ORDER BY created_at, id LIMIT $3 OFFSET $4");
        let count_sql = format!("SELECT COUNT(*) FROM services WHERE {filter}");
        let team = team.map(|t| t.0);
        let r: StoreResult<Result<(Vec<ServiceRow>, i64), Error>> = dispatch!(self, read, |pool| async {
            let mut conn = pool.acquire().await?;
            if let Some(team) = team {
                if !team_exists!(&mut *conn, org, TeamId(team)) {
                    return Ok(Err(Error::NotFound("team")));
                }
            }
            Ok(Ok(fetch_page!(&mut *conn, ServiceRow, &sql, &count_sql, (org.0, team), limit, offset)))
        }
        .await);
        r?
    }

    /// Renames a service and, with `new_team`, moves it to another team; the
    /// actor must be allowed to manage both the team it leaves and the one it joins.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_service(
        &self,
        org: OrganizationId,
        id: ServiceId,
        name: &str,
        new_team: Option<TeamId>,
        actor: ServiceActor,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<ServiceRow, Error> {
        let dialect = self.dialect();
        let update_sql = format!(
            "UPDATE services SET name = $1, team_id = $2, updated_at = $3 WHERE id = $4 RETURNING {SERVICE_COLUMNS}"
        );
        let r: StoreResult<Result<ServiceRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            // Keeps a team from being deleted on PostgreSQL while a service moves to it.
            lock_organization!(&mut *tx, dialect, org);
            let Some(current) = current_team!(&mut *tx, org, id) else {
                return Ok(Err(Error::NotFound("service")));
            };
            if let Err(e) = check_team!(&mut *tx, org, current, actor) {
                return Ok(Err(e));
            }
            let team = new_team.unwrap_or(current);
            if team != current {
                if let Err(e) = check_team!(&mut *tx, org, team, actor) {
                    return Ok(Err(e));
                }
            }
            let row = sqlx::query_as::<_, ServiceRow>(&update_sql)
                .bind(name)
                .bind(team.0)
                .bind(now)
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r?
    }

    /// Deletes a service of a team the actor may manage.
    pub async fn delete_service(
        &self,
        org: OrganizationId,
        id: ServiceId,
        actor: ServiceActor,
        audit: &NewAuditEvent,
    ) -> Result<(), Error> {
        let r: StoreResult<Result<(), Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let Some(current) = current_team!(&mut *tx, org, id) else {
                return Ok(Err(Error::NotFound("service")));
            };
            if let Err(e) = check_team!(&mut *tx, org, current, actor) {
                return Ok(Err(e));
            }
            sqlx::query("DELETE FROM services WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(Ok(()))
        }
        .await);
        r?
    }
}
