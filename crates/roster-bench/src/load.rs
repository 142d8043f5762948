//! A closed-loop load generator: `concurrency` workers take the next request
//! index until `count` are done, each timing its own requests.
//!
//! Closed loop means a slow server slows the offered load rather than
//! queueing requests in the generator, so latency is the server's, and the
//! request rate is what it sustains at that concurrency.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request: when it was about to be sent, when its answer was read, and what it produced.
#[derive(Debug)]
pub struct Sample<T> {
    pub index: usize,
    pub start: Instant,
    pub end: Instant,
    pub value: T,
}

impl<T> Sample<T> {
    pub fn latency(&self) -> Duration {
        self.end - self.start
    }
}

/// What a run produced: every sample (in index order) and the wall time from
/// the first request's start to the last answer.
pub struct Run<T> {
    pub samples: Vec<Sample<T>>,
    pub started: Instant,
    pub elapsed: Duration,
}

/// Runs `request(i)` for i in 0..count with at most `concurrency` in flight.
pub async fn drive<T, F, Fut>(count: usize, concurrency: usize, request: F) -> Run<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let request = Arc::new(request);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (next, request) = (Arc::clone(&next), Arc::clone(&request));
            tokio::spawn(async move {
                let mut samples = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return samples;
                    }
                    let start = Instant::now();
                    let value = request(index).await;
                    samples.push(Sample { index, start, end: Instant::now(), value });
                }
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(count);
    for worker in workers {
        // A worker only ends by running out of indexes; a panic in `request` is a bug to surface.
        samples.extend(worker.await.expect("a load worker panicked"));
    }
    samples.sort_by_key(|s| s.index);
    let last = samples.iter().map(|s| s.end).max().unwrap_or(started);
    Run { elapsed: last - started, started, samples }
}
