//! The outbox: messages written with the change that caused them, claimed
//! by workers under a lease, settled with a record of every attempt.

use crate::{dispatch, Dialect, Store, StoreResult};
use roster_core::ids::MessageId;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A new pending message, due at `$9`: the row [`queue_message!`] writes.
pub(crate) const INSERT_MESSAGE: &str =
    "INSERT INTO outbox (id, organization_id, customer_id, transport, template, recipient, data, secret, status,
                         attempts, next_attempt_at, lease_token, lease_expires_at, last_error, created_at, updated_at,
                         settled_at, channel_id, kind)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, NULL, NULL, NULL, $9, $9, NULL, $10, $11)";

/// The kind of a message to an account rather than through a channel (codes,
/// invitations): the column's default.
pub(crate) const ACCOUNT: &str = "account";

/// Queues `$msg` of `$kind` (to customer `$customer` of `$org`, through channel
/// `$channel` when it has one, all `Option<Uuid>`) inside the caller's
/// transaction; a rolled-back change sends nothing. Evaluates to its id.
macro_rules! queue_message {
    ($conn:expr, $org:expr, $customer:expr, $channel:expr, $kind:expr, $msg:expr, $now:expr) => {{
        let m: &roster_core::message::NewMessage = $msg;
        let (org, customer, channel): (Option<uuid::Uuid>, Option<uuid::Uuid>, Option<uuid::Uuid>) =
            ($org, $customer, $channel);
        let id = roster_core::ids::MessageId::new();
        sqlx::query($crate::outbox::INSERT_MESSAGE)
            .bind(id.0)
            .bind(org)
            .bind(customer)
            .bind(m.transport.as_str())
            .bind(m.template.as_str())
            .bind(&m.recipient)
            .bind(sqlx::types::Json(&m.data))
            .bind(&m.secret)
            .bind($now)
            .bind(channel)
            .bind($kind)
            .execute(&mut *$conn)
            .await?;
        id
    }};
}
pub(crate) use queue_message;

/// Queues `$msg` to an account inside the caller's transaction.
macro_rules! insert_message {
    ($conn:expr, $org:expr, $customer:expr, $msg:expr, $now:expr) => {{
        let org: Option<roster_core::ids::OrganizationId> = $org;
        let customer: Option<roster_core::ids::CustomerId> = $customer;
        let customer = customer.map(|i| i.0);
        $crate::outbox::queue_message!($conn, org.map(|i| i.0), customer, None, $crate::outbox::ACCOUNT, $msg, $now);
    }};
}
pub(crate) use insert_message;

/// The outbox kind of an alert.
const ALERT: &str = "alert";

/// What settling a message reads back, for what follows from it.
#[derive(Debug, sqlx::FromRow)]
struct SettledRow {
    attempts: i64,
    channel_id: Option<Uuid>,
    kind: String,
    template: String,
    data: sqlx::types::Json<serde_json::Value>,
    alert_id: Option<Uuid>,
    fallback_of: Option<Uuid>,
}

/// Inside the caller's transaction, queues the alert of failed message
/// `$failed` (read back as `$row`) through the fallback of channel
/// `$channel`, when that is another channel of the same owner, usable (on,
/// verified, not muted, not off by the system) and not already carrying the
/// same alert (pending or sent: it needs no stand-in). Its suppress flags do
/// not count: naming it a fallback asks for it, and a channel that
/// suppresses every event is how an owner keeps one for escalation only.
/// Evaluates to the new message's id.
macro_rules! queue_fallback {
    ($conn:expr, $failed:expr, $channel:expr, $row:expr, $now:expr) => {{
        use crate::channel_health::{ChannelTarget, TARGET_COLUMNS};
        let failed: MessageId = $failed;
        let row: &SettledRow = $row;
        let sql = format!(
            "SELECT {TARGET_COLUMNS} FROM notification_channels
             WHERE id = (SELECT fallback_channel_id FROM notification_channels WHERE id = $1)
               AND owner_id = (SELECT owner_id FROM notification_channels WHERE id = $1) AND id <> $1"
        );
        let fallback: Option<ChannelTarget> = sqlx::query_as(&sql).bind($channel).fetch_optional(&mut *$conn).await?;
        match fallback {
            Some(target) if target.usable($now) => {
                let carried: Option<i32> = match row.alert_id {
                    None => None,
                    Some(alert) => {
                        sqlx::query_scalar(
                            "SELECT 1 FROM outbox WHERE alert_id = $1 AND channel_id = $2
                               AND status IN ('pending', 'sending', 'sent')",
                        )
                        .bind(alert)
                        .bind(target.id)
                        .fetch_optional(&mut *$conn)
                        .await?
                    }
                };
                match carried {
                    Some(_) => None,
                    None => Some(crate::channel_health::insert_on_channel!(
                        &mut *$conn,
                        &target,
                        ALERT,
                        row.template.as_str(),
                        &row.data.0,
                        row.alert_id,
                        Some(failed.0),
                        $now
                    )),
                }
            }
            _ => None,
        }
    }};
}

