//! Roster deployed as an operator separates it: `roster serve --no-worker`
//! for the API, `roster worker` processes for delivery, one database, every
//! setting given as a `ROSTER_*` environment variable.

use super::database::Database;
use super::process::{says, Process};
use crate::helpers::{Backend, Resp, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::process::Command;
use uuid::Uuid;

/// The HTTP send timeout (and SMTP's): a held request must still be
/// unanswered when the test kills its worker, so not much shorter.
pub const SEND_TIMEOUT_SECS: u64 = 3;
/// As short as the configuration allows (the send timeout plus 5 s), so a
/// killed worker's messages come back within seconds.
pub const LEASE_SECS: u64 = SEND_TIMEOUT_SECS + 5;

pub struct Deployment {
    // Declared before `db`, so the processes go before their database.
    api: Process,
    url: String,
    env: Vec<(&'static str, String)>,
    workers: AtomicUsize,
    client: reqwest::Client,
    pub db: Database,
}

/// A signed-up owner: their session and first team.
pub struct Owner {
    pub token: String,
    pub team_id: String,
}

impl Deployment {
    /// Starts the API alone on a fresh database, workers sending up to
    /// `concurrency` messages at once each; `None` when the backend is
    /// unavailable (PostgreSQL, not required).
    pub async fn start(backend: Backend, concurrency: usize) -> Option<Deployment> {
        let db = Database::create(backend).await?;
        let env = environment(&db, concurrency);
        let serve = ["serve", "--no-worker", "--listen", "127.0.0.1:0"];
        let mut api = Process::spawn(command(&db, &env, &serve), "roster serve --no-worker".into());
        let listening = api.wait_for_log("its URL", |line| says(line, "listening on http://")).await;
        assert_eq!(listening["worker"], false, "--no-worker: the API process sends nothing itself: {listening}");
        let url = listening["url"].as_str().unwrap_or_else(|| panic!("no url in {listening}")).to_owned();
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Some(Deployment { api, url, env, workers: AtomicUsize::new(0), client, db })
    }

    /// Starts one more `roster worker` on the same database and settings.
    pub fn worker(&self) -> Process {
        let n = self.workers.fetch_add(1, Ordering::Relaxed) + 1;
        Process::spawn(command(&self.db, &self.env, &["worker"]), format!("roster worker #{n}"))
    }

    /// The API's recent log, for a failure's message.
    pub fn api_log(&mut self) -> String {
        self.api.tail()
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        TestApp::read(request.send().await.expect("the API answers")).await
    }

    /// Signs an owner up; call it before starting a worker, as the code is read from the outbox.
    pub async fn signup(&self) -> Owner {
        let email = format!("owner-{}@example.com", Uuid::new_v4().simple());
        let body = json!({ "email": email, "password": PASSWORD, "name": "Ann", "surname": "Lee", "organization_name": "Acme" });
        self.call(Method::POST, "/v1/auth/signup", None, Some(body)).await.assert(202, None);
        let code = self.db.signup_code(&email).await;
        let body = json!({ "email": email, "code": code });
        let r = self.call(Method::POST, "/v1/auth/signup/confirm", None, Some(body)).await;
        r.assert(201, None);
        let text = |field: &str| r.body[field].as_str().unwrap_or_else(|| panic!("no {field}: {}", r.text)).to_owned();
        Owner { token: text("token"), team_id: text("team_id") }
    }

    /// Adds a webhook channel to `url` on the owner's team, which queues its
    /// verification message; answers the channel's id and priority.
    pub async fn add_webhook(&self, owner: &Owner, url: &str) -> (String, i64) {
        let path = format!("/v1/team/{}/notification-channel", owner.team_id);
        let r =
            self.call(Method::POST, &path, Some(&owner.token), Some(json!({ "type": "webhook", "value": url }))).await;
        r.assert(201, None);
        let id = r.body["id"].as_str().unwrap_or_else(|| panic!("no id: {}", r.text)).to_owned();
        (id, r.body["priority"].as_i64().unwrap_or_else(|| panic!("no priority: {}", r.text)))
    }

    /// Verifies the team channel of `priority` with the code it received.
    pub async fn verify(&self, owner: &Owner, priority: i64, code: &str) {
        let path = format!("/v1/team/{}/notification-channel/verification", owner.team_id);
        let r =
            self.call(Method::PATCH, &path, Some(&owner.token), Some(json!({ "priority": priority, "code": code })));
        let r = r.await;
        r.assert(200, None);
        assert_eq!(r.body["verified"], true, "{}", r.text);
    }

    /// Raises a `down` alert for the owner's team, which must reach every one
    /// of its `channels`; answers the queued delivery ids with their channels.
    pub async fn notify(&self, owner: &Owner, title: &str, channels: usize) -> Vec<(String, String)> {
        let path = format!("/v1/team/{}/notify", owner.team_id);
        let body = json!({ "event": "down", "title": title, "message": "HTTP 503 from 3 of 3 locations" });
        let r = self.call(Method::POST, &path, Some(&owner.token), Some(body)).await;
        r.assert(202, None);
        assert_eq!(r.body["reached"], channels, "{}", r.text);
        let deliveries = r.body["deliveries"].as_array().unwrap_or_else(|| panic!("no deliveries: {}", r.text));
        let text = |v: &Value| v.as_str().unwrap_or_else(|| panic!("not a string in {}", r.text)).to_owned();
        deliveries.iter().map(|d| (text(&d["delivery_id"]), text(&d["channel"]["channel_id"]))).collect()
    }

    /// The delivery as the API shows it to the owner.
    pub async fn delivery(&self, owner: &Owner, id: &str) -> Value {
        let r = self.call(Method::GET, &format!("/v1/deliveries/{id}"), Some(&owner.token), None).await;
        r.assert(200, None);
        r.body
    }
}

pub(super) fn environment(db: &Database, concurrency: usize) -> Vec<(&'static str, String)> {
    let key: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    vec![
        ("ROSTER_DATABASE_URL", db.url.clone()),
        ("ROSTER_DATA_DIR", db.dir.display().to_string()),
        // Every process must share the key on PostgreSQL.
        ("ROSTER_SECRET_KEY", key),
        ("ROSTER_DATABASE_MAX_CONNECTIONS", "4".into()),
        ("ROSTER_LOG_FORMAT", "json".into()),
        ("ROSTER_LOG_LEVEL", "info".into()),
        // The receivers listen on 127.0.0.1, over plain HTTP.
        ("ROSTER_CHANNELS__ALLOW_PRIVATE_TARGETS", "true".into()),
        ("ROSTER_CHANNELS__ALLOW_HTTP_WEBHOOKS", "true".into()),
        ("ROSTER_CHANNELS__HTTP_TIMEOUT_SECS", SEND_TIMEOUT_SECS.to_string()),
        ("ROSTER_SMTP_TIMEOUT_SECS", SEND_TIMEOUT_SECS.to_string()),
        ("ROSTER_WORKER__LEASE_SECS", LEASE_SECS.to_string()),
        ("ROSTER_WORKER__POLL_INTERVAL_MS", "50".into()),
        ("ROSTER_WORKER__CONCURRENCY", concurrency.to_string()),
        ("ROSTER_WORKER__BATCH_SIZE", concurrency.to_string()),
        // Every channel on one team.
        ("ROSTER_PLANS__FREE__CHANNELS_PER_OWNER", "500".into()),
    ]
}

pub(super) fn command(db: &Database, env: &[(&'static str, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    // Only the settings above: nothing from the developer's environment (RUST_LOG, ROSTER_*).
    cmd.current_dir(&db.dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.envs(env.iter().map(|(name, value)| (*name, value.as_str()))).args(args);
    cmd
}
