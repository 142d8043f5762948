//! HTTP transports: signed webhooks, chat incoming webhooks (Slack,
//! Discord, Microsoft Teams Workflows), Twilio-compatible SMS and voice,
//! PagerDuty Events API v2 and a push-notification gateway.
//!
//! Every transport sends through one [`HttpClient`], which carries the rules
//! every outgoing request follows:
//! - bounded: a connect timeout, a total timeout, and at most
//!   `max_response_bytes` of a response body read;
//! - no redirects followed (a 3xx is a permanent failure) and no proxy;
//! - no private targets (unless configured for tests): an IP-literal URL is
//!   checked before sending and every name is checked again after DNS
//!   resolution, so a public name pointing at 127.0.0.1 or a cloud metadata
//!   address is refused as `ssrf_blocked`;
//! - one classification of outcomes ([`TransportError`]) into retry-or-not,
//!   with the status and a `Retry-After` for the retry schedule. A
//!   receiver's response body is never part of an error's message: a short,
//!   sanitized excerpt is kept apart, for operator logs only.
//!
//! Every base URL is configurable, so tests point the transports at
//! receivers on 127.0.0.1.

mod chat;
mod client;
mod error;
mod pagerduty;
mod push;
mod response;
mod ssrf;
pub mod standard_webhooks;
mod twilio;
mod webhook;

pub use chat::{rebase, ChatMessage, DiscordSender, SlackSender, TeamsSender};
pub use client::{HttpClient, HttpConfig, HttpConfigError};
pub use error::{Delivered, TransportError};
pub use pagerduty::{PagerDutyAction, PagerDutySender, PagerDutySeverity, PagerDutyTrigger};
pub use push::{PushConfig, PushNotification, PushSender};
pub use roster_core::channel::is_forbidden_ip;
pub use twilio::{TwilioConfig, TwilioSender};
pub use url::Url;
pub use webhook::{WebhookRequest, WebhookSender};

/// `text` cut to at most `max` characters, ending in `…` when cut.
pub(crate) fn truncate_chars(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some(_) => {
            let keep: String = text.chars().take(max.saturating_sub(1)).collect();
            format!("{keep}…").into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_chars;

    #[test]
    fn truncates_by_characters_with_an_ellipsis() {
        assert_eq!(truncate_chars("hello", 5), "hello");
        assert_eq!(truncate_chars("hello!", 5), "hell…");
        assert_eq!(truncate_chars("ééééé!", 5).chars().count(), 5);
        assert_eq!(truncate_chars("", 0), "");
    }
}
