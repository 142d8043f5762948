//! A received message, with the parts a test asserts on already decoded.

use mail_parser::{Message, MessageParser, PartType};

/// One message as the server took it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`); empty for a null sender.
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`), in the order given.
    pub rcpt_to: Vec<String>,
    /// The message as sent, after dot-unstuffing, lines ending in CRLF.
    pub raw: String,
    /// The decoded `Subject` header; empty when there is none.
    pub subject: String,
    /// The first text/plain body, decoded (from HTML when that is all there is).
    pub text: String,
    /// The first text/html body, decoded, when the message has one.
    pub html: Option<String>,
    /// The `Message-ID` header without its angle brackets.
    pub message_id: Option<String>,
}

impl ReceivedMail {
    pub(crate) fn parse(mail_from: String, rcpt_to: Vec<String>, raw: &[u8]) -> Self {
        let parsed = MessageParser::default().parse(raw);
        let mut mail = ReceivedMail {
            mail_from,
            rcpt_to,
            raw: String::from_utf8_lossy(raw).into_owned(),
            subject: String::new(),
            text: String::new(),
            html: None,
            message_id: None,
        };
        if let Some(message) = parsed {
            mail.subject = message.subject().unwrap_or_default().to_owned();
            mail.text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
            mail.html = html_body(&message);
            mail.message_id = message.message_id().map(str::to_owned);
        }
        mail
    }

    /// The first run of exactly six digits in the text body: a verification code.
    pub fn code(&self) -> Option<String> {
        self.text.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 6).map(str::to_owned)
    }
}

/// The HTML body only if one was sent: mail-parser would otherwise render
/// the text part as HTML, and a test must be able to tell the two apart.
fn html_body(message: &Message<'_>) -> Option<String> {
    let part = message.html_part(0)?;
    match &part.body {
        PartType::Html(html) => Some(html.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ReceivedMail;

    fn mail(text: &str) -> ReceivedMail {
        let raw = format!("Subject: t\r\nContent-Type: text/plain\r\n\r\n{text}\r\n");
        ReceivedMail::parse("a@b.io".into(), vec!["c@d.io".into()], raw.as_bytes())
    }

    #[test]
    fn code_is_the_first_run_of_exactly_six_digits() {
        assert_eq!(mail("Your code is 042917. It expires in 15 minutes.").code().as_deref(), Some("042917"));
        assert_eq!(mail("Order 1234567, code 123456").code().as_deref(), Some("123456"));
        assert_eq!(mail("no code, only 12345").code(), None);
    }

    #[test]
    fn text_only_message_has_no_html() {
        let m = mail("hello");
        assert_eq!(m.subject, "t");
        assert_eq!(m.text.trim_end(), "hello");
        assert_eq!(m.html, None);
    }
}
