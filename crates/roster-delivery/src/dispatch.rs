//! One rendered message, sent through the transport it names.
//!
//! A channel's message carries the channel type as its transport, the
//! address, URL, number, key or token in `recipient`, and in `data` what the
//! templates read plus, for webhooks, the channel's `webhook` settings.

use crate::senders::ChannelSenders;
use crate::transports::{
    ChatMessage, PagerDutyAction, PagerDutySeverity, PagerDutyTrigger, PushNotification, TransportError, WebhookRequest,
};
use crate::{Mailer, RenderedEmail};
use roster_core::channel::{Event, TemplateContext, WebhookConfig};
use roster_core::clock;
use roster_core::message::{Template, Transport};
use roster_store::ClaimedMessage;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

/// A message and what its template made of it.
pub(crate) struct Outgoing<'a> {
    pub message: &'a ClaimedMessage,
    pub template: Template,
    pub rendered: RenderedEmail,
    /// Webhooks: the channel's live signing secrets (the current one, and
    /// during a rotation's overlap the one it replaced), one signature each.
    pub secrets: Vec<String>,
}

impl Outgoing<'_> {
    /// The verification code, for a channel verification only.
    fn code(&self) -> Option<&str> {
        match self.template {
            Template::ChannelVerification => self.message.secret.as_deref(),
            _ => None,
        }
    }

    fn id(&self) -> String {
        self.message.id.0.to_string()
    }
}

fn not_configured(transport: Transport) -> TransportError {
    TransportError::permanent("not_configured", format!("no {} transport is configured", transport.as_str()))
}

/// Sends `out` and answers the status the receiver gave, when it gave one.
pub(crate) async fn send(
    mailer: &Mailer,
    senders: &ChannelSenders,
    transport: Transport,
    out: &Outgoing<'_>,
) -> Result<Option<u16>, TransportError> {
    let m = out.message;
    let chat = || ChatMessage { title: out.rendered.subject.clone(), text: out.rendered.text.clone() };
    let delivered = match transport {
        Transport::Email => {
            // Alerts and tests reach people through their channels: one click switches the channel off.
            let unsubscribe = match m.kind.as_str() {
                "alert" | "test" => senders.unsubscribe.as_ref().and_then(|links| links.for_message(m)),
                _ => None,
            };
            return mailer
                .send_with_unsubscribe(m.id, &m.recipient, &out.rendered, unsubscribe.as_deref())
                .await
                .map(|()| None)
                .map_err(Into::into);
        }
        Transport::Sms => {
            let twilio = senders.twilio.as_ref().ok_or_else(|| not_configured(transport))?;
            twilio.send_sms(&m.recipient, &out.rendered.text).await?
        }
        Transport::Voice => {
            let twilio = senders.twilio.as_ref().ok_or_else(|| not_configured(transport))?;
            twilio.place_call(&m.recipient, &spoken(&out.rendered.text, out.code())).await?
        }
        Transport::Webhook => senders.webhook.send(&webhook_request(out)?).await?,
        Transport::Slack => senders.slack.send(&m.recipient, &chat()).await?,
        Transport::Discord => senders.discord.send(&m.recipient, &chat()).await?,
        Transport::MsTeams => senders.teams.send(&m.recipient, &chat()).await?,
        Transport::PagerDuty => {
            let summary = match out.code() {
                Some(code) => format!("{}: {code}", out.rendered.subject),
                None => out.rendered.subject.clone(),
            };
            let trigger = PagerDutyTrigger {
                summary,
                source: senders.product_name.clone(),
                severity: severity(out),
                timestamp: clock::now(),
            };
            // An alert's key pairs a down with the up that resolves it; anything else is its own incident.
            let dedup_key = match out.template {
                Template::Alert => data_str(m, "dedup_key").map(str::to_owned).unwrap_or_else(|| out.id()),
                _ => out.id(),
            };
            let action = match alert_event(m) {
                Some(Event::Up) => PagerDutyAction::Resolve,
                _ => PagerDutyAction::Trigger(trigger),
            };
            senders.pagerduty.send(&m.recipient, &dedup_key, &action).await?
        }
        Transport::PushNotification => {
            let push = senders.push.as_ref().ok_or_else(|| not_configured(transport))?;
            let notification = PushNotification {
                token: m.recipient.clone(),
                title: out.rendered.subject.clone(),
                body: out.rendered.text.clone(),
                data: json!({ "type": m.kind, "delivery_id": out.id(), "channel_id": m.channel_id }),
            };
            push.send(&notification).await?
        }
    };
    Ok(Some(delivered.status))
}

