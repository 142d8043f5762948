//! Configuration in layers: built-in defaults, then an optional TOML file,
//! then `ROSTER_*` environment variables (`__` for nesting, as in
//! `ROSTER_WORKER__CONCURRENCY`), then command-line flags. Validated once at
//! start; secrets live in [`Secret`], which never prints.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use roster_core::plan::PlanLimits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value that must never reach a log or a terminal.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// How often an idle worker looks for due messages.
    pub poll_interval_ms: u64,
    /// How long a claimed message is a worker's before another may take it over.
    pub lease_secs: u64,
    /// Messages claimed at once.
    pub batch_size: i64,
    /// Sends in flight at once per worker.
    pub concurrency: usize,
    /// Delay before each attempt, in seconds; a message gets one attempt per
    /// entry (the first is normally 0: at once).
    pub retry_schedule_secs: Vec<u64>,
    /// Each delay is scaled by a random factor in 1 ± this (0 to 1).
    pub retry_jitter: f64,
    /// How old an alert may get, per transport, before it is given up on as
    /// `expired` instead of tried (again); 0: as long as the retry schedule lasts.
    pub max_age_secs: PerTransportSetting<u64>,
    /// Sends each destination (address, number, URL, key) takes per quota
    /// window, per transport; more are delayed to the next window, never
    /// dropped. 0: no quota.
    pub quota: PerTransportSetting<u32>,
    pub quota_window_secs: u64,
    /// How long a channel may fail every alert before it is turned off
    /// (`disabled_by_system`) and its owner told; 0: never for that reason.
    pub disable_failing_after_secs: u64,
}

/// One setting per transport (channel type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerTransportSetting<T> {
    pub email: T,
    pub sms: T,
    pub voice: T,
    pub webhook: T,
    pub slack: T,
    pub discord: T,
    pub msteams: T,
    pub pagerduty: T,
    pub push_notification: T,
}

impl<T> PerTransportSetting<T> {
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> roster_delivery::PerTransport<U> {
        roster_delivery::PerTransport {
            email: f(self.email),
            sms: f(self.sms),
            voice: f(self.voice),
            webhook: f(self.webhook),
            slack: f(self.slack),
            discord: f(self.discord),
            msteams: f(self.msteams),
            pagerduty: f(self.pagerduty),
            push_notification: f(self.push_notification),
        }
    }
}

impl<T> From<roster_delivery::PerTransport<T>> for PerTransportSetting<T> {
    fn from(p: roster_delivery::PerTransport<T>) -> Self {
        Self {
            email: p.email,
            sms: p.sms,
            voice: p.voice,
            webhook: p.webhook,
            slack: p.slack,
            discord: p.discord,
            msteams: p.msteams,
            pagerduty: p.pagerduty,
            push_notification: p.push_notification,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        // The delivery engine's defaults, in the units of the settings.
        let retry = roster_delivery::RetryPolicy::default();
        let policy = roster_delivery::DeliveryPolicy::default();
        Self {
            poll_interval_ms: 1000,
            lease_secs: 60,
            batch_size: 32,
            concurrency: 8,
            retry_schedule_secs: retry.schedule.iter().map(|d| d.as_secs()).collect(),
            retry_jitter: retry.jitter,
            max_age_secs: policy.max_age.map(|cap| cap.map_or(0, |c| c.as_secs())).into(),
            quota: policy.quota.map(|q| q.unwrap_or(0)).into(),
            quota_window_secs: policy.quota_window.as_secs(),
            disable_failing_after_secs: policy.disable_failing_after.map_or(0, |d| d.as_secs()),
        }
    }
}

impl WorkerSettings {
    pub fn retry_policy(&self) -> roster_delivery::RetryPolicy {
        roster_delivery::RetryPolicy {
            schedule: self.retry_schedule_secs.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter: self.retry_jitter,
        }
    }

