//! Quiet hours: weekly windows, in the customer's own time zone, during which
//! alerts wait instead of being sent.

use super::weekly::{TimeOfDay, Weekday};
use crate::validation::FieldErrors;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// One weekly window. A window whose end is not after its start crosses
/// midnight: `22:00`–`07:00` on `fri` runs from Friday 22:00 to Saturday 07:00.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietWindow {
    /// The days on which the window starts.
    pub days: Vec<Weekday>,
    pub start: TimeOfDay,
    /// The end, exclusive; the next day's when it is earlier than `start`.
    pub end: TimeOfDay,
}

/// A customer's quiet hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// An IANA time zone name such as `Europe/Berlin`; the windows are wall-clock times there.
    pub timezone: String,
    pub windows: Vec<QuietWindow>,
}

/// How many touching windows `quiet_until` follows before it stops looking.
const MAX_CHAIN: usize = 64;

impl QuietHours {
    pub const MAX_WINDOWS: usize = 14;

    /// Every problem at once, with field names relative to the quiet hours (`windows[1].end`).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        self.check_into(&mut errors, "");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Like [`validate`](Self::validate), recording into `errors` with `prefix` before each field.
    pub fn check_into(&self, errors: &mut FieldErrors, prefix: &str) {
        if self.timezone.trim().is_empty() || TimeZone::get(self.timezone.trim()).is_err() {
            errors.push(
                &format!("{prefix}timezone"),
                "invalid_timezone",
                format!("`{}` is not a known time zone; use an IANA name such as Europe/Berlin", self.timezone),
            );
        }
        match self.windows.len() {
            0 => errors.push(&format!("{prefix}windows"), "required", "must list at least one window"),
            n if n > Self::MAX_WINDOWS => errors.push(
                &format!("{prefix}windows"),
                "too_many",
                format!("must list at most {} windows", Self::MAX_WINDOWS),
            ),
            _ => {}
        }
        for (i, w) in self.windows.iter().enumerate() {
            if w.days.is_empty() {
                errors.push(
                    &format!("{prefix}windows[{i}].days"),
                    "required",
                    "must list at least one day, such as [\"mon\"]",
                );
            }
            if w.start == w.end {
                errors.push(
                    &format!("{prefix}windows[{i}].end"),
                    "empty_window",
                    format!("must differ from start ({}); a window from 22:00 to 07:00 crosses midnight", w.start),
                );
            }
        }
    }

    /// `None` when `now` is not in quiet hours; otherwise the instant (UTC)
    /// at which the current window ends, following windows that touch or
    /// overlap it. Times are wall-clock times in the time zone: an end that
    /// a spring-forward gap skips ends the window when the clocks jump, and
    /// an hour repeated in autumn is judged by the clock each time it passes.
    /// Unknown time zones (which `validate` refuses) are never quiet.
    pub fn quiet_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let tz = TimeZone::get(self.timezone.trim()).ok()?;
        let now = Timestamp::new(now.unix_timestamp(), now.nanosecond() as i32).ok()?;
        let mut end = self.current_end(&tz, now)?;
        for _ in 0..MAX_CHAIN {
            match self.current_end(&tz, end) {
                Some(next) if next > end => end = next,
                _ => break,
            }
        }
        OffsetDateTime::from_unix_timestamp_nanos(end.as_nanosecond()).ok()
    }

    /// The latest end among the windows `at` lies in.
    fn current_end(&self, tz: &TimeZone, at: Timestamp) -> Option<Timestamp> {
        let local = tz.to_datetime(at);
        let today = local.date();
        let weekday = Weekday::from(today.weekday());
        let minute = u16::try_from(local.hour()).ok()? * 60 + u16::try_from(local.minute()).ok()?;
        let mut ends: Vec<(Date, TimeOfDay)> = Vec::new();
        for w in &self.windows {
            let (start, end) = (w.start.minutes(), w.end.minutes());
            for &day in &w.days {
                if start < end {
                    if day == weekday && start <= minute && minute < end {
                        ends.push((today, w.end));
                    }
                } else if start > end {
                    if day == weekday && minute >= start {
                        ends.push((today.tomorrow().ok()?, w.end));
                    }
                    if day.next() == weekday && minute < end {
                        ends.push((today, w.end));
                    }
                }
            }
        }
        ends.into_iter()
            .filter_map(|(date, end)| first_instant_at(tz, date.at(end.hour() as i8, end.minute() as i8, 0, 0), at))
            .max()
    }
}

/// The first instant after `after` at which the clock in `tz` reads `wall`
/// or later: the transition itself when a gap skips `wall`, and the first
/// of the two readings after `after` when a fold repeats it.
fn first_instant_at(tz: &TimeZone, wall: DateTime, after: Timestamp) -> Option<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(wall);
    let found = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => ambiguous.compatible().ok()?,
        AmbiguousOffset::Gap { after: offset_after, .. } => {
            // The clock jumps over `wall`; it first reads later at the transition.
            let before_jump = offset_after.to_timestamp(wall).ok()?;
            tz.following(before_jump).next()?.timestamp()
        }
        AmbiguousOffset::Fold { before, after: offset_after } => {
            let first = before.to_timestamp(wall).ok()?;
            if first > after {
                first
            } else {
                offset_after.to_timestamp(wall).ok()?
            }
        }
    };
    (found > after).then_some(found)
}

#[cfg(test)]
#[path = "quiet_tests.rs"]
mod tests;
