//! Channel health: failures that turn a channel off (`disabled_by_system`), and recovery.
//!
//! Health is apart from the owner's choices (`enabled`, `mute`). The worker
//! reports what each attempt says (`HealthUpdate`) when it settles it, and
//! in that same transaction a receiver that is gone (410), or one that has
//! failed every alert for a configured period (`failing_since`), turns its
//! channel off with a reason, and the owner is told through their other
//! usable channels, or by email when they have none. The owner switching
//! the channel back on clears the verdict (`Store::set_channel_enabled`).

use crate::{dispatch, Store, StoreResult};
use roster_core::channel::{ChannelType, ChannelValue, Mute, ValueRules};
use sqlx::types::Json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

// The worker settles messages with these; re-exported here because the
// crate root does not list them (yet).
pub use crate::outbox::{DeliveryGate, Outcome, Settled, Settlement};

/// What an attempt says about the health of the channel it went through
/// (see `channel_health`). Only alerts and 410 answers say anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthUpdate {
    /// An alert went through: the channel is not failing.
    Delivered,
    /// An alert failed in a way that is the receiver's doing. The failing
    /// period starts now unless it already runs; a period that began at least
    /// `disable_after` ago turns the channel off with `reason`.
    Failed { disable_after: Option<Duration>, reason: String },
    /// The receiver is gone (410): turn the channel off now.
    Gone { reason: String },
}

/// A channel as messages through it need it, with what decides whether it may be used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ChannelTarget {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub owner_id: Uuid,
    pub channel_type: String,
    pub value: String,
    pub enabled: bool,
    pub verified_at: Option<OffsetDateTime>,
    pub disabled_by_system_at: Option<OffsetDateTime>,
    pub mute: String,
    pub webhook_config: Option<Json<serde_json::Value>>,
}

pub(crate) const TARGET_COLUMNS: &str =
    "id, organization_id, customer_id, team_id, owner_id, type AS channel_type, value, enabled, verified_at, \
     disabled_by_system_at, mute, webhook_config";

impl ChannelTarget {
    /// Whether the channel may carry a message now: switched on by its owner
    /// and not off by the system, verified, not muted.
    pub fn usable(&self, now: OffsetDateTime) -> bool {
        self.enabled
            && self.disabled_by_system_at.is_none()
            && self.verified_at.is_some()
            && !stored_mute(&self.mute).is_muted(now)
    }

    /// `data` for a message through this channel: the channel's own id and,
    /// for a webhook, its own request settings (never another channel's).
    pub fn message_data(&self, data: &serde_json::Value) -> serde_json::Value {
        let mut data = match data {
            serde_json::Value::Object(_) => data.clone(),
            _ => serde_json::json!({}),
        };
        data["channel_id"] = self.id.to_string().into();
        data["webhook"] = self.webhook_config.as_ref().map(|j| j.0.clone()).unwrap_or(serde_json::Value::Null);
        data
    }

    /// How messages name the channel: "the sms channel +14155550100", with
    /// secrets in the value masked, and the team for a team's channel.
    pub fn label(&self, team_name: Option<&str>) -> String {
        let label = ChannelType::parse(&self.channel_type)
            .ok()
            .and_then(|ty| ChannelValue::parse(ty, &self.value, &ValueRules::STORED).ok())
            .map(|v| v.label())
            .unwrap_or_else(|| format!("the {} channel", self.channel_type));
        match team_name {
            Some(team) => format!("{label} of the team {team}"),
            None => label,
        }
    }
}

/// A stored mute (`false`, `true` or an RFC 3339 time). An unreadable one
/// counts as no mute: a corrupt value must not silence alerts.
pub(crate) fn stored_mute(raw: &str) -> Mute {
    Mute::from_stored(raw).unwrap_or(Mute::Off)
}

