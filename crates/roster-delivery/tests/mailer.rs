//! The SMTP transport against a real SMTP server (roster-testkit).

use roster_core::ids::MessageId;
use roster_core::message::Template;
use roster_delivery::{Mailer, MailerConfig, SendError, Templates};
use roster_testkit::{RejectMode, SmtpServer};
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(5);

fn mailer(url: String, timeout: Duration) -> Mailer {
    Mailer::new(&MailerConfig::Smtp { url, timeout }, "Roster <roster@localhost>").expect("valid mailer")
}

fn verification_email() -> roster_delivery::RenderedEmail {
    let templates = Templates::new("Roster", "http://localhost:8080").unwrap();
    templates
        .render(Template::EmailVerification, &json!({ "name": "Zoë", "expires_in_minutes": 15 }), Some("042917"))
        .unwrap()
}

#[tokio::test]
async fn delivers_both_parts_with_a_stable_message_id() {
    let server = SmtpServer::start().await;
    let mailer = mailer(server.url(), WAIT);
    let id = MessageId::new();
    mailer.send(id, "zoe@example.com", &verification_email()).await.expect("sent");

    let mail = server.wait_for("zoe@example.com", WAIT).await.expect("arrives");
    assert_eq!(mail.mail_from, "roster@localhost");
    assert_eq!(mail.subject, "Your Roster verification code");
    assert!(mail.text.contains("Hi Zoë,"), "{}", mail.text);
    assert_eq!(mail.code().as_deref(), Some("042917"));
    let html = mail.html.as_deref().expect("an HTML part");
    assert!(html.contains("042917") && html.contains("Hi Zoë,"));
    assert_eq!(mail.message_id, Some(format!("{id}@roster")));
    assert!(mail.raw.contains("multipart/alternative"));
    assert!(mail.raw.contains("From: Roster <roster@localhost>"));

    // The pooled connection is reused for the next message.
    mailer.send(MessageId::new(), "zoe@example.com", &verification_email()).await.expect("sent again");
    assert!(server.wait_for("zoe@example.com", WAIT).await.is_some());
}

#[tokio::test]
async fn server_rejections_map_to_transient_and_permanent() {
    let server = SmtpServer::start().await;
    let mailer = mailer(server.url(), WAIT);
    let email = verification_email();

    server.set_reject(Some(RejectMode::Transient));
    let err = mailer.send(MessageId::new(), "a@example.com", &email).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Transient { class: "smtp_transient", detail } if detail.contains("451")),
        "{err:?}"
    );

    server.set_reject(Some(RejectMode::Permanent));
    let err = mailer.send(MessageId::new(), "a@example.com", &email).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { class: "smtp_permanent", detail } if detail.contains("550")),
        "{err:?}"
    );

    server.set_reject(None);
    mailer.send(MessageId::new(), "a@example.com", &email).await.expect("accepted again");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn unreachable_server_is_a_transient_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err =
        mailer(format!("smtp://{addr}"), WAIT).send(MessageId::new(), "a@example.com", &verification_email()).await;
    assert!(matches!(err, Err(SendError::Transient { class: "connect", .. })), "{err:?}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mailer = mailer(format!("smtp://{addr}"), Duration::from_millis(300));
    for _ in 0..2 {
        let err = mailer.send(MessageId::new(), "a@example.com", &verification_email()).await;
        assert!(matches!(err, Err(SendError::Transient { class: "timeout", .. })), "{err:?}");
    }
    silent.abort();
}

#[tokio::test]
async fn tls_transports_have_a_crypto_provider() {
    // The test server speaks plain SMTP only, so both fail, but as ordinary
    // retryable errors: rustls has a crypto provider to even try.
    let server = SmtpServer::start().await;
    let addr = server.url().trim_start_matches("smtp://").to_owned();
    let email = verification_email();

    let implicit = mailer(format!("smtps://{addr}"), WAIT).send(MessageId::new(), "a@example.com", &email).await;
    assert!(matches!(implicit, Err(SendError::Transient { class: "connect", .. })), "{implicit:?}");

    let starttls =
        mailer(format!("smtp://{addr}?tls=required"), WAIT).send(MessageId::new(), "a@example.com", &email).await;
    assert!(
        matches!(&starttls, Err(SendError::Transient { detail, .. }) if detail.contains("STARTTLS")),
        "{starttls:?}"
    );
    assert!(server.received().is_empty());
}
