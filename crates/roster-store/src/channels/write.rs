//! Changes to channels. Each runs in one write transaction with its audit
//! record and, where something is sent, its outbox message.

use super::{ChannelOwner, ChannelRow, CHANNEL_COLUMNS};
use crate::{dispatch, CodeCheck, NewAuditEvent, Store, StoreResult};
use roster_core::channel::Suppress;
use roster_core::ids::{MessageId, OrganizationId};
use roster_core::message::NewMessage;
use roster_core::Error;
use time::OffsetDateTime;
use uuid::Uuid;

/// A code to send through a channel, bound to the value it proves (`target`).
#[derive(Debug, Clone)]
pub struct NewChannelCode {
    pub target: String,
    pub hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
}

/// A channel to create, with its first code and the message that carries it.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub owner: ChannelOwner,
    pub channel_type: &'static str,
    pub value: String,
    pub suppress: Suppress,
    pub mute: String,
    pub bypass_quiet_hours: bool,
    pub webhook: Option<serde_json::Value>,
    /// Webhooks: the Standard Webhooks secret their requests are signed with.
    pub signing_secret: Option<String>,
    pub code: NewChannelCode,
    pub message: NewMessage,
    /// Most channels the owner may have.
    pub max: u32,
    pub audit: NewAuditEvent,
    pub now: OffsetDateTime,
}

/// A channel's controls as they are to be stored.
#[derive(Debug, Clone)]
pub struct ChannelControls {
    pub suppress: Suppress,
    /// As stored: `false`, `true` or an RFC 3339 time.
    pub mute: String,
    pub bypass_quiet_hours: bool,
    pub webhook: Option<serde_json::Value>,
    pub fallback_channel_id: Option<Uuid>,
}

fn invalid_fallback(itself: bool) -> Error {
    let detail = if itself {
        "a channel cannot be its own fallback"
    } else {
        "must be the id of another channel of the same owner"
    };
    Error::invalid("fallback_channel_id", if itself { "self_reference" } else { "not_found" }, detail)
}

pub(super) const UPSERT_CHANNEL_CODE: &str =
    "INSERT INTO channel_codes (channel_id, target, code_hash, attempts, created_at, expires_at)
     VALUES ($1, $2, $3, 0, $4, $5)
     ON CONFLICT (channel_id) DO UPDATE SET target = excluded.target, code_hash = excluded.code_hash,
       attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at";

pub(super) const VALUE_TAKEN: &str = "SELECT 1 FROM notification_channels
     WHERE owner_id = $1 AND type = $2 AND (value = $3 OR pending_value = $3) AND id <> $4";

pub(super) const COUNT_CHANNELS: &str = "SELECT COUNT(*) FROM notification_channels WHERE owner_id = $1";

pub(super) const NEXT_PRIORITY: &str =
    "SELECT COALESCE(MAX(priority), 0) + 1 FROM notification_channels WHERE owner_id = $1";

pub(super) const INSERT_CHANNEL: &str =
    "INSERT INTO notification_channels (id, organization_id, customer_id, team_id, owner_id, type, value,
       pending_value, priority, enabled, verified_at, mute, suppress_up, suppress_down, suppress_first,
       suppress_diagnostic, suppress_all, bypass_quiet_hours, webhook_config, signing_secret, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, NULL, $10, $11, $12, $13, $14, $15, $16, $17, $19, $18, $18)";

/// Queues `$msg` through channel `$channel` as a message of `$kind`; evaluates to its id.
macro_rules! insert_channel_message {
    ($conn:expr, $org:expr, $owner:expr, $channel:expr, $kind:expr, $msg:expr, $now:expr) => {{
        let customer = $owner.customer().map(|c| c.0);
        crate::outbox::queue_message!($conn, Some($org.0), customer, Some($channel), $kind, $msg, $now)
    }};
}

/// Replaces channel `$channel`'s code.
macro_rules! upsert_channel_code {
    ($conn:expr, $channel:expr, $code:expr, $now:expr) => {{
        let c: &NewChannelCode = $code;
        sqlx::query(crate::channels::write::UPSERT_CHANNEL_CODE)
            .bind($channel)
            .bind(&c.target)
            .bind(&c.hash)
            .bind($now)
            .bind(c.expires_at)
            .execute(&mut *$conn)
            .await?;
    }};
}

/// The statement that reads channel `$1` as it is now.
pub(super) fn channel_by_id() -> String {
    format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1")
}

/// Channel `$id` as it is now.
macro_rules! fetch_channel {
    ($conn:expr, $id:expr) => {{
        sqlx::query_as::<_, ChannelRow>(&channel_by_id()).bind($id).fetch_one(&mut *$conn).await?
    }};
}

/// Whether another channel of the owner already has (or is moving to) this type and value.
macro_rules! value_taken {
    ($conn:expr, $owner:expr, $ty:expr, $value:expr, $except:expr) => {{
        let found: Option<i32> = sqlx::query_scalar(crate::channels::write::VALUE_TAKEN)
            .bind($owner.id())
            .bind($ty)
            .bind($value)
            .bind($except)
            .fetch_optional(&mut *$conn)
            .await?;
        found.is_some()
    }};
}

