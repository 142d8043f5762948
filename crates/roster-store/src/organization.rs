//! The organization itself: its settings, the two-step transfer of its
//! ownership, and the domains its status pages answer on.

use crate::rows::*;
use crate::teams::{commit_audited_if, fetch_page, lock_organization, set_role};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::message::NewMessage;
use roster_core::plan::Usage;
use roster_core::role::Role;
use roster_core::Error;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

const ORGANIZATION_COLUMNS: &str = "id, name, slug, plan, trial_ends_at, logo_url, active, created_at, updated_at";
const OFFER_COLUMNS: &str = "organization_id, from_customer_id, to_customer_id, created_at, expires_at";
const DOMAIN_COLUMNS: &str = "id, organization_id, hostname, created_at, updated_at";
const DOMAIN_TAKEN: &str = "this hostname is already registered";

/// An organization with its first owner and what it uses of its plan.
#[derive(Debug, Clone)]
pub struct OrganizationOverview {
    pub organization: OrganizationRow,
    /// The earliest-created owner; `None` only if the one-owner rule was broken.
    pub owner_id: Option<CustomerId>,
    pub usage: Usage,
}

/// A pending offer of ownership (at most one per organization).
#[derive(Debug, Clone, FromRow)]
pub struct OwnershipOfferRow {
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    #[sqlx(try_from = "Uuid")]
    pub from_customer_id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub to_customer_id: CustomerId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A hostname an organization's status pages answer on.
#[derive(Debug, Clone, FromRow)]
pub struct TeamDomainRow {
    pub id: Uuid,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    pub hostname: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Who an offer of ownership is between, as found inside the offering transaction.
pub struct OfferParties<'a> {
    pub organization: &'a OrganizationRow,
    pub from: &'a CustomerRow,
    pub to: &'a CustomerRow,
}

/// An offer of ownership to make.
#[derive(Debug, Clone)]
pub struct NewOwnershipOffer {
    pub organization_id: OrganizationId,
    pub from: CustomerId,
    pub to: CustomerId,
    pub expires_at: OffsetDateTime,
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

impl Store {
    /// The organization with its owner and usage; `None` when it does not exist.
    pub async fn organization_overview(&self, org: OrganizationId) -> StoreResult<Option<OrganizationOverview>> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1");
        Ok(dispatch!(self, read, |pool| {
            let mut conn = pool.acquire().await?;
            let Some(organization) =
                sqlx::query_as::<_, OrganizationRow>(&sql).bind(org.0).fetch_optional(&mut *conn).await?
            else {
                return Ok(None);
            };
            let owner: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM customers WHERE organization_id = $1 AND role = $2 ORDER BY created_at, id LIMIT 1",
            )
            .bind(org.0)
            .bind(Role::Root.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            let usage = crate::customers::usage!(&mut *conn, org);
            Some(OrganizationOverview { organization, owner_id: owner.map(CustomerId), usage })
        }))
    }

