//! The outbox worker end to end: a SQLite store, the SMTP transport and a
//! real SMTP server (roster-testkit).

use roster_core::ids::*;
use roster_core::message::{NewMessage, Template, Transport};
use roster_delivery::{
    ChannelConfig, ChannelSenders, Mailer, MailerConfig, RetryPolicy, Templates, Worker, WorkerConfig,
};
use roster_store::{NewAuditEvent, NewSignup, OutboxCounts, Store, StoreOptions};
use roster_testkit::{RejectMode, SmtpServer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(5);

/// A store in a fresh directory, removed when dropped.
struct TestDb {
    store: Store,
    dir: PathBuf,
}

impl TestDb {
    async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("roster-delivery-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let opts = StoreOptions {
            url: format!("sqlite://{}/roster.db", dir.display()),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        };
        let store = Store::connect(&opts).await.expect("open store");
        store.migrate().await.expect("migrate");
        Self { store, dir }
    }

    /// Signs up `email`, which queues a verification message carrying `code`.
    async fn queue_verification(&self, email: &str, code: &str) {
        let now = roster_core::clock::now();
        let org = OrganizationId::new();
        let customer = CustomerId::new();
        let message = NewMessage {
            transport: Transport::Email,
            template: Template::EmailVerification,
            recipient: email.to_owned(),
            data: serde_json::json!({ "name": "Ada", "expires_in_minutes": 15 }),
            secret: Some(code.to_owned()),
        };
        let signup = NewSignup {
            organization_id: org,
            organization_name: "Acme".into(),
            slug: "acme".into(),
            plan: "free".into(),
            trial_ends_at: None,
            team_id: TeamId::new(),
            team_name: "Main".into(),
            team_name_key: "main".into(),
            customer_id: customer,
            email: email.to_owned(),
            email_verified: false,
            password_hash: "not-a-real-hash".into(),
            name: "Ada".into(),
            surname: "Lovelace".into(),
            membership_id: MembershipId::new(),
            verification: Some((vec![0; 32], now + time::Duration::minutes(15), message)),
            audit: NewAuditEvent {
                id: AuditEventId::new(),
                organization_id: Some(org),
                actor_id: Some(customer),
                action: "organization.created",
                target_type: "organization",
                target_id: Some(org.0),
                data: serde_json::json!({}),
                request_id: None,
                ip: None,
                at: now,
            },
            now,
        };
        self.store.create_signup(&signup).await.expect("signup");
    }

    async fn counts(&self) -> OutboxCounts {
        self.store.outbox_counts().await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn counts(pending: i64, sent: i64, failed: i64) -> OutboxCounts {
    OutboxCounts { pending, sending: 0, sent, failed, skipped: 0 }
}

fn config(schedule_secs: &[u64]) -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_secs(60),
        lease: Duration::from_secs(30),
        batch_size: 8,
        concurrency: 2,
        retry: RetryPolicy { schedule: schedule_secs.iter().map(|s| Duration::from_secs(*s)).collect(), jitter: 0.0 },
    }
}

fn worker(db: &TestDb, server: &SmtpServer, cfg: WorkerConfig) -> (Worker, Arc<Notify>) {
    let mailer =
        Mailer::new(&MailerConfig::Smtp { url: server.url(), timeout: WAIT }, "Roster <roster@localhost>").unwrap();
    let templates = Templates::new("Roster", "http://localhost:8080").unwrap();
    let senders = Arc::new(ChannelSenders::new(ChannelConfig::default()).unwrap());
    let wake = Arc::new(Notify::new());
    let worker = Worker::new(db.store.clone(), Arc::new(mailer), senders, Arc::new(templates), cfg, Arc::clone(&wake));
    (worker, wake)
}

#[tokio::test]
async fn sends_queued_messages_and_settles_them() {
    let (db, server) = (TestDb::new().await, SmtpServer::start().await);
    let (worker, _) = worker(&db, &server, config(&[0, 5]));
    db.queue_verification("ada@example.com", "042917").await;
    db.queue_verification("bob@example.com", "777111").await;

    assert_eq!(worker.run_once().await.unwrap(), 2);
    let mail = server.wait_for("ada@example.com", WAIT).await.expect("delivered");
    assert!(mail.subject.contains("verification code"));
    assert_eq!(mail.code().as_deref(), Some("042917"));
    assert_eq!(server.wait_for("bob@example.com", WAIT).await.unwrap().code().as_deref(), Some("777111"));
    assert_eq!(db.counts().await, counts(0, 2, 0));
    assert_eq!(worker.run_once().await.unwrap(), 0);
}