/// A message a worker holds under a lease.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedMessage {
    #[sqlx(try_from = "Uuid")]
    pub id: MessageId,
    pub transport: String,
    pub template: String,
    pub recipient: String,
    pub data: sqlx::types::Json<serde_json::Value>,
    pub secret: Option<String>,
    /// The notification channel the message goes through; `None` for account
    /// messages (and for channel messages whose channel was deleted since).
    pub channel_id: Option<Uuid>,
    /// `account`, `verification`, `test`, `alert` or `notice` (a channel's owner told
    /// that the system turned one of their channels off).
    pub kind: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub lease_token: Uuid,
    pub created_at: OffsetDateTime,
    /// Until when an alert waited for quiet hours to end.
    pub held_until: Option<OffsetDateTime>,
    pub alert_id: Option<Uuid>,
    /// The failed message this one stands in for, through a fallback channel.
    pub fallback_of: Option<Uuid>,
}

/// One try at sending, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    /// `sent`, `retry` or `failed`.
    pub outcome: &'static str,
    pub status_code: Option<i64>,
    /// A stable class: `timeout`, `connect`, `rejected`, `smtp_permanent`, `expired`, …
    pub error_class: Option<&'static str>,
    /// Internal detail for operators; never shown to API callers.
    pub error_detail: Option<String>,
}

/// What becomes of a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Try again at this time.
    Retry(OffsetDateTime),
    /// Given up on. An alert's failure queues its channel's fallback, when it has a usable one.
    Failed,
    /// Not sent, and not an attempt: the channel was switched off, muted or deleted meanwhile.
    Skipped(&'static str),
}

impl Outcome {
    fn status(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retry(_) => "pending",
            Outcome::Failed => "failed",
            Outcome::Skipped(_) => "skipped",
        }
    }
}

/// A claimed message's outcome, recorded at once with what follows from it.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub id: MessageId,
    pub lease_token: Uuid,
    pub outcome: Outcome,
    /// The attempt to record; `None` for a skipped message, which was not tried.
    pub attempt: Option<AttemptRecord>,
    pub health: Option<crate::channel_health::HealthUpdate>,
    pub now: OffsetDateTime,
}

/// What settling a message did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// False when the lease was lost to another worker; then nothing was written.
    pub recorded: bool,
    /// The system turned the message's channel off just now.
    pub channel_disabled: bool,
    /// The message queued through the channel's fallback.
    pub fallback: Option<MessageId>,
}

/// The state of a channel message's channel when it is claimed, and when the
/// alert it carries fell due.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryGate {
    /// `None` when the channel was deleted.
    pub channel_id: Option<Uuid>,
    pub enabled: Option<bool>,
    pub disabled_by_system_at: Option<OffsetDateTime>,
    /// As stored: `false`, `true` or an RFC 3339 time.
    pub mute: Option<String>,
    /// When the alert fell due: the end of its quiet-hours hold or its
    /// creation; for a fallback message, the original's.
    pub due_since: OffsetDateTime,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub skipped: i64,
}

impl OutboxCounts {
    /// Messages not yet settled.
    pub fn unsettled(&self) -> i64 {
        self.pending + self.sending
    }

    /// Every message, whatever its state.
    pub fn total(&self) -> i64 {
        self.pending + self.sending + self.sent + self.failed + self.skipped
    }
}

