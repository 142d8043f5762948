//! Invitations to join a team: issuing (one live invitation per address and
//! team, a new one replacing the old), listing, withdrawing and reminding.
//! Answering an invitation by its link is in `invitations/answer.rs`.
//!
//! Only a keyed hash of an invitation's token is stored; a new token (a
//! replacement or a reminder) makes the old link unknown.

mod answer;

pub use answer::{AcceptInvitation, AcceptOutcome, AcceptedNotice, Invitee, InviteeAccount, TokenInvitation};

use crate::teams::{fetch_page, lock_organization, team_exists};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::message::NewMessage;
use roster_core::role::Role;
use roster_core::Error;
use sqlx::FromRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_ACCEPTED: &str = "accepted";
pub const STATUS_DECLINED: &str = "declined";

#[derive(Debug, Clone, FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    #[sqlx(try_from = "Uuid")]
    pub team_id: TeamId,
    pub channel_type: String,
    /// The invited address, normalized.
    pub channel_value: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// `None` once the inviter's account is gone.
    pub inviter_id: Option<Uuid>,
    /// The inviter's name when they invited.
    pub sender_full_name: String,
    /// `pending`, `accepted` or `declined`.
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub reminded_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub responded_at: Option<OffsetDateTime>,
}

pub(crate) const INVITATION_COLUMNS: &str = "id, organization_id, team_id, channel_type, channel_value, role, \
     inviter_id, sender_full_name, status, created_at, updated_at, reminded_at, expires_at, responded_at";

impl InvitationRow {
    pub fn is_pending(&self) -> bool {
        self.status == STATUS_PENDING
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.is_pending() && self.expires_at <= now
    }

    /// Why the invitation's link can no longer be answered, or `None` while it can.
    pub fn unusable(&self, now: OffsetDateTime) -> Option<String> {
        match self.status.as_str() {
            STATUS_ACCEPTED => Some("this invitation was already accepted".into()),
            STATUS_DECLINED => Some("this invitation was declined".into()),
            _ if self.expires_at <= now => {
                Some(format!("this invitation has expired; ask {} for a new one", self.sender_full_name))
            }
            _ => None,
        }
    }
}

/// A team as an inviting handler needs it, with the caller's relation to it.
#[derive(Debug, Clone, FromRow)]
pub struct InvitationTeam {
    pub team_name: String,
    pub organization_name: String,
    pub plan: String,
    /// The caller's memberships of the team: 0 or 1.
    caller_memberships: i64,
    /// The caller's "name surname".
    pub caller_full_name: Option<String>,
}

impl InvitationTeam {
    pub fn caller_is_member(&self) -> bool {
        self.caller_memberships > 0
    }
}

/// An invitation to issue, with the email that carries its token.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub channel_type: &'static str,
    pub channel_value: String,
    pub role: Role,
    pub inviter_id: CustomerId,
    pub sender_full_name: String,
    pub token_hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
    /// The plan's `members` limit, which pending invitations of new people count against.
    pub max_members: u32,
    pub message: NewMessage,
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

/// A reminder: a fresh token and lifetime for the pending invitation to `channel_value`.
#[derive(Debug, Clone)]
pub struct InvitationReminder {
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub channel_value: String,
    pub token_hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
    /// The least time between two emails for one invitation.
    pub interval: Duration,
    /// Its target is set to the invitation reminded.
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

const ALREADY_MEMBER: &str = "this address belongs to someone who is already a member of the team";

impl Store {
    /// A team of `org` with its organization's name and plan, and whether
    /// `caller` belongs to it; `None` when `org` has no such team.
    pub async fn invitation_team(
        &self,
        org: OrganizationId,
        team: TeamId,
        caller: CustomerId,
    ) -> StoreResult<Option<InvitationTeam>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, InvitationTeam>(
                "SELECT t.name AS team_name, o.name AS organization_name, o.plan,
                        (SELECT COUNT(*) FROM memberships m WHERE m.team_id = t.id AND m.customer_id = $3)
                          AS caller_memberships,
                        (SELECT c.name || ' ' || c.surname FROM customers c WHERE c.id = $3) AS caller_full_name
                 FROM teams t JOIN organizations o ON o.id = t.organization_id
                 WHERE t.id = $1 AND t.organization_id = $2",
            )
            .bind(team.0)
            .bind(org.0)
            .bind(caller.0)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Issues an invitation and queues its email. A pending invitation to the
    /// same address for the team is replaced (its link dies). Refused when the
    /// address is already a member of the team, or a new person would take the
    /// organization past its plan's members (customers plus pending invitations
    /// of addresses without an account in it).
    ///
    /// An address with an account in another organization is invited like a
    /// new one, by the same queries: refusing it here would tell the inviter
    /// that the address is registered. Accepting refuses it instead, where only
    /// the address's owner, who holds the link, learns why.
    pub async fn create_invitation(&self, inv: &NewInvitation) -> Result<InvitationRow, Error> {
        let dialect = self.dialect();
        let returning = format!(
            "INSERT INTO invitations (id, organization_id, team_id, channel_type, channel_value, role, inviter_id,
                                      sender_full_name, token_hash, status, created_at, updated_at, reminded_at,
                                      expires_at, responded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, NULL, $12, NULL)
             RETURNING {INVITATION_COLUMNS}"
        );
        let org = inv.organization_id;
        let r: StoreResult<Result<InvitationRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            lock_organization!(&mut *tx, dialect, org);
            if !team_exists!(&mut *tx, org, inv.team_id) {
                return Ok(Err(Error::NotFound("team")));
            }
            let account: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM customers WHERE email = $1 AND organization_id = $2")
                    .bind(&inv.channel_value)
                    .bind(org.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            match account {
                Some(customer) => {
                    let member: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE team_id = $1 AND customer_id = $2")
                            .bind(inv.team_id.0)
                            .bind(customer)
                            .fetch_one(&mut *tx)
                            .await?;
                    if member > 0 {
                        return Ok(Err(Error::Conflict(ALREADY_MEMBER.into())));
                    }
                }
                None => {
                    // Everyone else who has, or is on the way to, a seat; this address is the one more.
                    let seats: i64 = sqlx::query_scalar(
                        "SELECT (SELECT COUNT(*) FROM customers WHERE organization_id = $1)
                              + (SELECT COUNT(DISTINCT i.channel_value) FROM invitations i
                                 WHERE i.organization_id = $1 AND i.status = 'pending' AND i.expires_at > $2
                                   AND i.channel_value <> $3
                                   AND NOT EXISTS (SELECT 1 FROM customers c
                                                   WHERE c.email = i.channel_value AND c.organization_id = $1))",
                    )
                    .bind(org.0)
                    .bind(inv.now)
                    .bind(&inv.channel_value)
                    .fetch_one(&mut *tx)
                    .await?;
                    if seats >= i64::from(inv.max_members) {
                        return Ok(Err(Error::LimitReached { what: "members", max: inv.max_members }));
                    }
                }
            }
            sqlx::query("DELETE FROM invitations WHERE team_id = $1 AND channel_value = $2 AND status = 'pending'")
                .bind(inv.team_id.0)
                .bind(&inv.channel_value)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query_as::<_, InvitationRow>(&returning)
                .bind(inv.id)
                .bind(org.0)
                .bind(inv.team_id.0)
                .bind(inv.channel_type)
                .bind(&inv.channel_value)
                .bind(inv.role.as_str())
                .bind(inv.inviter_id.0)
                .bind(&inv.sender_full_name)
                .bind(&inv.token_hash)
                .bind(STATUS_PENDING)
                .bind(inv.now)
                .bind(inv.expires_at)
                .fetch_one(&mut *tx)
                .await?;
            crate::outbox::insert_message!(&mut *tx, Some(org), None, &inv.message, inv.now);
            crate::audit::insert_audit!(&mut *tx, &inv.audit);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r.map_err(|e| e.or_conflict("another invitation to this address was issued at the same time"))?
    }

