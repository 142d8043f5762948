//! What one attempt says about the health of the channel it went through.
//!
//! - A 410 Gone on anything but a test means the receiver is gone: the
//!   channel is turned off at once. Not for SMS and voice, whose answer comes
//!   from the operator's provider, not from the person's number.
//! - Only alerts count toward "failing for too long": a sent alert ends the
//!   failing period, a failed one starts it (or keeps it running). Tests are
//!   tried once and never count; verification codes are sent at the owner's
//!   request while they set the channel up.
//! - A failure counts against the channel only when it is the receiver's
//!   doing. A webhook's endpoint is the owner's, so any failure counts. The
//!   other transports go through a provider or a large service (SMTP relay,
//!   Twilio, Slack, PagerDuty, the push gateway), whose outages are transient
//!   and must not switch off every channel of that kind: only a permanent
//!   refusal (unknown address, revoked hook) counts there. Failures on our
//!   side (a transport not configured, a template that does not render)
//!   never count.

use crate::policy::{human, DeliveryPolicy};
use crate::transports::TransportError;
use roster_core::message::Transport;
use roster_store::channel_health::HealthUpdate;

/// Outbox kinds, as far as health and gates care.
pub(crate) const ALERT: &str = "alert";
pub(crate) const TEST: &str = "test";
pub(crate) const NOTICE: &str = "notice";

/// Error classes that are our fault, not the receiver's.
const OURS: [&str; 3] = ["not_configured", "render", "unsupported"];

pub(crate) const GONE_REASON: &str = "the receiver answered 410 Gone";

/// What the outcome of one attempt of a message of `kind` through
/// `transport` says about its channel; `None`: nothing.
pub(crate) fn assess(
    kind: &str,
    transport: Option<Transport>,
    result: &Result<Option<u16>, TransportError>,
    policy: &DeliveryPolicy,
) -> Option<HealthUpdate> {
    if kind == TEST || kind == "account" {
        return None;
    }
    let error = match result {
        Ok(_) => return (kind == ALERT).then_some(HealthUpdate::Delivered),
        Err(e) => e,
    };
    let via_provider = matches!(transport, Some(Transport::Sms | Transport::Voice));
    if error.is_gone() && !via_provider {
        return Some(HealthUpdate::Gone { reason: GONE_REASON.into() });
    }
    if kind != ALERT || OURS.contains(&error.class()) {
        return None;
    }
    let counts = match transport {
        Some(Transport::Webhook) => true,
        Some(_) => error.is_permanent(),
        None => false,
    };
    counts.then(|| HealthUpdate::Failed {
        disable_after: policy.disable_failing_after.and_then(|d| time::Duration::try_from(d).ok()),
        reason: match policy.disable_failing_after {
            Some(d) => format!("every alert sent to it failed for {}", human(d)),
            None => "every alert sent to it failed".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> DeliveryPolicy {
        DeliveryPolicy::default()
    }

    fn err(permanent: bool, class: &'static str) -> Result<Option<u16>, TransportError> {
        Err(if permanent { TransportError::permanent(class, "x") } else { TransportError::transient(class, "x") })
    }

    fn is_failed(h: Option<HealthUpdate>) -> bool {
        matches!(h, Some(HealthUpdate::Failed { .. }))
    }

    #[test]
    fn gone_turns_off_anything_but_tests_and_provider_answers() {
        let gone = err(true, "gone");
        let hook = Some(Transport::Webhook);
        for kind in [ALERT, "verification", NOTICE] {
            assert_eq!(assess(kind, hook, &gone, &p()), Some(HealthUpdate::Gone { reason: GONE_REASON.into() }));
        }
        assert_eq!(assess(TEST, hook, &gone, &p()), None);
        assert!(assess(ALERT, Some(Transport::PushNotification), &gone, &p()).is_some());
        // Twilio answering 410 says nothing about the person's number.
        assert!(is_failed(assess(ALERT, Some(Transport::Sms), &gone, &p())));
        assert_eq!(assess("verification", Some(Transport::Voice), &gone, &p()), None);
    }

    #[test]
    fn only_alerts_count_toward_failing() {
        let hook = Some(Transport::Webhook);
        assert_eq!(assess(ALERT, hook, &Ok(Some(200)), &p()), Some(HealthUpdate::Delivered));
        assert_eq!(assess("verification", hook, &Ok(Some(200)), &p()), None);
        assert_eq!(assess(TEST, hook, &Ok(Some(200)), &p()), None);
        assert!(is_failed(assess(ALERT, hook, &err(false, "server_error"), &p())));
        assert_eq!(assess("verification", hook, &err(false, "server_error"), &p()), None);
        assert_eq!(assess(TEST, hook, &err(true, "rejected"), &p()), None);
    }

    #[test]
    fn provider_outages_and_our_faults_do_not_count() {
        let sms = Some(Transport::Sms);
        assert_eq!(assess(ALERT, sms, &err(false, "server_error"), &p()), None);
        assert!(is_failed(assess(ALERT, sms, &err(true, "rejected"), &p())));
        assert_eq!(assess(ALERT, Some(Transport::Email), &err(false, "smtp_transient"), &p()), None);
        assert!(is_failed(assess(ALERT, Some(Transport::Email), &err(true, "smtp_permanent"), &p())));
        assert_eq!(assess(ALERT, sms, &err(true, "not_configured"), &p()), None);
        assert_eq!(assess(ALERT, Some(Transport::Webhook), &err(true, "render"), &p()), None);
        assert_eq!(assess(ALERT, None, &err(true, "unsupported"), &p()), None);
    }

    #[test]
    fn the_reason_names_the_period() {
        let h = assess(ALERT, Some(Transport::Webhook), &err(false, "timeout"), &p());
        match h {
            Some(HealthUpdate::Failed { disable_after, reason }) => {
                assert_eq!(disable_after, Some(time::Duration::hours(24)));
                assert_eq!(reason, "every alert sent to it failed for 24 hours");
            }
            other => panic!("{other:?}"),
        }
        let never = DeliveryPolicy { disable_failing_after: None, ..p() };
        match assess(ALERT, Some(Transport::Webhook), &err(false, "timeout"), &never) {
            Some(HealthUpdate::Failed { disable_after: None, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