/// The event an alert reports; `None` for anything that is not an alert.
fn alert_event(m: &ClaimedMessage) -> Option<Event> {
    serde_json::from_value(m.data.0.get("event")?.clone()).ok()
}

fn data_str<'a>(m: &'a ClaimedMessage, key: &str) -> Option<&'a str> {
    m.data.0.get(key).and_then(Value::as_str)
}

/// How loudly PagerDuty should ring: an urgent down is critical, other alerts warnings, the rest information.
fn severity(out: &Outgoing<'_>) -> PagerDutySeverity {
    match (out.template, alert_event(out.message), data_str(out.message, "urgency")) {
        (Template::Alert, Some(Event::Down), Some("high")) => PagerDutySeverity::Critical,
        (Template::Alert, _, _) => PagerDutySeverity::Warning,
        _ => PagerDutySeverity::Info,
    }
}

/// The text read out on a call: a code is spelled digit by digit with
/// pauses, so the listener can write it down.
pub(crate) fn spoken(text: &str, code: Option<&str>) -> String {
    match code {
        Some(code) if !code.is_empty() => {
            let spelled: Vec<String> = code.chars().map(String::from).collect();
            text.replace(code, &spelled.join(", "))
        }
        _ => text.to_owned(),
    }
}

/// The channel's request: its method, headers and query, and its body
/// template or else the default JSON document.
fn webhook_request(out: &Outgoing<'_>) -> Result<WebhookRequest, TransportError> {
    let m = out.message;
    let config: WebhookConfig = match m.data.0.get("webhook") {
        None | Some(Value::Null) => WebhookConfig::default(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| TransportError::permanent("invalid_request", format!("webhook settings: {e}")))?,
    };
    let now = clock::now();
    let body = if config.method.allows_body() {
        let ctx = TemplateContext {
            // A verification or a test precedes any check result.
            event: alert_event(m).unwrap_or(Event::First),
            title: out.rendered.subject.clone(),
            message: out.rendered.text.clone(),
            service: data_str(m, "service_name").unwrap_or_default().to_owned(),
            team: m.data.0.get("team_name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            time: now,
            delivery_id: out.id(),
        };
        Some(config.render_body(&ctx).unwrap_or_else(|| default_body(out, now).to_string()))
    } else {
        None
    };
    Ok(WebhookRequest {
        url: m.recipient.clone(),
        method: config.method.as_str().to_owned(),
        headers: config.headers.into_iter().collect(),
        query: config.query.into_iter().collect(),
        body,
        msg_id: out.id(),
        secrets: out.secrets.clone(),
    })
}

fn default_body(out: &Outgoing<'_>, now: time::OffsetDateTime) -> Value {
    let mut body = json!({
        "type": out.message.kind,
        "delivery_id": out.id(),
        "channel_id": out.message.channel_id,
        "title": out.rendered.subject,
        "message": out.rendered.text,
        "sent_at": now.format(&Rfc3339).unwrap_or_default(),
    });
    if let Some(code) = out.code() {
        body["code"] = code.into();
    }
    if out.template == Template::Alert {
        let data = &out.message.data.0;
        for key in ["alert_id", "event", "urgency", "service_id", "service_name", "team_name", "raised_at"] {
            body[key] = data.get(key).cloned().unwrap_or(Value::Null);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::spoken;

    #[test]
    fn codes_are_spelled_out_on_calls() {
        assert_eq!(spoken("Your code: 042917.", Some("042917")), "Your code: 0, 4, 2, 9, 1, 7.");
        assert_eq!(spoken("Hello", None), "Hello");
        assert_eq!(spoken("Hello", Some("")), "Hello");
    }
}
