//! The test server against a real client (lettre) and against raw SMTP.

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use roster_testkit::{RejectMode, SmtpServer};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

fn transport(server: &SmtpServer) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&server.url()).expect("valid URL").build()
}

fn message(to: &str, subject: &str, text: &str) -> Message {
    Message::builder()
        .from("Roster <roster@localhost>".parse::<Mailbox>().unwrap())
        .to(to.parse::<Mailbox>().unwrap())
        .subject(subject)
        .message_id(Some("<m-1@roster>".into()))
        .multipart(MultiPart::alternative_plain_html(text.to_owned(), format!("<p>{text}</p>")))
        .unwrap()
}

#[tokio::test]
async fn receives_and_decodes_a_multipart_message() {
    let server = SmtpServer::start().await;
    assert!(server.url().starts_with("smtp://127.0.0.1:"));
    // Non-ASCII subject and body force encoded headers and a transfer encoding.
    let text = "Bonjour Zoë,\r\n.a line that starts with a dot\r\nyour code is 042917 — valid 15 minutes.";
    let msg = message("zoe@example.com", "Votre code de vérification", text);
    transport(&server).send(msg).await.expect("accepted");

    let mail = server.next_message(WAIT).await.expect("a message arrives");
    assert_eq!(mail.mail_from, "roster@localhost");
    assert_eq!(mail.rcpt_to, vec!["zoe@example.com".to_owned()]);
    assert_eq!(mail.subject, "Votre code de vérification");
    assert!(mail.text.contains("Bonjour Zoë"), "{}", mail.text);
    assert!(mail.text.contains("\n.a line that starts with a dot"), "{}", mail.text);
    assert_eq!(mail.code().as_deref(), Some("042917"));
    assert!(mail.html.as_deref().unwrap_or_default().contains("<p>Bonjour Zoë"));
    assert_eq!(mail.message_id.as_deref(), Some("m-1@roster"));
    assert!(mail.raw.contains("Message-ID: <m-1@roster>"));
    assert_eq!(server.received(), vec![mail]);
    assert!(server.next_message(Duration::from_millis(50)).await.is_none());
}

#[tokio::test]
async fn reject_modes_answer_transient_and_permanent_errors() {
    let server = SmtpServer::start().await;
    let smtp = transport(&server);

    server.set_reject(Some(RejectMode::Transient));
    let err = smtp.send(message("a@example.com", "one", "x")).await.expect_err("451 at DATA");
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("451"));

    server.set_reject(Some(RejectMode::Permanent));
    let err = smtp.send(message("a@example.com", "two", "x")).await.expect_err("550 at RCPT");
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.status().map(|c| c.to_string()).as_deref(), Some("550"));

    server.set_reject(None);
    smtp.send(message("a@example.com", "three", "x")).await.expect("accepted again");
    let subjects: Vec<_> = server.received().into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects, ["three"]);
}

#[tokio::test]
async fn wait_for_matches_recipients_across_concurrent_connections() {
    let server = SmtpServer::start().await;
    let sends: Vec<_> = (0..6)
        .map(|i| {
            // A transport each: six connections at once.
            let smtp = transport(&server);
            let msg = message(&format!("user{}@example.com", i % 3), &format!("n{i}"), "x");
            tokio::spawn(async move { smtp.send(msg).await })
        })
        .collect();
    for send in sends {
        send.await.expect("task").expect("accepted");
    }

    for user in ["user0", "user1", "user2"] {
        let to = format!("{user}@example.com");
        let first = server.wait_for(&to.to_uppercase(), WAIT).await.expect("first");
        let second = server.wait_for(&to, WAIT).await.expect("second");
        assert_ne!(first.subject, second.subject);
        assert!(server.wait_for(&to, Duration::from_millis(20)).await.is_none());
    }
    assert_eq!(server.received().len(), 6);

    // A waiter registered before the mail exists is woken by its arrival.
    let waiter = server.wait_for("late@example.com", WAIT);
    let send = async {
        transport(&server).send(message("late@example.com", "late", "x")).await.expect("accepted");
    };
    let (mail, ()) = tokio::join!(waiter, send);
    assert_eq!(mail.expect("woken").subject, "late");
}

#[tokio::test]
async fn speaks_smtp_line_by_line() {
    let server = SmtpServer::start().await;
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut next = async || lines.next_line().await.unwrap().expect("a reply line");

    assert!(next().await.starts_with("220 "));
    write.write_all(b"EHLO client.test\r\n").await.unwrap();
    let mut ehlo = Vec::new();
    loop {
        let line = next().await;
        let last = line.starts_with("250 ");
        ehlo.push(line);
        if last {
            break;
        }
    }
    assert!(ehlo.iter().any(|l| l.ends_with("8BITMIME")));
    assert!(!ehlo.iter().any(|l| l.contains("STARTTLS") || l.contains("AUTH")));

    let script: &[(&str, &str)] = &[
        ("DATA", "503"),
        ("RCPT TO:<b@example.com>", "503"),
        ("MAIL FROM:<a@example.com>", "250"),
        ("RSET", "250"),
        ("RCPT TO:<b@example.com>", "503"),
        ("NOOP", "250"),
        ("VRFY someone", "502"),
        ("MAIL FROM:<a@example.com> BODY=8BITMIME", "250"),
        ("RCPT TO:<b@example.com>", "250"),
        ("RCPT TO:<c@example.com>", "250"),
        ("DATA", "354"),
    ];
    for (command, code) in script {
        write.write_all(format!("{command}\r\n").as_bytes()).await.unwrap();
        let reply = next().await;
        assert!(reply.starts_with(code), "{command} -> {reply}");
    }
    let body = "Subject: raw\r\n\r\n..leading dot\r\ncode 987654\r\n.\r\n";
    write.write_all(body.as_bytes()).await.unwrap();
    assert!(next().await.starts_with("250 "));
    write.write_all(b"QUIT\r\n").await.unwrap();
    assert!(next().await.starts_with("221 "));

    let mail = server.next_message(WAIT).await.expect("delivered");
    assert_eq!(mail.rcpt_to, ["b@example.com", "c@example.com"]);
    assert_eq!(mail.subject, "raw");
    assert!(mail.raw.contains("\r\n.leading dot\r\n"), "{:?}", mail.raw);
    assert_eq!(mail.code().as_deref(), Some("987654"));
    assert_eq!(mail.html, None);
}
