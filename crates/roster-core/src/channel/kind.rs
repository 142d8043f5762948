//! The kinds of channel, by their wire names.

use crate::validation::FieldProblem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A channel's type; its wire name is what `as_str` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum ChannelType {
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "sms")]
    Sms,
    #[serde(rename = "voice")]
    Voice,
    #[serde(rename = "webhook")]
    Webhook,
    #[serde(rename = "slack")]
    Slack,
    #[serde(rename = "discord")]
    Discord,
    #[serde(rename = "msteams")]
    MsTeams,
    #[serde(rename = "pagerduty")]
    PagerDuty,
    #[serde(rename = "push-notification")]
    PushNotification,
}

impl ChannelType {
    pub const ALL: [ChannelType; 9] = [
        ChannelType::Email,
        ChannelType::Sms,
        ChannelType::Voice,
        ChannelType::Webhook,
        ChannelType::Slack,
        ChannelType::Discord,
        ChannelType::MsTeams,
        ChannelType::PagerDuty,
        ChannelType::PushNotification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::Email => "email",
            ChannelType::Sms => "sms",
            ChannelType::Voice => "voice",
            ChannelType::Webhook => "webhook",
            ChannelType::Slack => "slack",
            ChannelType::Discord => "discord",
            ChannelType::MsTeams => "msteams",
            ChannelType::PagerDuty => "pagerduty",
            ChannelType::PushNotification => "push-notification",
        }
    }

    /// Parses a wire name, ignoring surrounding spaces and letter case.
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let wanted = raw.trim().to_ascii_lowercase();
        ChannelType::ALL.into_iter().find(|t| t.as_str() == wanted).ok_or_else(|| {
            let known: Vec<_> = ChannelType::ALL.iter().map(|t| t.as_str()).collect();
            FieldProblem::new(
                "invalid_channel_type",
                format!("unknown channel type `{}`; valid types are {}", raw.trim(), known.join(", ")),
            )
        })
    }

    /// Parses a query filter such as `sms,email`: items are trimmed, empty
    /// items ignored, repeats dropped (first one kept); any unknown name is refused.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, FieldProblem> {
        let mut out = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let ty = Self::parse(item)?;
            if !out.contains(&ty) {
                out.push(ty);
            }
        }
        Ok(out)
    }

    /// Whether a value of this type works as a credential (whoever has it can
    /// post to the channel), so it is shown masked and never logged.
    pub fn is_secret_value(self) -> bool {
        !matches!(self, ChannelType::Email | ChannelType::Sms | ChannelType::Voice)
    }
}

impl std::fmt::Display for ChannelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ChannelType {
    type Err = FieldProblem;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ChannelType {
    type Error = FieldProblem;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in ChannelType::ALL {
            assert_eq!(ChannelType::parse(t.as_str()).unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
            assert_eq!(serde_json::from_str::<ChannelType>(&format!("\"{t}\"")).unwrap(), t);
        }
        assert_eq!(ChannelType::parse(" MSTeams ").unwrap(), ChannelType::MsTeams);
        assert_eq!(ChannelType::parse("push-notification").unwrap(), ChannelType::PushNotification);
        assert!(serde_json::from_str::<ChannelType>("\"push_notification\"").is_err());
    }

    #[test]
    fn unknown_type_names_the_valid_ones() {
        let p = ChannelType::parse("pager").unwrap_err();
        assert_eq!(p.code, "invalid_channel_type");
        assert!(p.message.contains("`pager`"), "{}", p.message);
        assert!(p.message.contains("push-notification") && p.message.contains("msteams"), "{}", p.message);
        assert_eq!(ChannelType::parse("").unwrap_err().code, "invalid_channel_type");
    }

    #[test]
    fn lists_for_query_filters() {
        assert_eq!(ChannelType::parse_list("sms,email").unwrap(), vec![ChannelType::Sms, ChannelType::Email]);
        assert_eq!(ChannelType::parse_list(" sms , ,email,sms,").unwrap(), vec![ChannelType::Sms, ChannelType::Email]);
        assert_eq!(ChannelType::parse_list("").unwrap(), vec![]);
        assert_eq!(ChannelType::parse_list(" , ").unwrap(), vec![]);
        let p = ChannelType::parse_list("sms,fax,email").unwrap_err();
        assert_eq!(p.code, "invalid_channel_type");
        assert!(p.message.contains("`fax`"), "{}", p.message);
    }

    #[test]
    fn secret_values() {
        let secret: Vec<_> = ChannelType::ALL.into_iter().filter(|t| t.is_secret_value()).collect();
        assert_eq!(
            secret,
            [
                ChannelType::Webhook,
                ChannelType::Slack,
                ChannelType::Discord,
                ChannelType::MsTeams,
                ChannelType::PagerDuty,
                ChannelType::PushNotification
            ]
        );
    }
}
