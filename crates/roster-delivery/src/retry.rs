//! When to try a message again after a transient failure, and when to stop.

use rand::Rng;
use std::time::Duration;

/// A schedule of delays, one per attempt, with random jitter.
///
/// `schedule[n]` is the delay before attempt `n + 1`: the first entry is the
/// delay before the first attempt (messages are queued due at once, so it is
/// 0 by default), and a message gets as many attempts as the schedule has
/// entries. The default spreads eight attempts over about 28 hours, long
/// enough to outlast a mail server's maintenance window.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub schedule: Vec<Duration>,
    /// Each delay is scaled by a random factor in `1 ± jitter` (clamped to
    /// 0..=1), so messages that failed together do not retry together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            schedule: vec![
                Duration::ZERO,
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(2 * 60),
                minutes(5 * 60),
                minutes(10 * 60),
                minutes(10 * 60),
            ],
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts_made` attempts
    /// failed, or `None` when the schedule is used up and the message is
    /// given up on.
    pub fn next_delay(&self, attempts_made: i64) -> Option<Duration> {
        let index = usize::try_from(attempts_made.max(0)).ok()?;
        let base = *self.schedule.get(index)?;
        let jitter = if self.jitter.is_finite() { self.jitter.clamp(0.0, 1.0) } else { 0.0 };
        if jitter == 0.0 || base.is_zero() {
            return Some(base);
        }
        let factor = rand::thread_rng().gen_range(1.0 - jitter..=1.0 + jitter);
        Some(base.mul_f64(factor))
    }

    /// The longest delay the schedule has: a receiver asking for a longer
    /// wait (`Retry-After`) gets this one.
    pub fn max_delay(&self) -> Duration {
        self.schedule.iter().copied().max().unwrap_or(Duration::ZERO)
    }

    /// How many attempts a message gets in all.
    pub fn max_attempts(&self) -> usize {
        self.schedule.len()
    }

    /// Checks the policy makes sense: at least one attempt, a usable jitter.
    pub fn validate(&self) -> Result<(), String> {
        if self.schedule.is_empty() {
            return Err("the retry schedule needs at least one entry".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!("the retry jitter must be between 0 and 1, not {}", self.jitter));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_spans_eight_attempts() {
        let p = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
        let secs: Vec<u64> = (0..8).map(|n| p.next_delay(n).unwrap().as_secs()).collect();
        assert_eq!(secs, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(p.max_attempts(), 8);
        assert_eq!(p.max_delay(), Duration::from_secs(36000));
        assert!(p.validate().is_ok());
    }

    #[test]
    fn gives_up_when_the_schedule_is_used_up() {
        let p = RetryPolicy::default();
        assert!(p.next_delay(7).is_some());
        assert_eq!(p.next_delay(8), None);
        assert_eq!(p.next_delay(1000), None);
        assert_eq!(RetryPolicy { schedule: vec![], jitter: 0.0 }.next_delay(0), None);
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let p = RetryPolicy::default();
        let base = Duration::from_secs(300);
        let delays: Vec<Duration> = (0..500).map(|_| p.next_delay(2).unwrap()).collect();
        for d in &delays {
            assert!(*d >= base.mul_f64(0.8) && *d <= base.mul_f64(1.2), "{d:?}");
        }
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter should vary the delay");
        // No jitter on a zero delay, and none at all when turned off.
        assert_eq!(p.next_delay(0), Some(Duration::ZERO));
        assert_eq!(p.next_delay(-3), Some(Duration::ZERO));
        assert_eq!(RetryPolicy { jitter: 0.0, ..p.clone() }.next_delay(2), Some(base));
    }

    #[test]
    fn odd_settings_are_refused_or_tamed() {
        assert!(RetryPolicy { schedule: vec![], jitter: 0.2 }.validate().is_err());
        assert!(RetryPolicy { jitter: 1.5, ..RetryPolicy::default() }.validate().is_err());
        let wild = RetryPolicy { jitter: f64::NAN, ..RetryPolicy::default() };
        assert_eq!(wild.next_delay(1), Some(Duration::from_secs(5)));
    }
}
