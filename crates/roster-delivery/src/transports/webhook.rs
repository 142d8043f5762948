//! Generic webhooks: the channel's own method, headers, query and body,
//! signed per Standard Webhooks.

use super::standard_webhooks::{sign_all, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::{Delivered, HttpClient, TransportError};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Method;

/// One webhook call, already rendered (placeholders filled in).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE` (any case).
    pub method: String,
    /// Sent as given, after the checks in [`WebhookSender::send`].
    pub headers: Vec<(String, String)>,
    /// Appended to the URL's own query, in order.
    pub query: Vec<(String, String)>,
    /// Sent as `application/json` unless `headers` set a `Content-Type`.
    pub body: Option<String>,
    /// The `webhook-id`: the delivery's stable id, the same on every retry.
    pub msg_id: String,
    /// `whsec_…` secrets, one signature each; none, no `webhook-signature`.
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the URL (it may embed a token) nor the secrets.
        f.debug_struct("WebhookRequest")
            .field("method", &self.method)
            .field("headers", &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("body_bytes", &self.body.as_ref().map(String::len))
            .field("msg_id", &self.msg_id)
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

/// Headers a channel may not set: the ones that frame the request or route
/// it, and the signature's own.
const RESERVED: [&str; 13] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
    HEADER_ID,
    HEADER_TIMESTAMP,
    HEADER_SIGNATURE,
];

#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: HttpClient,
}

impl WebhookSender {
    pub fn new(client: HttpClient) -> Self {
        Self { client }
    }

    /// Sends `request` signed with a timestamp of now.
    pub async fn send(&self, request: &WebhookRequest) -> Result<Delivered, TransportError> {
        self.send_at(request, roster_core::clock::now().unix_timestamp()).await
    }

    /// Sends `request` with this `webhook-timestamp` (Unix seconds).
    pub async fn send_at(&self, request: &WebhookRequest, timestamp: i64) -> Result<Delivered, TransportError> {
        let invalid = |detail: String| TransportError::permanent("invalid_request", detail);
        let method =
            parse_method(&request.method).ok_or_else(|| invalid(format!("unsupported method `{}`", request.method)))?;
        let mut url = url::Url::parse(&request.url)
            .map_err(|e| TransportError::permanent("invalid_url", format!("not a URL: {e}")))?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let target = self.client.target_url(&url)?;

        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("invalid header name `{name}`")))?;
            if RESERVED.contains(&name.as_str()) {
                return Err(invalid(format!("the `{name}` header is set by Roster, not by the channel")));
            }
            let value =
                HeaderValue::from_str(value).map_err(|_| invalid(format!("invalid value for header `{name}`")))?;
            headers.append(name, value);
        }
        let body = request.body.as_deref().unwrap_or_default();
        if request.body.is_some() && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let header = |value: &str| {
            HeaderValue::from_str(value).map_err(|_| invalid(format!("`{value}` cannot be a header value")))
        };
        headers.insert(HEADER_ID, header(&request.msg_id)?);
        headers.insert(HEADER_TIMESTAMP, HeaderValue::from(timestamp));
        if !request.secrets.is_empty() {
            let signature = sign_all(&request.secrets, &request.msg_id, timestamp, body.as_bytes())
                .map_err(|e| TransportError::permanent("invalid_secret", e.to_string()))?;
            headers.insert(HEADER_SIGNATURE, header(&signature)?);
        }

        let mut builder = self.client.request(method, target).headers(headers);
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        self.client.execute(builder).await
    }
}

fn parse_method(method: &str) -> Option<Method> {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Some(Method::GET),
        "POST" => Some(Method::POST),
        "PUT" => Some(Method::PUT),
        "PATCH" => Some(Method::PATCH),
        "HEAD" => Some(Method::HEAD),
        "DELETE" => Some(Method::DELETE),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_url_nor_secrets() {
        let request = WebhookRequest {
            url: "https://example.com/hook?token=hunter2".into(),
            method: "POST".into(),
            headers: vec![("authorization".into(), "Bearer hunter3".into())],
            query: vec![],
            body: Some("{}".into()),
            msg_id: "msg_1".into(),
            secrets: vec!["whsec_hunter4".into()],
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(shown.contains("msg_1") && shown.contains("authorization"), "{shown}");
    }

    #[test]
    fn methods_are_a_short_list_in_any_case() {
        assert_eq!(parse_method("post"), Some(Method::POST));
        assert_eq!(parse_method("Delete"), Some(Method::DELETE));
        assert_eq!(parse_method("HEAD"), Some(Method::HEAD));
        assert_eq!(parse_method("CONNECT"), None);
        assert_eq!(parse_method("TRACE"), None);
        assert_eq!(parse_method(""), None);
    }
}
