//! One notion of "now" for the whole service.

use time::OffsetDateTime;

/// The current time in UTC, as [`stored`] keeps it.
pub fn now() -> OffsetDateTime {
    stored(OffsetDateTime::now_utc())
}

/// `t` as the database keeps times: truncated to microseconds, with a
/// microsecond count that never ends in 0.
///
/// PostgreSQL stores microseconds; truncating here means a value written and
/// read back compares equal on both backends. SQLite stores RFC 3339 text and
/// compares it as text, and RFC 3339 formatting drops trailing zeros from the
/// fraction: `…:00.12345Z` sorts after `…:00.123456Z`, so a message queued at
/// the first instant was not yet due for a worker asking at the second. With
/// the last digit never 0, every fraction has six digits and text order is
/// time order; the nudge is at most a microsecond, always forward.
pub fn stored(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.nanosecond() / 1_000;
    let last_digit = micros % 10;
    let micros = if last_digit == 0 { micros + 1 } else { micros };
    t.replace_nanosecond(micros * 1_000).expect("microseconds below 999,999 stay in range")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn stored_times_sort_as_text_in_time_order() {
        let base = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut previous: Option<(OffsetDateTime, String)> = None;
        // Every microsecond of the first 2 ms, then steps across whole seconds.
        let offsets = (0..2_000).map(|us| us * 1_000).chain((0..5_000).map(|i| i * 333_333_333));
        for ns in offsets {
            let t = stored(base + time::Duration::nanoseconds(ns));
            let text = t.format(&Rfc3339).unwrap();
            assert_eq!(text.len(), "2027-01-15T08:00:00.123457Z".len(), "{text}");
            assert_eq!(t.nanosecond() % 1_000, 0);
            assert!(t >= base + time::Duration::nanoseconds(ns / 1_000 * 1_000));
            if let Some((p, ptext)) = &previous {
                assert_eq!(p.cmp(&t), ptext.cmp(&text), "{ptext} vs {text}");
            }
            previous = Some((t, text));
        }
        assert_eq!(stored(stored(base)), stored(base));
    }
}