    pub fn delivery_policy(&self) -> roster_delivery::DeliveryPolicy {
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        roster_delivery::DeliveryPolicy {
            max_age: self.max_age_secs.map(secs),
            quota: self.quota.map(|q| (q > 0).then_some(q)),
            quota_window: Duration::from_secs(self.quota_window_secs),
            disable_failing_after: secs(self.disable_failing_after_secs),
        }
    }
}

/// Notification channels and the transports that reach them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelSettings {
    /// Accept `http://` webhook URLs (development only).
    pub allow_http_webhooks: bool,
    /// Accept and deliver to private, loopback and link-local addresses (development and tests only).
    pub allow_private_targets: bool,
    pub http_connect_timeout_secs: u64,
    /// Whole-request timeout for every HTTP transport.
    pub http_timeout_secs: u64,
    /// Most bytes read of a receiver's answer.
    pub max_response_bytes: usize,
    /// Base URLs that replace the host of stored Slack, Discord and Teams webhook URLs (tests, proxies).
    pub slack_base_url: Option<String>,
    pub discord_base_url: Option<String>,
    pub msteams_base_url: Option<String>,
    /// PagerDuty Events API; defaults to PagerDuty's own.
    pub pagerduty_base_url: Option<String>,
    /// The HTTP push gateway for `push-notification` channels; unset means push is unavailable.
    pub push_gateway_url: Option<String>,
    pub push_gateway_token: Option<Secret>,
    /// A Twilio-compatible API for `sms` and `voice`; unset means those are unavailable.
    pub twilio_base_url: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<Secret>,
    pub twilio_from_number: Option<String>,
    /// Verification codes a channel may be sent per hour.
    pub code_sends_per_hour: u32,
    /// Test messages a channel may be sent per hour.
    pub test_sends_per_hour: u32,
    /// How long a webhook's replaced signing secret keeps signing beside the
    /// new one after a rotation, so receivers can switch without missing a message.
    pub signing_secret_overlap_hours: u32,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            allow_http_webhooks: false,
            allow_private_targets: false,
            http_connect_timeout_secs: 5,
            http_timeout_secs: 15,
            max_response_bytes: 64 * 1024,
            slack_base_url: None,
            discord_base_url: None,
            msteams_base_url: None,
            pagerduty_base_url: None,
            push_gateway_url: None,
            push_gateway_token: None,
            twilio_base_url: None,
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from_number: None,
            code_sends_per_hour: 5,
            test_sends_per_hour: 10,
            signing_secret_overlap_hours: 24,
        }
    }
}