    /// A team's invitations, oldest first, answered ones included, paged.
    pub async fn list_invitations(
        &self,
        org: OrganizationId,
        team: TeamId,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<InvitationRow>, i64)> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE team_id = $1 AND organization_id = $2
             ORDER BY created_at, id LIMIT $3 OFFSET $4"
        );
        Ok(dispatch!(self, read, |pool| {
            let count_sql = "SELECT COUNT(*) FROM invitations WHERE team_id = $1 AND organization_id = $2";
            fetch_page!(pool, InvitationRow, &sql, count_sql, (team.0, org.0), limit, offset)
        }))
    }

    /// Withdraws the pending invitation to `channel_value` for a team (its
    /// link dies). Answers whether there was one; the audit record's target
    /// is set to the invitation withdrawn.
    pub async fn delete_invitation(
        &self,
        org: OrganizationId,
        team: TeamId,
        channel_value: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let id: Option<Uuid> = sqlx::query_scalar(
                "DELETE FROM invitations
                 WHERE team_id = $1 AND organization_id = $2 AND channel_value = $3 AND status = 'pending'
                 RETURNING id",
            )
            .bind(team.0)
            .bind(org.0)
            .bind(channel_value)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = id {
                let event = NewAuditEvent { target_id: Some(id), ..audit.clone() };
                crate::audit::insert_audit!(&mut *tx, &event);
            }
            tx.commit().await?;
            id.is_some()
        }))
    }

    /// Sends the pending invitation to `channel_value` again with a fresh
    /// token and lifetime (an expired one comes back to life); the old link
    /// dies. At most one email per `interval`, counted from the invitation's
    /// creation or last reminder. `message` builds the email from the updated invitation.
    pub async fn remind_invitation(
        &self,
        rem: &InvitationReminder,
        message: impl FnOnce(&InvitationRow) -> NewMessage + Send,
    ) -> Result<InvitationRow, Error> {
        let select = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations
             WHERE team_id = $1 AND organization_id = $2 AND channel_value = $3 AND status = 'pending'"
        );
        let update = format!(
            "UPDATE invitations SET token_hash = $1, expires_at = $2, reminded_at = $3, updated_at = $3
             WHERE id = $4 RETURNING {INVITATION_COLUMNS}"
        );
        let r: StoreResult<Result<InvitationRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let Some(current) = sqlx::query_as::<_, InvitationRow>(&select)
                .bind(rem.team_id.0)
                .bind(rem.organization_id.0)
                .bind(&rem.channel_value)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Err(Error::NotFound("pending invitation")));
            };
            let last_sent = current.reminded_at.map_or(current.created_at, |r| r.max(current.created_at));
            let next_allowed = last_sent + rem.interval;
            if next_allowed > rem.now {
                let retry_after_secs = (next_allowed - rem.now).whole_seconds().max(1) as u64;
                let window_secs = rem.interval.whole_seconds().max(1) as u64;
                return Ok(Err(Error::RateLimited { retry_after_secs, limit: 1, window_secs }));
            }
            let row = sqlx::query_as::<_, InvitationRow>(&update)
                .bind(&rem.token_hash)
                .bind(rem.expires_at)
                .bind(rem.now)
                .bind(current.id)
                .fetch_one(&mut *tx)
                .await?;
            crate::outbox::insert_message!(&mut *tx, Some(rem.organization_id), None, &message(&row), rem.now);
            let event = NewAuditEvent { target_id: Some(row.id), ..rem.audit.clone() };
            crate::audit::insert_audit!(&mut *tx, &event);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r?
    }
}