#[tokio::test]
async fn batches_are_bounded_by_free_permits() {
    let (db, server) = (TestDb::new().await, SmtpServer::start().await);
    let (worker, _) = worker(&db, &server, WorkerConfig { concurrency: 2, ..config(&[0]) });
    for i in 0..3 {
        db.queue_verification(&format!("user{i}@example.com"), "123456").await;
    }
    assert_eq!(worker.run_once().await.unwrap(), 2);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(db.counts().await, counts(0, 3, 0));
}

#[tokio::test]
async fn transient_failures_are_retried_then_given_up() {
    let (db, server) = (TestDb::new().await, SmtpServer::start().await);
    // Three attempts, each due at once, so the test need not wait.
    let (worker, _) = worker(&db, &server, config(&[0, 0, 0]));
    db.queue_verification("ada@example.com", "042917").await;

    server.set_reject(Some(RejectMode::Transient));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(db.counts().await, counts(1, 0, 0));
    server.set_reject(None);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(db.counts().await, counts(0, 1, 0));
    assert_eq!(server.received().len(), 1);

    db.queue_verification("bob@example.com", "111222").await;
    server.set_reject(Some(RejectMode::Transient));
    for _ in 0..3 {
        assert_eq!(worker.run_once().await.unwrap(), 1);
    }
    assert_eq!(db.counts().await, counts(0, 1, 1), "given up after the third attempt");
    assert_eq!(worker.run_once().await.unwrap(), 0);
}

#[tokio::test]
async fn permanent_failures_and_unknown_templates_fail_at_once() {
    let (db, server) = (TestDb::new().await, SmtpServer::start().await);
    let (worker, _) = worker(&db, &server, config(&[0, 0, 0]));
    db.queue_verification("ada@example.com", "042917").await;
    server.set_reject(Some(RejectMode::Permanent));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(db.counts().await, counts(0, 0, 1));

    server.set_reject(None);
    db.queue_verification("bob@example.com", "111222").await;
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}/roster.db", db.dir.display())).await.unwrap();
    sqlx::query("UPDATE outbox SET template = 'newsletter' WHERE status = 'pending'").execute(&raw).await.unwrap();
    raw.close().await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(db.counts().await, counts(0, 0, 2));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn run_sends_when_woken_and_stops_on_shutdown() {
    let (db, server) = (TestDb::new().await, SmtpServer::start().await);
    // A poll interval far longer than the test: only the wake-up can make it send.
    let (worker, wake) = worker(&db, &server, config(&[0, 5]));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    for (i, email) in ["ada@example.com", "bob@example.com"].into_iter().enumerate() {
        db.queue_verification(email, &format!("00000{i}")).await;
        wake.notify_one();
        let mail = server.wait_for(email, WAIT).await.expect("sent without waiting for the poll");
        assert_eq!(mail.code(), Some(format!("00000{i}")));
    }

    shutdown.cancel();
    tokio::time::timeout(WAIT, running).await.expect("stops promptly").expect("no panic");
    // The settle follows the send; after `run` returns, both are recorded.
    assert_eq!(db.counts().await, counts(0, 2, 0));
}

#[test]
fn lease_must_outlast_a_send() {
    let cfg = WorkerConfig { lease: Duration::from_secs(30), ..WorkerConfig::default() };
    assert!(cfg.validate(Duration::from_secs(25)).is_ok());
    let err = cfg.validate(Duration::from_secs(26)).unwrap_err();
    assert!(err.contains("lease"), "{err}");
    assert!(WorkerConfig { concurrency: 0, ..WorkerConfig::default() }.validate(Duration::from_secs(1)).is_err());
    assert!(WorkerConfig { batch_size: 0, ..WorkerConfig::default() }.validate(Duration::from_secs(1)).is_err());
    assert!(WorkerConfig { poll_interval: Duration::ZERO, ..WorkerConfig::default() }
        .validate(Duration::from_secs(1))
        .is_err());
    let no_attempts = WorkerConfig { retry: RetryPolicy { schedule: vec![], jitter: 0.0 }, ..WorkerConfig::default() };
    assert!(no_attempts.validate(Duration::from_secs(1)).is_err());
}
