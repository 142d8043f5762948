//! What a send through an HTTP transport came to.

use crate::SendError;
use std::time::Duration;

/// The receiver took the request: it answered with this 2xx status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
}

/// Why a request did not go through, and whether trying again may help.
///
/// `class` is a stable label for the attempt log and metrics: `ssrf_blocked`,
/// `invalid_url`, `invalid_request`, `invalid_secret` (permanent, a fault of
/// the channel's configuration); `redirect`, `gone` (410: the channel should
/// be disabled), `rejected` (other 4xx) (permanent, the receiver's answer);
/// `rate_limited` (429), `server_error` (425, 5xx), `timeout` (ours or a
/// 408), `connect`, `network` (transient). `detail` is for operators and
/// never holds the URL (a chat webhook's URL is its secret) or the
/// receiver's response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {detail}")]
pub struct TransportError {
    permanent: bool,
    class: &'static str,
    detail: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
    excerpt: Option<String>,
}

impl TransportError {
    /// Will fail the same way every time.
    pub fn permanent(class: &'static str, detail: impl Into<String>) -> Self {
        Self::new(true, class, detail.into())
    }

    /// Worth trying again later.
    pub fn transient(class: &'static str, detail: impl Into<String>) -> Self {
        Self::new(false, class, detail.into())
    }

    fn new(permanent: bool, class: &'static str, detail: String) -> Self {
        Self { permanent, class, detail, status: None, retry_after: None, excerpt: None }
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub(crate) fn with_excerpt(mut self, excerpt: Option<String>) -> Self {
        self.excerpt = excerpt;
        self
    }

    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    pub fn class(&self) -> &'static str {
        self.class
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The HTTP status the receiver answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// How long the receiver asked us to wait (`Retry-After`, clamped to
    /// 1 s ..= 1 h), for a 429 or a 5xx that said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The receiver answered 410 Gone: the channel should be disabled
    /// (`disabled_by_system`) rather than tried again.
    pub fn is_gone(&self) -> bool {
        self.class == "gone"
    }

    /// The start of the receiver's response body, sanitized (one line, no
    /// control characters, at most 200 characters). For operator logs only:
    /// never show it to API callers.
    pub fn operator_excerpt(&self) -> Option<&str> {
        self.excerpt.as_deref()
    }
}

/// For the worker's email-shaped path: keeps the class, detail and retry-or-not.
impl From<TransportError> for SendError {
    fn from(e: TransportError) -> Self {
        let TransportError { permanent, class, detail, .. } = e;
        if permanent {
            SendError::Permanent { class, detail }
        } else {
            SendError::Transient { class, detail }
        }
    }
}

impl From<SendError> for TransportError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Permanent { class, detail } => TransportError::permanent(class, detail),
            SendError::Transient { class, detail } => TransportError::transient(class, detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_and_from_send_error() {
        let e = TransportError::transient("rate_limited", "429").with_status(429);
        assert_eq!(e.to_string(), "rate_limited: 429");
        let send: SendError = e.clone().into();
        assert_eq!((send.class(), send.is_permanent()), ("rate_limited", false));
        let back: TransportError = SendError::Permanent { class: "gone", detail: "410".into() }.into();
        assert!(back.is_permanent() && back.is_gone() && back.status().is_none());
    }
}
