//! The worker sending channel messages through every transport: a SQLite
//! store with outbox rows written as the channel routes write them, and one
//! HTTP receiver standing in for every service.

mod requests;
mod retries;
mod signing;
mod unsubscribe;

use roster_core::clock;
use roster_core::ids::MessageId;
use roster_delivery::transports::{HttpConfig, PushConfig, TwilioConfig, Url};
use roster_delivery::{
    ChannelConfig, ChannelSenders, Mailer, MailerConfig, RetryPolicy, Templates, Worker, WorkerConfig,
};
use roster_store::deliveries::{DeliveryAttemptRow, DeliveryRow};
use roster_store::{Store, StoreOptions};
use roster_testkit::HttpReceiver;
use serde_json::{json, Value};
use sqlx::sqlite::SqlitePool;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(5);
pub const CODE: &str = "042917";

/// A store in a fresh directory with one organization and one channel,
/// removed when dropped.
pub struct TestDb {
    pub store: Store,
    pub pool: SqlitePool,
    pub org: Uuid,
    pub channel: Uuid,
    dir: PathBuf,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("roster-channels-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/roster.db", dir.display());
        let opts = StoreOptions { url: url.clone(), max_connections: 4, acquire_timeout: Duration::from_secs(5) };
        let store = Store::connect(&opts).await.expect("open store");
        store.migrate().await.expect("migrate");
        let pool = SqlitePool::connect(&url).await.expect("open pool");
        let (org, channel, now) = (Uuid::new_v4(), Uuid::new_v4(), clock::now());
        sqlx::query(
            "INSERT INTO organizations (id, name, slug, plan, trial_ends_at, logo_url, active, created_at, updated_at)
             VALUES ($1, 'Acme', 'acme', 'free', NULL, NULL, 1, $2, $2)",
        )
        .bind(org)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        // A team channel in shape only: the worker reads the outbox row, not the channel.
        sqlx::query(
            "INSERT INTO notification_channels (id, organization_id, customer_id, team_id, owner_id, type, value, pending_value,
                priority, enabled, verified_at, mute, suppress_up, suppress_down, suppress_first, suppress_diagnostic,
                suppress_all, bypass_quiet_hours, webhook_config, created_at, updated_at)
             VALUES ($1, $2, NULL, NULL, $3, 'webhook', 'https://example.com/hook', NULL, 1, 1, NULL, 'false', 0, 0, 0, 0, 0, 0, NULL, $4, $4)",
        )
        .bind(channel)
        .bind(org)
        .bind(Uuid::new_v4())
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
        Self { store, pool, org, channel, dir }
    }

    /// Queues a message through the channel as the channel routes do.
    pub async fn queue(&self, transport: &str, recipient: &str, kind: &str, extra: Value) -> MessageId {
        let (template, secret) = match kind {
            "verification" => ("channel_verification", Some(CODE)),
            _ => ("channel_test", None),
        };
        let mut data = json!({
            "channel_label": "the ops channel",
            "owner_name": "Ada Lovelace",
            "expires_in_minutes": 15,
            "sent_at": "2026-11-22T10:00:00Z",
            "requested_by": "Ada Lovelace",
            "channel_id": self.channel,
        });
        if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
            data.extend(extra);
        }
        let (id, now) = (Uuid::now_v7(), clock::now());
        sqlx::query(
            "INSERT INTO outbox (id, organization_id, customer_id, transport, template, recipient, data, secret, status,
                                 attempts, next_attempt_at, lease_token, lease_expires_at, last_error, created_at, updated_at,
                                 settled_at, channel_id, kind)
             VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, 'pending', 0, $8, NULL, NULL, NULL, $8, $8, NULL, $9, $10)",
        )
        .bind(id)
        .bind(self.org)
        .bind(transport)
        .bind(template)
        .bind(recipient)
        .bind(sqlx::types::Json(&data))
        .bind(secret)
        .bind(now)
        .bind(self.channel)
        .bind(kind)
        .execute(&self.pool)
        .await
        .unwrap();
        MessageId(id)
    }

    /// The message as its readers see it, with its attempts.
    pub async fn delivery(&self, id: MessageId) -> (DeliveryRow, Vec<DeliveryAttemptRow>) {
        let org = roster_core::ids::OrganizationId(self.org);
        self.store.channel_delivery(org, id).await.unwrap().expect("the delivery exists")
    }

    pub async fn next_attempt_at(&self, id: MessageId) -> time::OffsetDateTime {
        sqlx::query_scalar("SELECT next_attempt_at FROM outbox WHERE id = $1")
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn base(receiver: &HttpReceiver) -> Url {
    Url::parse(&receiver.url()).unwrap()
}

/// Every transport pointed at `receiver`; SMS, voice and push only when `full`.
pub fn channel_config(receiver: &HttpReceiver, full: bool) -> ChannelConfig {
    let http = HttpConfig { timeout: WAIT, allow_private_targets: true, ..HttpConfig::default() };
    let twilio = TwilioConfig { base_url: base(receiver), ..TwilioConfig::new("AC123", "tw-token", "+15550001111") };
    let push =
        PushConfig { gateway_url: Url::parse(&receiver.url_for("/push")).unwrap(), auth_token: Some("p-token".into()) };
    ChannelConfig {
        http,
        slack_base_url: Some(base(receiver)),
        discord_base_url: Some(base(receiver)),
        msteams_base_url: Some(base(receiver)),
        pagerduty_base_url: Some(base(receiver)),
        twilio: full.then_some(twilio),
        push: full.then_some(push),
        product_name: "Roster".into(),
        public_url: None,
        link_key: None,
    }
}

pub fn worker(db: &TestDb, mailer: Mailer, channels: ChannelConfig, schedule_secs: &[u64]) -> Worker {
    let cfg = WorkerConfig {
        poll_interval: Duration::from_secs(60),
        lease: Duration::from_secs(30),
        batch_size: 8,
        concurrency: 2,
        retry: RetryPolicy { schedule: schedule_secs.iter().map(|s| Duration::from_secs(*s)).collect(), jitter: 0.0 },
    };
    let templates = Arc::new(Templates::new("Roster", "http://localhost:8080").unwrap());
    let senders = Arc::new(ChannelSenders::new(channels).unwrap());
    Worker::new(db.store.clone(), Arc::new(mailer), senders, templates, cfg, Arc::new(Notify::new()))
}

pub fn log_mailer() -> Mailer {
    Mailer::new(&MailerConfig::Log, "Roster <roster@localhost>").unwrap()
}
