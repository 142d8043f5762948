//! What a receiver got, counted by a header's value (a webhook's stable
//! `webhook-id`), and waiting until the requests so far meet a condition:
//! for tests that a message arrived at least once, or exactly once.

use crate::{HttpReceiver, RecordedRequest};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

impl HttpReceiver {
    /// Every request so far, once `done` holds for them, checked now and
    /// again on every arrival; `None` when `timeout` passes first.
    pub async fn wait_until_received(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&[RecordedRequest]) -> bool,
    ) -> Option<Vec<RecordedRequest>> {
        let deadline = Instant::now() + timeout;
        let mut at_least = 0;
        loop {
            // Signal-based: each round waits for one more request than the last one saw.
            let requests = self.wait_for_count(at_least, deadline.saturating_duration_since(Instant::now())).await?;
            if done(&requests) {
                return Some(requests);
            }
            at_least = requests.len() + 1;
        }
    }
}

/// How many requests carried each value of one header; requests without
/// it are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(BTreeMap<String, usize>);

impl Tally {
    /// Counts the values of `header` (compared without case) in `requests`.
    pub fn of<'a>(requests: impl IntoIterator<Item = &'a RecordedRequest>, header: &str) -> Tally {
        let mut counts = BTreeMap::new();
        for value in requests.into_iter().filter_map(|r| r.header(header)) {
            *counts.entry(value.to_owned()).or_insert(0) += 1;
        }
        Tally(counts)
    }

    /// How many requests carried `value`.
    pub fn count(&self, value: &str) -> usize {
        self.0.get(value).copied().unwrap_or(0)
    }

    /// How many requests were counted.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// The distinct values seen, in order.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The values of `expected` that no request carried.
    pub fn missing<'a>(&self, expected: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        expected.into_iter().filter(|v| self.count(v) == 0).map(str::to_owned).collect()
    }

    /// The values that arrived more than once, with how often.
    pub fn repeated(&self) -> BTreeMap<String, usize> {
        self.0.iter().filter(|(_, n)| **n > 1).map(|(v, n)| (v.clone(), *n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: Option<&str>) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: "/".into(),
            query: None,
            headers: id.map(|id| vec![("webhook-id".to_owned(), id.to_owned())]).unwrap_or_default(),
            body: String::new(),
        }
    }

    #[test]
    fn counts_each_value_and_names_the_missing_and_repeated() {
        let requests = [request(Some("a")), request(Some("b")), request(None), request(Some("a"))];
        let tally = Tally::of(&requests, "Webhook-Id");
        assert_eq!((tally.count("a"), tally.count("b"), tally.count("c")), (2, 1, 0));
        assert_eq!(tally.total(), 3);
        assert_eq!(tally.values().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(tally.missing(["a", "c", "d"]), ["c", "d"]);
        assert_eq!(tally.repeated().into_iter().collect::<Vec<_>>(), [("a".to_owned(), 2)]);
    }

    #[tokio::test]
    async fn waits_for_a_condition_on_every_arrival_and_gives_up_at_the_timeout() {
        let receiver = HttpReceiver::start().await;
        let url = receiver.url();
        let sender = tokio::spawn(async move {
            let client = reqwest::Client::new();
            for id in ["x", "x", "y"] {
                client.post(&url).header("webhook-id", id).send().await.unwrap();
            }
        });
        let two_ids = |r: &[RecordedRequest]| Tally::of(r, "webhook-id").values().count() == 2;
        let requests = receiver.wait_until_received(Duration::from_secs(5), two_ids).await.expect("x and y arrived");
        assert_eq!(requests.len(), 3, "the condition held only once y arrived");
        sender.await.unwrap();
        // Already true: answers at once, even with no time left.
        assert!(receiver.wait_until_received(Duration::ZERO, |r| r.len() == 3).await.is_some());
        assert!(receiver.wait_until_received(Duration::from_millis(50), |r| r.len() > 3).await.is_none());
    }
}
