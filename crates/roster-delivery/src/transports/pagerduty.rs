//! PagerDuty Events API v2: trigger an alert, resolve it later with the
//! same dedup key.

use super::{truncate_chars, Delivered, HttpClient, TransportError};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

pub const PAGERDUTY_BASE_URL: &str = "https://events.pagerduty.com";
/// PagerDuty cuts longer summaries; we cut first, with a visible `…`.
const SUMMARY_MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagerDutySeverity {
    Critical,
    Error,
    Warning,
    Info,
}

impl PagerDutySeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            PagerDutySeverity::Critical => "critical",
            PagerDutySeverity::Error => "error",
            PagerDutySeverity::Warning => "warning",
            PagerDutySeverity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerDutyTrigger {
    pub summary: String,
    /// Where the problem is, e.g. the organization's or the service's name.
    pub source: String,
    pub severity: PagerDutySeverity,
    pub timestamp: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagerDutyAction {
    Trigger(PagerDutyTrigger),
    Resolve,
}

#[derive(Debug, Clone)]
pub struct PagerDutySender {
    client: HttpClient,
    base: Url,
}

impl PagerDutySender {
    /// `base_url` defaults to [`PAGERDUTY_BASE_URL`]; a path on it is kept as a prefix.
    pub fn new(client: HttpClient, base_url: Option<Url>) -> Self {
        let base = base_url.unwrap_or_else(|| Url::parse(PAGERDUTY_BASE_URL).expect("a valid constant URL"));
        Self { client, base }
    }

    /// Sends one event for the integration `routing_key`; `dedup_key` (the
    /// delivery's stable id) ties a resolve to its trigger and makes a
    /// retried trigger open no second incident. PagerDuty answers 202.
    pub async fn send(
        &self,
        routing_key: &str,
        dedup_key: &str,
        action: &PagerDutyAction,
    ) -> Result<Delivered, TransportError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| TransportError::permanent("invalid_url", "the PagerDuty base URL cannot take a path"))?
            .pop_if_empty()
            .extend(["v2", "enqueue"]);
        let payload = event(routing_key, dedup_key, action)?;
        let request = self
            .client
            .request(Method::POST, self.client.target_url(&url)?)
            .header(CONTENT_TYPE, "application/json")
            .body(payload.to_string());
        self.client.execute(request).await
    }
}

fn event(routing_key: &str, dedup_key: &str, action: &PagerDutyAction) -> Result<serde_json::Value, TransportError> {
    Ok(match action {
        PagerDutyAction::Trigger(t) => {
            let timestamp = t
                .timestamp
                .format(&Rfc3339)
                .map_err(|e| TransportError::permanent("invalid_request", format!("timestamp: {e}")))?;
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": truncate_chars(&t.summary, SUMMARY_MAX_CHARS),
                    "source": t.source,
                    "severity": t.severity.as_str(),
                    "timestamp": timestamp,
                },
            })
        }
        PagerDutyAction::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn trigger_carries_a_payload_and_resolve_does_not() {
        let trigger = PagerDutyAction::Trigger(PagerDutyTrigger {
            summary: "x".repeat(2000),
            source: "roster".into(),
            severity: PagerDutySeverity::Warning,
            timestamp: datetime!(2026-11-22 10:00:00.5 UTC),
        });
        let e = event("rk", "dk", &trigger).unwrap();
        assert_eq!(
            (e["routing_key"].as_str(), e["event_action"].as_str(), e["dedup_key"].as_str()),
            (Some("rk"), Some("trigger"), Some("dk"))
        );
        assert_eq!(e["payload"]["summary"].as_str().unwrap().chars().count(), 1024);
        assert_eq!(e["payload"]["severity"], "warning");
        assert_eq!(e["payload"]["timestamp"], "2026-11-22T10:00:00.5Z");
        let e = event("rk", "dk", &PagerDutyAction::Resolve).unwrap();
        assert_eq!(e, json!({"routing_key": "rk", "event_action": "resolve", "dedup_key": "dk"}));
        let all = [
            PagerDutySeverity::Critical,
            PagerDutySeverity::Error,
            PagerDutySeverity::Warning,
            PagerDutySeverity::Info,
        ];
        assert_eq!(all.map(PagerDutySeverity::as_str), ["critical", "error", "warning", "info"]);
    }
}