/// Queues a message of `$kind` through channel `$target` inside the
/// caller's transaction; evaluates to its id.
macro_rules! insert_on_channel {
    ($conn:expr, $target:expr, $kind:expr, $template:expr, $data:expr, $alert:expr, $fallback_of:expr, $now:expr) => {{
        let t: &$crate::channel_health::ChannelTarget = $target;
        let alert: Option<uuid::Uuid> = $alert;
        let fallback_of: Option<uuid::Uuid> = $fallback_of;
        let id = roster_core::ids::MessageId::new();
        sqlx::query(
            "INSERT INTO outbox (id, organization_id, customer_id, transport, template, recipient, data, secret, status,
                                 attempts, next_attempt_at, lease_token, lease_expires_at, last_error, created_at, updated_at,
                                 settled_at, channel_id, kind, alert_id, fallback_of)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 'pending', 0, $8, NULL, NULL, NULL, $8, $8, NULL, $9, $10, $11, $12)",
        )
        .bind(id.0)
        .bind(t.organization_id)
        .bind(t.customer_id)
        .bind(&t.channel_type)
        .bind($template)
        .bind(&t.value)
        .bind(sqlx::types::Json(t.message_data($data)))
        .bind($now)
        .bind(t.id)
        .bind($kind)
        .bind(alert)
        .bind(fallback_of)
        .execute(&mut *$conn)
        .await?;
        id
    }};
}
pub(crate) use insert_on_channel;

