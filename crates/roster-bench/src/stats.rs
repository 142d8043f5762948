//! Latency distributions from every sample (sorted, nearest rank): at the
//! sizes these benchmarks run, keeping each sample is cheaper than being wrong
//! about a histogram's bucket error.

use serde::Serialize;
use std::time::Duration;

/// Milliseconds, as floats for the JSON and the table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// `None` for no samples: a distribution of nothing has no percentiles.
    pub fn of(mut samples: Vec<Duration>) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let total: Duration = samples.iter().sum();
        Some(Latency {
            count: samples.len(),
            min_ms: ms(samples[0]),
            mean_ms: ms(total) / samples.len() as f64,
            p50_ms: ms(percentile(&samples, 50.0)),
            p90_ms: ms(percentile(&samples, 90.0)),
            p99_ms: ms(percentile(&samples, 99.0)),
            max_ms: ms(samples[samples.len() - 1]),
        })
    }
}

/// Nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Events per second over `elapsed`; 0 for an empty interval.
pub fn rate(events: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latency::of(ms(&(1..=100).rev().collect::<Vec<_>>())).unwrap();
        assert_eq!((l.count, l.min_ms, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms), (100, 1.0, 50.0, 90.0, 99.0, 100.0));
        assert_eq!(l.mean_ms, 50.5);
        let one = Latency::of(ms(&[7])).unwrap();
        assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
        assert_eq!(Latency::of(Vec::new()), None);
    }

    #[test]
    fn rate_of_an_empty_interval_is_zero() {
        assert_eq!(rate(10, Duration::ZERO), 0.0);
        assert_eq!(rate(10, Duration::from_millis(500)), 20.0);
    }
}