impl Store {
    /// Leases up to `limit` due messages (pending ones whose time has come,
    /// and ones whose previous lease ran out) to the caller for `lease`.
    /// On PostgreSQL, concurrent workers skip each other's rows.
    pub async fn claim_due_messages(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedMessage>> {
        let lock = match self.dialect() {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        // Each kind of due message is read in index order and stops at the
        // limit (`outbox_due` holds pending ones by time; leases are few), so a
        // claim costs the same whatever the backlog. One `OR` across both kinds
        // made the databases gather and sort every due message first.
        let sql = format!(
            "WITH due AS (
                SELECT id, next_attempt_at FROM outbox WHERE status = 'pending' AND next_attempt_at <= $3
                ORDER BY next_attempt_at, id LIMIT $4 {lock}
             ), lapsed AS (
                SELECT id, next_attempt_at FROM outbox WHERE status = 'sending' AND lease_expires_at <= $3
                ORDER BY next_attempt_at, id LIMIT $4 {lock}
             )
             UPDATE outbox SET status = 'sending', lease_token = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3
             WHERE id IN (
                SELECT id FROM (SELECT id, next_attempt_at FROM due UNION ALL SELECT id, next_attempt_at FROM lapsed) AS d
                ORDER BY next_attempt_at, id LIMIT $4)
             RETURNING id, transport, template, recipient, data, secret, channel_id, kind, attempts, lease_token,
                       created_at, held_until, alert_id, fallback_of"
        );
        Ok(dispatch!(self, write, |pool| {
            sqlx::query_as::<_, ClaimedMessage>(&sql)
                .bind(Uuid::now_v7())
                .bind(now + lease)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The state of message `id`'s channel, read before an alert goes out;
    /// `None` when there is no such message.
    pub async fn delivery_gate(&self, id: MessageId) -> StoreResult<Option<DeliveryGate>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, DeliveryGate>(
                "SELECT c.id AS channel_id, c.enabled, c.disabled_by_system_at, c.mute,
                        COALESCE(f.held_until, f.created_at, m.held_until, m.created_at) AS due_since
                 FROM outbox m
                 LEFT JOIN notification_channels c ON c.id = m.channel_id
                 LEFT JOIN outbox f ON f.id = m.fallback_of
                 WHERE m.id = $1",
            )
            .bind(id.0)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records an attempt (if any) and settles the message, in one
    /// transaction with what follows: the channel's health (which may turn it
    /// off and tell its owner) and, for an alert given up on, a message
    /// through the channel's fallback. Changes nothing when the lease was
    /// lost to another worker: a slow worker never overwrites the outcome of
    /// the one that took over.
    pub async fn settle_delivery(&self, s: &Settlement) -> StoreResult<Settled> {
        let status = s.outcome.status();
        let (next_attempt, skip_reason) = match &s.outcome {
            Outcome::Retry(at) => (Some(*at), None),
            Outcome::Skipped(reason) => (None, Some(*reason)),
            Outcome::Sent | Outcome::Failed => (None, None),
        };
        let last_error = s.attempt.as_ref().and_then(|a| a.error_class);
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            // A skipped message was not tried: its claim does not count as an attempt.
            let row: Option<SettledRow> = sqlx::query_as(
                "UPDATE outbox SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at), lease_token = NULL,
                        lease_expires_at = NULL, last_error = $3, updated_at = $4, skip_reason = $7,
                        attempts = CASE WHEN $1 = 'skipped' THEN attempts - 1 ELSE attempts END,
                        settled_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $4 END,
                        secret = CASE WHEN $1 = 'pending' THEN secret ELSE NULL END
                 WHERE id = $5 AND lease_token = $6 AND status = 'sending'
                 RETURNING attempts, channel_id, kind, template, data, alert_id, fallback_of",
            )
            .bind(status)
            .bind(next_attempt)
            .bind(last_error)
            .bind(s.now)
            .bind(s.id.0)
            .bind(s.lease_token)
            .bind(skip_reason)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => Settled::default(),
                Some(row) => {
                    if let Some(attempt) = &s.attempt {
                        sqlx::query(
                            "INSERT INTO delivery_attempts (id, message_id, attempt, started_at, duration_ms, outcome, status_code, error_class, error_detail)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(Uuid::now_v7())
                        .bind(s.id.0)
                        .bind(row.attempts)
                        .bind(attempt.started_at)
                        .bind(attempt.duration_ms)
                        .bind(attempt.outcome)
                        .bind(attempt.status_code)
                        .bind(attempt.error_class)
                        .bind(&attempt.error_detail)
                        .execute(&mut *tx)
                        .await?;
                    }
                    let channel_disabled = match (&s.health, row.channel_id) {
                        (Some(health), Some(channel)) => {
                            crate::channel_health::record_health!(&mut *tx, channel, health, s.now)
                        }
                        _ => false,
                    };
                    let fallback = match row.channel_id {
                        Some(channel)
                            if s.outcome == Outcome::Failed && row.kind == ALERT && row.fallback_of.is_none() =>
                        {
                            queue_fallback!(&mut *tx, s.id, channel, &row, s.now)
                        }
                        _ => None,
                    };
                    tx.commit().await?;
                    Settled { recorded: true, channel_disabled, fallback }
                }
            }
        }))
    }

    /// Hands a claimed message back untried, due again at `until` (a quota
    /// that is used up); the claim does not count as an attempt. Answers
    /// false when the lease was lost.
    pub async fn defer_message(
        &self,
        id: MessageId,
        lease_token: Uuid,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query(
                "UPDATE outbox SET status = 'pending', lease_token = NULL, lease_expires_at = NULL, next_attempt_at = $1,
                        attempts = attempts - 1, updated_at = $2
                 WHERE id = $3 AND lease_token = $4 AND status = 'sending'",
            )
            .bind(until)
            .bind(now)
            .bind(id.0)
            .bind(lease_token)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        }))
    }

    /// Hands held messages back at once (a worker shutting down), so another
    /// worker need not wait for the lease to run out.
    pub async fn release_messages(&self, ids: &[(MessageId, Uuid)], now: OffsetDateTime) -> StoreResult<()> {
        for (id, token) in ids {
            self.defer_message(*id, *token, now, now).await?;
        }
        Ok(())
    }

    /// Queues an alert through channel `channel`, as `notify` does for one of
    /// its channels: `data` is the alert template's, completed with the
    /// channel's id and webhook settings. For operators' tools and tests; the
    /// channel's state is not judged. `None` when there is no such channel.
    pub async fn queue_channel_alert(
        &self,
        channel: Uuid,
        alert_id: Option<Uuid>,
        data: &serde_json::Value,
        now: OffsetDateTime,
    ) -> StoreResult<Option<MessageId>> {
        use crate::channel_health::{ChannelTarget, TARGET_COLUMNS};
        let sql = format!("SELECT {TARGET_COLUMNS} FROM notification_channels WHERE id = $1");
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let target: Option<ChannelTarget> = sqlx::query_as(&sql).bind(channel).fetch_optional(&mut *tx).await?;
            match target {
                None => None,
                Some(target) => {
                    let id = crate::channel_health::insert_on_channel!(
                        &mut *tx, &target, ALERT, "alert", data, alert_id, None, now
                    );
                    tx.commit().await?;
                    Some(id)
                }
            }
        }))
    }

    /// The earliest time a pending message falls due, if any.
    pub async fn next_due_at(&self) -> StoreResult<Option<OffsetDateTime>> {
        Ok(dispatch!(self, read, |pool| {
            // Two minimums, each from an index, rather than a pass over every unsettled message.
            sqlx::query_scalar::<_, Option<OffsetDateTime>>(
                "SELECT MIN(due) FROM (
                    SELECT MIN(next_attempt_at) AS due FROM outbox WHERE status = 'pending'
                    UNION ALL SELECT MIN(lease_expires_at) FROM outbox WHERE status = 'sending') AS d",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn outbox_counts(&self) -> StoreResult<OutboxCounts> {
        let rows: Vec<(String, i64)> = dispatch!(self, read, |pool| {
            sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetch_all(pool).await?
        });
        let mut c = OutboxCounts::default();
        for (status, n) in rows {
            match status.as_str() {
                "pending" => c.pending = n,
                "sending" => c.sending = n,
                "sent" => c.sent = n,
                "failed" => c.failed = n,
                "skipped" => c.skipped = n,
                _ => {}
            }
        }
        Ok(c)
    }
}
