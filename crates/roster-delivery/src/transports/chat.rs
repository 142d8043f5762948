//! Chat incoming webhooks: Slack, Discord and Microsoft Teams (Workflows,
//! with an Adaptive Card; the Office 365 connectors are retired).
//!
//! The channel stores the webhook URL its chat service issued. A configured
//! base URL replaces that URL's scheme, host and port (keeping its path and
//! query), so tests and proxies can stand in for the chat service.

use super::{truncate_chars, Delivered, HttpClient, TransportError};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

/// What a chat message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Shown first and in bold; may be empty.
    pub title: String,
    pub text: String,
}

/// Discord refuses longer `content`.
const DISCORD_MAX_CHARS: usize = 2000;

/// `url`'s path and query on `base`'s scheme, host and port. A path on
/// `base` is kept as a prefix: `http://127.0.0.1:9/slack` and
/// `https://hooks.slack.com/services/T/B/X` make
/// `http://127.0.0.1:9/slack/services/T/B/X`.
pub fn rebase(url: &Url, base: &Url) -> Url {
    let mut rebased = base.clone();
    let prefix = base.path().trim_end_matches('/');
    rebased.set_path(&format!("{prefix}{}", url.path()));
    rebased.set_query(url.query());
    rebased.set_fragment(None);
    rebased
}

/// What the three senders share: the client, the base URL, one POST of JSON.
#[derive(Debug, Clone)]
struct ChatClient {
    client: HttpClient,
    base: Option<Url>,
}

impl ChatClient {
    async fn post(&self, webhook_url: &str, payload: &Value) -> Result<Delivered, TransportError> {
        let url =
            Url::parse(webhook_url).map_err(|e| TransportError::permanent("invalid_url", format!("not a URL: {e}")))?;
        let url = match &self.base {
            Some(base) => rebase(&url, base),
            None => url,
        };
        let target = self.client.target_url(&url)?;
        let request = self
            .client
            .request(Method::POST, target)
            .header(CONTENT_TYPE, "application/json")
            .body(payload.to_string());
        self.client.execute(request).await
    }
}

/// Slack incoming webhooks: `{"text": …}` in mrkdwn.
#[derive(Debug, Clone)]
pub struct SlackSender(ChatClient);

impl SlackSender {
    pub fn new(client: HttpClient, base_url: Option<Url>) -> Self {
        Self(ChatClient { client, base: base_url })
    }

    pub async fn send(&self, webhook_url: &str, message: &ChatMessage) -> Result<Delivered, TransportError> {
        self.0.post(webhook_url, &slack_payload(message)).await
    }
}

/// `&`, `<` and `>` escaped as Slack asks, which also keeps a team's name
/// from pinging `<!channel>`.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn slack_payload(message: &ChatMessage) -> Value {
    let text = match message.title.trim() {
        "" => slack_escape(&message.text),
        title => format!("*{}*\n{}", slack_escape(title), slack_escape(&message.text)),
    };
    json!({ "text": text })
}

/// Discord webhooks: `{"content": …}` of at most 2000 characters, and no
/// mentions acted on (an `@everyone` in a message pings nobody).
#[derive(Debug, Clone)]
pub struct DiscordSender(ChatClient);

impl DiscordSender {
    pub fn new(client: HttpClient, base_url: Option<Url>) -> Self {
        Self(ChatClient { client, base: base_url })
    }

    pub async fn send(&self, webhook_url: &str, message: &ChatMessage) -> Result<Delivered, TransportError> {
        self.0.post(webhook_url, &discord_payload(message)).await
    }
}

fn discord_payload(message: &ChatMessage) -> Value {
    let content = match message.title.trim() {
        "" => message.text.clone(),
        title => format!("**{title}**\n{}", message.text),
    };
    json!({
        "content": truncate_chars(&content, DISCORD_MAX_CHARS),
        "allowed_mentions": { "parse": [] },
    })
}

/// Microsoft Teams Workflows webhooks ("Post to a channel when a webhook
/// request is received"): one Adaptive Card with the title and the text.
#[derive(Debug, Clone)]
pub struct TeamsSender(ChatClient);

impl TeamsSender {
    pub fn new(client: HttpClient, base_url: Option<Url>) -> Self {
        Self(ChatClient { client, base: base_url })
    }

    pub async fn send(&self, webhook_url: &str, message: &ChatMessage) -> Result<Delivered, TransportError> {
        self.0.post(webhook_url, &teams_payload(message)).await
    }
}

fn teams_payload(message: &ChatMessage) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    { "type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Large", "wrap": true },
                    { "type": "TextBlock", "text": message.text, "wrap": true },
                ],
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn msg(title: &str, text: &str) -> ChatMessage {
        ChatMessage { title: title.into(), text: text.into() }
    }

    #[test]
    fn rebase_keeps_path_and_query() {
        let stored = url("https://hooks.slack.com/services/T0/B0/XyZ?x=1#frag");
        assert_eq!(
            rebase(&stored, &url("http://127.0.0.1:9999")).as_str(),
            "http://127.0.0.1:9999/services/T0/B0/XyZ?x=1"
        );
        assert_eq!(
            rebase(&stored, &url("http://127.0.0.1:9999/slack/")).as_str(),
            "http://127.0.0.1:9999/slack/services/T0/B0/XyZ?x=1"
        );
        let teams = url("https://prod-1.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s%2Bg");
        let rebased = rebase(&teams, &url("http://[::1]:8080"));
        assert_eq!(
            rebased.as_str(),
            "http://[::1]:8080/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s%2Bg"
        );
    }

    #[test]
    fn slack_escapes_control_characters_and_bolds_the_title() {
        let p = slack_payload(&msg("Team <A&B>", "Hi <!channel> & *all*"));
        assert_eq!(p, json!({"text": "*Team &lt;A&amp;B&gt;*\nHi &lt;!channel&gt; &amp; *all*"}));
        assert_eq!(slack_payload(&msg("", "plain")), json!({"text": "plain"}));
    }

    #[test]
    fn discord_truncates_and_mutes_mentions() {
        let p = discord_payload(&msg("Title", "@everyone hello"));
        assert_eq!(p, json!({"content": "**Title**\n@everyone hello", "allowed_mentions": {"parse": []}}));
        let long = discord_payload(&msg("", &"é".repeat(2500)));
        let content = long["content"].as_str().unwrap();
        assert_eq!(content.chars().count(), 2000);
        assert!(content.ends_with('…'));
    }

    #[test]
    fn teams_sends_one_adaptive_card() {
        let p = teams_payload(&msg("Alert", "Something happened"));
        assert_eq!(p["type"], "message");
        let attachment = &p["attachments"][0];
        assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(attachment["contentUrl"], Value::Null);
        let card = &attachment["content"];
        assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
        assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
        assert_eq!(
            card["body"][0],
            json!({"type": "TextBlock", "text": "Alert", "weight": "Bolder", "size": "Large", "wrap": true})
        );
        assert_eq!(card["body"][1], json!({"type": "TextBlock", "text": "Something happened", "wrap": true}));
    }
}
