//! A webhook channel's request: method, headers, body template, query (NodePing's
//! `action`, `headers`, `data`, `querystrings`).

use super::template::{check_template, render, TemplateContext};
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[serde(alias = "get")]
    Get,
    #[default]
    #[serde(alias = "post")]
    Post,
    #[serde(alias = "put")]
    Put,
    #[serde(alias = "head")]
    Head,
    #[serde(alias = "delete")]
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Head => "HEAD",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// Whether a request with this method may carry a body.
    pub fn allows_body(self) -> bool {
        !matches!(self, HttpMethod::Get | HttpMethod::Head)
    }
}

/// How a webhook channel's request is made. Every field has a default, so `{}` is POST with nothing added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    pub method: HttpMethod,
    /// Extra request headers, such as `Authorization` or `Content-Type`.
    pub headers: BTreeMap<String, String>,
    /// The body, with placeholders such as `{{title}}`; absent means the default JSON payload.
    pub body_template: Option<String>,
    /// Query parameters appended to the URL.
    pub query: BTreeMap<String, String>,
}

impl WebhookConfig {
    pub const MAX_HEADERS: usize = 20;
    pub const MAX_QUERY: usize = 20;
    pub const MAX_BODY_TEMPLATE: usize = 8 * 1024;
    const MAX_NAME: usize = 256;
    const MAX_VALUE: usize = 4096;

    /// Headers a caller may not set: framing and hop-by-hop headers the HTTP
    /// client owns, and the signature headers the delivery engine adds.
    pub const FORBIDDEN_HEADERS: [&'static str; 14] = [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    ];

    /// Every problem at once, with field names relative to the config
    /// (`headers.X-Token`, `body_template`, `query`).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        self.check_into(&mut errors, "");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Like [`validate`](Self::validate), recording into `errors` with `prefix` (say `webhook.`) before each field.
    pub fn check_into(&self, errors: &mut FieldErrors, prefix: &str) {
        let field = |name: &str| format!("{prefix}{name}");
        if self.headers.len() > Self::MAX_HEADERS {
            errors.push(&field("headers"), "too_many", format!("must have at most {} headers", Self::MAX_HEADERS));
        }
        let mut seen = BTreeSet::new();
        for (name, value) in &self.headers {
            let at = field(&format!("headers.{name}"));
            let lower = name.to_ascii_lowercase();
            if name.is_empty() || name.len() > Self::MAX_NAME || !name.bytes().all(is_tchar) {
                errors.push(
                    &at,
                    "invalid_header_name",
                    format!(
                        "`{name}` is not a header name: 1 to {} letters, digits and !#$%&'*+-.^_`|~",
                        Self::MAX_NAME
                    ),
                );
            } else if Self::FORBIDDEN_HEADERS.contains(&lower.as_str()) {
                errors.push(&at, "forbidden_header", format!("`{name}` is set by the server and cannot be configured"));
            } else if !seen.insert(lower) {
                errors.push(&at, "duplicate_header", format!("`{name}` is given twice in different letter cases"));
            }
            if value.len() > Self::MAX_VALUE || !is_field_value(value) {
                errors.push(
                    &at,
                    "invalid_header_value",
                    format!(
                        "must be at most {} visible ASCII characters, with spaces only between them",
                        Self::MAX_VALUE
                    ),
                );
            }
        }
        if let Some(body) = &self.body_template {
            if !self.method.allows_body() {
                errors.push(
                    &field("body_template"),
                    "body_not_allowed",
                    format!(
                        "a {} request has no body; use POST, PUT or DELETE, or remove the template",
                        self.method.as_str()
                    ),
                );
            } else if body.len() > Self::MAX_BODY_TEMPLATE {
                errors.push(&field("body_template"), "too_long", "must be at most 8 KiB (8192 bytes)");
            } else if let Err(p) = check_template(body) {
                errors.push(&field("body_template"), p.code, p.message);
            }
        }
        if self.query.len() > Self::MAX_QUERY {
            errors.push(&field("query"), "too_many", format!("must have at most {} parameters", Self::MAX_QUERY));
        }
        for (name, value) in &self.query {
            let at = field(&format!("query.{name}"));
            if name.is_empty() || name.len() > Self::MAX_NAME || value.len() > Self::MAX_VALUE {
                errors.push(
                    &at,
                    "invalid_query",
                    format!("names must be 1 to {} and values at most {} bytes", Self::MAX_NAME, Self::MAX_VALUE),
                );
            } else if name.chars().chain(value.chars()).any(char::is_control) {
                errors.push(&at, "invalid_characters", "must not contain control characters");
            }
        }
    }

    /// The configured `Content-Type`, matched without regard to letter case.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str())
    }

    /// The body to send, `None` without a template. Values are JSON-escaped
    /// when the body is JSON: a `Content-Type` containing `json`, or none at
    /// all (the default is `application/json`); inserted raw otherwise.
    pub fn render_body(&self, ctx: &TemplateContext) -> Option<String> {
        let template = self.body_template.as_deref()?;
        let json = self.content_type().is_none_or(|ct| ct.to_ascii_lowercase().contains("json"));
        Some(render(template, ctx, json))
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 `field-value` restricted to ASCII: visible characters, spaces and
/// tabs between them, nothing else (no obs-text, no leading or trailing space).
fn is_field_value(v: &str) -> bool {
    let visible = |b: u8| b.is_ascii_graphic();
    v.bytes().all(|b| visible(b) || b == b' ' || b == b'\t')
        && v.bytes().next().is_none_or(visible)
        && v.bytes().last().is_none_or(visible)
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
