//! NodePing's per-channel controls: which events to suppress, and muting.

use crate::validation::FieldProblem;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// What happened to a service, as a notification reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Down,
    Up,
    /// The first result of a new check.
    First,
    /// A diagnostic report about a failing check.
    Diagnostic,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::Down, Event::Up, Event::First, Event::Diagnostic];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Down => "down",
            Event::Up => "up",
            Event::First => "first",
            Event::Diagnostic => "diagnostic",
        }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which events a channel is not told about (NodePing's `suppressup`, …, `suppressall`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Suppress {
    pub up: bool,
    pub down: bool,
    pub first: bool,
    pub diagnostic: bool,
    /// Every event, whatever the other flags say.
    pub all: bool,
}

impl Suppress {
    pub fn suppresses(&self, event: Event) -> bool {
        self.all
            || match event {
                Event::Up => self.up,
                Event::Down => self.down,
                Event::First => self.first,
                Event::Diagnostic => self.diagnostic,
            }
    }
}

/// Whether a channel is muted: on the wire `false`, `true`, or an RFC 3339
/// time after which the channel unmutes by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mute {
    #[default]
    Off,
    On,
    /// Muted until this instant (kept in UTC).
    Until(OffsetDateTime),
}

impl Mute {
    /// Parses a request's JSON value; a time must lie after `now`.
    pub fn parse_json(value: &serde_json::Value, now: OffsetDateTime) -> Result<Self, FieldProblem> {
        match value {
            serde_json::Value::Bool(b) => Ok(if *b { Mute::On } else { Mute::Off }),
            serde_json::Value::String(s) => {
                let until = parse_time(s)?;
                if until <= now {
                    return Err(FieldProblem::new(
                        "in_the_past",
                        format!("must be a time in the future; `{}` has already passed", s.trim()),
                    ));
                }
                Ok(Mute::Until(until))
            }
            _ => Err(FieldProblem::new("invalid_mute", MUTE_SHAPE)),
        }
    }

    /// How the store keeps a mute: `false`, `true`, or the RFC 3339 time it ends.
    pub fn to_stored(self) -> String {
        match self {
            Mute::Off => "false".to_owned(),
            Mute::On => "true".to_owned(),
            Mute::Until(t) => t.format(&Rfc3339).unwrap_or_else(|_| "false".to_owned()),
        }
    }

    /// Reads back what [`to_stored`](Self::to_stored) wrote.
    pub fn from_stored(raw: &str) -> Result<Self, FieldProblem> {
        match raw {
            "false" => Ok(Mute::Off),
            "true" => Ok(Mute::On),
            t => parse_time(t).map(Mute::Until),
        }
    }

    /// Whether notifications are held back at `now`; a `Until` mute ends at its instant.
    pub fn is_muted(&self, now: OffsetDateTime) -> bool {
        match self {
            Mute::Off => false,
            Mute::On => true,
            Mute::Until(t) => now < *t,
        }
    }
}

const MUTE_SHAPE: &str = "must be true, false, or an RFC 3339 time such as 2030-01-31T18:00:00Z to unmute at";

fn parse_time(s: &str) -> Result<OffsetDateTime, FieldProblem> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .map_err(|_| FieldProblem::new("invalid_mute", MUTE_SHAPE))
}

impl Serialize for Mute {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Mute::Off => serializer.serialize_bool(false),
            Mute::On => serializer.serialize_bool(true),
            Mute::Until(t) => serializer.serialize_str(&t.format(&Rfc3339).map_err(serde::ser::Error::custom)?),
        }
    }
}

/// Accepts the three forms without judging a time's age, so stored values
/// read back; requests go through [`Mute::parse_json`], which does.
impl<'de> Deserialize<'de> for Mute {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(b) => Ok(if b { Mute::On } else { Mute::Off }),
            serde_json::Value::String(s) => parse_time(&s).map(Mute::Until).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(MUTE_SHAPE)),
        }
    }
}

