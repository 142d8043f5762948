//! Delivery policy per transport: how old an alert may get before it is no
//! longer worth sending, how many sends a destination takes per window, and
//! how long a channel may fail before the system turns it off.

use roster_core::message::Transport;
use std::time::Duration;

/// One value for each transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerTransport<T> {
    pub email: T,
    pub sms: T,
    pub voice: T,
    pub webhook: T,
    pub slack: T,
    pub discord: T,
    pub msteams: T,
    pub pagerduty: T,
    pub push_notification: T,
}

impl<T> PerTransport<T> {
    pub fn get(&self, transport: Transport) -> &T {
        match transport {
            Transport::Email => &self.email,
            Transport::Sms => &self.sms,
            Transport::Voice => &self.voice,
            Transport::Webhook => &self.webhook,
            Transport::Slack => &self.slack,
            Transport::Discord => &self.discord,
            Transport::MsTeams => &self.msteams,
            Transport::PagerDuty => &self.pagerduty,
            Transport::PushNotification => &self.push_notification,
        }
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerTransport<U> {
        PerTransport {
            email: f(self.email),
            sms: f(self.sms),
            voice: f(self.voice),
            webhook: f(self.webhook),
            slack: f(self.slack),
            discord: f(self.discord),
            msteams: f(self.msteams),
            pagerduty: f(self.pagerduty),
            push_notification: f(self.push_notification),
        }
    }
}

/// What the worker does beyond sending: caps, quotas and channel health.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// How long after an alert fell due it is still worth sending through
    /// each transport; an older one fails as `expired` instead of being tried
    /// (again). `None`: as long as the retry schedule lasts.
    pub max_age: PerTransport<Option<Duration>>,
    /// Sends each destination (address, number, URL, key, token) takes per
    /// `quota_window`, per transport; more wait for the next window. `None`: no quota.
    pub quota: PerTransport<Option<u32>>,
    pub quota_window: Duration,
    /// How long a channel may fail every alert before the system turns it
    /// off. `None`: never for that reason (a 410 still does).
    pub disable_failing_after: Option<Duration>,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        let hours = |h: u64| Some(Duration::from_secs(h * 3600));
        Self {
            // A day-old "down" text or call helps nobody; a chat message is read
            // later in the day; email, webhooks and PagerDuty keep a record.
            max_age: PerTransport {
                email: None,
                sms: hours(1),
                voice: hours(1),
                webhook: None,
                slack: hours(6),
                discord: hours(6),
                msteams: hours(6),
                pagerduty: None,
                push_notification: hours(1),
            },
            // Within what providers accept (Discord: 30 per minute per webhook,
            // Slack: about one per second) and what a person can take in.
            quota: PerTransport {
                email: Some(30),
                sms: Some(10),
                voice: Some(5),
                webhook: Some(120),
                slack: Some(60),
                discord: Some(30),
                msteams: Some(60),
                pagerduty: Some(120),
                push_notification: Some(60),
            },
            quota_window: Duration::from_secs(60),
            disable_failing_after: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

impl DeliveryPolicy {
    /// No caps, no quotas, no disabling for persistent failure.
    pub fn unlimited() -> Self {
        Self {
            max_age: PerTransport::default(),
            quota: PerTransport::default(),
            quota_window: Duration::from_secs(60),
            disable_failing_after: None,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.quota_window.is_zero() {
            return Err("the delivery quota window must be more than zero".into());
        }
        let zero_cap = [self.max_age.email, self.max_age.sms, self.max_age.voice, self.max_age.webhook]
            .into_iter()
            .chain([self.max_age.slack, self.max_age.discord, self.max_age.msteams, self.max_age.pagerduty])
            .chain([self.max_age.push_notification])
            .any(|cap| cap.is_some_and(|c| c.is_zero()));
        if zero_cap {
            return Err("a per-transport alert age cap must be more than zero (leave it unset for no cap)".into());
        }
        Ok(())
    }
}

/// A duration as people read it: "24 hours", "90 minutes", "45 seconds".
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if secs >= 3600 && secs.is_multiple_of(3600) {
        plural(secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cap_urgent_transports_and_leave_records_alone() {
        let p = DeliveryPolicy::default();
        assert!(p.validate().is_ok());
        assert_eq!(*p.max_age.get(Transport::Sms), Some(Duration::from_secs(3600)));
        assert_eq!(*p.max_age.get(Transport::Slack), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(*p.max_age.get(Transport::Email), None);
        assert_eq!(*p.max_age.get(Transport::PagerDuty), None);
        assert_eq!(*p.quota.get(Transport::Sms), Some(10));
        assert_eq!(*p.quota.get(Transport::Voice), Some(5));
        assert_eq!(*p.quota.get(Transport::Email), Some(30));
        assert_eq!(*p.quota.get(Transport::Webhook), Some(120));
        assert!(DeliveryPolicy::unlimited().validate().is_ok());
    }

    #[test]
    fn odd_settings_are_refused() {
        let p = DeliveryPolicy { quota_window: Duration::ZERO, ..DeliveryPolicy::default() };
        assert!(p.validate().is_err());
        let mut p = DeliveryPolicy::default();
        p.max_age.voice = Some(Duration::ZERO);
        assert!(p.validate().unwrap_err().contains("cap"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(24 * 3600)), "24 hours");
        assert_eq!(human(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(human(Duration::from_secs(45)), "45 seconds");
        assert_eq!(human(Duration::from_secs(61)), "61 seconds");
    }

    #[test]
    fn per_transport_maps_every_entry() {
        let t = PerTransport { sms: 2, ..PerTransport::default() }.map(|n: u32| n * 10);
        assert_eq!((t.sms, t.email), (20, 0));
    }
}
