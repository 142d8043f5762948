//! Building and running the application: open the store, migrate, bind,
//! serve until told to stop, then drain.

use crate::config::Config;
use crate::http::metrics::Metrics;
use crate::state::AppState;
use anyhow::Context;
use roster_core::secret::SecretKey;
use roster_delivery::transports::{HttpConfig, PushConfig, TwilioConfig, Url};
use roster_delivery::{ChannelConfig, ChannelSenders, Mailer, MailerConfig, Templates, Worker, WorkerConfig};
use roster_store::{Store, StoreOptions};
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A bound, migrated application, ready to serve.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    worker: Option<Worker>,
}

impl Application {
    /// Opens and migrates the database, binds `config.listen` (port 0 picks a
    /// free port) and, with `with_worker`, prepares the in-process delivery worker.
    pub async fn build(config: Config, with_worker: bool) -> anyhow::Result<Self> {
        let mut store = open_store(&config).await?;
        // The API server alone caches principals: it tells the cache of every
        // change it makes (see `http::extract::forget_principals`).
        store.cache_principals(Duration::from_secs(config.principal_cache_secs))?;
        let key = load_secret_key(&config)?;
        let wake = Arc::new(Notify::new());
        let worker = if with_worker { Some(build_worker(&config, store.clone(), wake.clone())?) } else { None };
        let listener =
            TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
        let state = AppState::new(store, config, key, wake);
        Ok(Self { listener, state, worker })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight
    /// requests and sends finish (up to `shutdown_grace_secs`) and closes the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application { listener, state, worker } = self;
        let config = state.config().clone();
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let worker = worker.map(|w| tokio::spawn(w.run(stop.child_token())));
        let maintenance = tokio::spawn(maintenance(
            state.store().clone(),
            state.metrics().clone(),
            config.clone(),
            stop.child_token(),
        ));
        tracing::info!(
            url = %format!("http://{addr}"),
            database = %roster_store::redact_url(&config.database_url()),
            worker = worker.is_some(),
            "roster is listening on http://{addr}"
        );

        let router = crate::http::router(state.clone());
        let serve_stop = stop.clone();
        let serve = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = shutdown => {}
                    _ = serve_stop.cancelled() => {}
                }
                tracing::info!("shutting down: no new connections; finishing in-flight requests");
                serve_stop.cancel();
            });
        let mut serve = tokio::spawn(serve.into_future());
        let grace = Duration::from_secs(config.shutdown_grace_secs);
        let result = tokio::select! {
            r = &mut serve => r.map_err(anyhow::Error::from).and_then(|r| r.map_err(anyhow::Error::from)),
            _ = async { stop.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_secs = config.shutdown_grace_secs, "requests still running after the grace period; closing them");
                serve.abort();
                Ok(())
            }
        };
        stop.cancel();
        if let Some(worker) = worker {
            if tokio::time::timeout(grace, worker).await.is_err() {
                tracing::warn!("the delivery worker did not stop within the grace period");
            }
        }
        let _ = maintenance.await;
        state.store().close().await;
        tracing::info!("stopped");
        result
    }
}

/// Opens the configured database (creating the data directory for SQLite) and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.is_sqlite() && config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    let url = config.database_url();
    let store = Store::connect(&StoreOptions {
        url: url.clone(),
        max_connections: config.database_max_connections,
        acquire_timeout: Duration::from_secs(config.database_acquire_timeout_secs),
    })
    .await
    .with_context(|| format!("cannot open the database at {}", roster_store::redact_url(&url)))?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

