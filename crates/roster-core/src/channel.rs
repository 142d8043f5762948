//! Notification channels: where a customer or a team is told about an event.
//!
//! A channel is a `{type, value}` pair. Each type validates and normalizes its
//! value once, at the edge ([`ChannelValue::parse`]); the store and the
//! delivery engine then carry the parsed value unchanged. Beside the value a
//! channel has NodePing's per-channel controls ([`Suppress`], [`Mute`]), a
//! webhook's request shape ([`WebhookConfig`]), and a customer has
//! [`QuietHours`] during which alerts wait.
//!
//! Nothing here performs IO: webhook hosts are judged by their spelling
//! ([`WebhookUrl`]), and the delivery engine checks every resolved address
//! again with [`is_forbidden_ip`] before it connects.

mod controls;
mod kind;
mod phone;
mod quiet;
mod services;
mod target;
mod template;
mod unsubscribe;
mod value;
mod webhook;
mod webhook_url;
mod weekly;

#[cfg(test)]
mod proptests;

pub use controls::{Event, Mute, Suppress};
pub use kind::ChannelType;
pub use phone::PhoneNumber;
pub use quiet::{QuietHours, QuietWindow};
pub use target::is_forbidden_ip;
pub use template::{TemplateContext, PLACEHOLDERS};
pub use unsubscribe::UnsubscribeToken;
pub use value::{ChannelValue, PagerDutyKey, PushToken};
pub use webhook::{HttpMethod, WebhookConfig};
pub use webhook_url::WebhookUrl;
pub use weekly::{TimeOfDay, Weekday};

/// What the server's configuration allows channel values to be.
///
/// The default is the production one: https only, public targets only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueRules {
    /// Accept `http://` webhook URLs (for development against a local receiver).
    pub allow_http_webhooks: bool,
    /// Accept webhook hosts that are private, loopback, link-local or metadata
    /// addresses (for a deployment whose receivers live on its own network).
    pub allow_private_targets: bool,
}

impl ValueRules {
    /// Accepts every value once stored: for reading values back, whatever the rules were when they were written.
    pub const STORED: ValueRules = ValueRules { allow_http_webhooks: true, allow_private_targets: true };
}
