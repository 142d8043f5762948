//! Turning a receiver's answer, or the lack of one, into [`Delivered`] or a
//! [`TransportError`].

use super::client::HttpConfig;
use super::ssrf::ssrf_refusal;
use super::{Delivered, TransportError};
use reqwest::header::RETRY_AFTER;
use reqwest::Response;
use std::time::{Duration, SystemTime};

/// The bounds a receiver's `Retry-After` is clamped to.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How much of a body is kept for the operator excerpt, before sanitizing.
const EXCERPT_BYTES: usize = 512;
const EXCERPT_CHARS: usize = 200;

pub(crate) async fn classify_response(response: Response, max_bytes: usize) -> Result<Delivered, TransportError> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    // Read even on success, so a small answer leaves the connection reusable.
    let head = read_head(response, max_bytes).await;
    let said = |what: &str| format!("the receiver answered {status} ({what})");
    let error = match status {
        200..=299 => return Ok(Delivered { status }),
        300..=399 => TransportError::permanent("redirect", said("a redirect, which is not followed")),
        410 => TransportError::permanent("gone", said("Gone: the endpoint no longer exists")),
        429 => TransportError::transient("rate_limited", said("Too Many Requests")).with_retry_after(retry_after),
        408 => TransportError::transient("timeout", said("Request Timeout")),
        425 | 500..=599 => {
            TransportError::transient("server_error", said("a server error")).with_retry_after(retry_after)
        }
        400..=499 => TransportError::permanent("rejected", said("the request was refused")),
        _ => TransportError::transient("server_error", said("not a final status")),
    };
    Err(error.with_status(status).with_excerpt(excerpt(&head)))
}

pub(crate) fn classify_transport_error(e: reqwest::Error, cfg: &HttpConfig) -> TransportError {
    if let Some(refusal) = ssrf_refusal(&e) {
        return refusal.to_error();
    }
    // Without the URL: it may be the channel's secret.
    let e = e.without_url();
    let chain = chain(&e);
    if e.is_timeout() {
        let detail = format!("no answer within {:?} (connect timeout {:?}): {chain}", cfg.timeout, cfg.connect_timeout);
        TransportError::transient("timeout", detail)
    } else if e.is_connect() {
        TransportError::transient("connect", chain)
    } else if e.is_builder() {
        TransportError::permanent("invalid_request", chain)
    } else {
        TransportError::transient("network", chain)
    }
}

/// `error: cause: cause…`, one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = e.source();
    }
    text
}

/// Reads at most `max_bytes` of the body, keeping the first bytes only;
/// errors just end the reading, the status has already decided.
async fn read_head(mut response: Response, max_bytes: usize) -> Vec<u8> {
    let mut head = Vec::new();
    let mut read = 0usize;
    while read < max_bytes {
        let Ok(Some(chunk)) = response.chunk().await else { break };
        let take = chunk.len().min(max_bytes - read);
        let keep = take.min(EXCERPT_BYTES.saturating_sub(head.len()));
        head.extend_from_slice(&chunk[..keep]);
        read += take;
    }
    head
}

/// One line of printable text, at most [`EXCERPT_CHARS`] characters.
fn excerpt(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let words: Vec<&str> =
        text.split(|c: char| c.is_control() || c.is_whitespace()).filter(|w| !w.is_empty()).collect();
    let line = words.join(" ");
    (!line.is_empty()).then(|| super::truncate_chars(&line, EXCERPT_CHARS).into_owned())
}

/// `Retry-After` as delta-seconds or an HTTP-date, clamped to 1 s ..= 1 h;
/// `None` when it is neither.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time".
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.clamp(MIN_RETRY_AFTER, MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date_within_bounds() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let parse = |v: &str| parse_retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(parse("120"), Some(120));
        assert_eq!(parse(" 7 "), Some(7));
        assert_eq!(parse("0"), Some(1));
        assert_eq!(parse("86400"), Some(3600));
        assert_eq!(parse("99999999999999999999999"), Some(3600));
        assert_eq!(parse("Sun, 06 Nov 1994 08:50:07 GMT"), Some(30));
        // The two obsolete formats a recipient must accept too.
        assert_eq!(parse("Sunday, 06-Nov-94 08:51:37 GMT"), Some(120));
        assert_eq!(parse("Sun Nov  6 08:49:47 1994"), Some(10));
        assert_eq!(parse("Sun, 06 Nov 1994 08:00:00 GMT"), Some(1), "a date in the past");
        assert_eq!(parse("Mon, 07 Nov 1994 08:49:37 GMT"), Some(3600));
        for bad in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn excerpts_are_one_short_printable_line() {
        assert_eq!(excerpt(b""), None);
        assert_eq!(excerpt(b" \r\n\t "), None);
        assert_eq!(
            excerpt(b"{\"error\":\r\n  \"bad\x1b[31m token\"}\x00").as_deref(),
            Some("{\"error\": \"bad [31m token\"}")
        );
        let long = excerpt(&[b'a'; 5000]).unwrap();
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with('…'));
        assert_eq!(excerpt(&[0xff, b'o', b'k']).as_deref(), Some("\u{fffd}ok"));
    }
}