/// Applies what an attempt through `$channel` says about it (a
/// `HealthUpdate`); evaluates to whether the channel was turned off just now.
macro_rules! record_health {
    ($conn:expr, $channel:expr, $health:expr, $now:expr) => {{
        let channel: uuid::Uuid = $channel;
        let now: time::OffsetDateTime = $now;
        match $health {
            $crate::channel_health::HealthUpdate::Delivered => {
                sqlx::query(
                    "UPDATE notification_channels SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                )
                .bind(channel)
                .execute(&mut *$conn)
                .await?;
                false
            }
            $crate::channel_health::HealthUpdate::Failed { disable_after, reason } => {
                // The first failure after a success starts the period; later ones keep its start.
                let since: Option<Option<time::OffsetDateTime>> = sqlx::query_scalar(
                    "UPDATE notification_channels SET failing_since = COALESCE(failing_since, $1)
                     WHERE id = $2 AND disabled_by_system_at IS NULL RETURNING failing_since",
                )
                .bind(now)
                .bind(channel)
                .fetch_optional(&mut *$conn)
                .await?;
                match (since.flatten(), disable_after) {
                    (Some(since), Some(after)) if since + *after <= now => {
                        $crate::channel_health::disable_channel!(&mut *$conn, channel, reason.as_str(), now)
                    }
                    _ => false,
                }
            }
            $crate::channel_health::HealthUpdate::Gone { reason } => {
                $crate::channel_health::disable_channel!(&mut *$conn, channel, reason.as_str(), now)
            }
        }
    }};
}
pub(crate) use record_health;

/// Turns channel `$channel` off for `$reason` unless the system already
/// did, and tells its owner: a `channel_disabled` notice through each of the
/// owner's other usable channels or, when there is none, an email to the
/// customer (a personal channel) or to the team's managers, admins and
/// owners (the organization's admins and owners when the team has none).
/// Evaluates to whether the channel was turned off just now.
macro_rules! disable_channel {
    ($conn:expr, $channel:expr, $reason:expr, $now:expr) => {{
        use $crate::channel_health::{ChannelTarget, TARGET_COLUMNS};
        let channel: uuid::Uuid = $channel;
        let reason: &str = $reason;
        let now: time::OffsetDateTime = $now;
        let sql = format!(
            "UPDATE notification_channels SET disabled_by_system_at = $1, disabled_reason = $2, updated_at = $1
             WHERE id = $3 AND disabled_by_system_at IS NULL RETURNING {TARGET_COLUMNS}"
        );
        let disabled: Option<ChannelTarget> =
            sqlx::query_as(&sql).bind(now).bind(reason).bind(channel).fetch_optional(&mut *$conn).await?;
        match disabled {
            // Already off (another worker got there first): the owner was told then.
            None => false,
            Some(c) => {
                let owner_sql = match c.team_id {
                    Some(_) => "SELECT name FROM teams WHERE id = $1",
                    None => "SELECT name FROM customers WHERE id = $1",
                };
                let owner_name: String = sqlx::query_scalar(owner_sql)
                    .bind(c.owner_id)
                    .fetch_optional(&mut *$conn)
                    .await?
                    .unwrap_or_default();
                let label = c.label(c.team_id.map(|_| owner_name.as_str()));
                let notice = serde_json::json!({ "channel_label": label, "owner_name": owner_name, "reason": reason });
                let others_sql = format!(
                    "SELECT {TARGET_COLUMNS} FROM notification_channels WHERE owner_id = $1 AND id <> $2 ORDER BY priority, id"
                );
                let others: Vec<ChannelTarget> =
                    sqlx::query_as(&others_sql).bind(c.owner_id).bind(c.id).fetch_all(&mut *$conn).await?;
                let mut told = 0_usize;
                for other in others.iter().filter(|o| o.usable(now)) {
                    $crate::channel_health::insert_on_channel!(
                        &mut *$conn, other, "notice", "channel_disabled", &notice, None, None, now
                    );
                    told += 1;
                }
                let mut emailed = 0_usize;
                if told == 0 {
                    let people: Vec<(uuid::Uuid, String, String)> = match c.customer_id {
                        Some(customer) => {
                            sqlx::query_as("SELECT id, email, name FROM customers WHERE id = $1 AND status = 'active'")
                                .bind(customer)
                                .fetch_all(&mut *$conn)
                                .await?
                        }
                        None => {
                            let managers: Vec<(uuid::Uuid, String, String)> = sqlx::query_as(
                                "SELECT p.id, p.email, p.name FROM memberships m JOIN customers p ON p.id = m.customer_id
                                 WHERE m.team_id = $1 AND p.status = 'active' AND p.role IN ('manager', 'admin', 'root')
                                 ORDER BY m.created_at, m.id",
                            )
                            .bind(c.owner_id)
                            .fetch_all(&mut *$conn)
                            .await?;
                            if managers.is_empty() {
                                sqlx::query_as(
                                    "SELECT id, email, name FROM customers
                                     WHERE organization_id = $1 AND status = 'active' AND role IN ('admin', 'root')
                                     ORDER BY created_at, id",
                                )
                                .bind(c.organization_id)
                                .fetch_all(&mut *$conn)
                                .await?
                            } else {
                                managers
                            }
                        }
                    };
                    for (person, email, name) in people {
                        let mut data = notice.clone();
                        data["owner_name"] = name.into();
                        let message = roster_core::message::NewMessage {
                            transport: roster_core::message::Transport::Email,
                            template: roster_core::message::Template::ChannelDisabled,
                            recipient: email,
                            data,
                            secret: None,
                        };
                        $crate::outbox::insert_message!(
                            &mut *$conn,
                            Some(roster_core::ids::OrganizationId(c.organization_id)),
                            Some(roster_core::ids::CustomerId(person)),
                            &message,
                            now
                        );
                        emailed += 1;
                    }
                }
                let audit = $crate::NewAuditEvent {
                    id: roster_core::ids::AuditEventId::new(),
                    organization_id: Some(roster_core::ids::OrganizationId(c.organization_id)),
                    actor_id: None,
                    action: "channel.disabled_by_system",
                    target_type: "notification_channel",
                    target_id: Some(c.id),
                    data: serde_json::json!({
                        "type": c.channel_type,
                        "reason": reason,
                        "notices": told,
                        "emails": emailed,
                    }),
                    request_id: None,
                    ip: None,
                    at: now,
                };
                $crate::audit::insert_audit!(&mut *$conn, &audit);
                tracing::warn!(channel_id = %c.id, reason, notices = told, emails = emailed, "channel turned off by the system");
                true
            }
        }
    }};
}
pub(crate) use disable_channel;

/// The system's view of a channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelHealth {
    pub disabled_by_system_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    /// Since when every alert through it has failed; `None` when the last one went through.
    pub failing_since: Option<OffsetDateTime>,
}

