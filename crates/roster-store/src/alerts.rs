//! Alerts: a notify call, its fan-out to channels as outbox messages, and its idempotency key.
//!
//! The service decides which channel hears of an alert (roster_core::alert);
//! this module reads the candidates and writes the outcome: the alert, one
//! outbox row per channel (pending, held until quiet hours end, or skipped
//! with its reason) and the audit record, in one transaction. A replayed
//! idempotency key answers the first call's stored response.

use crate::channels::ChannelOwner;
use crate::{dispatch, NewAuditEvent, Store, StoreError, StoreResult};
use roster_core::ids::{OrganizationId, ServiceId};
use sqlx::FromRow;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long an idempotency key answers with the first response.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::hours(24);

/// A channel that may hear of an alert, with what decides it.
#[derive(Debug, Clone, FromRow)]
pub struct CandidateChannel {
    pub id: Uuid,
    /// The customer whose personal channel it is; `None` for a team's channel.
    pub customer_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    /// The customer's first name or the team's name.
    pub owner_name: String,
    pub channel_type: String,
    pub value: String,
    pub priority: i64,
    pub enabled: bool,
    pub verified_at: Option<OffsetDateTime>,
    pub mute: String,
    pub suppress_up: bool,
    pub suppress_down: bool,
    pub suppress_first: bool,
    pub suppress_diagnostic: bool,
    pub suppress_all: bool,
    pub bypass_quiet_hours: bool,
    pub webhook_config: Option<sqlx::types::Json<serde_json::Value>>,
    pub disabled_by_system_at: Option<OffsetDateTime>,
    /// The personal channel's owner's quiet hours (JSON), if set.
    pub quiet_hours: Option<sqlx::types::Json<serde_json::Value>>,
}

/// Who an alert goes to, as found in the organization.
#[derive(Debug, Clone)]
pub struct AlertAudience {
    /// The team's or customer's name.
    pub name: String,
    /// In order: the owner's channels by priority, then (for a team, when
    /// asked) each active member's personal channels by priority.
    pub channels: Vec<CandidateChannel>,
}

const CANDIDATE_COLUMNS: &str =
    "c.id, c.customer_id, c.team_id, c.type AS channel_type, c.value, c.priority, c.enabled, \
     c.verified_at, c.mute, c.suppress_up, c.suppress_down, c.suppress_first, c.suppress_diagnostic, c.suppress_all, \
     c.bypass_quiet_hours, c.webhook_config, c.disabled_by_system_at";

/// One outbox row of an alert.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Uuid,
    pub channel_id: Uuid,
    /// Set for personal channels: the outbox row belongs to that customer.
    pub customer_id: Option<Uuid>,
    pub transport: &'static str,
    pub recipient: String,
    pub data: serde_json::Value,
    /// `None`: send now. `Some(t)`: held until `t` (quiet hours).
    pub held_until: Option<OffsetDateTime>,
    /// `Some(reason)`: not sent, recorded as skipped.
    pub skip_reason: Option<&'static str>,
}

/// An alert to record with its deliveries.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub owner: ChannelOwner,
    pub event: &'static str,
    pub urgency: &'static str,
    pub service_id: Option<ServiceId>,
    pub title: String,
    pub message: String,
    pub idempotency_key: Option<String>,
    /// A digest of the request, to tell a replay from a different request under the same key.
    pub request_digest: String,
    /// `queued` or `unreachable`.
    pub status: &'static str,
    /// The answer, replayed as is for the same key.
    pub response: serde_json::Value,
    pub created_by: Option<Uuid>,
    pub deliveries: Vec<NewDelivery>,
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

/// What recording an alert came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Recorded now; its deliveries are queued.
    New,
    /// The key was used in the last 24 hours: the first call's status and answer.
    Replayed { status: String, response: serde_json::Value },
    /// The key was used in the last 24 hours for a different request.
    KeyReused,
}

/// A stored alert with its key, as a replay needs it.
#[derive(Debug, Clone, FromRow)]
struct KeyedAlert {
    id: Uuid,
    request_digest: Option<String>,
    status: String,
    response: sqlx::types::Json<serde_json::Value>,
    created_at: OffsetDateTime,
}

impl Store {
    /// The alert's audience in `org`: `None` when the team or customer is
    /// not in the organization. Suspended people are never alerted.
    pub async fn alert_audience(
        &self,
        org: OrganizationId,
        owner: ChannelOwner,
        include_members: bool,
    ) -> StoreResult<Option<AlertAudience>> {
        let owned = format!(
            "SELECT {CANDIDATE_COLUMNS}, o.name AS owner_name, {quiet} AS quiet_hours
             FROM notification_channels c JOIN {table} o ON o.id = c.owner_id
             WHERE c.owner_id = $1 AND c.organization_id = $2 {active}
             ORDER BY c.priority, c.id",
            quiet = if owner.customer().is_some() { "o.quiet_hours" } else { "NULL" },
            table = if owner.customer().is_some() { "customers" } else { "teams" },
            active = if owner.customer().is_some() { "AND o.status = 'active'" } else { "" },
        );
        let members = format!(
            "SELECT {CANDIDATE_COLUMNS}, p.name AS owner_name, p.quiet_hours
             FROM memberships m
             JOIN customers p ON p.id = m.customer_id AND p.status = 'active'
             JOIN notification_channels c ON c.customer_id = p.id
             WHERE m.team_id = $1 AND m.organization_id = $2
             ORDER BY m.created_at, m.id, c.priority, c.id"
        );
        let name_sql = match owner {
            ChannelOwner::Customer(_) => "SELECT name FROM customers WHERE id = $1 AND organization_id = $2",
            ChannelOwner::Team(_) => "SELECT name FROM teams WHERE id = $1 AND organization_id = $2",
        };
        Ok(dispatch!(self, read, |pool| {
            let mut conn = pool.acquire().await?;
            let name: Option<String> =
                sqlx::query_scalar(name_sql).bind(owner.id()).bind(org.0).fetch_optional(&mut *conn).await?;
            match name {
                None => None,
                Some(name) => {
                    let mut channels: Vec<CandidateChannel> =
                        sqlx::query_as(&owned).bind(owner.id()).bind(org.0).fetch_all(&mut *conn).await?;
                    if include_members && owner.team().is_some() {
                        let more: Vec<CandidateChannel> =
                            sqlx::query_as(&members).bind(owner.id()).bind(org.0).fetch_all(&mut *conn).await?;
                        channels.extend(more);
                    }
                    Some(AlertAudience { name, channels })
                }
            }
        }))
    }

