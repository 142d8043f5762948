//! A channel's value, parsed according to its type.

use super::kind::ChannelType;
use super::phone::PhoneNumber;
use super::services::{parse_discord, parse_msteams, parse_slack};
use super::webhook_url::WebhookUrl;
use super::ValueRules;
use crate::email::EmailAddress;
use crate::validation::FieldProblem;

/// A PagerDuty Events API v2 integration (routing) key: 32 letters and digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PagerDutyKey(String);

impl PagerDutyKey {
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldProblem::new("required", "must not be empty"));
        }
        if s.chars().count() != 32 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FieldProblem::new(
                "invalid_pagerduty_key",
                "must be a PagerDuty integration (routing) key: exactly 32 letters and digits, \
                 as shown on the service's Events API v2 integration",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 4 characters and an ellipsis.
    pub fn masked(&self) -> String {
        format!("{}…", &self.0[..4])
    }
}

/// A push-notification device token (APNs, FCM, …): 8–4096 characters of
/// letters, digits and `:_.-`.
#[derive(Clone, PartialEq, Eq)]
pub struct PushToken(String);

impl PushToken {
    pub const MAX_LEN: usize = 4096;

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldProblem::new("required", "must not be empty"));
        }
        let len = s.chars().count();
        if !(8..=Self::MAX_LEN).contains(&len) || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(&b))
        {
            return Err(FieldProblem::new(
                "invalid_push_token",
                format!(
                    "must be a device token of 8 to {} characters, each a letter, digit, `:`, `_`, `.` or `-`",
                    Self::MAX_LEN
                ),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 6 characters and an ellipsis.
    pub fn masked(&self) -> String {
        format!("{}…", &self.0[..6])
    }
}

macro_rules! masked_debug {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.masked()).finish()
            }
        }
    )*};
}
masked_debug!(PagerDutyKey, PushToken);

/// A channel's validated, normalized value; its variant is its type.
///
/// `Debug` shows secret values masked, so a value logged by mistake leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub enum ChannelValue {
    Email(EmailAddress),
    Sms(PhoneNumber),
    Voice(PhoneNumber),
    Webhook(WebhookUrl),
    Slack(WebhookUrl),
    Discord(WebhookUrl),
    MsTeams(WebhookUrl),
    PagerDuty(PagerDutyKey),
    PushNotification(PushToken),
}

impl ChannelValue {
    /// Parses `raw` as a value of type `ty`; the problem's message says what shape was expected.
    pub fn parse(ty: ChannelType, raw: &str, rules: &ValueRules) -> Result<Self, FieldProblem> {
        Ok(match ty {
            ChannelType::Email => ChannelValue::Email(EmailAddress::parse(raw)?),
            ChannelType::Sms => ChannelValue::Sms(PhoneNumber::parse(raw)?),
            ChannelType::Voice => ChannelValue::Voice(PhoneNumber::parse(raw)?),
            ChannelType::Webhook => ChannelValue::Webhook(WebhookUrl::parse(raw, rules)?),
            ChannelType::Slack => ChannelValue::Slack(parse_slack(raw)?),
            ChannelType::Discord => ChannelValue::Discord(parse_discord(raw)?),
            ChannelType::MsTeams => ChannelValue::MsTeams(parse_msteams(raw)?),
            ChannelType::PagerDuty => ChannelValue::PagerDuty(PagerDutyKey::parse(raw)?),
            ChannelType::PushNotification => ChannelValue::PushNotification(PushToken::parse(raw)?),
        })
    }

    /// How messages name the channel: "the sms channel +14155550100", secrets masked.
    pub fn label(&self) -> String {
        format!("the {} channel {}", self.channel_type(), self.masked())
    }

    pub fn channel_type(&self) -> ChannelType {
        match self {
            ChannelValue::Email(_) => ChannelType::Email,
            ChannelValue::Sms(_) => ChannelType::Sms,
            ChannelValue::Voice(_) => ChannelType::Voice,
            ChannelValue::Webhook(_) => ChannelType::Webhook,
            ChannelValue::Slack(_) => ChannelType::Slack,
            ChannelValue::Discord(_) => ChannelType::Discord,
            ChannelValue::MsTeams(_) => ChannelType::MsTeams,
            ChannelValue::PagerDuty(_) => ChannelType::PagerDuty,
            ChannelValue::PushNotification(_) => ChannelType::PushNotification,
        }
    }

    /// The normalized value, as stored and as delivered to.
    pub fn as_str(&self) -> &str {
        match self {
            ChannelValue::Email(e) => e.as_str(),
            ChannelValue::Sms(p) | ChannelValue::Voice(p) => p.as_str(),
            ChannelValue::Webhook(u) | ChannelValue::Slack(u) | ChannelValue::Discord(u) | ChannelValue::MsTeams(u) => {
                u.as_str()
            }
            ChannelValue::PagerDuty(k) => k.as_str(),
            ChannelValue::PushNotification(t) => t.as_str(),
        }
    }

    /// The value for display: addresses and numbers in full, secrets masked.
    pub fn masked(&self) -> String {
        match self {
            ChannelValue::Email(e) => e.as_str().to_owned(),
            ChannelValue::Sms(p) | ChannelValue::Voice(p) => p.as_str().to_owned(),
            ChannelValue::Webhook(u) | ChannelValue::Slack(u) | ChannelValue::Discord(u) | ChannelValue::MsTeams(u) => {
                u.masked()
            }
            ChannelValue::PagerDuty(k) => k.masked(),
            ChannelValue::PushNotification(t) => t.masked(),
        }
    }
}

impl std::fmt::Debug for ChannelValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelValue({}: {})", self.channel_type(), self.masked())
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
