//! One notion of "now" for the whole service.

use time::OffsetDateTime;

/// The current time in UTC, truncated to microseconds.
///
/// PostgreSQL stores microseconds; truncating here means a value written and
/// read back compares equal on both backends, and SQLite's text timestamps
/// sort in time order.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000).expect("truncated nanoseconds stay in range")
}
