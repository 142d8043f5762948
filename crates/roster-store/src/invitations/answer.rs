//! Answering an invitation by the token in its link: reading it, accepting
//! it (as a new person, or as a customer of the organization who proved
//! their password) and declining it.

use super::{InvitationRow, INVITATION_COLUMNS, STATUS_ACCEPTED, STATUS_DECLINED};
use crate::teams::lock_organization;
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::message::NewMessage;
use roster_core::Error;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// The account an invited address already has, in whichever organization.
#[derive(Debug, Clone, FromRow)]
pub struct InviteeAccount {
    #[sqlx(try_from = "Uuid")]
    pub id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    pub password_hash: Option<String>,
    pub email_verified_at: Option<OffsetDateTime>,
    pub status: String,
}

/// An invitation found by its token, with what its page shows.
#[derive(Debug, Clone)]
pub struct TokenInvitation {
    pub invitation: InvitationRow,
    pub team_name: String,
    pub organization_name: String,
    pub plan: String,
    pub account: Option<InviteeAccount>,
}

/// Who accepts.
#[derive(Debug, Clone)]
pub enum Invitee {
    /// A customer of the organization, who proved their password; they keep their role.
    Existing(CustomerId),
    /// A new person, created with the invitation's role and a verified address.
    New { customer_id: CustomerId, password_hash: String, name: String, surname: String, max_members: u32 },
}

#[derive(Debug, Clone)]
pub struct AcceptInvitation {
    pub organization_id: OrganizationId,
    pub invitation_id: Uuid,
    /// The hash of the token the link carried: a link replaced meanwhile no longer accepts.
    pub token_hash: Vec<u8>,
    pub invitee: Invitee,
    pub membership_id: MembershipId,
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

/// What the email to the inviter is made of.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedNotice<'a> {
    pub inviter_email: &'a str,
    pub inviter_name: &'a str,
    pub invitee_name: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptOutcome {
    pub customer_id: CustomerId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    /// Whether an email to the inviter was queued (not when their account is gone).
    pub inviter_notified: bool,
}

/// Reads the invitation `$id` with the token hash `$hash` in `$org` inside the
/// caller's transaction; evaluates to it, or returns the reason it cannot be answered.
macro_rules! usable_invitation {
    ($conn:expr, $org:expr, $id:expr, $hash:expr, $now:expr) => {{
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1 AND token_hash = $2 AND organization_id = $3"
        );
        let row: Option<InvitationRow> =
            sqlx::query_as(&sql).bind($id).bind($hash).bind($org.0).fetch_optional(&mut *$conn).await?;
        let Some(row) = row else {
            return Ok(Err(Error::NotFound("invitation")));
        };
        if let Some(why) = row.unusable($now) {
            return Ok(Err(Error::Gone(why)));
        }
        row
    }};
}

const EMAIL_TAKEN: &str =
    "an account with this email address was created meanwhile; open the link again to accept with its password";
const ACCOUNT_CHANGED: &str = "the account with this email address changed meanwhile; open the link again";

impl Store {
    /// The invitation whose token hashes to `token_hash`, whatever its state.
    pub async fn invitation_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<TokenInvitation>> {
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1");
        Ok(dispatch!(self, read, |pool| {
            let mut conn = pool.acquire().await?;
            let Some(invitation) =
                sqlx::query_as::<_, InvitationRow>(&sql).bind(token_hash).fetch_optional(&mut *conn).await?
            else {
                return Ok(None);
            };
            // The team may go (and its invitations with it) between two reads.
            let Some((team_name, organization_name, plan)) = sqlx::query_as::<_, (String, String, String)>(
                "SELECT t.name, o.name, o.plan FROM teams t JOIN organizations o ON o.id = t.organization_id
                 WHERE t.id = $1",
            )
            .bind(invitation.team_id.0)
            .fetch_optional(&mut *conn)
            .await?
            else {
                return Ok(None);
            };
            let account = sqlx::query_as::<_, InviteeAccount>(
                "SELECT id, organization_id, password_hash, email_verified_at, status FROM customers WHERE email = $1",
            )
            .bind(&invitation.channel_value)
            .fetch_optional(&mut *conn)
            .await?;
            Some(TokenInvitation { invitation, team_name, organization_name, plan, account })
        }))
    }

