//! What the durability tests share: verified webhook channels, and the
//! checks that receivers, store and API agree on what was sent.

use super::deployment::{Deployment, Owner};
use super::{BOUND, ID};
use roster_testkit::{HttpReceiver, RecordedRequest, Tally};
use std::collections::{BTreeMap, BTreeSet};

/// Whether every one of `expected` is in `requests` (by `webhook-id`).
pub fn all_of(expected: &BTreeSet<String>) -> impl Fn(&[RecordedRequest]) -> bool + '_ {
    move |requests| Tally::of(requests, ID).missing(expected.iter().map(String::as_str)).is_empty()
}

/// The channel a verification request is about, from its default JSON body.
fn channel_of(request: &RecordedRequest) -> Option<String> {
    request.json().ok()?["channel_id"].as_str().map(str::to_owned)
}

/// Verifies each of `channels` (id → priority), all pointing at `receiver`,
/// with the code it received there: a worker must be running to send them.
/// Answers how many requests the receiver had by then.
pub async fn verify_at(
    deployment: &Deployment,
    owner: &Owner,
    receiver: &HttpReceiver,
    channels: &BTreeMap<String, i64>,
) -> usize {
    let every_code = |requests: &[RecordedRequest]| {
        let seen: BTreeSet<String> = requests.iter().filter_map(channel_of).collect();
        channels.keys().all(|id| seen.contains(id))
    };
    let requests = receiver.wait_until_received(BOUND, every_code).await.expect("every channel's code arrived");
    let mut verified = BTreeSet::new();
    for request in &requests {
        let Some(channel) = channel_of(request).filter(|id| channels.contains_key(id)) else { continue };
        if verified.insert(channel.clone()) {
            let body = request.json().unwrap();
            let code = body["code"].as_str().unwrap_or_else(|| panic!("no code in {body}"));
            deployment.verify(owner, channels[&channel], code).await;
        }
    }
    requests.len()
}

/// The webhook messages in the outbox to URLs starting with `prefix`.
pub async fn queued_for(deployment: &Deployment, prefix: &str) -> BTreeSet<String> {
    let rows = deployment.db.outbox().await;
    rows.iter()
        .filter(|r| r.transport == "webhook" && r.recipient.starts_with(prefix))
        .map(|r| r.id.to_string())
        .collect()
}

/// Store and API agree that everything was sent: no outbox row is left
/// pending, sending, failed or skipped, and each of `attempt_of`'s
/// deliveries reads as sent with one recorded attempt, numbered as given (a
/// try cut short by a crash counts, though it left no record).
pub async fn assert_all_sent(deployment: &Deployment, owner: &Owner, attempt_of: &BTreeMap<String, i64>) {
    let unsent: Vec<_> = deployment.db.outbox().await.into_iter().filter(|r| r.status != "sent").collect();
    assert!(unsent.is_empty(), "messages not sent: {unsent:?}");
    for (id, attempt) in attempt_of {
        let delivery = deployment.delivery(owner, id).await;
        assert_eq!(delivery["status"], "sent", "{delivery}");
        let attempts = delivery["attempts"].as_array().unwrap_or_else(|| panic!("no attempts: {delivery}"));
        assert_eq!(attempts.len(), 1, "one recorded attempt: {delivery}");
        let (number, outcome) = (&attempts[0]["attempt"], &attempts[0]["outcome"]);
        assert_eq!((number.as_i64(), outcome.as_str()), (Some(*attempt), Some("sent")), "{delivery}");
    }
}
