//! Fixed-window counters in the database, so every instance sharing it
//! enforces one limit.

use crate::{dispatch, Store, StoreResult};
use time::{Duration, OffsetDateTime};

impl Store {
    /// Counts one hit on `key` and answers the hits in the current window and
    /// when that window ends. A window starts at the first hit after the last one ended.
    pub async fn rate_limit_hit(
        &self,
        key: &str,
        window: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<(i64, OffsetDateTime)> {
        let (hits, start): (i64, OffsetDateTime) = dispatch!(self, write, |pool| {
            sqlx::query_as(
                "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
                 ON CONFLICT (key) DO UPDATE SET
                   hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END,
                   window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END
                 RETURNING hits, window_start",
            )
            .bind(key)
            .bind(now)
            .bind(now - window)
            .fetch_one(pool)
            .await?
        });
        Ok((hits, start + window))
    }

    /// The hits on `key` in its current window (0 when it has none), without counting one.
    pub async fn rate_limit_peek(
        &self,
        key: &str,
        window: Duration,
        now: OffsetDateTime,
    ) -> StoreResult<(i64, OffsetDateTime)> {
        let row: Option<(i64, OffsetDateTime)> = dispatch!(self, read, |pool| {
            sqlx::query_as("SELECT hits, window_start FROM rate_limits WHERE key = $1 AND window_start > $2")
                .bind(key)
                .bind(now - window)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(h, s)| (h, s + window)).unwrap_or((0, now)))
    }

    /// Forgets a key's count (after a successful login, say).
    pub async fn rate_limit_reset(&self, key: &str) -> StoreResult<()> {
        dispatch!(self, write, |pool| {
            sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(pool).await?;
        });
        Ok(())
    }

    /// Deletes what has expired: sessions, and codes, held sign-ups and
    /// rate-limit windows older than `keep`.
    pub async fn purge_expired(&self, now: OffsetDateTime, keep: Duration) -> StoreResult<u64> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let mut n = 0;
            n += sqlx::query("DELETE FROM access_tokens WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM verification_codes WHERE expires_at <= $1")
                .bind(now - keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM pending_signups WHERE expires_at <= $1")
                .bind(now - keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM rate_limits WHERE window_start <= $1")
                .bind(now - keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            n
        }))
    }
}
