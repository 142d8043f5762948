//! Email transports: the service log, for a laptop, and SMTP.

use crate::templates::RenderedEmail;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use roster_core::ids::MessageId;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Where email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerConfig {
    /// Each message is written to the service log (target `roster::mail`).
    Log,
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS),
    /// `smtps://host:port` (implicit TLS); `user:pass@` for authentication.
    /// `timeout` bounds a whole send, connecting included.
    Smtp { url: String, timeout: Duration },
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("invalid from address `{address}`: {reason}")]
    InvalidFrom { address: String, reason: String },
    /// `url` has its password replaced.
    #[error("invalid SMTP URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("the SMTP timeout must be more than zero")]
    InvalidTimeout,
}

/// Why a message did not go out. `class` is a stable label for the attempt
/// log and metrics; `detail` is for operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server or the network may recover.
    #[error("{class}: {detail}")]
    Transient { class: &'static str, detail: String },
    /// Will fail the same way every time.
    #[error("{class}: {detail}")]
    Permanent { class: &'static str, detail: String },
}

impl SendError {
    pub fn class(&self) -> &'static str {
        match self {
            SendError::Transient { class, .. } | SendError::Permanent { class, .. } => class,
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            SendError::Transient { detail, .. } | SendError::Permanent { detail, .. } => detail,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Permanent { .. })
    }

    fn permanent(class: &'static str, detail: impl ToString) -> Self {
        SendError::Permanent { class, detail: detail.to_string() }
    }

    fn transient(class: &'static str, detail: impl ToString) -> Self {
        SendError::Transient { class, detail: detail.to_string() }
    }
}

/// Sends rendered emails from one address over one transport.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Log,
    Smtp(Smtp),
}

struct Smtp {
    /// Kept to rebuild the transport; it may hold a password, so it is never shown.
    url: String,
    timeout: Duration,
    /// `host:port (security)`, safe to show.
    summary: String,
    current: Mutex<Slot>,
}

/// The transport in use, built on first use: lettre's pool spawns a task,
/// which needs the runtime, and `Mailer::new` may run before there is one.
#[derive(Default)]
struct Slot {
    /// Counts replacements, so concurrent timeouts retire a transport once.
    generation: u64,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Mailer {
    /// Checks the from address and the SMTP URL now, so a typo stops the
    /// service at start-up instead of failing every message later.
    pub fn new(cfg: &MailerConfig, from: &str) -> Result<Self, MailerError> {
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailerError::InvalidFrom { address: from.to_owned(), reason: e.to_string() })?;
        let transport = match cfg {
            MailerConfig::Log => Transport::Log,
            MailerConfig::Smtp { url, timeout } => Transport::Smtp(Smtp::new(url, *timeout)?),
        };
        Ok(Self { from, transport })
    }

    /// The transport in words for the start-up log; never shows a password.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Log => "log (messages are written to the service log)".into(),
            Transport::Smtp(smtp) => format!("smtp to {}", smtp.summary),
        }
    }

    /// Sends `email` to `to`, with the Message-ID `<{message_id}@roster>` so
    /// a retried message can be recognized as the same one.
    pub async fn send(&self, message_id: MessageId, to: &str, email: &RenderedEmail) -> Result<(), SendError> {
        self.send_with_unsubscribe(message_id, to, email, None).await
    }

    /// [`send`](Self::send), and with `unsubscribe` (an `https://` link
    /// that switches the channel off on a POST) the `List-Unsubscribe` and
    /// `List-Unsubscribe-Post` headers of RFC 2369 and RFC 8058, so mail
    /// clients offer a one-click unsubscribe. (RFC 8058 also wants a DKIM
    /// signature covering both headers: the relaying MTA's job.)
    pub async fn send_with_unsubscribe(
        &self,
        message_id: MessageId,
        to: &str,
        email: &RenderedEmail,
        unsubscribe: Option<&str>,
    ) -> Result<(), SendError> {
        // Built for the log transport too, so a bad address fails on a laptop as it would in production.
        let message = self.build(message_id, to, email, unsubscribe)?;
        match &self.transport {
            Transport::Log => {
                tracing::info!(
                    target: "roster::mail",
                    %message_id,
                    to,
                    subject = %email.subject,
                    text = %email.text,
                    "email (log transport: not sent)"
                );
                Ok(())
            }
            Transport::Smtp(smtp) => smtp.send(message).await,
        }
    }

    fn build(
        &self,
        message_id: MessageId,
        to: &str,
        email: &RenderedEmail,
        unsubscribe: Option<&str>,
    ) -> Result<Message, SendError> {
        let to = to.parse::<Mailbox>().map_err(|e| SendError::permanent("invalid_recipient", e))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .message_id(Some(format!("<{message_id}@roster>")));
        if let Some(link) = unsubscribe {
            // A header value with no spaces or controls is written as is, never encoded.
            if !link.bytes().all(|b| b.is_ascii_graphic()) || link.contains(['<', '>']) {
                return Err(SendError::permanent("invalid_message", "the unsubscribe link is not a plain URL"));
            }
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{link}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|e| SendError::permanent("invalid_message", e))
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("transport", &self.describe()).finish()
    }
}