/// The configured secret key; on SQLite without one, a key generated once
/// into the data directory (readable by the owner only).
pub fn load_secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    if let Some(hex_key) = &config.secret_key {
        let bytes = hex_decode(hex_key.expose().trim()).context("secret_key must be hexadecimal")?;
        return SecretKey::new(bytes).map_err(|e| anyhow::anyhow!("secret_key: {e} (64 hex characters)"));
    }
    anyhow::ensure!(
        config.is_sqlite(),
        "set ROSTER_SECRET_KEY (64+ hex characters, e.g. from `openssl rand -hex 32`): on PostgreSQL every instance must share one key"
    );
    std::fs::create_dir_all(&config.data_dir)?;
    let path = config.data_dir.join("secret.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let bytes = hex_decode(existing.trim()).with_context(|| format!("{} is not hexadecimal", path.display()))?;
        return SecretKey::new(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let key = SecretKey::generate();
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &hex).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(key)
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

fn hex_decode(s: &str) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(s.len().is_multiple_of(2), "odd number of hex digits");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(Into::into)).collect()
}

/// The delivery worker as configured.
pub fn build_worker(config: &Config, store: Store, wake: Arc<Notify>) -> anyhow::Result<Worker> {
    let send_timeout = Duration::from_secs(config.smtp_timeout_secs);
    let mailer_config = match &config.smtp_url {
        Some(url) => MailerConfig::Smtp { url: url.expose().to_owned(), timeout: send_timeout },
        None => MailerConfig::Log,
    };
    let mailer = Mailer::new(&mailer_config, &config.mail_from).context("invalid mail settings")?;
    tracing::info!(transport = %mailer.describe(), "email transport");
    let templates = Templates::new(&config.product_name, &config.public_url()).context("invalid message templates")?;
    let worker_config = WorkerConfig {
        poll_interval: Duration::from_millis(config.worker.poll_interval_ms),
        lease: Duration::from_secs(config.worker.lease_secs),
        batch_size: config.worker.batch_size,
        concurrency: config.worker.concurrency,
        retry: config.worker.retry_policy(),
    };
    let policy = config.worker.delivery_policy();
    policy.validate().map_err(anyhow::Error::msg)?;
    let mut channels = channel_config(config)?;
    // Signs the emails' unsubscribe links, which the API checks with the same key.
    channels.link_key = Some(load_secret_key(config)?);
    let senders = ChannelSenders::new(channels).context("invalid channel transport settings")?;
    worker_config.validate(send_timeout.max(senders.send_timeout())).map_err(anyhow::Error::msg)?;
    Ok(Worker::new(store, Arc::new(mailer), Arc::new(senders), Arc::new(templates), worker_config, wake)
        .with_policy(policy))
}

/// The channel transports from `config.channels`. SMS and voice need every
/// Twilio setting, push the gateway URL; without them those channels fail
/// their sends as `not_configured`.
fn channel_config(config: &Config) -> anyhow::Result<ChannelConfig> {
    let c = &config.channels;
    let url = |name: &str, value: &Option<String>| -> anyhow::Result<Option<Url>> {
        value.as_deref().map(|v| Url::parse(v).with_context(|| format!("channels.{name} is not a URL"))).transpose()
    };
    let twilio = match (&c.twilio_account_sid, &c.twilio_auth_token, &c.twilio_from_number) {
        (Some(sid), Some(token), Some(from)) => {
            let mut twilio = TwilioConfig::new(sid.as_str(), token.expose(), from.as_str());
            if let Some(base) = url("twilio_base_url", &c.twilio_base_url)? {
                twilio.base_url = base;
            }
            Some(twilio)
        }
        _ => None,
    };
    let push = url("push_gateway_url", &c.push_gateway_url)?.map(|gateway_url| PushConfig {
        gateway_url,
        auth_token: c.push_gateway_token.as_ref().map(|t| t.expose().to_owned()),
    });
    Ok(ChannelConfig {
        http: HttpConfig {
            connect_timeout: Duration::from_secs(c.http_connect_timeout_secs),
            timeout: Duration::from_secs(c.http_timeout_secs),
            max_response_bytes: c.max_response_bytes,
            allow_private_targets: c.allow_private_targets,
            ..HttpConfig::default()
        },
        slack_base_url: url("slack_base_url", &c.slack_base_url)?,
        discord_base_url: url("discord_base_url", &c.discord_base_url)?,
        msteams_base_url: url("msteams_base_url", &c.msteams_base_url)?,
        pagerduty_base_url: url("pagerduty_base_url", &c.pagerduty_base_url)?,
        twilio,
        push,
        product_name: config.product_name.clone(),
        public_url: Some(Url::parse(&config.public_url()).context("public_url is not a URL")?),
        link_key: None,
    })
}

