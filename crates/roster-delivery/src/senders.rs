//! The notification-channel senders the worker dispatches to, one per
//! transport, sharing one guarded HTTP client.

use crate::transports::{
    DiscordSender, HttpClient, HttpConfig, HttpConfigError, PagerDutySender, PushConfig, PushSender, SlackSender,
    TeamsSender, TwilioConfig, TwilioSender, WebhookSender,
};
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
        }
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
            http_timeout,
        })
    }

    /// The longest one HTTP send may take: the worker's lease must outlast it.
    pub fn send_timeout(&self) -> std::time::Duration {
        self.http_timeout
    }
}