    /// Renames the organization, sets its logo (`Some(None)` removes it)
    /// and/or whether it requires a second factor. The slug stays: links
    /// people saved keep working. Answers whether the organization exists.
    pub async fn update_organization(
        &self,
        org: OrganizationId,
        name: Option<&str>,
        logo_url: Option<Option<&str>>,
        require_totp: Option<bool>,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let updated = sqlx::query(
                "UPDATE organizations SET name = COALESCE($1, name),
                        logo_url = CASE WHEN $2 THEN $3 ELSE logo_url END, updated_at = $4,
                        require_totp = CASE WHEN $6 THEN $7 ELSE require_totp END
                 WHERE id = $5",
            )
            .bind(name)
            .bind(logo_url.is_some())
            .bind(logo_url.flatten())
            .bind(now)
            .bind(org.0)
            .bind(require_totp.is_some())
            .bind(require_totp.unwrap_or(false))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            commit_audited_if!(tx, updated, audit)
        }))
    }

    /// Offers ownership to a customer of the organization, replacing any
    /// pending offer, and queues the email `message` builds for the recipient.
    /// The recipient must be someone else, able to log in and active.
    pub async fn offer_ownership(
        &self,
        offer: &NewOwnershipOffer,
        message: impl FnOnce(OfferParties<'_>) -> NewMessage + Send,
    ) -> Result<OwnershipOfferRow, Error> {
        let dialect = self.dialect();
        let org_sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1");
        let customer_sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1 AND organization_id = $2");
        let upsert_sql = format!(
            "INSERT INTO ownership_transfers ({OFFER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (organization_id) DO UPDATE SET from_customer_id = excluded.from_customer_id,
               to_customer_id = excluded.to_customer_id, created_at = excluded.created_at, expires_at = excluded.expires_at
             RETURNING {OFFER_COLUMNS}"
        );
        let o = offer;
        let r: StoreResult<Result<OwnershipOfferRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            lock_organization!(&mut *tx, dialect, o.organization_id);
            let Some(organization) = sqlx::query_as::<_, OrganizationRow>(&org_sql)
                .bind(o.organization_id.0)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Err(Error::NotFound("organization")));
            };
            let from = sqlx::query_as::<_, CustomerRow>(&customer_sql)
                .bind(o.from.0)
                .bind(o.organization_id.0)
                .fetch_optional(&mut *tx)
                .await?;
            // The offerer's role is read again here: it may have changed since the request was authorized.
            let Some(from) = from.filter(|f| f.role == Role::Root) else {
                return Ok(Err(Error::Forbidden("only an owner offers ownership".into())));
            };
            let Some(to) = sqlx::query_as::<_, CustomerRow>(&customer_sql)
                .bind(o.to.0)
                .bind(o.organization_id.0)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Err(Error::NotFound("customer")));
            };
            if let Err(e) = check_recipient(&from, &to) {
                return Ok(Err(e));
            }
            let row = sqlx::query_as::<_, OwnershipOfferRow>(&upsert_sql)
                .bind(o.organization_id.0)
                .bind(o.from.0)
                .bind(o.to.0)
                .bind(o.now)
                .bind(o.expires_at)
                .fetch_one(&mut *tx)
                .await?;
            let email = message(OfferParties { organization: &organization, from: &from, to: &to });
            crate::outbox::insert_message!(&mut *tx, Some(o.organization_id), Some(o.to), &email, o.now);
            crate::audit::insert_audit!(&mut *tx, &o.audit);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r?
    }

    /// Withdraws the organization's pending offer of ownership. Answers whether there was one.
    pub async fn cancel_ownership_offer(&self, org: OrganizationId, audit: &NewAuditEvent) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let deleted = sqlx::query("DELETE FROM ownership_transfers WHERE organization_id = $1")
                .bind(org.0)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            commit_audited_if!(tx, deleted, audit)
        }))
    }

    /// Accepts the organization's pending offer on behalf of its recipient:
    /// they become an owner and the offerer, if still one, an admin, so
    /// ownership moves and the organization keeps an owner throughout. No
    /// offer to `customer` is not found; an expired one is gone. The audit
    /// record gets the offerer's id added to its data.
    pub async fn accept_ownership(
        &self,
        org: OrganizationId,
        customer: CustomerId,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<OwnershipOfferRow, Error> {
        let dialect = self.dialect();
        let offer_sql = format!("SELECT {OFFER_COLUMNS} FROM ownership_transfers WHERE organization_id = $1");
        let r: StoreResult<Result<OwnershipOfferRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            lock_organization!(&mut *tx, dialect, org);
            let offer = sqlx::query_as::<_, OwnershipOfferRow>(&offer_sql).bind(org.0).fetch_optional(&mut *tx).await?;
            let Some(offer) = offer.filter(|o| o.to_customer_id == customer) else {
                return Ok(Err(Error::NotFound("ownership offer")));
            };
            if offer.expires_at <= now {
                return Ok(Err(Error::Gone(
                    "the offer of ownership has expired; ask an owner to offer it again".into(),
                )));
            }
            set_role!(&mut *tx, org, customer, Role::Root, None::<Role>, now);
            set_role!(&mut *tx, org, offer.from_customer_id, Role::Admin, Some(Role::Root), now);
            sqlx::query("DELETE FROM ownership_transfers WHERE organization_id = $1")
                .bind(org.0)
                .execute(&mut *tx)
                .await?;
            // The handler cannot know who offered; the record names them.
            let mut event = audit.clone();
            if let Some(data) = event.data.as_object_mut() {
                data.insert("from_customer_id".into(), offer.from_customer_id.to_string().into());
            }
            crate::audit::insert_audit!(&mut *tx, &event);
            tx.commit().await?;
            Ok(Ok(offer))
        }
        .await);
        r?
    }

    /// The organization's status-page domains, oldest first, paged.
    pub async fn list_team_domains(
        &self,
        org: OrganizationId,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<TeamDomainRow>, i64)> {
        let sql = format!(
            "SELECT {DOMAIN_COLUMNS} FROM team_domains WHERE organization_id = $1
             ORDER BY created_at, id LIMIT $2 OFFSET $3"
        );
        let count_sql = "SELECT COUNT(*) FROM team_domains WHERE organization_id = $1";
        Ok(dispatch!(self, read, |pool| fetch_page!(pool, TeamDomainRow, &sql, count_sql, (org.0), limit, offset)))
    }

    /// Registers a hostname for the organization. A hostname any
    /// organization already has is a conflict.
    pub async fn add_team_domain(
        &self,
        org: OrganizationId,
        id: Uuid,
        hostname: &str,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<TeamDomainRow, Error> {
        let sql = format!(
            "INSERT INTO team_domains ({DOMAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $4) RETURNING {DOMAIN_COLUMNS}"
        );
        let r: StoreResult<Result<TeamDomainRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM team_domains WHERE hostname = $1")
                .bind(hostname)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Ok(Err(Error::Conflict(DOMAIN_TAKEN.into())));
            }
            let row = sqlx::query_as::<_, TeamDomainRow>(&sql)
                .bind(id)
                .bind(org.0)
                .bind(hostname)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        // Two organizations racing for one hostname on PostgreSQL: the index decides.
        r.map_err(|e| e.or_conflict(DOMAIN_TAKEN))?
    }

    /// Removes one of the organization's domains. Answers whether it had it.
    pub async fn delete_team_domain(&self, org: OrganizationId, id: Uuid, audit: &NewAuditEvent) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let deleted = sqlx::query("DELETE FROM team_domains WHERE id = $1 AND organization_id = $2")
                .bind(id)
                .bind(org.0)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            commit_audited_if!(tx, deleted, audit)
        }))
    }
}

/// Whether `to` may be offered ownership by `from`.
fn check_recipient(from: &CustomerRow, to: &CustomerRow) -> Result<(), Error> {
    let refuse = |code, message: &str| Err(Error::invalid("customer_id", code, message));
    if to.id == from.id {
        return refuse("self", "is you: offer ownership to someone else");
    }
    if !to.role.can_log_in() {
        return refuse("cannot_log_in", "receives notifications only and cannot log in to accept ownership");
    }
    if to.status != "active" {
        return refuse("inactive", "is suspended: reactivate them before offering ownership");
    }
    Ok(())
}
