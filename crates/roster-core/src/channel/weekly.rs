//! Days of the week and times of day, as quiet hours are written.

use crate::validation::FieldProblem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    /// The day after this one (Sunday is followed by Monday).
    pub fn next(self) -> Self {
        Self::ALL[(self as usize + 1) % 7]
    }
}

impl From<jiff::civil::Weekday> for Weekday {
    fn from(d: jiff::civil::Weekday) -> Self {
        Self::ALL[d.to_monday_zero_offset() as usize]
    }
}

/// A wall-clock time of day to the minute, written `HH:MM` (00:00–23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        (hour < 24 && minute < 60).then_some(Self { hour, minute })
    }

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let invalid = || {
            FieldProblem::new(
                "invalid_time",
                format!("`{}` is not a time of day; write HH:MM, such as 07:00 or 22:30", raw.trim()),
            )
        };
        let (h, m) = raw.trim().split_once(':').ok_or_else(invalid)?;
        let two_digits =
            |s: &str| (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u8>().ok()).flatten();
        let (hour, minute) = two_digits(h).zip(two_digits(m)).ok_or_else(invalid)?;
        Self::new(hour, minute).ok_or_else(invalid)
    }

    pub fn hour(self) -> u8 {
        self.hour
    }

    pub fn minute(self) -> u8 {
        self.minute
    }

    /// Minutes since midnight.
    pub(crate) fn minutes(self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|p| p.message)
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> Self {
        t.to_string()
    }
}

impl utoipa::PartialSchema for TimeOfDay {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^([01][0-9]|2[0-3]):[0-5][0-9]$"))
            .examples(["22:00"])
            .description(Some("A wall-clock time of day, HH:MM"))
            .into()
    }
}

impl ToSchema for TimeOfDay {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays() {
        assert_eq!(Weekday::Sun.next(), Weekday::Mon);
        assert_eq!(Weekday::Mon.next(), Weekday::Tue);
        assert_eq!(Weekday::from(jiff::civil::Weekday::Sunday), Weekday::Sun);
        for d in Weekday::ALL {
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{}\"", d.as_str()));
        }
        assert!(serde_json::from_str::<Weekday>("\"monday\"").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("07:05").unwrap(), TimeOfDay::new(7, 5).unwrap());
        assert_eq!(TimeOfDay::parse(" 23:59 ").unwrap().to_string(), "23:59");
        assert_eq!(TimeOfDay::parse("00:00").unwrap().minutes(), 0);
        for bad in ["24:00", "7:00", "07:0", "07:60", "0700", "07:00:00", "+7:00", "aa:bb", "", "07:-1"] {
            let p = TimeOfDay::parse(bad).unwrap_err();
            assert_eq!(p.code, "invalid_time", "{bad:?}");
            assert!(p.message.contains("HH:MM"));
        }
        let t: TimeOfDay = serde_json::from_str("\"22:30\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"22:30\"");
        let e = serde_json::from_str::<TimeOfDay>("\"25:00\"").unwrap_err().to_string();
        assert!(e.contains("HH:MM"), "{e}");
    }
}