impl Store {
    /// Channel `id`'s health, or `None` when there is no such channel.
    pub async fn channel_health(&self, id: Uuid) -> StoreResult<Option<ChannelHealth>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, ChannelHealth>(
                "SELECT disabled_by_system_at, disabled_reason, failing_since FROM notification_channels WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Turns channel `id` off for `reason` and tells its owner, as the worker
    /// does when a receiver is gone; false when it was already off (or does
    /// not exist). For operators' tools.
    pub async fn disable_channel_by_system(&self, id: Uuid, reason: &str, now: OffsetDateTime) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let disabled = disable_channel!(&mut *tx, id, reason, now);
            tx.commit().await?;
            disabled
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(channel_type: &str, value: &str) -> ChannelTarget {
        ChannelTarget {
            id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            customer_id: None,
            team_id: None,
            owner_id: Uuid::now_v7(),
            channel_type: channel_type.into(),
            value: value.into(),
            enabled: true,
            verified_at: Some(OffsetDateTime::UNIX_EPOCH),
            disabled_by_system_at: None,
            mute: "false".into(),
            webhook_config: None,
        }
    }

    #[test]
    fn usable_means_on_verified_and_unmuted() {
        let now = roster_core::clock::now();
        let ok = target("sms", "+14155550100");
        assert!(ok.usable(now));
        assert!(!ChannelTarget { enabled: false, ..ok.clone() }.usable(now));
        assert!(!ChannelTarget { disabled_by_system_at: Some(now), ..ok.clone() }.usable(now));
        assert!(!ChannelTarget { verified_at: None, ..ok.clone() }.usable(now));
        assert!(!ChannelTarget { mute: "true".into(), ..ok.clone() }.usable(now));
        let later = (now + time::Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
        assert!(!ChannelTarget { mute: later, ..ok.clone() }.usable(now));
        assert!(ChannelTarget { mute: "2001-01-01T00:00:00Z".into(), ..ok.clone() }.usable(now));
    }

    #[test]
    fn messages_carry_the_channels_own_settings() {
        let mut hook = target("webhook", "https://example.com/hook");
        hook.webhook_config = Some(Json(serde_json::json!({ "method": "PUT" })));
        let data = serde_json::json!({ "title": "down", "webhook": { "method": "POST" }, "channel_id": "other" });
        let out = hook.message_data(&data);
        assert_eq!(out["webhook"], serde_json::json!({ "method": "PUT" }));
        assert_eq!(out["channel_id"], hook.id.to_string());
        assert_eq!(out["title"], "down");
        assert!(target("email", "a@example.com").message_data(&data)["webhook"].is_null());
    }

    #[test]
    fn labels_mask_secrets_and_name_the_team() {
        assert_eq!(target("sms", "+14155550100").label(None), "the sms channel +14155550100");
        let key = target("pagerduty", "0123456789abcdef0123456789abcdef").label(Some("Ops"));
        assert!(key.starts_with("the pagerduty channel ") && key.ends_with(" of the team Ops"), "{key}");
        assert!(!key.contains("0123456789abcdef0123456789abcdef"), "{key}");
        assert_eq!(target("sms", "not a number").label(None), "the sms channel");
    }

    #[test]
    fn stored_mutes_read_back() {
        assert_eq!(stored_mute("true"), Mute::On);
        assert_eq!(stored_mute("false"), Mute::Off);
        assert_eq!(stored_mute("garbage"), Mute::Off);
    }
}
