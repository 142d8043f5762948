//! What was sent through a notification channel: an outbox message and its
//! attempts, as the channel's readers may see them.

use crate::{dispatch, Store, StoreResult};
use roster_core::ids::{CustomerId, MessageId, OrganizationId};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// A channel's message. Account messages (sign-up codes, invitations) have
/// no channel and are never read through here.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    #[sqlx(try_from = "Uuid")]
    pub id: MessageId,
    pub channel_id: Uuid,
    /// The customer whose personal channel it went through; `None` for a team's channel.
    pub channel_customer_id: Option<Uuid>,
    /// `verification`, `test` or `alert`.
    pub kind: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: String,
    pub created_at: OffsetDateTime,
    pub settled_at: Option<OffsetDateTime>,
}

impl DeliveryRow {
    /// The owner of the personal channel, if it is one.
    pub fn personal_owner(&self) -> Option<CustomerId> {
        self.channel_customer_id.map(CustomerId)
    }
}

/// One attempt, without the operator-only detail.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryAttemptRow {
    pub attempt: i64,
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    /// `sent`, `retry` or `failed`.
    pub outcome: String,
    pub status_code: Option<i64>,
    pub error_class: Option<String>,
}

impl Store {
    /// The message `id` of `org` that went through one of the organization's
    /// channels, with its attempts in order; `None` when there is no such
    /// message (another organization's, an account message, or none at all).
    pub async fn channel_delivery(
        &self,
        org: OrganizationId,
        id: MessageId,
    ) -> StoreResult<Option<(DeliveryRow, Vec<DeliveryAttemptRow>)>> {
        Ok(dispatch!(self, read, |pool| {
            let row: Option<DeliveryRow> = sqlx::query_as(
                "SELECT o.id, o.channel_id, c.customer_id AS channel_customer_id, o.kind, o.status, o.created_at, o.settled_at
                 FROM outbox o JOIN notification_channels c ON c.id = o.channel_id AND c.organization_id = o.organization_id
                 WHERE o.id = $1 AND o.organization_id = $2",
            )
            .bind(id.0)
            .bind(org.0)
            .fetch_optional(pool)
            .await?;
            match row {
                None => None,
                Some(row) => {
                    let attempts = sqlx::query_as(
                        "SELECT attempt, started_at, duration_ms, outcome, status_code, error_class
                         FROM delivery_attempts WHERE message_id = $1 ORDER BY attempt, started_at",
                    )
                    .bind(id.0)
                    .fetch_all(pool)
                    .await?;
                    Some((row, attempts))
                }
            }
        }))
    }
}
