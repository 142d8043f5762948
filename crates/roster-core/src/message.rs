//! Outgoing messages, as the outbox holds them.
//!
//! A message names a template and the data to fill it. A secret the message
//! carries (a verification code, an invitation link's token) is kept apart
//! from the rest so the outbox can forget it once the message is settled.

use crate::channel::ChannelType;
use serde::{Deserialize, Serialize};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Email,
    Sms,
    Voice,
    Webhook,
    Slack,
    Discord,
    MsTeams,
    PagerDuty,
    PushNotification,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        ChannelType::from(self).as_str()
    }

    pub fn parse(s: &str) -> Option<Self> {
        ChannelType::parse(s).ok().map(Self::from)
    }
}

/// A channel is reached through the transport of the same name.
impl From<ChannelType> for Transport {
    fn from(t: ChannelType) -> Self {
        match t {
            ChannelType::Email => Transport::Email,
            ChannelType::Sms => Transport::Sms,
            ChannelType::Voice => Transport::Voice,
            ChannelType::Webhook => Transport::Webhook,
            ChannelType::Slack => Transport::Slack,
            ChannelType::Discord => Transport::Discord,
            ChannelType::MsTeams => Transport::MsTeams,
            ChannelType::PagerDuty => Transport::PagerDuty,
            ChannelType::PushNotification => Transport::PushNotification,
        }
    }
}

impl From<Transport> for ChannelType {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Email => ChannelType::Email,
            Transport::Sms => ChannelType::Sms,
            Transport::Voice => ChannelType::Voice,
            Transport::Webhook => ChannelType::Webhook,
            Transport::Slack => ChannelType::Slack,
            Transport::Discord => ChannelType::Discord,
            Transport::MsTeams => ChannelType::MsTeams,
            Transport::PagerDuty => ChannelType::PagerDuty,
            Transport::PushNotification => ChannelType::PushNotification,
        }
    }
}

/// Which template renders a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// The code that proves a new customer owns their sign-up address.
    EmailVerification,
    /// The code that finishes a sign-up: nothing exists until it comes back.
    SignupCode,
    /// Tells an account's owner that someone tried to sign up with their address.
    SignupExisting,
    /// The code that proves a customer owns the address they are moving their login to.
    EmailChange,
    /// Tells an account's owner that someone tried to move their login to this address.
    EmailChangeExisting,
    /// The code that lets a customer who forgot their password choose a new one.
    PasswordReset,
    /// An invitation to join a team; the secret is the link's token.
    Invitation,
    /// The same invitation again, with a fresh link.
    InvitationReminder,
    /// Tells the inviter that their invitation was accepted.
    InvitationAccepted,
    /// Tells a member that an owner offered them ownership of the organization.
    OwnershipOffered,
    /// The code that proves a notification channel reaches its owner; sent through the channel itself.
    ChannelVerification,
    /// A clearly marked test message, sent through a channel on request.
    ChannelTest,
    /// An alert about an event (down, up, first result, diagnostic), sent by `notify`.
    Alert,
    /// Tells a channel's owner, through their other channels, that the system
    /// turned one of their channels off (its receiver is gone, or it kept failing).
    ChannelDisabled,
}

impl Template {
    pub fn as_str(self) -> &'static str {
        match self {
            Template::EmailVerification => "email_verification",
            Template::SignupCode => "signup_code",
            Template::SignupExisting => "signup_existing",
            Template::EmailChange => "email_change",
            Template::EmailChangeExisting => "email_change_existing",
            Template::PasswordReset => "password_reset",
            Template::Invitation => "invitation",
            Template::InvitationReminder => "invitation_reminder",
            Template::InvitationAccepted => "invitation_accepted",
            Template::OwnershipOffered => "ownership_offered",
            Template::ChannelVerification => "channel_verification",
            Template::ChannelTest => "channel_test",
            Template::Alert => "alert",
            Template::ChannelDisabled => "channel_disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_verification" => Some(Template::EmailVerification),
            "signup_code" => Some(Template::SignupCode),
            "signup_existing" => Some(Template::SignupExisting),
            "email_change" => Some(Template::EmailChange),
            "email_change_existing" => Some(Template::EmailChangeExisting),
            "password_reset" => Some(Template::PasswordReset),
            "invitation" => Some(Template::Invitation),
            "invitation_reminder" => Some(Template::InvitationReminder),
            "invitation_accepted" => Some(Template::InvitationAccepted),
            "ownership_offered" => Some(Template::OwnershipOffered),
            "channel_verification" => Some(Template::ChannelVerification),
            "channel_test" => Some(Template::ChannelTest),
            "alert" => Some(Template::Alert),
            "channel_disabled" => Some(Template::ChannelDisabled),
            _ => None,
        }
    }
}

/// A message to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub transport: Transport,
    pub template: Template,
    pub recipient: String,
    /// Template data that is safe to keep (names, expiry minutes).
    pub data: serde_json::Value,
    /// Template data that must be forgotten once the message is settled (a code, an invitation token).
    pub secret: Option<String>,
}
