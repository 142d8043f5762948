//! The people of an organization and their memberships: listing them,
//! changing a member's role or team, removing a membership or a person,
//! suspending and reactivating, and a person's availability.
//!
//! Changes follow the pattern of `teams.rs`: lock the organization, find the
//! objects (404), hold the one-owner invariant (409), then let the handler's
//! `authorize` judge the caller's current standing (403) before writing.
//! The invariant comes before the caller's rights because no one may break it,
//! so its answer must not depend on whose role changed a moment earlier.

use crate::teams::{
    caller_gone, caller_role, caller_standing, commit_audited_if, fetch_page, is_member, lock_organization,
    other_active_owners, role_status, set_role, team_exists, MemberChange, MemberFacts, TeamMemberRow, LAST_OWNER,
    TEAM_MEMBER,
};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::role::Role;
use roster_core::Error;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct MembershipRow {
    #[sqlx(try_from = "Uuid")]
    pub id: MembershipId,
    #[sqlx(try_from = "Uuid")]
    pub customer_id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub team_id: TeamId,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A person of the organization, with their availability.
#[derive(Debug, Clone, FromRow)]
pub struct PersonRow {
    #[sqlx(try_from = "Uuid")]
    pub id: CustomerId,
    pub email: String,
    pub name: String,
    pub surname: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// `active` or `suspended`.
    pub status: String,
    /// `live`, `away` or `offline`.
    pub availability: String,
    pub invited_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

const PERSON: &str =
    "SELECT id, email, name, surname, role, status, availability, invited_at, created_at FROM customers";

/// A membership and its member's role.
#[derive(Debug, Clone, FromRow)]
struct MemberTarget {
    #[sqlx(try_from = "Uuid")]
    id: MembershipId,
    #[sqlx(try_from = "String")]
    role: Role,
}

const MEMBER_TARGET: &str = "SELECT m.id, c.role FROM memberships m JOIN customers c ON c.id = m.customer_id
     WHERE m.team_id = $1 AND m.customer_id = $2";

/// Member `$member` of team `$team` of `$org` as a [`MemberTarget`]; returns
/// 404 from the enclosing transaction when the team or the membership is not there.
macro_rules! find_team_member {
    ($conn:expr, $org:expr, $team:expr, $member:expr) => {{
        if !team_exists!($conn, $org, $team) {
            return Ok(Err(Error::NotFound("team")));
        }
        let target = sqlx::query_as::<_, MemberTarget>(MEMBER_TARGET)
            .bind($team.0)
            .bind($member.0)
            .fetch_optional(&mut *$conn)
            .await?;
        let Some(target) = target else {
            return Ok(Err(Error::NotFound("team member")));
        };
        target
    }};
}

/// Person `$target` of `$org`, judged for a change that, when `$ends_ownership`,
/// would take away their active ownership: returns 404 (no such person), 409
/// (the last active owner), 401 (the caller is gone) or `$authorize`'s answer
/// on the caller's current role and the target's from the enclosing transaction.
macro_rules! judge_person {
    ($conn:expr, $org:expr, $target:expr, $caller:expr, $ends_ownership:expr, $authorize:expr) => {{
        let Some(person) = role_status!($conn, $org, $target) else {
            return Ok(Err(Error::NotFound("member")));
        };
        if $ends_ownership
            && person.role == Role::Root
            && person.is_active()
            && other_active_owners!($conn, $org, $target) == 0
        {
            return Ok(Err(Error::Conflict(LAST_OWNER.into())));
        }
        let Some(role) = caller_role!($conn, $org, $caller) else { return Ok(Err(caller_gone())) };
        if let Err(e) = ($authorize)(role, person.role) {
            return Ok(Err(e));
        }
        person
    }};
}

impl Store {
    /// The organization's memberships, oldest first, paged.
    pub async fn list_memberships(
        &self,
        org: OrganizationId,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<MembershipRow>, i64)> {
        Ok(dispatch!(self, read, |pool| {
            fetch_page!(
                pool,
                MembershipRow,
                "SELECT id, customer_id, team_id, role, created_at, updated_at FROM memberships
                 WHERE organization_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
                "SELECT COUNT(*) FROM memberships WHERE organization_id = $1",
                (org.0),
                limit,
                offset
            )
        }))
    }

    /// The organization's people, oldest first, paged.
    pub async fn list_people(
        &self,
        org: OrganizationId,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<PersonRow>, i64)> {
        let sql = format!("{PERSON} WHERE organization_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3");
        let count_sql = "SELECT COUNT(*) FROM customers WHERE organization_id = $1";
        Ok(dispatch!(self, read, |pool| fetch_page!(pool, PersonRow, &sql, count_sql, (org.0), limit, offset)))
    }

    /// Changes a team member's role (on their record and every membership) and/or
    /// moves their membership to another team. Answers the member as of the
    /// team they are in afterwards.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_team_member(
        &self,
        org: OrganizationId,
        team: TeamId,
        member: CustomerId,
        caller: CustomerId,
        change: MemberChange,
        authorize: impl FnOnce(MemberFacts) -> Result<(), Error> + Send,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<TeamMemberRow, Error> {
        let dialect = self.dialect();
        let read_back = format!("{TEAM_MEMBER} WHERE m.id = $1");
        // Naming the team the member is already in is "stay" (the seed's own example does so).
        let new_team = change.new_team.filter(|t| *t != team);
        let r: StoreResult<Result<TeamMemberRow, Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                let MemberTarget { id: membership, role: target_role } = find_team_member!(&mut *tx, org, team, member);
                if let Some(nt) = new_team {
                    if !team_exists!(&mut *tx, org, nt) {
                        return Ok(Err(Error::NotFound("team")));
                    }
                }
                let demotes_owner = change.role.is_some_and(|r| target_role == Role::Root && r != Role::Root);
                if demotes_owner && other_active_owners!(&mut *tx, org, member) == 0 {
                    return Ok(Err(Error::Conflict(LAST_OWNER.into())));
                }
                let standing = caller_standing!(&mut *tx, org, team, caller);
                let caller_in_new_team = match new_team {
                    Some(nt) => Some(is_member!(&mut *tx, nt, caller)),
                    None => None,
                };
                let facts = MemberFacts { caller: standing, target_role, caller_in_new_team };
                if let Err(e) = authorize(facts) {
                    return Ok(Err(e));
                }
                if let Some(nt) = new_team {
                    if is_member!(&mut *tx, nt, member) {
                        return Ok(Err(Error::Conflict("this person is already a member of that team".into())));
                    }
                    sqlx::query("UPDATE memberships SET team_id = $1, updated_at = $2 WHERE id = $3")
                        .bind(nt.0)
                        .bind(now)
                        .bind(membership.0)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(new_role) = change.role.filter(|r| *r != target_role) {
                    set_role!(&mut *tx, org, member, new_role, None, now);
                }
                crate::audit::insert_audit!(&mut *tx, audit);
                let row = sqlx::query_as::<_, TeamMemberRow>(&read_back).bind(membership.0).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(Ok(row))
            }
            .await
        });
        r?
    }

    /// Removes a person's membership of a team; the person stays in the organization.
    pub async fn remove_team_member(
        &self,
        org: OrganizationId,
        team: TeamId,
        member: CustomerId,
        caller: CustomerId,
        authorize: impl FnOnce(MemberFacts) -> Result<(), Error> + Send,
        audit: &NewAuditEvent,
    ) -> Result<(), Error> {
        let dialect = self.dialect();
        let r: StoreResult<Result<(), Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                let MemberTarget { role: target_role, .. } = find_team_member!(&mut *tx, org, team, member);
                let standing = caller_standing!(&mut *tx, org, team, caller);
                let facts = MemberFacts { caller: standing, target_role, caller_in_new_team: None };
                if let Err(e) = authorize(facts) {
                    return Ok(Err(e));
                }
                sqlx::query("DELETE FROM memberships WHERE team_id = $1 AND customer_id = $2")
                    .bind(team.0)
                    .bind(member.0)
                    .execute(&mut *tx)
                    .await?;
                crate::audit::insert_audit!(&mut *tx, audit);
                tx.commit().await?;
                Ok(Ok(()))
            }
            .await
        });
        r?
    }

    /// Removes a person from the organization with all their personal data
    /// (sessions, keys, memberships, codes and queued messages go with the
    /// customer row). `authorize` gets the caller's current role and the target's.
    pub async fn remove_person(
        &self,
        org: OrganizationId,
        target: CustomerId,
        caller: CustomerId,
        authorize: impl FnOnce(Role, Role) -> Result<(), Error> + Send,
        audit: &NewAuditEvent,
    ) -> Result<(), Error> {
        let dialect = self.dialect();
        let r: StoreResult<Result<(), Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                judge_person!(&mut *tx, org, target, caller, true, authorize);
                // Removed by an owner or deleted by themselves, a person leaves no personal data behind.
                crate::export::erase_person!(&mut *tx, org, target);
                sqlx::query("DELETE FROM customers WHERE id = $1").bind(target.0).execute(&mut *tx).await?;
                crate::audit::insert_audit!(&mut *tx, audit);
                tx.commit().await?;
                Ok(Ok(()))
            }
            .await
        });
        r?
    }

    /// Suspends (`active` false) or reactivates a person. A suspended person's
    /// credentials stop working at once and work again on reactivation.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_person_active(
        &self,
        org: OrganizationId,
        target: CustomerId,
        caller: CustomerId,
        active: bool,
        authorize: impl FnOnce(Role, Role) -> Result<(), Error> + Send,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<PersonRow, Error> {
        let dialect = self.dialect();
        let read_back = format!("{PERSON} WHERE id = $1");
        let r: StoreResult<Result<PersonRow, Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                lock_organization!(&mut *tx, dialect, org);
                let was_active = judge_person!(&mut *tx, org, target, caller, !active, authorize).is_active();
                if active != was_active {
                    sqlx::query("UPDATE customers SET status = $1, updated_at = $2 WHERE id = $3")
                        .bind(if active { "active" } else { "suspended" })
                        .bind(now)
                        .bind(target.0)
                        .execute(&mut *tx)
                        .await?;
                }
                crate::audit::insert_audit!(&mut *tx, audit);
                let row = sqlx::query_as::<_, PersonRow>(&read_back).bind(target.0).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(Ok(row))
            }
            .await
        });
        r?
    }

    /// Sets a person's own availability (`live`, `away` or `offline`). Answers whether they exist.
    pub async fn set_availability(
        &self,
        org: OrganizationId,
        customer: CustomerId,
        availability: &str,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let found = sqlx::query(
                "UPDATE customers SET availability = $1, updated_at = $2 WHERE id = $3 AND organization_id = $4",
            )
            .bind(availability)
            .bind(now)
            .bind(customer.0)
            .bind(org.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            commit_audited_if!(tx, found, audit)
        }))
    }
}
