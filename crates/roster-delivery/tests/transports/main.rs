//! The HTTP transports end to end, against real receivers on 127.0.0.1
//! (roster-testkit's `HttpReceiver`).

mod channels;
mod classify;
mod ssrf;
mod webhook;

use roster_delivery::transports::{HttpClient, HttpConfig, WebhookRequest};
use std::time::Duration;

/// How long a test waits for something that should happen at once.
pub const WAIT: Duration = Duration::from_secs(5);

/// A client allowed to reach 127.0.0.1, with a generous timeout.
pub fn client() -> HttpClient {
    client_with(HttpConfig { allow_private_targets: true, ..HttpConfig::default() })
}

pub fn client_with(cfg: HttpConfig) -> HttpClient {
    HttpClient::new(cfg).expect("a valid HTTP configuration")
}

/// A plain signed POST of `{"ok":true}` to `url`.
pub fn post(url: String) -> WebhookRequest {
    WebhookRequest {
        url,
        method: "POST".into(),
        headers: vec![],
        query: vec![],
        body: Some(r#"{"ok":true}"#.into()),
        msg_id: "msg_2fY7Zq".into(),
        secrets: vec![],
    }
}
