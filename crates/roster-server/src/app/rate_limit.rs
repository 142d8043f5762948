//! Limits on attempts, counted in the database so every instance enforces one limit.

use crate::state::AppState;
use roster_core::Error;
use time::Duration;

/// The window every limit counts in (`rate_limit_window_secs`).
pub fn window(state: &AppState) -> Duration {
    Duration::seconds(state.config().rate_limit_window_secs as i64)
}

/// Counts a hit on `key`; refuses with 429 once more than `max` fall in one window.
pub async fn hit(state: &AppState, key: &str, max: u32, window: Duration) -> Result<(), Error> {
    let now = roster_core::clock::now();
    let (hits, resets_at) = state.store().rate_limit_hit(key, window, now).await?;
    if hits > i64::from(max) {
        return Err(limited(max, window, resets_at, now));
    }
    Ok(())
}

/// Refuses with 429 when `key` already has `max` hits in its window, without counting one.
pub async fn check(state: &AppState, key: &str, max: u32, window: Duration) -> Result<(), Error> {
    let now = roster_core::clock::now();
    let (hits, resets_at) = state.store().rate_limit_peek(key, window, now).await?;
    if hits >= i64::from(max) {
        return Err(limited(max, window, resets_at, now));
    }
    Ok(())
}

fn limited(max: u32, window: Duration, resets_at: time::OffsetDateTime, now: time::OffsetDateTime) -> Error {
    Error::RateLimited {
        retry_after_secs: seconds_until(resets_at, now),
        limit: max,
        window_secs: window.whole_seconds().max(1) as u64,
    }
}

fn seconds_until(t: time::OffsetDateTime, now: time::OffsetDateTime) -> u64 {
    (t - now).whole_seconds().max(1) as u64
}

/// A key that names an email address without storing it.
pub fn email_key(state: &AppState, prefix: &str, email: &str) -> String {
    format!("{prefix}:{}", hex_prefix(&state.key().hash("rate-limit", &[email.as_bytes()])))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}