pub(super) const DUPLICATE: &str = "a channel of this type with this value already exists";

impl Store {
    /// Creates a channel at the end of the owner's priorities, with its code
    /// and verification message; refuses duplicates and channels beyond the
    /// plan. On SQLite a grouped write (see [`crate::writer`]).
    pub async fn create_channel(&self, c: &NewChannel) -> Result<ChannelRow, Error> {
        if let Some(w) = self.writer() {
            let c = c.clone();
            let r = w.write(move |conn| super::grouped::create(conn, &c)).await;
            return r.map_err(|e| e.or_conflict(DUPLICATE))?;
        }
        let dialect = self.dialect();
        let r: StoreResult<Result<ChannelRow, Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                // Concurrent creations for one owner would read the same count and
                // next priority (PostgreSQL): the organization's lock serializes them.
                crate::teams::lock_organization!(&mut *tx, dialect, c.organization_id);
                let count: i64 = sqlx::query_scalar(COUNT_CHANNELS).bind(c.owner.id()).fetch_one(&mut *tx).await?;
                if count >= i64::from(c.max) {
                    return Ok(Err(Error::LimitReached { what: "notification channels", max: c.max }));
                }
                if value_taken!(&mut *tx, c.owner, c.channel_type, &c.value, c.id) {
                    return Ok(Err(Error::Conflict(DUPLICATE.into())));
                }
                let priority: i64 = sqlx::query_scalar(NEXT_PRIORITY).bind(c.owner.id()).fetch_one(&mut *tx).await?;
                sqlx::query(INSERT_CHANNEL)
                    .bind(c.id)
                    .bind(c.organization_id.0)
                    .bind(c.owner.customer().map(|i| i.0))
                    .bind(c.owner.team().map(|i| i.0))
                    .bind(c.owner.id())
                    .bind(c.channel_type)
                    .bind(&c.value)
                    .bind(priority)
                    .bind(true)
                    .bind(&c.mute)
                    .bind(c.suppress.up)
                    .bind(c.suppress.down)
                    .bind(c.suppress.first)
                    .bind(c.suppress.diagnostic)
                    .bind(c.suppress.all)
                    .bind(c.bypass_quiet_hours)
                    .bind(c.webhook.as_ref().map(sqlx::types::Json))
                    .bind(c.now)
                    .bind(&c.signing_secret)
                    .execute(&mut *tx)
                    .await?;
                upsert_channel_code!(&mut *tx, c.id, &c.code, c.now);
                insert_channel_message!(&mut *tx, c.organization_id, c.owner, c.id, "verification", &c.message, c.now);
                let mut audit = c.audit.clone();
                audit.data["priority"] = priority.into();
                crate::audit::insert_audit!(&mut *tx, &audit);
                let row = fetch_channel!(&mut *tx, c.id);
                tx.commit().await?;
                Ok(Ok(row))
            }
            .await
        });
        r.map_err(|e| e.or_conflict(DUPLICATE))?
    }

    /// Gives channel `id` a new value: as its pending value when it was
    /// verified (alerts keep going to the old one until the code comes back),
    /// directly otherwise; sends a code bound to the new value through it.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_channel_value(
        &self,
        org: OrganizationId,
        owner: ChannelOwner,
        id: Uuid,
        value: &str,
        code: &NewChannelCode,
        message: &NewMessage,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<ChannelRow, Error> {
        let r: StoreResult<Result<ChannelRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let current = fetch_channel!(&mut *tx, id);
            if value_taken!(&mut *tx, owner, &current.channel_type, value, id) {
                return Ok(Err(Error::Conflict(DUPLICATE.into())));
            }
            let sql = if current.verified_at.is_some() {
                "UPDATE notification_channels SET pending_value = $1, updated_at = $2 WHERE id = $3"
            } else {
                "UPDATE notification_channels SET value = $1, pending_value = NULL, updated_at = $2 WHERE id = $3"
            };
            sqlx::query(sql).bind(value).bind(now).bind(id).execute(&mut *tx).await?;
            upsert_channel_code!(&mut *tx, id, code, now);
            insert_channel_message!(&mut *tx, org, owner, id, "verification", message, now);
            crate::audit::insert_audit!(&mut *tx, audit);
            let row = fetch_channel!(&mut *tx, id);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r.map_err(|e| e.or_conflict(DUPLICATE))?
    }

    /// Replaces channel `id`'s controls. A fallback must be another channel
    /// of the same owner, checked in the transaction that stores it.
    pub async fn update_channel_controls(
        &self,
        owner: ChannelOwner,
        id: Uuid,
        controls: &ChannelControls,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<ChannelRow, Error> {
        let c = controls;
        let r: StoreResult<Result<ChannelRow, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            if let Some(fallback) = c.fallback_channel_id {
                let fallback_owner: Option<Uuid> =
                    sqlx::query_scalar("SELECT owner_id FROM notification_channels WHERE id = $1")
                        .bind(fallback)
                        .fetch_optional(&mut *tx)
                        .await?;
                if fallback == id || fallback_owner != Some(owner.id()) {
                    return Ok(Err(invalid_fallback(fallback == id)));
                }
            }
            sqlx::query(
                "UPDATE notification_channels SET suppress_up = $1, suppress_down = $2, suppress_first = $3,
                   suppress_diagnostic = $4, suppress_all = $5, mute = $6, bypass_quiet_hours = $7,
                   webhook_config = $8, fallback_channel_id = $9, updated_at = $10
                 WHERE id = $11",
            )
            .bind(c.suppress.up)
            .bind(c.suppress.down)
            .bind(c.suppress.first)
            .bind(c.suppress.diagnostic)
            .bind(c.suppress.all)
            .bind(&c.mute)
            .bind(c.bypass_quiet_hours)
            .bind(c.webhook.as_ref().map(sqlx::types::Json))
            .bind(c.fallback_channel_id)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            let row = fetch_channel!(&mut *tx, id);
            tx.commit().await?;
            Ok(Ok(row))
        }
        .await);
        r?
    }

    /// Switches channel `id` on or off. Switching it on is the owner's word
    /// that it works again: it clears a system disable and the failure streak.
    pub async fn set_channel_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<ChannelRow> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            sqlx::query(
                "UPDATE notification_channels SET enabled = $1, updated_at = $2,
                   disabled_by_system_at = CASE WHEN $1 THEN NULL ELSE disabled_by_system_at END,
                   disabled_reason = CASE WHEN $1 THEN NULL ELSE disabled_reason END,
                   failing_since = CASE WHEN $1 THEN NULL ELSE failing_since END
                 WHERE id = $3",
            )
            .bind(enabled)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            let row = fetch_channel!(&mut *tx, id);
            tx.commit().await?;
            row
        }))
    }

    /// Checks a code for channel `id`, counting the attempt. A valid code
    /// marks the channel verified and moves a pending value into place; a
    /// value proved to work clears a system disable and the failure streak.
    pub async fn verify_channel(
        &self,
        id: Uuid,
        max_attempts: i64,
        hasher: impl Fn(&str) -> Vec<u8> + Send,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<(CodeCheck, ChannelRow), Error> {
        let r: StoreResult<(CodeCheck, ChannelRow)> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let code: Option<(String, Vec<u8>, i64, OffsetDateTime)> = sqlx::query_as(
                "SELECT target, code_hash, attempts, expires_at FROM channel_codes WHERE channel_id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let check = match code {
                None => CodeCheck::Missing,
                Some((_, _, _, expires_at)) if expires_at <= now => CodeCheck::Expired,
                Some((_, _, attempts, _)) if attempts >= max_attempts => CodeCheck::Exhausted,
                Some((target, hash, attempts, _)) => {
                    if roster_core::secret::constant_time_eq(&hasher(&target), &hash) {
                        CodeCheck::Valid { target }
                    } else {
                        sqlx::query("UPDATE channel_codes SET attempts = attempts + 1 WHERE channel_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        CodeCheck::Wrong { attempts_left: (max_attempts - attempts - 1).max(0) }
                    }
                }
            };
            if let CodeCheck::Valid { target } = &check {
                // The code proves the value it was sent to; a pending value it proves takes over.
                sqlx::query(
                    "UPDATE notification_channels SET
                       value = CASE WHEN pending_value = $1 THEN pending_value ELSE value END,
                       verified_at = $2, pending_value = NULL, updated_at = $2,
                       disabled_by_system_at = NULL, disabled_reason = NULL, failing_since = NULL
                     WHERE id = $3 AND (value = $1 OR pending_value = $1)",
                )
                .bind(target)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM channel_codes WHERE channel_id = $1").bind(id).execute(&mut *tx).await?;
                crate::audit::insert_audit!(&mut *tx, audit);
            }
            let row = fetch_channel!(&mut *tx, id);
            tx.commit().await?;
            Ok((check, row))
        }
        .await);
        r.map_err(|e| e.or_conflict(DUPLICATE))
    }

    /// Replaces channel `id`'s code and queues the message that carries it.
    #[allow(clippy::too_many_arguments)]
    pub async fn reissue_channel_code(
        &self,
        org: OrganizationId,
        owner: ChannelOwner,
        id: Uuid,
        code: &NewChannelCode,
        message: &NewMessage,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            upsert_channel_code!(&mut *tx, id, code, now);
            insert_channel_message!(&mut *tx, org, owner, id, "verification", message, now);
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Queues a test message through channel `id`, answering the message's id.
    pub async fn queue_channel_test(
        &self,
        org: OrganizationId,
        owner: ChannelOwner,
        id: Uuid,
        message: &NewMessage,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<MessageId> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let message_id = insert_channel_message!(&mut *tx, org, owner, id, "test", message, now);
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            message_id
        }))
    }
}
