//! Outgoing messages, as the outbox holds them.
//!
//! A message names a template and the data to fill it. A secret the message
//! carries (a verification code, an invitation link's token) is kept apart
//! from the rest so the outbox can forget it once the message is settled.

use serde::{Deserialize, Serialize};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Email,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Transport::Email),
            _ => None,
        }
    }
}

/// Which template renders a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// The code that proves a new customer owns their sign-up address.
    EmailVerification,
    /// The code that proves a customer owns the address they are moving their login to.
    EmailChange,
    /// An invitation to join a team; the secret is the link's token.
    Invitation,
    /// The same invitation again, with a fresh link.
    InvitationReminder,
    /// Tells the inviter that their invitation was accepted.
    InvitationAccepted,
    /// Tells a member that an owner offered them ownership of the organization.
    OwnershipOffered,
}

impl Template {
    pub fn as_str(self) -> &'static str {
        match self {
            Template::EmailVerification => "email_verification",
            Template::EmailChange => "email_change",
            Template::Invitation => "invitation",
            Template::InvitationReminder => "invitation_reminder",
            Template::InvitationAccepted => "invitation_accepted",
            Template::OwnershipOffered => "ownership_offered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email_verification" => Some(Template::EmailVerification),
            "email_change" => Some(Template::EmailChange),
            "invitation" => Some(Template::Invitation),
            "invitation_reminder" => Some(Template::InvitationReminder),
            "invitation_accepted" => Some(Template::InvitationAccepted),
            "ownership_offered" => Some(Template::OwnershipOffered),
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
