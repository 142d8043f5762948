//! What was sent through a notification channel: an outbox message and its
//! attempts, as the channel's readers may see them.

use crate::{dispatch, NewAuditEvent, Store, StoreResult};
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
    /// The team whose channel it went through; `None` for a personal channel.
    pub channel_team_id: Option<Uuid>,
    /// `verification`, `test` or `alert`.
    pub kind: String,
    /// `pending`, `sending`, `sent`, `failed` or `skipped`.
    pub status: String,
    pub channel_type: String,
    pub alert_id: Option<Uuid>,
    /// Why it was not sent (`muted`, `suppressed`, …), for a skipped delivery.
    pub skip_reason: Option<String>,
    /// When a delivery held for quiet hours goes out.
    pub held_until: Option<OffsetDateTime>,
    /// The failed delivery this one stands in for, through a fallback channel.
    pub fallback_of: Option<Uuid>,
    pub attempts_made: i64,
    pub created_at: OffsetDateTime,
    pub settled_at: Option<OffsetDateTime>,
}

const DELIVERY_COLUMNS: &str =
    "o.id, o.channel_id, c.customer_id AS channel_customer_id, c.team_id AS channel_team_id, \
     o.kind, o.status, o.transport AS channel_type, o.alert_id, o.skip_reason, o.held_until, o.fallback_of, \
     o.attempts AS attempts_made, o.created_at, o.settled_at";

/// Which deliveries a listing shows.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub channel: Option<Uuid>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub alert: Option<Uuid>,
}

/// Why a delivery cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayRefused {
    NotFailed(String),
    /// Verification codes are forgotten once settled: ask for a new code instead.
    SecretForgotten,
    /// The channel is switched off (by its owner or the system), or gone.
    ChannelOff,
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
                &format!(
                    "SELECT {DELIVERY_COLUMNS}
                     FROM outbox o JOIN notification_channels c ON c.id = o.channel_id AND c.organization_id = o.organization_id
                     WHERE o.id = $1 AND o.organization_id = $2"
                ),
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
                         FROM delivery_attempts WHERE message_id = $1 ORDER BY started_at, attempt",
                    )
                    .bind(id.0)
                    .fetch_all(pool)
                    .await?;
                    Some((row, attempts))
                }
            }
        }))
    }

    /// One page of `org`'s channel deliveries, newest first, that the caller
    /// may read: team channels' always, personal channels' only their own
    /// unless `all_personal` (admins and owners); and how many match.
    pub async fn list_deliveries(
        &self,
        org: OrganizationId,
        caller: CustomerId,
        all_personal: bool,
        filter: &DeliveryFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<DeliveryRow>, i64)> {
        let mut cond = String::from("o.organization_id = $1 AND (c.customer_id IS NULL OR c.customer_id = $2 OR $3)");
        let mut n = 3;
        let mut next = |col: &str, cond: &mut String| {
            n += 1;
            cond.push_str(&format!(" AND {col} = ${n}"));
        };
        if filter.channel.is_some() {
            next("o.channel_id", &mut cond);
        }
        if filter.status.is_some() {
            next("o.status", &mut cond);
        }
        if filter.kind.is_some() {
            next("o.kind", &mut cond);
        }
        if filter.alert.is_some() {
            next("o.alert_id", &mut cond);
        }
        let from = "FROM outbox o JOIN notification_channels c ON c.id = o.channel_id AND c.organization_id = o.organization_id";
        let list_sql = format!(
            "SELECT {DELIVERY_COLUMNS} {from} WHERE {cond} ORDER BY o.created_at DESC, o.id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let count_sql = format!("SELECT COUNT(*) {from} WHERE {cond}");
        Ok(dispatch!(self, read, |pool| {
            let mut q = sqlx::query_as::<_, DeliveryRow>(&list_sql).bind(org.0).bind(caller.0).bind(all_personal);
            let mut c = sqlx::query_scalar::<_, i64>(&count_sql).bind(org.0).bind(caller.0).bind(all_personal);
            if let Some(v) = filter.channel {
                q = q.bind(v);
                c = c.bind(v);
            }
            if let Some(v) = &filter.status {
                q = q.bind(v.clone());
                c = c.bind(v.clone());
            }
            if let Some(v) = &filter.kind {
                q = q.bind(v.clone());
                c = c.bind(v.clone());
            }
            if let Some(v) = filter.alert {
                q = q.bind(v);
                c = c.bind(v);
            }
            let rows = q.bind(limit).bind(offset).fetch_all(pool).await?;
            (rows, c.fetch_one(pool).await?)
        }))
    }

    /// Queues a failed delivery again, due at once with a fresh schedule; its
    /// earlier attempts stay on record. Refused unless it failed, carries no
    /// forgotten secret, and its channel is switched on.
    pub async fn replay_delivery(
        &self,
        org: OrganizationId,
        id: MessageId,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<Result<(), ReplayRefused>> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let row: Option<(String, String, Option<bool>, Option<OffsetDateTime>)> = sqlx::query_as(
                "SELECT o.status, o.kind, c.enabled, c.disabled_by_system_at
                 FROM outbox o LEFT JOIN notification_channels c ON c.id = o.channel_id
                 WHERE o.id = $1 AND o.organization_id = $2",
            )
            .bind(id.0)
            .bind(org.0)
            .fetch_optional(&mut *tx)
            .await?;
            let refused = match row {
                None => Some(ReplayRefused::ChannelOff),
                Some((status, _, _, _)) if status != "failed" => Some(ReplayRefused::NotFailed(status)),
                Some((_, kind, _, _)) if kind == "verification" => Some(ReplayRefused::SecretForgotten),
                Some((_, _, Some(true), None)) => None,
                Some(_) => Some(ReplayRefused::ChannelOff),
            };
            match refused {
                Some(why) => Err(why),
                None => {
                    sqlx::query(
                        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, settled_at = NULL,
                                last_error = NULL, updated_at = $1
                         WHERE id = $2 AND status = 'failed'",
                    )
                    .bind(now)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
                    crate::audit::insert_audit!(&mut *tx, audit);
                    tx.commit().await?;
                    Ok(())
                }
            }
        }))
    }
}
