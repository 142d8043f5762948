//! The worker's side of channel health and delivery policy, on SQLite and
//! on PostgreSQL: receivers that are gone, channels that keep failing,
//! alerts queued for channels switched off since, per-transport age caps,
//! per-destination quotas, and fallback channels.
//!
//! Each test gets a fresh database with one organization (a team "Ops" with
//! an owner, a manager and a member) and real HTTP receivers; alert rows are
//! queued through the store as `notify` writes them.

mod claims;
mod disable;
mod fallback;
mod gates;

use roster_core::clock;
use roster_core::ids::MessageId;
use roster_delivery::transports::HttpConfig;
use roster_delivery::{
    ChannelConfig, ChannelSenders, DeliveryPolicy, Mailer, MailerConfig, RetryPolicy, Templates, Worker, WorkerConfig,
};
use roster_store::{Store, StoreOptions};
use serde_json::{json, Value};
use sqlx::{PgPool, SqlitePool};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body on SQLite and on PostgreSQL (`<name>::sqlite`,
/// `<name>::postgres`); without a reachable PostgreSQL the second is skipped
/// unless `ROSTER_TEST_REQUIRE_POSTGRES=1`.
macro_rules! both {
    (async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let $db = $crate::Db::new($crate::Backend::Sqlite).await.expect("SQLite is always available");
                $body
            }
            #[tokio::test]
            async fn postgres() {
                let Some($db) = $crate::Db::new($crate::Backend::Postgres).await else { return };
                $body
            }
        }
    };
}
pub(crate) use both;