impl Smtp {
    fn new(url: &str, timeout: Duration) -> Result<Self, MailerError> {
        let invalid = |reason: String| MailerError::InvalidUrl { url: roster_store::redact_url(url), reason };
        if timeout.is_zero() {
            return Err(MailerError::InvalidTimeout);
        }
        let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        // Default ports as lettre picks them.
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => ("plain", 25),
            ("smtp", Some("required")) => ("STARTTLS", 587),
            ("smtp", Some("opportunistic")) => ("STARTTLS if offered", 587),
            ("smtps", _) => ("implicit TLS", 465),
            _ => {
                return Err(invalid("use smtp://host:port, smtp://host:port?tls=required or smtps://host:port".into()))
            }
        };
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("no host".into()))?;
        let mut summary = format!("{host}:{} ({security})", parsed.port().unwrap_or(default_port));
        if !parsed.username().is_empty() {
            summary.push_str(&format!(", as {}", parsed.username()));
        }
        // lettre's own parse, for what it checks beyond the above.
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { url: url.to_owned(), timeout, summary, current: Mutex::default() })
    }

    async fn send(&self, message: Message) -> Result<(), SendError> {
        let (generation, transport) = self.transport().map_err(|e| SendError::transient("connect", e))?;
        // lettre's own timeout covers connecting only; this bounds the whole
        // exchange, which is what the worker's lease relies on.
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => {
                self.retire(generation);
                Err(SendError::transient(
                    "timeout",
                    format!("the SMTP server did not finish within {:?}", self.timeout),
                ))
            }
        }
    }

    /// A send cut short mid-command leaves its connection out of step with
    /// the server, and lettre would park it in its pool for reuse. Replacing
    /// the transport retires that pool, the connection with it.
    fn retire(&self, generation: u64) {
        let mut slot = self.lock();
        // Unless another timed-out send has retired it already.
        if slot.generation == generation {
            slot.generation += 1;
            slot.transport = None;
        }
    }

    fn transport(&self) -> Result<(u64, AsyncSmtpTransport<Tokio1Executor>), lettre::transport::smtp::Error> {
        let mut slot = self.lock();
        let transport = match &slot.transport {
            Some(t) => t.clone(),
            None => {
                let fresh =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)?.timeout(Some(self.timeout)).build();
                slot.transport.insert(fresh).clone()
            }
        };
        Ok((slot.generation, transport))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sorts a lettre error into retry-or-not.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let detail = e.to_string();
    let code = e.status().map(u16::from);
    // 530/534/535/538 refuse our credentials, not the message: a configuration
    // fix makes the same message go through, so it stays queued meanwhile.
    if matches!(code, Some(530 | 534 | 535 | 538)) {
        return SendError::transient("smtp_auth", detail);
    }
    if e.is_permanent() {
        SendError::permanent("smtp_permanent", detail)
    } else if e.is_timeout() {
        SendError::transient("timeout", detail)
    } else if e.is_transient() || e.is_response() || e.is_client() {
        SendError::transient("smtp_transient", detail)
    } else {
        // Connection refused, reset, DNS, TLS handshake.
        SendError::transient("connect", detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(url: &str) -> Result<Mailer, MailerError> {
        Mailer::new(
            &MailerConfig::Smtp { url: url.into(), timeout: Duration::from_secs(10) },
            "Roster <roster@localhost>",
        )
    }

    #[test]
    fn rejects_bad_from_addresses() {
        for from in ["", "roster", "Roster <roster@>", "a@b@c", "Roster roster@localhost>"] {
            let err = Mailer::new(&MailerConfig::Log, from).expect_err(from);
            assert!(matches!(err, MailerError::InvalidFrom { .. }), "{from}: {err}");
        }
        assert!(Mailer::new(&MailerConfig::Log, "roster@localhost").is_ok());
    }

    #[test]
    fn rejects_bad_urls_without_showing_the_password() {
        for url in ["", "localhost:25", "http://mail.example.com", "smtp://mail.example.com?tls=sometimes", "smtp://"] {
            assert!(matches!(smtp(url), Err(MailerError::InvalidUrl { .. })), "{url}");
        }
        let err = smtp("imap://user:hunter2@mail.example.com").unwrap_err().to_string();
        assert!(!err.contains("hunter2") && err.contains("user:***@"), "{err}");
        let zero = MailerConfig::Smtp { url: "smtp://127.0.0.1:25".into(), timeout: Duration::ZERO };
        assert!(matches!(Mailer::new(&zero, "a@b.io"), Err(MailerError::InvalidTimeout)));
    }

    #[test]
    fn describes_the_transport_without_secrets() {
        assert_eq!(
            Mailer::new(&MailerConfig::Log, "a@b.io").unwrap().describe(),
            "log (messages are written to the service log)"
        );
        let cases = [
            ("smtp://127.0.0.1:2525", "smtp to 127.0.0.1:2525 (plain)"),
            ("smtp://u:hunter2@mail.example.com?tls=required", "smtp to mail.example.com:587 (STARTTLS), as u"),
            ("smtps://mail.example.com", "smtp to mail.example.com:465 (implicit TLS)"),
        ];
        for (url, expected) in cases {
            let mailer = smtp(url).unwrap();
            assert_eq!(mailer.describe(), expected);
            assert!(!format!("{mailer:?}").contains("hunter2"));
        }
    }

    #[test]
    fn an_unsubscribe_link_adds_both_list_headers() {
        let mailer = Mailer::new(&MailerConfig::Log, "Roster <roster@localhost>").unwrap();
        let email = RenderedEmail { subject: "s".into(), text: "t".into(), html: "<p>t</p>".into() };
        let id = MessageId::new();
        let link = format!("https://roster.example.com/v1/unsubscribe/{}", "A".repeat(43));
        let raw = String::from_utf8(mailer.build(id, "c@d.io", &email, Some(&link)).unwrap().formatted()).unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(headers.contains(&format!("\r\nList-Unsubscribe: <{link}>\r\n")), "{headers}");
        assert!(headers.contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"), "{headers}");
        assert!(headers.contains(&format!("Message-ID: <{id}@roster>")), "{headers}");

        let plain = String::from_utf8(mailer.build(id, "c@d.io", &email, None).unwrap().formatted()).unwrap();
        assert!(!plain.contains("List-Unsubscribe"), "{plain}");
        for bad in ["https://x.io/a b", "https://x.io/>\r\nBcc: e@f.io", "https://x.io/ü"] {
            let err = mailer.build(id, "c@d.io", &email, Some(bad)).unwrap_err();
            assert_eq!(err.class(), "invalid_message", "{bad}");
        }
    }

    #[tokio::test]
    async fn log_transport_refuses_a_bad_recipient() {
        let mailer = Mailer::new(&MailerConfig::Log, "a@b.io").unwrap();
        let email = RenderedEmail { subject: "s".into(), text: "t".into(), html: "<p>t</p>".into() };
        assert_eq!(mailer.send(MessageId::new(), "c@d.io", &email).await, Ok(()));
        let err = mailer.send(MessageId::new(), "not an address", &email).await.unwrap_err();
        assert_eq!((err.class(), err.is_permanent()), ("invalid_recipient", true));
    }
}
