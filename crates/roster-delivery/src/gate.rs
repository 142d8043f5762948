//! What happens to a claimed message before it is sent: skipped (its
//! channel was switched off, muted or deleted since it was queued), expired
//! (an alert too old for its transport), delayed (its destination's quota is
//! used up), or sent.

use crate::health::{ALERT, NOTICE};
use crate::policy::DeliveryPolicy;
use roster_core::alert::SkipReason;
use roster_core::channel::Mute;
use roster_core::message::Transport;
use roster_store::channel_health::DeliveryGate;
use roster_store::{ClaimedMessage, Store, StoreError};
use sha2::{Digest, Sha256};
use std::time::Duration;
use time::OffsetDateTime;

/// The verdict on a claimed message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Gate {
    /// Send it. For an alert under a cap: no try may start after `deadline`.
    Send {
        deadline: Option<(OffsetDateTime, Duration)>,
    },
    Skip(&'static str),
    /// Older than its transport's cap (given).
    Expired(Duration),
    /// The destination's quota is used up until then.
    Delay(OffsetDateTime),
}

/// The skip reason for a channel that was deleted after the message was queued.
const DELETED: &str = "deleted";

/// Judges `m` at `now`. Alerts and notices (which nobody asked for
/// explicitly) are skipped when their channel is off, muted or gone;
/// verification codes and tests are the owner's explicit requests and go
/// out as asked. Only alerts expire. Quotas apply to every message.
pub(crate) async fn check(
    store: &Store,
    policy: &DeliveryPolicy,
    m: &ClaimedMessage,
    now: OffsetDateTime,
) -> Result<Gate, StoreError> {
    let transport = Transport::parse(&m.transport);
    let mut deadline = None;
    if m.kind == ALERT || m.kind == NOTICE {
        if let Some(gate) = store.delivery_gate(m.id).await? {
            if let Some(reason) = skip_reason(&gate, now) {
                return Ok(Gate::Skip(reason));
            }
            let cap = transport.and_then(|t| *policy.max_age.get(t)).filter(|_| m.kind == ALERT);
            if let Some(cap) = cap {
                let until = gate.due_since + time::Duration::try_from(cap).unwrap_or(time::Duration::MAX);
                if until <= now {
                    return Ok(Gate::Expired(cap));
                }
                deadline = Some((until, cap));
            }
        }
    }
    if let Some((t, limit)) = transport.and_then(|t| policy.quota.get(t).map(|limit| (t, limit))) {
        let window = time::Duration::try_from(policy.quota_window).unwrap_or(time::Duration::MINUTE);
        let (hits, window_ends) = store.rate_limit_hit(&quota_key(t, &m.recipient), window, now).await?;
        if hits > i64::from(limit) {
            return Ok(Gate::Delay(window_ends));
        }
    }
    Ok(Gate::Send { deadline })
}

/// Why a channel message is not to be sent now, if it is not.
fn skip_reason(gate: &DeliveryGate, now: OffsetDateTime) -> Option<&'static str> {
    if gate.channel_id.is_none() {
        return Some(DELETED);
    }
    if gate.enabled == Some(false) {
        return Some(SkipReason::Disabled.as_str());
    }
    if gate.disabled_by_system_at.is_some() {
        return Some(SkipReason::DisabledBySystem.as_str());
    }
    // An unreadable mute counts as none: a corrupt value must not silence alerts.
    let muted = gate.mute.as_deref().is_some_and(|raw| Mute::from_stored(raw).is_ok_and(|m| m.is_muted(now)));
    muted.then_some(SkipReason::Muted.as_str())
}

/// The rate-limit key of a destination. Values may be secrets (a chat
/// webhook's URL, a routing key), so the key holds a digest of it.
fn quota_key(transport: Transport, recipient: &str) -> String {
    let digest = Sha256::digest(recipient.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("delivery-quota:{}:{hex}", transport.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn gate(enabled: bool, disabled: bool, mute: &str) -> DeliveryGate {
        let now = roster_core::clock::now();
        DeliveryGate {
            channel_id: Some(Uuid::nil()),
            enabled: Some(enabled),
            disabled_by_system_at: disabled.then_some(now),
            mute: Some(mute.into()),
            due_since: now,
        }
    }

    #[test]
    fn the_owners_switch_comes_first() {
        let now = roster_core::clock::now();
        assert_eq!(skip_reason(&gate(true, false, "false"), now), None);
        assert_eq!(skip_reason(&gate(false, true, "true"), now), Some("disabled"));
        assert_eq!(skip_reason(&gate(true, true, "true"), now), Some("disabled_by_system"));
        assert_eq!(skip_reason(&gate(true, false, "true"), now), Some("muted"));
        assert_eq!(skip_reason(&gate(true, false, "2999-01-01T00:00:00Z"), now), Some("muted"));
        assert_eq!(skip_reason(&gate(true, false, "2001-01-01T00:00:00Z"), now), None);
        let deleted = DeliveryGate { channel_id: None, enabled: None, mute: None, ..gate(true, false, "false") };
        assert_eq!(skip_reason(&deleted, now), Some(DELETED));
    }

    #[test]
    fn quota_keys_hide_the_destination() {
        let url = "https://hooks.slack.com/services/T000/B000/secret-token";
        let key = quota_key(Transport::Slack, url);
        assert!(key.starts_with("delivery-quota:slack:") && !key.contains("secret"), "{key}");
        assert_eq!(key, quota_key(Transport::Slack, url));
        assert_ne!(key, quota_key(Transport::Discord, url));
        assert_ne!(key, quota_key(Transport::Slack, "https://hooks.slack.com/services/T000/B000/other"));
    }
}