    /// A service's name, when it is one of `org`'s.
    pub async fn service_name(&self, org: OrganizationId, id: ServiceId) -> StoreResult<Option<String>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_scalar("SELECT name FROM services WHERE id = $1 AND organization_id = $2")
                .bind(id.0)
                .bind(org.0)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Records the alert, its deliveries and its audit record at once, unless
    /// its idempotency key was used in the last 24 hours: then nothing is
    /// written and the first call's answer is returned.
    pub async fn record_alert(&self, alert: &NewAlert) -> StoreResult<Recorded> {
        match self.try_record_alert(alert).await {
            // Two calls with one key raced on PostgreSQL: the loser reads the winner's answer.
            Err(StoreError::UniqueViolation(_)) if alert.idempotency_key.is_some() => {
                match self.try_record_alert(alert).await? {
                    Recorded::New => Err(StoreError::UniqueViolation("alerts_by_idempotency_key".into())),
                    replay => Ok(replay),
                }
            }
            other => other,
        }
    }

    async fn try_record_alert(&self, a: &NewAlert) -> StoreResult<Recorded> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let previous: Option<KeyedAlert> = match &a.idempotency_key {
                None => None,
                Some(key) => {
                    sqlx::query_as(
                        "SELECT id, request_digest, status, response, created_at FROM alerts
                         WHERE organization_id = $1 AND idempotency_key = $2",
                    )
                    .bind(a.organization_id.0)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?
                }
            };
            let replay = match previous {
                Some(p) if p.created_at + IDEMPOTENCY_WINDOW > a.now => {
                    Some(if p.request_digest.as_deref() == Some(a.request_digest.as_str()) {
                        Recorded::Replayed { status: p.status, response: p.response.0 }
                    } else {
                        Recorded::KeyReused
                    })
                }
                Some(expired) => {
                    // The key is free again after its window; the old alert keeps its history.
                    sqlx::query("UPDATE alerts SET idempotency_key = NULL WHERE id = $1")
                        .bind(expired.id)
                        .execute(&mut *tx)
                        .await?;
                    None
                }
                None => None,
            };
            match replay {
                Some(replay) => replay,
                None => {
                    sqlx::query(
                        "INSERT INTO alerts (id, organization_id, team_id, customer_id, owner_id, event, urgency, service_id,
                                             title, message, idempotency_key, request_digest, status, response, created_by, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    )
                    .bind(a.id)
                    .bind(a.organization_id.0)
                    .bind(a.owner.team().map(|t| t.0))
                    .bind(a.owner.customer().map(|c| c.0))
                    .bind(a.owner.id())
                    .bind(a.event)
                    .bind(a.urgency)
                    .bind(a.service_id.map(|s| s.0))
                    .bind(&a.title)
                    .bind(&a.message)
                    .bind(&a.idempotency_key)
                    .bind(&a.request_digest)
                    .bind(a.status)
                    .bind(sqlx::types::Json(&a.response))
                    .bind(a.created_by)
                    .bind(a.now)
                    .execute(&mut *tx)
                    .await?;
                    for d in &a.deliveries {
                        let (status, settled_at) = match d.skip_reason {
                            Some(_) => ("skipped", Some(a.now)),
                            None => ("pending", None),
                        };
                        sqlx::query(
                            "INSERT INTO outbox (id, organization_id, customer_id, transport, template, recipient, data, secret,
                                                 status, attempts, next_attempt_at, lease_token, lease_expires_at, last_error,
                                                 created_at, updated_at, settled_at, channel_id, kind, alert_id, skip_reason, held_until)
                             VALUES ($1, $2, $3, $4, 'alert', $5, $6, NULL, $7, 0, $8, NULL, NULL, NULL, $9, $9, $10, $11,
                                     'alert', $12, $13, $14)",
                        )
                        .bind(d.id)
                        .bind(a.organization_id.0)
                        .bind(d.customer_id)
                        .bind(d.transport)
                        .bind(&d.recipient)
                        .bind(sqlx::types::Json(&d.data))
                        .bind(status)
                        .bind(d.held_until.unwrap_or(a.now))
                        .bind(a.now)
                        .bind(settled_at)
                        .bind(d.channel_id)
                        .bind(a.id)
                        .bind(d.skip_reason)
                        .bind(d.held_until)
                        .execute(&mut *tx)
                        .await?;
                    }
                    crate::audit::insert_audit!(&mut *tx, &a.audit);
                    tx.commit().await?;
                    Recorded::New
                }
            }
        }))
    }

    /// Forgets idempotency keys older than their window, so the index stays small.
    pub async fn expire_idempotency_keys(&self, now: OffsetDateTime) -> StoreResult<u64> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query(
                "UPDATE alerts SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND created_at <= $1",
            )
            .bind(now - IDEMPOTENCY_WINDOW)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
