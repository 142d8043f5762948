//! The notification-channel senders the worker dispatches to, one per
//! transport, sharing one guarded HTTP client.

use crate::transports::{
    DiscordSender, HttpClient, HttpConfig, HttpConfigError, PagerDutySender, PushConfig, PushSender, SlackSender,
    TeamsSender, TwilioConfig, TwilioSender, WebhookSender,
};
use roster_core::channel::UnsubscribeToken;
use roster_core::secret::SecretKey;
use roster_store::ClaimedMessage;
use url::Url;

/// How the channel transports are reached.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub http: HttpConfig,
    /// Replace the scheme, host and port of stored chat webhook URLs (tests, proxies).
    pub slack_base_url: Option<Url>,
    pub discord_base_url: Option<Url>,
    pub msteams_base_url: Option<Url>,
    /// PagerDuty's Events API by default.
    pub pagerduty_base_url: Option<Url>,
    /// `None`: SMS and voice messages fail as `not_configured`.
    pub twilio: Option<TwilioConfig>,
    /// `None`: push notifications fail as `not_configured`.
    pub push: Option<PushConfig>,
    /// Names the sender of PagerDuty events.
    pub product_name: String,
    /// Where people reach the API, for the one-click `List-Unsubscribe`
    /// links (RFC 8058) of channel emails, and the server's key that signs
    /// their tokens (the API checks them with the same key). Without both,
    /// channel emails go without the header.
    pub public_url: Option<Url>,
    pub link_key: Option<SecretKey>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            slack_base_url: None,
            discord_base_url: None,
            msteams_base_url: None,
            pagerduty_base_url: None,
            twilio: None,
            push: None,
            product_name: "Roster".to_owned(),
            public_url: None,
            link_key: None,
        }
    }
}

/// Builds the one-click unsubscribe links of channel emails:
/// `{public_url}/v1/unsubscribe/{token}`.
#[derive(Clone)]
pub(crate) struct UnsubscribeLinks {
    /// ASCII (a parsed URL is punycode), as a mail header needs it.
    base: String,
    key: SecretKey,
}

impl UnsubscribeLinks {
    fn new(public_url: &Url, key: SecretKey) -> Self {
        Self { base: public_url.as_str().trim_end_matches('/').to_owned(), key }
    }

    /// The link for `message`, sent through a channel to its `recipient`;
    /// `None` for account mail, which belongs to no channel.
    pub(crate) fn for_message(&self, message: &ClaimedMessage) -> Option<String> {
        let channel = message.channel_id?;
        let token = UnsubscribeToken::issue(&self.key, channel, &message.recipient);
        Some(format!("{}/v1/unsubscribe/{token}", self.base))
    }
}

impl std::fmt::Debug for UnsubscribeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsubscribeLinks").field("base", &self.base).finish_non_exhaustive()
    }
}

/// Every channel sender, built once and shared by the delivery tasks.
#[derive(Debug, Clone)]
pub struct ChannelSenders {
    pub(crate) webhook: WebhookSender,
    pub(crate) slack: SlackSender,
    pub(crate) discord: DiscordSender,
    pub(crate) teams: TeamsSender,
    pub(crate) pagerduty: PagerDutySender,
    pub(crate) twilio: Option<TwilioSender>,
    pub(crate) push: Option<PushSender>,
    pub(crate) product_name: String,
    pub(crate) unsubscribe: Option<UnsubscribeLinks>,
    http_timeout: std::time::Duration,
}

impl ChannelSenders {
    pub fn new(cfg: ChannelConfig) -> Result<Self, HttpConfigError> {
        let http_timeout = cfg.http.timeout;
        let client = HttpClient::new(cfg.http)?;
        Ok(Self {
            webhook: WebhookSender::new(client.clone()),
            slack: SlackSender::new(client.clone(), cfg.slack_base_url),
            discord: DiscordSender::new(client.clone(), cfg.discord_base_url),
            teams: TeamsSender::new(client.clone(), cfg.msteams_base_url),
            pagerduty: PagerDutySender::new(client.clone(), cfg.pagerduty_base_url),
            twilio: cfg.twilio.map(|t| TwilioSender::new(client.clone(), t)),
            push: cfg.push.map(|p| PushSender::new(client, p)),
            product_name: cfg.product_name,
            unsubscribe: match (&cfg.public_url, cfg.link_key) {
                (Some(url), Some(key)) => Some(UnsubscribeLinks::new(url, key)),
                _ => None,
            },
            http_timeout,
        })
    }

    /// The longest one HTTP send may take: the worker's lease must outlast it.
    pub fn send_timeout(&self) -> std::time::Duration {
        self.http_timeout
    }
}
