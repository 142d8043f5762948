//! Failures: what is retried, when, and what is recorded.

use crate::*;
use roster_testkit::{Behavior, HttpReceiver};

async fn hook(receiver: &HttpReceiver, behavior: Behavior) -> (TestDb, String) {
    receiver.respond_with(behavior);
    (TestDb::new().await, receiver.url_for("/hook"))
}

#[tokio::test]
async fn a_server_error_is_retried_and_delivered_once() {
    let receiver = HttpReceiver::start().await;
    let (db, url) = hook(&receiver, Behavior::Sequence(vec![500, 200])).await;
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0, 0, 0]);
    let id = db.queue("webhook", &url, "verification", json!({})).await;

    assert_eq!(worker.run_once().await.unwrap(), 1);
    let (row, attempts) = db.delivery(id).await;
    assert_eq!((row.status.as_str(), row.settled_at), ("pending", None));
    assert_eq!(attempts[0].outcome, "retry");
    assert_eq!((attempts[0].status_code, attempts[0].error_class.as_deref()), (Some(500), Some("server_error")));

    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let (row, attempts) = db.delivery(id).await;
    assert_eq!(row.status, "sent");
    assert!(row.settled_at.is_some());
    let summary: Vec<_> = attempts.iter().map(|a| (a.attempt, a.outcome.as_str(), a.status_code)).collect();
    assert_eq!(summary, [(1, "retry", Some(500)), (2, "sent", Some(200))]);
    // Delivered once; both tries carry the same id, so a receiver can deduplicate.
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let expected = id.0.to_string();
    assert!(requests.iter().all(|r| r.header("webhook-id") == Some(expected.as_str())));
}

#[tokio::test]
async fn a_test_message_is_tried_once() {
    let receiver = HttpReceiver::start().await;
    let (db, url) = hook(&receiver, Behavior::Status(500)).await;
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0, 0, 0]);
    let id = db.queue("webhook", &url, "test", json!({})).await;

    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let (row, attempts) = db.delivery(id).await;
    assert_eq!((row.kind.as_str(), row.status.as_str()), ("test", "failed"));
    assert!(row.settled_at.is_some());
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].outcome.as_str(), attempts[0].status_code), ("failed", Some(500)));
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn retry_after_delays_the_next_attempt() {
    let receiver = HttpReceiver::start().await;
    let (db, url) = hook(&receiver, Behavior::TooManyRequests { retry_after_secs: 120 }).await;
    // The schedule would try again at once; the receiver asked for two minutes.
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0, 0, 600]);
    let id = db.queue("webhook", &url, "verification", json!({})).await;
    let before = clock::now();

    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0, "not due before the receiver's Retry-After");
    let next = db.next_attempt_at(id).await;
    assert!(next >= before + time::Duration::seconds(120), "{next} vs {before}");
    assert!(next <= clock::now() + time::Duration::seconds(121), "{next}");
    let (row, attempts) = db.delivery(id).await;
    assert_eq!(row.status, "pending");
    assert_eq!((attempts[0].status_code, attempts[0].error_class.as_deref()), (Some(429), Some("rate_limited")));

    // Never later than the schedule's longest delay.
    let (db, url) = hook(&receiver, Behavior::TooManyRequests { retry_after_secs: 3000 }).await;
    let worker = worker_for(&db, &receiver, &[0, 0, 600]);
    let id = db.queue("webhook", &url, "verification", json!({})).await;
    worker.run_once().await.unwrap();
    let next = db.next_attempt_at(id).await;
    assert!(next <= clock::now() + time::Duration::seconds(600), "{next}");
    assert!(next >= clock::now() + time::Duration::seconds(590), "{next}");
}

fn worker_for(db: &TestDb, receiver: &HttpReceiver, schedule: &[u64]) -> Worker {
    worker(db, log_mailer(), channel_config(receiver, false), schedule)
}

#[tokio::test]
async fn gone_is_a_permanent_failure() {
    let receiver = HttpReceiver::start().await;
    let (db, _) = hook(&receiver, Behavior::Body { status: 410, body: "channel_is_archived".into() }).await;
    let worker = worker_for(&db, &receiver, &[0, 0, 0]);
    let id = db.queue("slack", "https://hooks.slack.com/services/T0/B0/X", "verification", json!({})).await;

    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    let (row, attempts) = db.delivery(id).await;
    assert_eq!(row.status, "failed");
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].status_code, attempts[0].error_class.as_deref()), (Some(410), Some("gone")));
}

#[tokio::test]
async fn unconfigured_transports_fail_permanently() {
    let receiver = HttpReceiver::start().await;
    let db = TestDb::new().await;
    let worker = worker_for(&db, &receiver, &[0, 0, 0]);
    let ids = [
        db.queue("sms", "+14155550100", "verification", json!({})).await,
        db.queue("voice", "+14155550100", "verification", json!({})).await,
        db.queue("push-notification", "device-token-1", "verification", json!({})).await,
    ];
    // Two at a time (the worker's concurrency), each tried once.
    assert_eq!(worker.run_once().await.unwrap() + worker.run_once().await.unwrap(), 3);
    assert_eq!(worker.run_once().await.unwrap(), 0);
    for id in ids {
        let (row, attempts) = db.delivery(id).await;
        assert_eq!(row.status, "failed");
        assert_eq!(attempts.len(), 1);
        assert_eq!((attempts[0].error_class.as_deref(), attempts[0].status_code), (Some("not_configured"), None));
    }
    assert!(receiver.requests().is_empty());
}
