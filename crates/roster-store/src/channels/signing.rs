//! Webhook signing secrets (Standard Webhooks) and their rotation, and the
//! channel behind an email's one-click unsubscribe link.

use super::{ChannelOwner, ChannelRow, CHANNEL_COLUMNS};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::{CustomerId, OrganizationId, TeamId};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// A rotation: the new secret, and until when the replaced one still signs.
#[derive(Debug, Clone)]
pub struct SigningSecretRotation {
    pub channel: ChannelRow,
    /// `None` when there was no secret to replace.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

/// The channel an unsubscribe link names, with whose it is.
#[derive(Debug, Clone)]
pub struct UnsubscribeTarget {
    pub organization_id: OrganizationId,
    pub owner: ChannelOwner,
    /// The customer's first name, or the team's name.
    pub owner_name: String,
    pub channel: ChannelRow,
}

#[derive(FromRow)]
struct Secrets {
    signing_secret: Option<String>,
    previous_signing_secret: Option<String>,
    previous_secret_expires_at: Option<OffsetDateTime>,
}

#[derive(FromRow)]
struct Owned {
    organization_id: Uuid,
    customer_id: Option<Uuid>,
    team_id: Option<Uuid>,
    owner_name: Option<String>,
}

impl Store {
    /// The secrets a webhook through channel `id` is signed with at `now`:
    /// the current one, and the one it replaced until its overlap ends.
    /// None for a channel without a secret (or no longer there).
    pub async fn channel_signing_secrets(&self, id: Uuid, now: OffsetDateTime) -> StoreResult<Vec<String>> {
        let row: Option<Secrets> = dispatch!(self, read, |pool| {
            sqlx::query_as(
                "SELECT signing_secret, previous_signing_secret, previous_secret_expires_at
                 FROM notification_channels WHERE id = $1 AND type = 'webhook'",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else { return Ok(vec![]) };
        let previous = match (row.previous_signing_secret, row.previous_secret_expires_at) {
            (Some(secret), Some(until)) if until > now => Some(secret),
            _ => None,
        };
        Ok(row.signing_secret.into_iter().chain(previous).collect())
    }

    /// Gives webhook channel `id` the signing secret `secret`; the one it
    /// replaces keeps signing alongside until `previous_until`.
    pub async fn rotate_signing_secret(
        &self,
        id: Uuid,
        secret: &str,
        previous_until: OffsetDateTime,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<SigningSecretRotation> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            // A secret replaced before its overlap ended is dropped: two at most sign.
            sqlx::query(
                "UPDATE notification_channels SET
                   previous_signing_secret = signing_secret,
                   previous_secret_expires_at = CASE WHEN signing_secret IS NULL THEN NULL ELSE $1 END,
                   signing_secret = $2, updated_at = $3
                 WHERE id = $4",
            )
            .bind(previous_until)
            .bind(secret)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1");
            let channel = sqlx::query_as::<_, ChannelRow>(&sql).bind(id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            let previous_secret_expires_at = channel.previous_secret_expires_at;
            SigningSecretRotation { channel, previous_secret_expires_at }
        }))
    }

    /// Channel `id` in any organization, with its owner: for links that
    /// carry their own proof (an unsubscribe token), not for API callers.
    pub async fn unsubscribe_target(&self, id: Uuid) -> StoreResult<Option<UnsubscribeTarget>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1");
        Ok(dispatch!(self, read, |pool| {
            let mut conn = pool.acquire().await?;
            let Some(channel) = sqlx::query_as::<_, ChannelRow>(&sql).bind(id).fetch_optional(&mut *conn).await? else {
                return Ok(None);
            };
            let owned: Owned = sqlx::query_as(
                "SELECT n.organization_id, n.customer_id, n.team_id, COALESCE(c.name, t.name) AS owner_name
                 FROM notification_channels n
                 LEFT JOIN customers c ON c.id = n.customer_id
                 LEFT JOIN teams t ON t.id = n.team_id
                 WHERE n.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            let owner = match (owned.customer_id, owned.team_id) {
                (Some(c), _) => ChannelOwner::Customer(CustomerId(c)),
                (None, Some(t)) => ChannelOwner::Team(TeamId(t)),
                (None, None) => return Ok(None),
            };
            Some(UnsubscribeTarget {
                organization_id: OrganizationId(owned.organization_id),
                owner,
                owner_name: owned.owner_name.unwrap_or_default(),
                channel,
            })
        }))
    }

    /// Switches channel `id` off from an unsubscribe link, once: answers
    /// `false` (and records nothing) when it was off already.
    pub async fn unsubscribe_channel(&self, id: Uuid, audit: &NewAuditEvent, now: OffsetDateTime) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let changed = sqlx::query(
                "UPDATE notification_channels SET enabled = $1, updated_at = $2 WHERE id = $3 AND enabled = $4",
            )
            .bind(false)
            .bind(now)
            .bind(id)
            .bind(true)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if changed {
                crate::audit::insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
            changed
        }))
    }
}
