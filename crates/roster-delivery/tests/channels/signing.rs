//! Webhook channels signed with the secrets stored for them: the worker
//! reads the channel's live secrets at each attempt, and a receiver checks
//! them as the Standard Webhooks specification says, with an implementation
//! written here (the hmac, sha2 and base64 crates, not the sender's code).

use crate::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use roster_core::ids::{AuditEventId, OrganizationId};
use roster_delivery::transports::standard_webhooks::generate_secret;
use roster_store::NewAuditEvent;
use roster_testkit::{HttpReceiver, RecordedRequest};
use sha2::Sha256;
use time::OffsetDateTime;

/// The `v1,` signatures in the request's `webhook-signature` header.
fn signatures(req: &RecordedRequest) -> Vec<&str> {
    req.header("webhook-signature").map(|h| h.split(' ').collect()).unwrap_or_default()
}

/// The specification's check: the key is the base64 after `whsec_`, the
/// signed content `{webhook-id}.{webhook-timestamp}.{body}`, and one of the
/// space-separated signatures must be `v1,` and the base64 HMAC-SHA256; the
/// timestamp must be within five minutes of now.
fn signed_with(secret: &str, req: &RecordedRequest) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("a whsec_ secret")).expect("base64");
    let (id, ts) = (req.header("webhook-id").expect("webhook-id"), req.header("webhook-timestamp").expect("timestamp"));
    let sent: i64 = ts.parse().expect("Unix seconds");
    assert!((sent - clock::now().unix_timestamp()).abs() < 300, "stale timestamp {sent}");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{}", req.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    signatures(req).contains(&expected.as_str())
}

/// Rotates the test channel's secret through the store, as the API does.
async fn rotate(db: &TestDb, previous_until: OffsetDateTime) -> String {
    let secret = generate_secret();
    let now = clock::now();
    let audit = NewAuditEvent {
        id: AuditEventId::new(),
        organization_id: Some(OrganizationId(db.org)),
        actor_id: None,
        action: "channel.signing_secret_rotated",
        target_type: "notification_channel",
        target_id: Some(db.channel),
        data: json!({}),
        request_id: None,
        ip: None,
        at: now,
    };
    db.store.rotate_signing_secret(db.channel, &secret, previous_until, &audit, now).await.unwrap();
    secret
}

/// Sends one test message through the channel and answers the request the receiver got.
async fn send(db: &TestDb, worker: &Worker, receiver: &HttpReceiver) -> RecordedRequest {
    db.queue("webhook", &receiver.url_for("/hook"), "test", json!({})).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    receiver.next_request(WAIT).await.expect("the webhook was sent")
}

#[tokio::test]
async fn webhooks_are_signed_with_the_channel_secret_and_with_both_while_a_rotation_overlaps() {
    let (db, receiver) = (TestDb::new().await, HttpReceiver::start().await);
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0]);
    let hour = time::Duration::HOUR;

    // The first secret replaces none: one signature.
    let first = rotate(&db, clock::now() + hour).await;
    assert_eq!(db.store.channel_signing_secrets(db.channel, clock::now()).await.unwrap(), std::slice::from_ref(&first));
    let req = send(&db, &worker, &receiver).await;
    assert_eq!(signatures(&req).len(), 1, "{:?}", req.header("webhook-signature"));
    assert!(signed_with(&first, &req));

    // During the overlap both secrets sign, so a receiver on either accepts the message.
    let second = rotate(&db, clock::now() + hour).await;
    let req = send(&db, &worker, &receiver).await;
    assert_eq!(signatures(&req).len(), 2, "{:?}", req.header("webhook-signature"));
    assert!(signed_with(&first, &req) && signed_with(&second, &req));
    assert!(!signed_with(&generate_secret(), &req));

    // Once the overlap has ended, the old secret signs nothing.
    sqlx::query("UPDATE notification_channels SET previous_secret_expires_at = $1 WHERE id = $2")
        .bind(clock::now() - time::Duration::SECOND)
        .bind(db.channel)
        .execute(&db.pool)
        .await
        .unwrap();
    let req = send(&db, &worker, &receiver).await;
    assert_eq!(signatures(&req).len(), 1);
    assert!(signed_with(&second, &req) && !signed_with(&first, &req));

    // Rotating again within an overlap drops the oldest: never more than two sign.
    let third = rotate(&db, clock::now() + hour).await;
    let fourth = rotate(&db, clock::now() + hour).await;
    let req = send(&db, &worker, &receiver).await;
    assert_eq!(signatures(&req).len(), 2);
    assert!(signed_with(&third, &req) && signed_with(&fourth, &req) && !signed_with(&second, &req));
}

#[tokio::test]
async fn a_retry_is_signed_with_the_secret_of_its_own_attempt() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(roster_testkit::Behavior::Sequence(vec![500, 200]));
    let db = TestDb::new().await;
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0, 0]);
    let old = rotate(&db, clock::now()).await;
    let id = db.queue("webhook", &receiver.url_for("/hook"), "verification", json!({})).await;
    worker.run_once().await.unwrap();
    let failed = receiver.next_request(WAIT).await.unwrap();
    assert!(signed_with(&old, &failed));

    // Rotated with no overlap between the attempts: the retry carries the new secret only.
    let new = rotate(&db, clock::now()).await;
    worker.run_once().await.unwrap();
    let retried = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(retried.header("webhook-id"), Some(id.0.to_string().as_str()));
    assert_eq!(signatures(&retried).len(), 1);
    assert!(signed_with(&new, &retried) && !signed_with(&old, &retried));
    assert_eq!(db.delivery(id).await.0.status, "sent");
}

/// `ROSTER_STANDARDWEBHOOKS_PYTHON=/path/to/venv/bin/python cargo test -p
/// roster-delivery --test channels -- --ignored reference_python`
#[tokio::test]
#[ignore = "needs ROSTER_STANDARDWEBHOOKS_PYTHON: a python with `pip install standardwebhooks`"]
async fn the_reference_python_library_verifies_a_rotating_channel() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let python = std::env::var("ROSTER_STANDARDWEBHOOKS_PYTHON").expect("ROSTER_STANDARDWEBHOOKS_PYTHON");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transports/standard_webhooks_check.py");
    let (db, receiver) = (TestDb::new().await, HttpReceiver::start().await);
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0]);
    let old = rotate(&db, clock::now()).await;
    let new = rotate(&db, clock::now() + time::Duration::HOUR).await;
    let req = send(&db, &worker, &receiver).await;
    let headers: serde_json::Map<String, Value> =
        req.headers.iter().map(|(n, v)| (n.clone(), v.clone().into())).collect();
    let verdict = |secret: &str| {
        let case = json!({ "secret": secret, "headers": headers, "body": req.body });
        let mut child = Command::new(&python).arg(script).stdin(Stdio::piped()).spawn().expect("run python");
        child.stdin.take().unwrap().write_all(case.to_string().as_bytes()).unwrap();
        child.wait().unwrap().success()
    };
    assert!(verdict(&old), "the reference library refused the replaced secret during the overlap");
    assert!(verdict(&new), "the reference library refused the new secret");
    assert!(!verdict(&generate_secret()), "the reference library accepted a stranger's secret");
}