    /// Accepts an invitation in one transaction: checks it is still pending
    /// and unexpired, creates the new person or adds the customer to the team,
    /// marks the invitation accepted, and queues `notice`'s email to the inviter
    /// when they still exist.
    pub async fn accept_invitation(
        &self,
        acc: &AcceptInvitation,
        notice: impl FnOnce(AcceptedNotice<'_>) -> NewMessage + Send,
    ) -> Result<AcceptOutcome, Error> {
        let dialect = self.dialect();
        let org = acc.organization_id;
        let r: StoreResult<Result<AcceptOutcome, Error>> = dispatch!(self, write, |pool| {
            async {
            let mut tx = crate::begin_write(pool).await?;
            lock_organization!(&mut *tx, dialect, org);
            let inv = usable_invitation!(&mut *tx, org, acc.invitation_id, &acc.token_hash, acc.now);
            let account: Option<(Uuid, Uuid, String, String, String)> =
                sqlx::query_as("SELECT id, organization_id, name, surname, role FROM customers WHERE email = $1")
                    .bind(&inv.channel_value)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (customer_id, role, invitee_name) = match (&acc.invitee, account) {
                (Invitee::Existing(id), Some((found, found_org, name, surname, role)))
                    if found == id.0 && found_org == org.0 =>
                {
                    (*id, role, format!("{name} {surname}"))
                }
                (Invitee::Existing(_), _) => return Ok(Err(Error::Conflict(ACCOUNT_CHANGED.into()))),
                (Invitee::New { .. }, Some(_)) => return Ok(Err(Error::Conflict(EMAIL_TAKEN.into()))),
                (Invitee::New { customer_id, password_hash, name, surname, max_members }, None) => {
                    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE organization_id = $1")
                        .bind(org.0)
                        .fetch_one(&mut *tx)
                        .await?;
                    if members >= i64::from(*max_members) {
                        return Ok(Err(Error::LimitReached { what: "members", max: *max_members }));
                    }
                    // The token proved control of the address: it is verified.
                    sqlx::query(
                        "INSERT INTO customers (id, organization_id, email, email_verified_at, password_hash, name,
                                                surname, role, status, created_at, updated_at, last_login_at, invited_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $4, $4, NULL, $9)",
                    )
                    .bind(customer_id.0)
                    .bind(org.0)
                    .bind(&inv.channel_value)
                    .bind(acc.now)
                    .bind(password_hash)
                    .bind(name)
                    .bind(surname)
                    .bind(inv.role.as_str())
                    .bind(inv.created_at)
                    .execute(&mut *tx)
                    .await?;
                    (*customer_id, inv.role.as_str().to_owned(), format!("{name} {surname}"))
                }
            };
            // Memberships mirror the customer's organization-wide role.
            sqlx::query(
                "INSERT INTO memberships (id, organization_id, team_id, customer_id, role, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (team_id, customer_id) DO NOTHING",
            )
            .bind(acc.membership_id.0)
            .bind(org.0)
            .bind(inv.team_id.0)
            .bind(customer_id.0)
            .bind(&role)
            .bind(acc.now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE invitations SET status = $1, responded_at = $2, updated_at = $2 WHERE id = $3")
                .bind(STATUS_ACCEPTED)
                .bind(acc.now)
                .bind(inv.id)
                .execute(&mut *tx)
                .await?;
            let inviter: Option<(Uuid, String, String)> =
                sqlx::query_as("SELECT id, email, name FROM customers WHERE id = $1 AND organization_id = $2")
                    .bind(inv.inviter_id)
                    .bind(org.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            let inviter_notified = inviter.is_some();
            if let Some((inviter_id, email, name)) = inviter {
                let message =
                    notice(AcceptedNotice { inviter_email: &email, inviter_name: &name, invitee_name: &invitee_name });
                let inviter_id = Some(CustomerId(inviter_id));
                crate::outbox::insert_message!(&mut *tx, Some(org), inviter_id, &message, acc.now);
            }
            crate::audit::insert_audit!(&mut *tx, &acc.audit);
            tx.commit().await?;
            Ok(Ok(AcceptOutcome { customer_id, organization_id: org, team_id: inv.team_id, inviter_notified }))
        }
        .await
        });
        r.map_err(|e| e.or_conflict(EMAIL_TAKEN))?
    }

    /// Declines an invitation that is still pending and unexpired.
    pub async fn decline_invitation(
        &self,
        org: OrganizationId,
        id: Uuid,
        token_hash: &[u8],
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let r: StoreResult<Result<(), Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let inv = usable_invitation!(&mut *tx, org, id, token_hash, now);
            sqlx::query("UPDATE invitations SET status = $1, responded_at = $2, updated_at = $2 WHERE id = $3")
                .bind(STATUS_DECLINED)
                .bind(now)
                .bind(inv.id)
                .execute(&mut *tx)
                .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(Ok(()))
        }
        .await);
        r?
    }
}
