//! Channel emails that reach people with alerts (and tests) carry a
//! one-click unsubscribe link (RFC 2369, RFC 8058); codes and account mail do not.

use crate::*;
use roster_core::channel::UnsubscribeToken;
use roster_core::secret::SecretKey;
use roster_delivery::{Mailer, MailerConfig};
use roster_testkit::{ReceivedMail, SmtpServer};

const PUBLIC_URL: &str = "https://roster.example.com/";

/// The value of header `name` in the mail as sent (unfolded), if present.
pub fn header<'a>(mail: &'a ReceivedMail, name: &str) -> Option<&'a str> {
    let head = mail.raw.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn alert_and_test_emails_carry_a_one_click_link_for_their_channel_and_address() {
    let (db, receiver, smtp) = (TestDb::new().await, HttpReceiver::start().await, SmtpServer::start().await);
    let key = SecretKey::generate();
    let mut channels = channel_config(&receiver, false);
    channels.public_url = Some(Url::parse(PUBLIC_URL).unwrap());
    channels.link_key = Some(key.clone());
    let mailer =
        Mailer::new(&MailerConfig::Smtp { url: smtp.url(), timeout: WAIT }, "Roster <roster@localhost>").unwrap();
    let worker = worker(&db, mailer, channels, &[0]);

    for kind in ["test", "alert"] {
        let id = db.queue("email", "ops@example.com", kind, json!({})).await;
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let mail = smtp.wait_for("ops@example.com", WAIT).await.expect("delivered");
        assert_eq!(mail.message_id, Some(format!("{id}@roster")));
        let link = header(&mail, "List-Unsubscribe").unwrap_or_else(|| panic!("{kind}: no header in {}", mail.raw));
        let token = link
            .strip_prefix("<https://roster.example.com/v1/unsubscribe/")
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or_else(|| panic!("{kind}: {link}"));
        let parsed = UnsubscribeToken::parse(token).expect("a token the API can read");
        assert_eq!(parsed.channel, db.channel);
        assert!(parsed.is_valid_for(&key, "ops@example.com"));
        assert!(
            !parsed.is_valid_for(&key, "someone@example.com")
                && !parsed.is_valid_for(&SecretKey::generate(), "ops@example.com")
        );
        assert_eq!(header(&mail, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    }

    // A verification code is no subscription: nothing to unsubscribe from.
    db.queue("email", "ops@example.com", "verification", json!({})).await;
    worker.run_once().await.unwrap();
    let mail = smtp.wait_for("ops@example.com", WAIT).await.expect("delivered");
    assert_eq!((header(&mail, "List-Unsubscribe"), header(&mail, "List-Unsubscribe-Post")), (None, None));
}

#[tokio::test]
async fn without_a_public_url_and_key_emails_go_without_the_header() {
    let (db, receiver, smtp) = (TestDb::new().await, HttpReceiver::start().await, SmtpServer::start().await);
    let mailer =
        Mailer::new(&MailerConfig::Smtp { url: smtp.url(), timeout: WAIT }, "Roster <roster@localhost>").unwrap();
    let worker = worker(&db, mailer, channel_config(&receiver, false), &[0]);
    db.queue("email", "ops@example.com", "alert", json!({})).await;
    worker.run_once().await.unwrap();
    let mail = smtp.wait_for("ops@example.com", WAIT).await.expect("delivered");
    assert_eq!(header(&mail, "List-Unsubscribe"), None);
}