impl ChannelSettings {
    /// The validation rules for channel values under these settings.
    pub fn value_rules(&self) -> roster_core::channel::ValueRules {
        roster_core::channel::ValueRules {
            allow_http_webhooks: self.allow_http_webhooks,
            allow_private_targets: self.allow_private_targets,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// The URL people reach the service at (for links in messages); defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Where the embedded database and the generated secret key live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://{data_dir}/roster.db`.
    pub database_url: Option<Secret>,
    /// Connections in the (read) pool.
    pub database_max_connections: u32,
    /// Seconds a request waits for a database connection.
    pub database_acquire_timeout_secs: u64,
    /// Longest an API instance answers "who holds this token" from memory
    /// before asking the database again; 0 turns the cache off. Changes made
    /// through the instance clear it at once, and on PostgreSQL so do changes
    /// made anywhere else (see `docs/benchmarks.md`); this bounds the rest.
    pub principal_cache_secs: u64,
    /// Key for the keyed hashes of tokens and codes: 64+ hex characters.
    /// Generated into `data_dir` on SQLite when unset; required on PostgreSQL,
    /// where every instance must share it.
    pub secret_key: Option<Secret>,
    /// Whether `POST /v1/auth/signup` is open; operators can use `roster admin create-org` instead.
    pub signup_enabled: bool,
    /// `smtp://host:port`, `smtp://user:pass@host:port?tls=required` or `smtps://…`; unset means the log transport.
    pub smtp_url: Option<Secret>,
    pub smtp_timeout_secs: u64,
    /// The From of every email.
    pub mail_from: String,
    pub product_name: String,
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `roster=debug,info`.
    pub log_level: String,
    pub request_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Origins allowed to call the API from a browser; empty means none.
    pub cors_allowed_origins: Vec<String>,
    /// How long shutdown waits for in-flight requests and sends.
    pub shutdown_grace_secs: u64,
    pub session_ttl_hours: u64,
    /// How long after a login, or a `POST /v1/auth/reauthenticate`, a session may
    /// take sensitive actions (delete the account, change the login email,
    /// create API keys, offer the ownership) without confirming again.
    pub reauthentication_window_secs: u64,
    pub code_ttl_minutes: u64,
    pub code_max_attempts: u32,
    /// How long an invitation link stays valid; a reminder starts it afresh.
    pub invitation_ttl_days: u32,
    /// How long an offer of ownership stays open.
    pub ownership_offer_ttl_days: u32,
    /// Invitations and reminders one customer may send per hour.
    pub invitations_per_hour_per_customer: u32,
    /// Invitations and reminders sent from one client address per hour.
    pub invitations_per_hour_per_ip: u32,
    /// Failed logins per email address in a window before further tries are refused.
    pub login_max_failures: u32,
    /// Login attempts per client address in a window.
    pub login_max_per_ip: u32,
    /// Sign-ups asked for per client address in a window, and as many confirmation attempts.
    pub signup_max_per_ip: u32,
    /// Sign-ups asked for per email address in a window (registered or not).
    pub signup_max_per_email: u32,
    /// Password-reset requests and confirmations per client address in a window.
    pub password_reset_max_per_ip: u32,
    /// Password-reset requests per email address in a window (registered or not).
    pub password_reset_max_per_email: u32,
    /// Most `notify` calls per organization per minute; more are refused with 429.
    pub notify_per_minute: u32,
    pub rate_limit_window_secs: u64,
    /// Codes (verification, email change) a customer may request per hour.
    pub code_sends_per_hour: u32,
    /// Password hashes computed at once; each takes about 19 MiB.
    pub password_hash_concurrency: usize,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    pub default_plan: String,
    pub trial_days: u32,
    pub plans: BTreeMap<String, PlanLimits>,
    pub worker: WorkerSettings,
    pub channels: ChannelSettings,
    /// Seconds between SQLite WAL checkpoints.
    pub sqlite_checkpoint_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        let mut plans = BTreeMap::new();
        plans.insert("free".to_owned(), PlanLimits { teams: 5, members: 10, services: 20, channels_per_owner: 10 });
        plans.insert("pro".to_owned(), PlanLimits { teams: 50, members: 200, services: 500, channels_per_owner: 50 });
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_max_connections: 8,
            database_acquire_timeout_secs: 5,
            principal_cache_secs: 5,
            secret_key: None,
            signup_enabled: true,
            smtp_url: None,
            smtp_timeout_secs: 15,
            mail_from: "Roster <roster@localhost>".to_owned(),
            product_name: "Roster".to_owned(),
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            request_timeout_secs: 30,
            body_limit_bytes: 64 * 1024,
            cors_allowed_origins: Vec::new(),
            shutdown_grace_secs: 30,
            session_ttl_hours: 24 * 30,
            reauthentication_window_secs: 10 * 60,
            code_ttl_minutes: 15,
            code_max_attempts: 5,
            invitation_ttl_days: 7,
            ownership_offer_ttl_days: 7,
            invitations_per_hour_per_customer: 30,
            invitations_per_hour_per_ip: 100,
            login_max_failures: 5,
            login_max_per_ip: 50,
            signup_max_per_ip: 20,
            signup_max_per_email: 3,
            password_reset_max_per_ip: 20,
            password_reset_max_per_email: 3,
            notify_per_minute: 600,
            rate_limit_window_secs: 15 * 60,
            code_sends_per_hour: 5,
            password_hash_concurrency: 2,
            trust_forwarded_for: false,
            default_plan: "free".to_owned(),
            trial_days: 14,
            plans,
            worker: WorkerSettings::default(),
            channels: ChannelSettings::default(),
            sqlite_checkpoint_secs: 30,
        }
    }
}

