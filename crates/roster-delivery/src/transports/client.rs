//! The one HTTP client every transport sends through.

use super::response::{classify_response, classify_transport_error};
use super::ssrf::{check_url, GuardedResolver};
use super::{Delivered, TransportError};
use reqwest::{Method, RequestBuilder};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How outgoing HTTP requests are bounded and where they may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The longest a TCP connection (and TLS handshake) may take.
    pub connect_timeout: Duration,
    /// The longest a whole request may take, reading the response included.
    pub timeout: Duration,
    /// The most of a response body read; the rest is never read.
    pub max_response_bytes: usize,
    /// Lets requests reach loopback and private addresses: for tests and
    /// for deployments whose receivers are all on a private network.
    pub allow_private_targets: bool,
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
            allow_private_targets: false,
            user_agent: concat!("Roster/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpConfigError {
    #[error("the HTTP connect timeout and total timeout must be more than zero")]
    InvalidTimeout,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A reqwest client built from an [`HttpConfig`]: no redirects, no proxy,
/// both timeouts, and a resolver that refuses private addresses. Cheap to
/// clone; clones share their connection pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    cfg: Arc<HttpConfig>,
}

/// A URL that passed [`check_url`]: the only kind a request is built from.
pub(crate) struct Target(Url);

impl HttpClient {
    pub fn new(cfg: HttpConfig) -> Result<Self, HttpConfigError> {
        if cfg.timeout.is_zero() || cfg.connect_timeout.is_zero() {
            return Err(HttpConfigError::InvalidTimeout);
        }
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, out of the resolver's reach.
            .no_proxy()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .user_agent(cfg.user_agent.as_str())
            .dns_resolver(Arc::new(GuardedResolver { allow_private: cfg.allow_private_targets }))
            .build()
            .map_err(|e| HttpConfigError::Client(e.to_string()))?;
        Ok(Self { inner, cfg: Arc::new(cfg) })
    }

    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    /// Checks `url` (http or https, not an IP literal that is forbidden).
    pub(crate) fn target(&self, url: &str) -> Result<Target, TransportError> {
        check_url(url, self.cfg.allow_private_targets).map(Target)
    }

    /// Checks a URL already parsed (a configured base URL, a rebased one).
    pub(crate) fn target_url(&self, url: &Url) -> Result<Target, TransportError> {
        self.target(url.as_str())
    }

    pub(crate) fn request(&self, method: Method, target: Target) -> RequestBuilder {
        self.inner.request(method, target.0)
    }

    /// Sends `request` and classifies the outcome, reading at most
    /// `max_response_bytes` of the answer.
    pub(crate) async fn execute(&self, request: RequestBuilder) -> Result<Delivered, TransportError> {
        match request.send().await {
            Ok(response) => classify_response(response, self.cfg.max_response_bytes).await,
            Err(e) => Err(classify_transport_error(e, &self.cfg)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_zero_timeouts() {
        let zero = HttpConfig { timeout: Duration::ZERO, ..HttpConfig::default() };
        assert!(matches!(HttpClient::new(zero), Err(HttpConfigError::InvalidTimeout)));
        let zero = HttpConfig { connect_timeout: Duration::ZERO, ..HttpConfig::default() };
        assert!(matches!(HttpClient::new(zero), Err(HttpConfigError::InvalidTimeout)));
        let client = HttpClient::new(HttpConfig::default()).unwrap();
        assert_eq!(client.config().max_response_bytes, 65536);
        assert!(client.config().user_agent.starts_with("Roster/"));
    }
}