impl utoipa::PartialSchema for Mute {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .description(Some("`true`, `false`, or the RFC 3339 time at which the channel unmutes by itself"))
            .into()
    }
}

impl ToSchema for Mute {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn stored_mutes_round_trip() {
        for m in [Mute::Off, Mute::On, Mute::Until(datetime!(2030-01-31 18:00 UTC))] {
            assert_eq!(Mute::from_stored(&m.to_stored()), Ok(m));
        }
        assert_eq!(Mute::Until(datetime!(2030-01-31 18:00 UTC)).to_stored(), "2030-01-31T18:00:00Z");
        assert!(Mute::from_stored("garbage").is_err());
    }

    const NOW: OffsetDateTime = datetime!(2025-06-01 12:00 UTC);

    #[test]
    fn suppress_flags() {
        let none = Suppress::default();
        assert!(Event::ALL.iter().all(|e| !none.suppresses(*e)));
        let up = Suppress { up: true, ..Suppress::default() };
        assert!(up.suppresses(Event::Up) && !up.suppresses(Event::Down));
        let diag: Suppress = serde_json::from_value(json!({"diagnostic": true, "first": true})).unwrap();
        assert!(diag.suppresses(Event::Diagnostic) && diag.suppresses(Event::First) && !diag.suppresses(Event::Up));
        let all: Suppress = serde_json::from_value(json!({"all": true})).unwrap();
        assert!(Event::ALL.iter().all(|e| all.suppresses(*e)));
        assert!(serde_json::from_value::<Suppress>(json!({"diag": true})).is_err());
        assert_eq!(serde_json::to_value(Event::Diagnostic).unwrap(), json!("diagnostic"));
    }

    #[test]
    fn mute_from_json() {
        assert_eq!(Mute::parse_json(&json!(false), NOW).unwrap(), Mute::Off);
        assert_eq!(Mute::parse_json(&json!(true), NOW).unwrap(), Mute::On);
        let until = Mute::parse_json(&json!("2025-06-01T14:30:00+02:00"), NOW).unwrap();
        assert_eq!(until, Mute::Until(datetime!(2025-06-01 12:30 UTC)));
        for (past, code) in [("2025-06-01T12:00:00Z", "in_the_past"), ("2020-01-01T00:00:00Z", "in_the_past")] {
            assert_eq!(Mute::parse_json(&json!(past), NOW).unwrap_err().code, code);
        }
        for bad in [json!("tomorrow"), json!("2025-06-02"), json!(1633637541000u64), json!(null), json!({})] {
            let p = Mute::parse_json(&bad, NOW).unwrap_err();
            assert_eq!(p.code, "invalid_mute", "{bad}");
            assert!(p.message.contains("RFC 3339"));
        }
    }

    #[test]
    fn mute_expires_by_itself() {
        let m = Mute::Until(datetime!(2025-06-01 12:30 UTC));
        assert!(m.is_muted(NOW));
        assert!(!m.is_muted(datetime!(2025-06-01 12:30 UTC)));
        assert!(Mute::On.is_muted(NOW) && !Mute::Off.is_muted(NOW));
    }

    #[test]
    fn mute_serializes_as_it_came() {
        for (m, j) in [
            (Mute::Off, json!(false)),
            (Mute::On, json!(true)),
            (Mute::Until(datetime!(2025-06-01 12:30 UTC)), json!("2025-06-01T12:30:00Z")),
        ] {
            assert_eq!(serde_json::to_value(m).unwrap(), j);
            assert_eq!(serde_json::from_value::<Mute>(j).unwrap(), m);
        }
        // Stored values read back whatever their age.
        assert!(serde_json::from_value::<Mute>(json!("2000-01-01T00:00:00Z")).is_ok());
        assert!(serde_json::from_value::<Mute>(json!(3)).is_err());
    }
}