/// A direct connection for fixtures and checks the store has no method for.
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the raw pool, whichever the backend.
macro_rules! raw {
    ($db:expr, |$pool:ident| $body:expr) => {
        match &$db.raw {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

/// Who a channel belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Team(Uuid),
    Customer(Uuid),
}

/// A fresh database with an organization: `root` (Ada, an owner),
/// `manager` (Grace) and `member` (Bob), the latter two in team `team` (Ops).
pub struct Db {
    pub store: Store,
    raw: Raw,
    pub org: Uuid,
    pub team: Uuid,
    pub root: Uuid,
    pub manager: Uuid,
    pub member: Uuid,
    dir: PathBuf,
    pg: Option<(String, String)>,
}

impl Db {
    pub async fn new(backend: Backend) -> Option<Db> {
        let dir = std::env::temp_dir().join(format!("roster-health-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/roster.db", dir.display()), None),
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = roster_testkit::postgres::admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) => {
                        assert!(!roster_testkit::postgres::required(), "PostgreSQL is required but not reachable: {e}");
                        eprintln!("SKIPPED (PostgreSQL not reachable: {e})");
                        let _ = std::fs::remove_dir_all(&dir);
                        return None;
                    }
                };
                let name = format!("roster_health_{}", Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(admin.clone());
                (format!("{base}/{name}"), Some((admin, name)))
            }
        };
        let opts = StoreOptions { url: url.clone(), max_connections: 4, acquire_timeout: Duration::from_secs(5) };
        let store = Store::connect(&opts).await.expect("open store");
        store.migrate().await.expect("migrate");
        let raw = match backend {
            Backend::Sqlite => Raw::Sqlite(SqlitePool::connect(&url).await.unwrap()),
            Backend::Postgres => Raw::Postgres(PgPool::connect(&url).await.unwrap()),
        };
        let (org, team) = (Uuid::now_v7(), Uuid::now_v7());
        let mut db =
            Db { store, raw, org, team, root: Uuid::nil(), manager: Uuid::nil(), member: Uuid::nil(), dir, pg };
        let now = clock::now();
        raw!(db, |pool| {
            sqlx::query(
                "INSERT INTO organizations (id, name, slug, plan, trial_ends_at, logo_url, active, created_at, updated_at)
                 VALUES ($1, 'Acme', $2, 'free', NULL, NULL, $3, $4, $4)",
            )
            .bind(org)
            .bind(format!("acme-{}", org.simple()))
            .bind(true)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO teams (id, organization_id, name, name_key, created_at, updated_at)
                 VALUES ($1, $2, 'Ops', 'ops', $3, $3)",
            )
            .bind(team)
            .bind(org)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
        });
        db.root = db.person("Ada", "root", false).await;
        db.manager = db.person("Grace", "manager", true).await;
        db.member = db.person("Bob", "user", true).await;
        Some(db)
    }

    /// An active person of the organization, in the team when `in_team`.
    pub async fn person(&self, name: &str, role: &str, in_team: bool) -> Uuid {
        let (id, now) = (Uuid::now_v7(), clock::now());
        raw!(self, |pool| {
            sqlx::query(
                "INSERT INTO customers (id, organization_id, email, email_verified_at, password_hash, name, surname, role,
                                        status, created_at, updated_at, last_login_at)
                 VALUES ($1, $2, $3, $4, NULL, $5, 'Tester', $6, 'active', $4, $4, NULL)",
            )
            .bind(id)
            .bind(self.org)
            .bind(self.email_of_name(name, id))
            .bind(now)
            .bind(name)
            .bind(role)
            .execute(pool)
            .await
            .unwrap();
            if in_team {
                sqlx::query(
                    "INSERT INTO memberships (id, organization_id, team_id, customer_id, role, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(Uuid::now_v7())
                .bind(self.org)
                .bind(self.team)
                .bind(id)
                .bind(role)
                .bind(now)
                .execute(pool)
                .await
                .unwrap();
            }
        });
        id
    }

    /// Another team of the organization, with `members` in it (as users).
    pub async fn team(&self, name: &str, members: &[Uuid]) -> Uuid {
        let (id, now) = (Uuid::now_v7(), clock::now());
        raw!(self, |pool| {
            sqlx::query(
                "INSERT INTO teams (id, organization_id, name, name_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id)
            .bind(self.org)
            .bind(name)
            .bind(name.to_lowercase())
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
            for member in members {
                sqlx::query(
                    "INSERT INTO memberships (id, organization_id, team_id, customer_id, role, created_at, updated_at)
                     SELECT $1, organization_id, $2, id, role, $3, $3 FROM customers WHERE id = $4",
                )
                .bind(Uuid::now_v7())
                .bind(id)
                .bind(now)
                .bind(member)
                .execute(pool)
                .await
                .unwrap();
            }
        });
        id
    }

    fn email_of_name(&self, name: &str, id: Uuid) -> String {
        format!("{}-{}@example.com", name.to_lowercase(), id.simple())
    }

    /// The login address of person `id`.
    pub async fn email_of(&self, id: Uuid) -> String {
        raw!(self, |pool| {
            sqlx::query_scalar("SELECT email FROM customers WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
        })
    }

    /// A verified, enabled, unmuted channel at the end of the owner's priorities.
    pub async fn channel(&self, owner: Owner, channel_type: &str, value: &str) -> Uuid {
        let (id, now) = (Uuid::now_v7(), clock::now());
        let (customer, team, owner_id) = match owner {
            Owner::Team(t) => (None, Some(t), t),
            Owner::Customer(c) => (Some(c), None, c),
        };
        raw!(self, |pool| {
            let priority: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(priority), 0) + 1 FROM notification_channels WHERE owner_id = $1",
            )
            .bind(owner_id)
            .fetch_one(pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO notification_channels (id, organization_id, customer_id, team_id, owner_id, type, value,
                   pending_value, priority, enabled, verified_at, mute, suppress_up, suppress_down, suppress_first,
                   suppress_diagnostic, suppress_all, bypass_quiet_hours, webhook_config, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, 'false', $11, $11, $11, $11, $11, $11, NULL, $10, $10)",
            )
            .bind(id)
            .bind(self.org)
            .bind(customer)
            .bind(team)
            .bind(owner_id)
            .bind(channel_type)
            .bind(value)
            .bind(priority)
            .bind(true)
            .bind(now)
            .bind(false)
            .execute(pool)
            .await
            .unwrap();
        });
        id
    }

    /// Sets one column of channel `id` (`column` is trusted test text).
    pub async fn set_channel<T>(&self, id: Uuid, column: &str, value: T)
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        T: Send,
    {
        let sql = format!("UPDATE notification_channels SET {column} = $1 WHERE id = $2");
        raw!(self, |pool| {
            sqlx::query(&sql).bind(value).bind(id).execute(pool).await.unwrap();
        })
    }

    /// Mutes channel `id`: `"true"`, `"false"` or an RFC 3339 time.
    pub async fn set_mute(&self, id: Uuid, mute: &str) {
        self.set_channel(id, "mute", mute.to_owned()).await
    }

    pub async fn set_webhook_config(&self, id: Uuid, config: Value) {
        raw!(self, |pool| {
            sqlx::query("UPDATE notification_channels SET webhook_config = $1 WHERE id = $2")
                .bind(sqlx::types::Json(config))
                .bind(id)
                .execute(pool)
                .await
                .unwrap();
        })
    }

    /// Records an alert of the team's about `event`, as `notify` would.
    pub async fn alert_row(&self, event: &str) -> Uuid {
        let (id, now) = (Uuid::now_v7(), clock::now());
        raw!(self, |pool| {
            sqlx::query(
                "INSERT INTO alerts (id, organization_id, team_id, customer_id, owner_id, event, urgency, service_id, title,
                                     message, idempotency_key, request_digest, status, response, created_by, created_at)
                 VALUES ($1, $2, $3, NULL, $3, $4, 'high', NULL, 'Checkout is down', 'Connection refused', NULL, NULL,
                         'queued', $5, NULL, $6)",
            )
            .bind(id)
            .bind(self.org)
            .bind(self.team)
            .bind(event)
            .bind(sqlx::types::Json(json!({})))
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
        });
        id
    }

    /// Queues alert `alert` through `channel`, with the alert template's data.
    pub async fn queue_alert(&self, channel: Uuid, alert: Option<Uuid>, event: &str) -> MessageId {
        let data = alert_data(alert.unwrap_or_default(), event);
        self.store.queue_channel_alert(channel, alert, &data, clock::now()).await.unwrap().expect("the channel exists")
    }

    /// Queues a verification or test message through `channel`, as the channel routes do.
    pub async fn queue_channel_message(&self, channel: Uuid, kind: &str) -> MessageId {
        let (template, secret) = match kind {
            "verification" => ("channel_verification", Some("042917")),
            _ => ("channel_test", None),
        };
        let (id, now) = (Uuid::now_v7(), clock::now());
        let data = json!({
            "channel_label": "the ops channel",
            "owner_name": "Ops",
            "expires_in_minutes": 15,
            "sent_at": "2026-11-22T10:00:00Z",
            "requested_by": "Ada Tester",
            "channel_id": channel,
        });
        raw!(self, |pool| {
            sqlx::query(
                "INSERT INTO outbox (id, organization_id, customer_id, transport, template, recipient, data, secret, status,
                                     attempts, next_attempt_at, lease_token, lease_expires_at, last_error, created_at,
                                     updated_at, settled_at, channel_id, kind)
                 SELECT $1, organization_id, customer_id, type, $2, value, $3, $4, 'pending', 0, $5, NULL, NULL, NULL, $5,
                        $5, NULL, id, $6
                 FROM notification_channels WHERE id = $7",
            )
            .bind(id)
            .bind(template)
            .bind(sqlx::types::Json(&data))
            .bind(secret)
            .bind(now)
            .bind(kind)
            .bind(channel)
            .execute(pool)
            .await
            .unwrap();
        });
        MessageId(id)
    }

    /// Makes message `id` look queued (and due) at `at`.
    pub async fn set_created(&self, id: MessageId, at: OffsetDateTime) {
        raw!(self, |pool| {
            sqlx::query("UPDATE outbox SET created_at = $1, next_attempt_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id.0)
                .execute(pool)
                .await
                .unwrap();
        })
    }

    /// Marks message `id` as held for quiet hours until `at` (and due then).
    pub async fn set_held_until(&self, id: MessageId, at: OffsetDateTime) {
        raw!(self, |pool| {
            sqlx::query("UPDATE outbox SET held_until = $1, next_attempt_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id.0)
                .execute(pool)
                .await
                .unwrap();
        })
    }

    /// Makes pending message `id` due now.
    pub async fn make_due(&self, id: MessageId) {
        raw!(self, |pool| {
            sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE id = $2")
                .bind(clock::now())
                .bind(id.0)
                .execute(pool)
                .await
                .unwrap();
        })
    }

    /// Message `id` as stored.
    pub async fn message(&self, id: MessageId) -> Message {
        raw!(self, |pool| {
            sqlx::query_as::<_, Message>(&format!("SELECT {MESSAGE_COLUMNS} FROM outbox WHERE id = $1"))
                .bind(id.0)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    }

    /// Every message through `channel`, oldest first.
    pub async fn messages_through(&self, channel: Uuid) -> Vec<Message> {
        raw!(self, |pool| {
            sqlx::query_as::<_, Message>(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE channel_id = $1 ORDER BY created_at, id"
            ))
            .bind(channel)
            .fetch_all(pool)
            .await
            .unwrap()
        })
    }

    /// The `channel_disabled` emails queued without a channel (to people's login addresses).
    pub async fn notice_emails(&self) -> Vec<Message> {
        raw!(self, |pool| {
            sqlx::query_as::<_, Message>(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE channel_id IS NULL AND template = 'channel_disabled'
                 ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await
            .unwrap()
        })
    }

    /// Message `id`'s attempts: (attempt, outcome, status code, error class).
    pub async fn attempts(&self, id: MessageId) -> Vec<(i64, String, Option<i64>, Option<String>)> {
        raw!(self, |pool| {
            sqlx::query_as(
                "SELECT attempt, outcome, status_code, error_class FROM delivery_attempts WHERE message_id = $1
                 ORDER BY attempt",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await
            .unwrap()
        })
    }

    /// The audit actions recorded about `target`.
    pub async fn audit_actions(&self, target: Uuid) -> Vec<(String, Option<Uuid>, Value)> {
        raw!(self, |pool| {
            let rows: Vec<(String, Option<Uuid>, sqlx::types::Json<Value>)> = sqlx::query_as(
                "SELECT action, actor_id, data FROM audit_events WHERE target_id = $1 ORDER BY created_at, id",
            )
            .bind(target)
            .fetch_all(pool)
            .await
            .unwrap();
            rows.into_iter().map(|(a, actor, d)| (a, actor, d.0)).collect()
        })
    }

    /// Runs a query that changes rows (`sql` binds nothing).
    pub async fn exec(&self, sql: &str) {
        raw!(self, |pool| {
            sqlx::query(sql).execute(pool).await.unwrap();
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg.take() {
            // The test's runtime is going away; drop the database from a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

const MESSAGE_COLUMNS: &str = "id, kind, template, transport, recipient, status, attempts, skip_reason, last_error, \
                               next_attempt_at, data, alert_id, fallback_of, channel_id, customer_id";

/// An outbox row, as the checks read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub kind: String,
    pub template: String,
    pub transport: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub skip_reason: Option<String>,
    pub last_error: Option<String>,
    pub next_attempt_at: OffsetDateTime,
    pub data: sqlx::types::Json<Value>,
    pub alert_id: Option<Uuid>,
    pub fallback_of: Option<Uuid>,
    pub channel_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
}

/// The alert template's data for alert `alert` about `event`.
pub fn alert_data(alert: Uuid, event: &str) -> Value {
    json!({
        "event": event,
        "event_label": event.to_uppercase(),
        "title": "Checkout is down",
        "message": "Connection refused",
        "service_name": "Checkout",
        "team_name": "Ops",
        "raised_at": "2026-11-22T10:00:00Z",
        "alert_id": alert,
    })
}

/// A worker with a log mailer and HTTP transports that may reach loopback
/// receivers; `schedule_secs` is its retry schedule (no jitter).
pub fn worker(db: &Db, schedule_secs: &[u64], policy: DeliveryPolicy) -> Worker {
    let cfg = WorkerConfig {
        poll_interval: Duration::from_secs(60),
        lease: Duration::from_secs(30),
        batch_size: 8,
        concurrency: 4,
        retry: RetryPolicy { schedule: schedule_secs.iter().map(|s| Duration::from_secs(*s)).collect(), jitter: 0.0 },
    };
    let channels = ChannelConfig {
        http: HttpConfig { timeout: WAIT, allow_private_targets: true, ..HttpConfig::default() },
        product_name: "Roster".into(),
        ..ChannelConfig::default()
    };
    let mailer = Mailer::new(&MailerConfig::Log, "Roster <roster@localhost>").unwrap();
    let templates = Arc::new(Templates::new("Roster", "http://localhost:8080").unwrap());
    let senders = Arc::new(ChannelSenders::new(channels).unwrap());
    Worker::new(db.store.clone(), Arc::new(mailer), senders, templates, cfg, Arc::new(Notify::new()))
        .with_policy(policy)
}

/// Runs the worker until a pass finds nothing due.
pub async fn drain(worker: &Worker) -> usize {
    let mut total = 0;
    for _ in 0..20 {
        match worker.run_once().await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
    panic!("the outbox did not drain");
}
