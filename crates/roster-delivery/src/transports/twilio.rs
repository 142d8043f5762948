//! SMS and voice calls through a Twilio-compatible API (Twilio itself, or a
//! provider or test double speaking its Messages and Calls endpoints).

use super::{truncate_chars, Delivered, HttpClient, TransportError};
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use url::Url;

pub const TWILIO_BASE_URL: &str = "https://api.twilio.com";
/// Twilio refuses longer message bodies.
const SMS_MAX_CHARS: usize = 1600;
/// Twilio refuses a longer `Twiml` parameter.
const TWIML_MAX_CHARS: usize = 4000;

#[derive(Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    /// Default [`TWILIO_BASE_URL`]; a path on it is kept as a prefix.
    pub base_url: Url,
    pub account_sid: String,
    pub auth_token: String,
    /// The number messages and calls come from, E.164 (`+15551234567`).
    pub from_number: String,
}

impl TwilioConfig {
    /// A configuration for Twilio itself.
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>, from_number: impl Into<String>) -> Self {
        Self {
            base_url: Url::parse(TWILIO_BASE_URL).expect("a valid constant URL"),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            from_number: from_number.into(),
        }
    }
}

impl std::fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url.as_str())
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"***")
            .field("from_number", &self.from_number)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct TwilioSender {
    client: HttpClient,
    cfg: TwilioConfig,
}

impl TwilioSender {
    pub fn new(client: HttpClient, cfg: TwilioConfig) -> Self {
        Self { client, cfg }
    }

    /// Sends `body` (cut to 1600 characters) to `to` by SMS.
    pub async fn send_sms(&self, to: &str, body: &str) -> Result<Delivered, TransportError> {
        self.post(
            "Messages.json",
            &[("To", to), ("From", &self.cfg.from_number), ("Body", &truncate_chars(body, SMS_MAX_CHARS))],
        )
        .await
    }

    /// Calls `to` and reads `text` out.
    pub async fn place_call(&self, to: &str, text: &str) -> Result<Delivered, TransportError> {
        self.post("Calls.json", &[("To", to), ("From", &self.cfg.from_number), ("Twiml", &say_twiml(text))]).await
    }

    async fn post(&self, resource: &str, form: &[(&str, &str)]) -> Result<Delivered, TransportError> {
        let mut url = self.cfg.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| TransportError::permanent("invalid_url", "the Twilio base URL cannot take a path"))?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &self.cfg.account_sid, resource]);
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request = self
            .client
            .request(Method::POST, self.client.target_url(&url)?)
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.client.execute(request).await
    }
}

/// `<Response><Say>{text}</Say></Response>`, the text XML-escaped and cut
/// so the whole stays within Twilio's limit.
fn say_twiml(text: &str) -> String {
    const OPEN: &str = "<Response><Say>";
    const CLOSE: &str = "</Say></Response>";
    let budget = TWIML_MAX_CHARS - OPEN.len() - CLOSE.len() - '…'.len_utf8();
    let mut escaped = String::new();
    let mut chars = text.chars();
    for c in chars.by_ref() {
        let piece = match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        };
        if escaped.chars().count() + piece.chars().count() > budget {
            escaped.push('…');
            break;
        }
        escaped.push_str(&piece);
    }
    format!("{OPEN}{escaped}{CLOSE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_escapes_the_text() {
        assert_eq!(
            say_twiml(r#"Tom & "Jerry" <b>'s</b>"#),
            "<Response><Say>Tom &amp; &quot;Jerry&quot; &lt;b&gt;&apos;s&lt;/b&gt;</Say></Response>"
        );
        let long = say_twiml(&"<".repeat(5000));
        assert!(long.chars().count() <= TWIML_MAX_CHARS, "{}", long.chars().count());
        assert!(long.ends_with("&lt;…</Say></Response>"));
    }

    #[test]
    fn debug_redacts_the_token() {
        let cfg = TwilioConfig::new("AC123", "hunter2", "+15550001111");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2") && shown.contains("AC123"), "{shown}");
        assert_eq!(cfg.base_url.as_str(), "https://api.twilio.com/");
    }
}
