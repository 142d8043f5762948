//! What every handler shares: the store, the configuration, the secret key,
//! the password hasher, the worker's wake-up signal and the metrics.

use crate::app::passwords::Passwords;
use crate::config::Config;
use crate::http::metrics::Metrics;
use roster_core::secret::SecretKey;
use roster_store::Store;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Store,
    config: Config,
    key: SecretKey,
    passwords: Passwords,
    wake_worker: Arc<Notify>,
    metrics: Metrics,
}

impl AppState {
    pub fn new(store: Store, config: Config, key: SecretKey, wake_worker: Arc<Notify>) -> Self {
        let passwords = Passwords::new(config.password_hash_concurrency);
        Self(Arc::new(Inner { store, config, key, passwords, wake_worker, metrics: Metrics::new() }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn key(&self) -> &SecretKey {
        &self.0.key
    }

    pub fn passwords(&self) -> &Passwords {
        &self.0.passwords
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Tells an in-process worker that a message was just queued, so it sends
    /// now rather than at its next poll.
    pub fn message_queued(&self) {
        self.0.wake_worker.notify_one();
    }
}