/// Housekeeping on a timer: SQLite checkpoints (so the WAL stays bounded
/// under constant reads), deleting expired sessions, codes, held sign-ups
/// and counters, and folding request latencies into their histograms (so
/// memory stays bounded without a scrape).
async fn maintenance(store: Store, metrics: Metrics, config: Config, stop: CancellationToken) {
    /// A WAL above this many pages (about 64 MiB) is truncated, not just checkpointed.
    const LARGE_WAL_PAGES: i64 = 16_384;
    let mut checkpoint = tokio::time::interval(Duration::from_secs(config.sqlite_checkpoint_secs.max(1)));
    let mut purge = tokio::time::interval(Duration::from_secs(600));
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = upkeep.tick() => metrics.upkeep(),
            _ = checkpoint.tick(), if config.is_sqlite() => {
                match store.checkpoint(false).await {
                    Ok(pages) if pages > LARGE_WAL_PAGES => {
                        if let Err(e) = store.checkpoint(true).await {
                            tracing::warn!(error = %e, "WAL truncation failed");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
            _ = purge.tick() => {
                match store.purge_expired(roster_core::clock::now(), time::Duration::days(1)).await {
                    Ok(n) if n > 0 => tracing::debug!(deleted = n, "purged expired sessions, codes, sign-ups and counters"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
                }
                if let Err(e) = store.expire_idempotency_keys(roster_core::clock::now()).await {
                    tracing::warn!(error = %e, "expiring idempotency keys failed");
                }
            }
        }
    }
}

/// Runs the delivery worker alone until `shutdown` resolves (`roster worker`).
pub async fn run_worker(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let worker = build_worker(&config, store.clone(), Arc::new(Notify::new()))?;
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker.run(stop.child_token()));
    tracing::info!(database = %roster_store::redact_url(&config.database_url()), "delivery worker running");
    shutdown.await;
    tracing::info!("shutting down the worker: finishing in-flight sends");
    stop.cancel();
    let _ = handle.await;
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn channel_transports_come_from_the_channel_settings() {
        let mut config = Config::default();
        let c = channel_config(&config).unwrap();
        assert!(c.twilio.is_none() && c.push.is_none(), "SMS, voice and push need settings");
        assert_eq!(c.http.timeout, Duration::from_secs(config.channels.http_timeout_secs));

        config.channels.twilio_account_sid = Some("AC123".into());
        config.channels.twilio_auth_token = Some(Secret::new("tw-token"));
        assert!(channel_config(&config).unwrap().twilio.is_none(), "a Twilio setting is missing");
        config.channels.twilio_from_number = Some("+15550001111".into());
        config.channels.twilio_base_url = Some("http://127.0.0.1:9/twilio".into());
        config.channels.push_gateway_url = Some("https://push.example.com/send".into());
        config.channels.push_gateway_token = Some(Secret::new("p-token"));
        config.channels.slack_base_url = Some("http://127.0.0.1:9".into());
        config.channels.allow_private_targets = true;
        let c = channel_config(&config).unwrap();
        let twilio = c.twilio.unwrap();
        assert_eq!((twilio.base_url.as_str(), twilio.auth_token.as_str()), ("http://127.0.0.1:9/twilio", "tw-token"));
        let push = c.push.unwrap();
        assert_eq!(push.auth_token.as_deref(), Some("p-token"));
        assert_eq!(c.slack_base_url.unwrap().as_str(), "http://127.0.0.1:9/");
        assert!(c.http.allow_private_targets);

        config.channels.discord_base_url = Some("not a url".into());
        let err = channel_config(&config).unwrap_err().to_string();
        assert!(err.contains("channels.discord_base_url"), "{err}");
    }
}
