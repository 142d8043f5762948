//! The TOTP second factor: a customer's (sealed) secret, their one-time
//! recovery codes, and organizations that require a second factor.

use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use time::OffsetDateTime;

/// A customer's second factor as stored.
#[derive(Debug, Clone, Default)]
pub struct TotpState {
    /// The sealed secret: pending enrolment while `enabled_at` is `None`.
    pub secret: Option<String>,
    pub enabled_at: Option<OffsetDateTime>,
}

impl Store {
    pub async fn totp_state(&self, customer: CustomerId) -> StoreResult<TotpState> {
        let row: Option<(Option<String>, Option<OffsetDateTime>)> = dispatch!(self, read, |pool| {
            sqlx::query_as("SELECT totp_secret, totp_enabled_at FROM customers WHERE id = $1")
                .bind(customer.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(secret, enabled_at)| TotpState { secret, enabled_at }).unwrap_or_default())
    }

    /// Stores a pending secret, replacing an earlier pending one. Answers false
    /// (and changes nothing) when a second factor is already active.
    pub async fn start_totp(&self, customer: CustomerId, sealed: &str, now: OffsetDateTime) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query(
                "UPDATE customers SET totp_secret = $1, updated_at = $2 WHERE id = $3 AND totp_enabled_at IS NULL",
            )
            .bind(sealed)
            .bind(now)
            .bind(customer.0)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// Activates the pending secret `sealed` (only if it is still the pending
    /// one) and replaces the recovery codes with `recovery_hashes`. Answers false
    /// when there is no such pending enrolment.
    pub async fn enable_totp(
        &self,
        customer: CustomerId,
        sealed: &str,
        recovery_hashes: &[Vec<u8>],
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let enabled = sqlx::query(
                "UPDATE customers SET totp_enabled_at = $1, updated_at = $1
                 WHERE id = $2 AND totp_secret = $3 AND totp_enabled_at IS NULL",
            )
            .bind(now)
            .bind(customer.0)
            .bind(sealed)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if enabled {
                sqlx::query("DELETE FROM recovery_codes WHERE customer_id = $1")
                    .bind(customer.0)
                    .execute(&mut *tx)
                    .await?;
                for hash in recovery_hashes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (id, customer_id, code_hash, used_at, created_at)
                         VALUES ($1, $2, $3, NULL, $4)",
                    )
                    .bind(uuid::Uuid::now_v7())
                    .bind(customer.0)
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                crate::audit::insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
            enabled
        }))
    }

    /// Removes the second factor (active or pending) and its recovery codes.
    pub async fn disable_totp(
        &self,
        customer: CustomerId,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            sqlx::query(
                "UPDATE customers SET totp_secret = NULL, totp_enabled_at = NULL, updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(customer.0)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM recovery_codes WHERE customer_id = $1").bind(customer.0).execute(&mut *tx).await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Uses up the unused recovery code with `code_hash`. Answers whether there was one.
    pub async fn use_recovery_code(
        &self,
        customer: CustomerId,
        code_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 WHERE customer_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(now)
            .bind(customer.0)
            .bind(code_hash)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// How many of the customer's recovery codes are still unused.
    pub async fn recovery_codes_left(&self, customer: CustomerId) -> StoreResult<i64> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE customer_id = $1 AND used_at IS NULL")
                .bind(customer.0)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Whether the organization requires its members to have a second factor.
    pub async fn organization_requires_totp(&self, org: OrganizationId) -> StoreResult<bool> {
        let r: Option<bool> = dispatch!(self, read, |pool| {
            sqlx::query_scalar("SELECT require_totp FROM organizations WHERE id = $1")
                .bind(org.0)
                .fetch_optional(pool)
                .await?
        });
        Ok(r.unwrap_or(false))
    }
}
