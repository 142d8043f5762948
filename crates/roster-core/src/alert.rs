//! Alerts: which channels hear of an event, and when.
//!
//! `notify` asks for an event to reach a team or a customer. Each of the
//! owner's channels is judged on its own ([`judge`]): the owner's choices
//! (enabled, muted, suppressed events), the system's verdict (a receiver that
//! is gone), and whether the value was ever proved. A channel that should hear
//! of it may still wait: a low-urgency alert to a personal channel waits out
//! the customer's quiet hours ([`held_until`]).

use crate::channel::{Event, Mute, QuietHours, Suppress};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// How urgent an alert is. High-urgency alerts go out at once, whatever the
/// hour; low-urgency ones wait out the recipient's quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    High,
    Low,
}

impl Urgency {
    /// A service going down wakes people; everything else can wait for morning.
    pub fn default_for(event: Event) -> Self {
        match event {
            Event::Down => Urgency::High,
            Event::Up | Event::First | Event::Diagnostic => Urgency::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::High => "high",
            Urgency::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "high" => Some(Urgency::High),
            "low" => Some(Urgency::Low),
            _ => None,
        }
    }
}

/// Why a channel was not sent an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The owner switched the channel off.
    Disabled,
    /// Roster switched it off: its receiver is gone or kept failing.
    DisabledBySystem,
    /// Its value was never proved with a code.
    Unverified,
    /// The owner muted it (for good, or until a time not yet reached).
    Muted,
    /// The owner asked not to hear of this event on it.
    Suppressed,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Disabled => "disabled",
            SkipReason::DisabledBySystem => "disabled_by_system",
            SkipReason::Unverified => "unverified",
            SkipReason::Muted => "muted",
            SkipReason::Suppressed => "suppressed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Disabled, Self::DisabledBySystem, Self::Unverified, Self::Muted, Self::Suppressed]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What decides whether a channel hears of an event.
#[derive(Debug, Clone, Copy)]
pub struct ChannelState {
    pub enabled: bool,
    pub disabled_by_system: bool,
    pub verified: bool,
    pub mute: Mute,
    pub suppress: Suppress,
}

/// Whether the channel should be sent `event` at `now`, or why not. The
/// owner's off switch is reported before the system's, and both before mute
/// and suppression, so the reason names the first thing to change.
pub fn judge(channel: &ChannelState, event: Event, now: OffsetDateTime) -> Result<(), SkipReason> {
    if !channel.enabled {
        Err(SkipReason::Disabled)
    } else if channel.disabled_by_system {
        Err(SkipReason::DisabledBySystem)
    } else if !channel.verified {
        Err(SkipReason::Unverified)
    } else if channel.mute.is_muted(now) {
        Err(SkipReason::Muted)
    } else if channel.suppress.suppresses(event) {
        Err(SkipReason::Suppressed)
    } else {
        Ok(())
    }
}

/// Until when an alert to a personal channel waits: the end of the
/// customer's current quiet window, for low-urgency alerts through channels
/// that do not bypass quiet hours; `None` to send at once.
pub fn held_until(
    urgency: Urgency,
    bypass_quiet_hours: bool,
    quiet_hours: Option<&QuietHours>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    if urgency == Urgency::High || bypass_quiet_hours {
        return None;
    }
    quiet_hours?.quiet_until(now).filter(|until| *until > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{QuietWindow, TimeOfDay, Weekday};
    use time::macros::datetime;

    fn usable() -> ChannelState {
        ChannelState {
            enabled: true,
            disabled_by_system: false,
            verified: true,
            mute: Mute::Off,
            suppress: Suppress::default(),
        }
    }

    #[test]
    fn a_usable_channel_hears_every_event() {
        let now = datetime!(2026-03-02 12:00 UTC);
        for event in Event::ALL {
            assert_eq!(judge(&usable(), event, now), Ok(()));
        }
    }

    #[test]
    fn the_first_reason_to_change_is_reported() {
        let now = datetime!(2026-03-02 12:00 UTC);
        let all_wrong = ChannelState {
            enabled: false,
            disabled_by_system: true,
            verified: false,
            mute: Mute::On,
            suppress: Suppress { all: true, ..Suppress::default() },
        };
        assert_eq!(judge(&all_wrong, Event::Down, now), Err(SkipReason::Disabled));
        let c = ChannelState { enabled: true, ..all_wrong };
        assert_eq!(judge(&c, Event::Down, now), Err(SkipReason::DisabledBySystem));
        let c = ChannelState { disabled_by_system: false, ..c };
        assert_eq!(judge(&c, Event::Down, now), Err(SkipReason::Unverified));
        let c = ChannelState { verified: true, ..c };
        assert_eq!(judge(&c, Event::Down, now), Err(SkipReason::Muted));
        let c = ChannelState { mute: Mute::Off, ..c };
        assert_eq!(judge(&c, Event::Down, now), Err(SkipReason::Suppressed));
    }

    #[test]
    fn a_timed_mute_ends_by_itself() {
        let until = datetime!(2026-03-02 12:00 UTC);
        let c = ChannelState { mute: Mute::Until(until), ..usable() };
        assert_eq!(judge(&c, Event::Down, until - time::Duration::SECOND), Err(SkipReason::Muted));
        assert_eq!(judge(&c, Event::Down, until), Ok(()));
    }

    #[test]
    fn suppression_is_per_event() {
        let now = datetime!(2026-03-02 12:00 UTC);
        let c = ChannelState { suppress: Suppress { up: true, ..Suppress::default() }, ..usable() };
        assert_eq!(judge(&c, Event::Up, now), Err(SkipReason::Suppressed));
        assert_eq!(judge(&c, Event::Down, now), Ok(()));
    }

    #[test]
    fn only_low_urgency_alerts_wait_for_quiet_hours_to_end() {
        let nights = QuietHours {
            timezone: "UTC".into(),
            windows: vec![QuietWindow {
                days: Weekday::ALL.to_vec(),
                start: TimeOfDay::parse("22:00").unwrap(),
                end: TimeOfDay::parse("07:00").unwrap(),
            }],
        };
        let night = datetime!(2026-03-02 23:30 UTC);
        let morning = datetime!(2026-03-03 07:00 UTC);
        assert_eq!(held_until(Urgency::Low, false, Some(&nights), night), Some(morning));
        assert_eq!(held_until(Urgency::High, false, Some(&nights), night), None);
        assert_eq!(held_until(Urgency::Low, true, Some(&nights), night), None);
        assert_eq!(held_until(Urgency::Low, false, None, night), None);
        assert_eq!(held_until(Urgency::Low, false, Some(&nights), datetime!(2026-03-02 12:00 UTC)), None);
    }

    #[test]
    fn urgency_defaults_follow_the_event() {
        assert_eq!(Urgency::default_for(Event::Down), Urgency::High);
        for e in [Event::Up, Event::First, Event::Diagnostic] {
            assert_eq!(Urgency::default_for(e), Urgency::Low);
        }
        for r in ["disabled", "disabled_by_system", "unverified", "muted", "suppressed"] {
            assert_eq!(SkipReason::parse(r).map(SkipReason::as_str), Some(r));
        }
    }
}
