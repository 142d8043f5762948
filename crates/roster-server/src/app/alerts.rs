//! Alerts: deciding who hears of an event (`notify`), and telling an
//! operator beforehand who would (`reachability`).
//!
//! Both walk the same candidates in the same order with the same rules
//! (roster_core::alert), so a reachability answer is exactly what a notify
//! at that moment would do.

use roster_core::alert::{self, ChannelState, SkipReason, Urgency};
use roster_core::channel::{ChannelType, Event, Mute, QuietHours, Suppress};
use roster_core::Error;
use roster_store::alerts::{AlertAudience, CandidateChannel};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A channel as alert answers name it. Values are left out: a member's
/// personal address is not everyone's to read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelRef {
    pub channel_id: Uuid,
    /// `team` or `customer`.
    #[schema(example = "team")]
    pub owner_type: String,
    pub owner_id: Uuid,
    pub owner_name: String,
    #[serde(rename = "type")]
    #[schema(example = "email")]
    pub channel_type: String,
    pub priority: i64,
}

/// What becomes of one channel for one event.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Sent at once.
    Send,
    /// Sent when the owner's quiet hours end.
    Hold(OffsetDateTime),
    Skip(SkipReason),
}

/// One candidate channel and its verdict.
#[derive(Debug, Clone)]
pub struct Planned<'a> {
    pub candidate: &'a CandidateChannel,
    pub channel: ChannelRef,
    pub verdict: Verdict,
}

/// Judges every candidate for `event` at `now`, in the audience's order.
pub fn plan(audience: &AlertAudience, event: Event, urgency: Urgency, now: OffsetDateTime) -> Vec<Planned<'_>> {
    audience
        .channels
        .iter()
        .map(|c| {
            let verdict = match alert::judge(&state_of(c), event, now) {
                Err(reason) => Verdict::Skip(reason),
                Ok(()) => {
                    // Quiet hours are a person's: a team's channels never wait.
                    let quiet = c.customer_id.and(c.quiet_hours.as_ref()).and_then(|j| quiet_hours(c.id, &j.0));
                    match alert::held_until(urgency, c.bypass_quiet_hours, quiet.as_ref(), now) {
                        Some(until) => Verdict::Hold(until),
                        None => Verdict::Send,
                    }
                }
            };
            Planned { candidate: c, channel: channel_ref(c), verdict }
        })
        .collect()
}

fn channel_ref(c: &CandidateChannel) -> ChannelRef {
    let (owner_type, owner_id) = match (c.customer_id, c.team_id) {
        (Some(customer), _) => ("customer", customer),
        (None, Some(team)) => ("team", team),
        // The schema makes one of them set; a row without either is not anyone's.
        (None, None) => ("team", Uuid::nil()),
    };
    ChannelRef {
        channel_id: c.id,
        owner_type: owner_type.to_owned(),
        owner_id,
        owner_name: c.owner_name.clone(),
        channel_type: c.channel_type.clone(),
        priority: c.priority,
    }
}

fn state_of(c: &CandidateChannel) -> ChannelState {
    ChannelState {
        enabled: c.enabled,
        disabled_by_system: c.disabled_by_system_at.is_some(),
        verified: c.verified_at.is_some(),
        mute: stored_mute(&c.mute),
        suppress: Suppress {
            up: c.suppress_up,
            down: c.suppress_down,
            first: c.suppress_first,
            diagnostic: c.suppress_diagnostic,
            all: c.suppress_all,
        },
    }
}

/// A stored mute (`false`, `true` or an RFC 3339 time). A value the store
/// should never hold counts as not muted: a missed page costs more than an
/// unwanted one.
fn stored_mute(raw: &str) -> Mute {
    Mute::from_stored(raw).unwrap_or_else(|e| {
        tracing::error!(mute = raw, error = %e, "alerts: unreadable stored mute, treating the channel as unmuted");
        Mute::Off
    })
}

fn quiet_hours(channel: Uuid, raw: &serde_json::Value) -> Option<QuietHours> {
    serde_json::from_value(raw.clone())
        .map_err(|e| tracing::error!(%channel, error = %e, "alerts: unreadable quiet hours, sending at once"))
        .ok()
}

/// The transport of a stored channel type.
pub fn transport_of(c: &CandidateChannel) -> Result<&'static str, Error> {
    ChannelType::parse(&c.channel_type).map(|t| t.as_str()).map_err(|p| Error::internal(p.message))
}

/// How an event is named in subjects: `[DOWN] checkout: …`.
pub fn event_label(event: Event) -> &'static str {
    match event {
        Event::Down => "DOWN",
        Event::Up => "UP",
        Event::First => "FIRST RESULT",
        Event::Diagnostic => "DIAGNOSTIC",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_mutes_read_back() {
        assert_eq!(stored_mute("false"), Mute::Off);
        assert_eq!(stored_mute("true"), Mute::On);
        assert!(matches!(stored_mute("2030-01-31T18:00:00Z"), Mute::Until(_)));
        assert_eq!(stored_mute("garbage"), Mute::Off);
    }

    #[test]
    fn labels_are_short_and_loud() {
        for e in Event::ALL {
            let l = event_label(e);
            assert_eq!(l, l.to_uppercase());
        }
    }
}
