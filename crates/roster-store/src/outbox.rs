//! The outbox: messages written with the change that caused them, claimed
//! by workers under a lease, settled with a record of every attempt.

use crate::{dispatch, Dialect, Store, StoreResult};
use roster_core::ids::MessageId;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Queues `$msg` inside the caller's transaction; a rolled-back change sends nothing.
macro_rules! insert_message {
    ($conn:expr, $org:expr, $customer:expr, $msg:expr, $now:expr) => {{
        let m: &roster_core::message::NewMessage = $msg;
        let org: Option<roster_core::ids::OrganizationId> = $org;
        let customer: Option<roster_core::ids::CustomerId> = $customer;
        sqlx::query(
            "INSERT INTO outbox (id, organization_id, customer_id, transport, template, recipient, data, secret, status,
                                 attempts, next_attempt_at, lease_token, lease_expires_at, last_error, created_at, updated_at, settled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, NULL, NULL, NULL, $9, $9, NULL)",
        )
        .bind(roster_core::ids::MessageId::new().0)
        .bind(org.map(|i| i.0))
        .bind(customer.map(|i| i.0))
        .bind(m.transport.as_str())
        .bind(m.template.as_str())
        .bind(&m.recipient)
        .bind(sqlx::types::Json(&m.data))
        .bind(&m.secret)
        .bind($now)
        .execute(&mut *$conn)
        .await?;
    }};
}
pub(crate) use insert_message;

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
    /// The notification channel the message goes through; `None` for account messages.
    pub channel_id: Option<Uuid>,
    /// `account`, `verification`, `test` or `alert`.
    pub kind: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub lease_token: Uuid,
}

/// One try at sending, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    /// `sent`, `retry` or `failed`.
    pub outcome: &'static str,
    pub status_code: Option<i64>,
    /// A stable class: `timeout`, `connect`, `rejected`, `smtp_permanent`, …
    pub error_class: Option<&'static str>,
    /// Internal detail for operators; never shown to API callers.
    pub error_detail: Option<String>,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

impl OutboxCounts {
    /// Messages not yet settled.
    pub fn unsettled(&self) -> i64 {
        self.pending + self.sending
    }

    /// Every message, whatever its state.
    pub fn total(&self) -> i64 {
        self.pending + self.sending + self.sent + self.failed
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
        let sql = format!(
            "UPDATE outbox SET status = 'sending', lease_token = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3
             WHERE id IN (
                SELECT id FROM outbox
                WHERE (status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_expires_at <= $3)
                ORDER BY next_attempt_at, id LIMIT $4 {lock})
             RETURNING id, transport, template, recipient, data, secret, channel_id, kind, attempts, lease_token"
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

    /// Records an attempt and settles the message: `next_attempt` of `None`
    /// means done (sent, or failed for good when `outcome` says so); `Some`
    /// means try again then. Answers false, changing nothing, when the lease
    /// was lost to another worker: a slow worker never overwrites the outcome
    /// of the one that took over.
    pub async fn settle_message(
        &self,
        id: MessageId,
        lease_token: Uuid,
        attempt: &AttemptRecord,
        next_attempt: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let status = match (attempt.outcome, next_attempt) {
            (_, Some(_)) => "pending",
            ("sent", None) => "sent",
            _ => "failed",
        };
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let attempts: Option<i64> = sqlx::query_scalar(
                "UPDATE outbox SET status = $1, next_attempt_at = COALESCE($2, next_attempt_at), lease_token = NULL,
                        lease_expires_at = NULL, last_error = $3, updated_at = $4,
                        settled_at = CASE WHEN $1 = 'pending' THEN NULL ELSE $4 END,
                        secret = CASE WHEN $1 = 'pending' THEN secret ELSE NULL END
                 WHERE id = $5 AND lease_token = $6 AND status = 'sending'
                 RETURNING attempts",
            )
            .bind(status)
            .bind(next_attempt)
            .bind(attempt.error_class)
            .bind(now)
            .bind(id.0)
            .bind(lease_token)
            .fetch_optional(&mut *tx)
            .await?;
            match attempts {
                None => false,
                Some(n) => {
                    sqlx::query(
                        "INSERT INTO delivery_attempts (id, message_id, attempt, started_at, duration_ms, outcome, status_code, error_class, error_detail)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(id.0)
                    .bind(n)
                    .bind(attempt.started_at)
                    .bind(attempt.duration_ms)
                    .bind(attempt.outcome)
                    .bind(attempt.status_code)
                    .bind(attempt.error_class)
                    .bind(&attempt.error_detail)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    true
                }
            }
        }))
    }

    /// Hands held messages back at once (a worker shutting down), so another
    /// worker need not wait for the lease to run out.
    pub async fn release_messages(&self, ids: &[(MessageId, Uuid)], now: OffsetDateTime) -> StoreResult<()> {
        for (id, token) in ids {
            dispatch!(self, write, |pool| {
                sqlx::query(
                    "UPDATE outbox SET status = 'pending', lease_token = NULL, lease_expires_at = NULL, next_attempt_at = $1,
                            attempts = attempts - 1, updated_at = $1
                     WHERE id = $2 AND lease_token = $3 AND status = 'sending'",
                )
                .bind(now)
                .bind(id.0)
                .bind(token)
                .execute(pool)
                .await?;
            });
        }
        Ok(())
    }

    /// The earliest time a pending message falls due, if any.
    pub async fn next_due_at(&self) -> StoreResult<Option<OffsetDateTime>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_scalar::<_, Option<OffsetDateTime>>(
                "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_expires_at END)
                 FROM outbox WHERE status IN ('pending', 'sending')",
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
                _ => {}
            }
        }
        Ok(c)
    }
}
