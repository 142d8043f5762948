//! Push notifications through a configurable HTTP push gateway, which
//! holds the APNs / FCM credentials and fans out to devices.

use super::{Delivered, HttpClient, TransportError};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

#[derive(Clone, PartialEq, Eq)]
pub struct PushConfig {
    pub gateway_url: Url,
    /// Sent as `Authorization: Bearer …` when set.
    pub auth_token: Option<String>,
}

impl std::fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConfig")
            .field("gateway_url", &self.gateway_url.as_str())
            .field("auth_token", &self.auth_token.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PushNotification {
    /// The device's push token, as the app registered it.
    pub token: String,
    pub title: String,
    pub body: String,
    /// Extra fields for the app; `null` when none.
    pub data: Value,
}

#[derive(Debug, Clone)]
pub struct PushSender {
    client: HttpClient,
    cfg: PushConfig,
}

impl PushSender {
    pub fn new(client: HttpClient, cfg: PushConfig) -> Self {
        Self { client, cfg }
    }

    /// POSTs `{"token", "title", "body", "data"}` to the gateway.
    pub async fn send(&self, notification: &PushNotification) -> Result<Delivered, TransportError> {
        let payload = json!({
            "token": notification.token,
            "title": notification.title,
            "body": notification.body,
            "data": notification.data,
        });
        let mut request = self
            .client
            .request(Method::POST, self.client.target_url(&self.cfg.gateway_url)?)
            .header(CONTENT_TYPE, "application/json")
            .body(payload.to_string());
        if let Some(token) = &self.cfg.auth_token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        self.client.execute(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_gateway_token() {
        let cfg = PushConfig {
            gateway_url: Url::parse("https://push.example.com/send").unwrap(),
            auth_token: Some("hunter2".into()),
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2") && shown.contains("push.example.com"), "{shown}");
    }
}