/// Flags that override everything else; `None` leaves the lower layers' value.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// How long a login or a reauthentication lets a session take sensitive actions.
    pub fn reauthentication_window(&self) -> time::Duration {
        time::Duration::seconds(self.reauthentication_window_secs as i64)
    }

    /// Reads the layers in order and validates the result.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            anyhow::ensure!(path.exists(), "config file {} does not exist", path.display());
            fig = fig.merge(Toml::file(path));
        }
        fig = fig
            .merge(
                Env::prefixed("ROSTER_")
                    .split("__")
                    // Read elsewhere (the CLI, the test suite), not settings; any other
                    // unknown ROSTER_* name is refused, so a typo does not pass silently.
                    .ignore(&["config", "admin_password"])
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_")),
            )
            .merge(Serialized::defaults(overrides));
        let config: Config = fig.extract()?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.plans.contains_key(&self.default_plan),
            "default_plan `{}` is not one of the configured plans ({})",
            self.default_plan,
            self.plans.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        anyhow::ensure!(self.code_max_attempts >= 1, "code_max_attempts must be at least 1");
        anyhow::ensure!(self.password_hash_concurrency >= 1, "password_hash_concurrency must be at least 1");
        anyhow::ensure!(self.worker.concurrency >= 1, "worker.concurrency must be at least 1");
        anyhow::ensure!(self.worker.batch_size >= 1, "worker.batch_size must be at least 1");
        self.worker.retry_policy().validate().map_err(|e| anyhow::anyhow!("worker: {e}"))?;
        self.worker.delivery_policy().validate().map_err(|e| anyhow::anyhow!("worker: {e}"))?;
        anyhow::ensure!(self.body_limit_bytes >= 1024, "body_limit_bytes must be at least 1024");
        anyhow::ensure!(
            self.worker.lease_secs >= self.smtp_timeout_secs + 5,
            "worker.lease_secs ({}) must exceed smtp_timeout_secs ({}) by at least 5 s, or a slow send could be taken over and sent twice",
            self.worker.lease_secs,
            self.smtp_timeout_secs
        );
        anyhow::ensure!(
            self.worker.lease_secs >= self.channels.http_timeout_secs + 5,
            "worker.lease_secs ({}) must exceed channels.http_timeout_secs ({}) by at least 5 s",
            self.worker.lease_secs,
            self.channels.http_timeout_secs
        );
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "public_url must start with http:// or https://"
            );
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("roster.db").display()),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// The effective configuration as TOML, every secret redacted.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut value = toml::Value::try_from(self)?;
        let table = value.as_table_mut().expect("a struct serializes to a table");
        table.insert("database_url".into(), roster_store::redact_url(&self.database_url()).into());
        if let Some(smtp) = &self.smtp_url {
            table.insert("smtp_url".into(), roster_store::redact_url(smtp.expose()).into());
        }
        // Chat webhook base URLs carry no secret; Twilio's token and the push token are `Secret`s.
        Ok(toml::to_string_pretty(&value)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_run_on_a_laptop() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.is_sqlite());
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn redacted_toml_hides_secrets() {
        let c = Config {
            database_url: Some(Secret::new("postgres://roster:hunter22@db/roster")),
            secret_key: Some(Secret::new("ab".repeat(32))),
            smtp_url: Some(Secret::new("smtps://mailer:topsecret@mail:465")),
            ..Config::default()
        };
        let out = c.to_redacted_toml().unwrap();
        assert!(!out.contains("hunter22") && !out.contains("topsecret") && !out.contains(&"ab".repeat(32)), "{out}");
        assert!(out.contains("postgres://roster:***@db/roster"), "{out}");
        assert!(format!("{c:?}").contains("[redacted]"));
    }

    #[test]
    fn lease_must_outlast_the_send_timeout() {
        let c = Config { smtp_timeout_secs: 60, ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("lease_secs"));
    }

    #[test]
    fn delivery_settings_default_to_the_engines_and_override_one_transport_at_a_time() {
        let c = Config::default();
        assert_eq!(c.worker.retry_policy(), roster_delivery::RetryPolicy::default());
        assert_eq!(c.worker.delivery_policy(), roster_delivery::DeliveryPolicy::default());

        let path = std::env::temp_dir().join(format!("roster-config-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(
            &path,
            "[worker]\nretry_schedule_secs = [0, 10]\nretry_jitter = 0.0\ndisable_failing_after_secs = 0\n\
             [worker.max_age_secs]\nsms = 600\nemail = 7200\n[worker.quota]\nwebhook = 0\n",
        )
        .unwrap();
        let loaded = Config::load(Some(&path), &Overrides::default());
        std::fs::remove_file(&path).unwrap();
        let w = loaded.unwrap().worker;
        let p = w.delivery_policy();
        assert_eq!(w.retry_policy().schedule, [Duration::ZERO, Duration::from_secs(10)]);
        assert_eq!(p.max_age.sms, Some(Duration::from_secs(600)));
        assert_eq!(p.max_age.email, Some(Duration::from_secs(7200)));
        // The transports the file leaves alone keep their defaults; 0 turns a limit off.
        assert_eq!(p.max_age.voice, Some(Duration::from_secs(3600)));
        assert_eq!(p.max_age.pagerduty, None);
        assert_eq!((p.quota.webhook, p.quota.sms), (None, Some(10)));
        assert_eq!(p.disable_failing_after, None);
    }

    #[test]
    fn unusable_delivery_settings_are_refused() {
        let mut c = Config::default();
        c.worker.retry_schedule_secs.clear();
        assert!(c.validate().unwrap_err().to_string().contains("retry"));
        let mut c = Config::default();
        c.worker.retry_jitter = 2.0;
        assert!(c.validate().unwrap_err().to_string().contains("jitter"));
        let mut c = Config::default();
        c.worker.quota_window_secs = 0;
        assert!(c.validate().unwrap_err().to_string().contains("quota window"));
    }
}
