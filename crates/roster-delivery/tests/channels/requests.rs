//! Each transport gets exactly the request it expects, for a verification
//! code and for a test message.

use crate::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roster_delivery::{Mailer, MailerConfig};
use roster_testkit::{HttpReceiver, RecordedRequest, SmtpServer};

const SUBJECT_VERIFY: &str = "Your Roster channel verification code";
const SUBJECT_TEST: &str = "[TEST] Roster test notification";

/// Queues one message, runs the worker once and answers the request it made.
async fn send_one(
    db: &TestDb,
    worker: &Worker,
    receiver: &HttpReceiver,
    transport: &str,
    recipient: &str,
    kind: &str,
) -> (MessageId, RecordedRequest) {
    let id = db.queue(transport, recipient, kind, json!({})).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let req = receiver.next_request(WAIT).await.unwrap_or_else(|| panic!("{transport} made no request"));
    let (row, attempts) = db.delivery(id).await;
    assert_eq!(row.status, "sent", "{transport} {kind}: {attempts:?}");
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].outcome.as_str(), attempts[0].status_code), ("sent", Some(200)));
    (id, req)
}

fn subject(kind: &str) -> &'static str {
    if kind == "verification" {
        SUBJECT_VERIFY
    } else {
        SUBJECT_TEST
    }
}

/// The text body says what the template says: the code, or the test marker.
fn assert_text(kind: &str, text: &str) {
    match kind {
        "verification" => assert!(text.contains(CODE) && text.contains("the ops channel"), "{text}"),
        _ => assert!(text.contains("[TEST] This is a test") && text.contains("Ada Lovelace"), "{text}"),
    }
}

#[tokio::test]
async fn every_http_transport_gets_its_request() {
    let (db, receiver) = (TestDb::new().await, HttpReceiver::start().await);
    let worker = worker(&db, log_mailer(), channel_config(&receiver, true), &[0, 5]);
    let auth = format!("Basic {}", STANDARD.encode("AC123:tw-token"));
    for kind in ["verification", "test"] {
        let (_, r) = send_one(&db, &worker, &receiver, "sms", "+14155550100", kind).await;
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/2010-04-01/Accounts/AC123/Messages.json"));
        assert_eq!(r.header("authorization"), Some(auth.as_str()));
        assert_eq!(r.form_value("To").as_deref(), Some("+14155550100"));
        assert_eq!(r.form_value("From").as_deref(), Some("+15550001111"));
        assert_text(kind, &r.form_value("Body").unwrap());

        let (_, r) = send_one(&db, &worker, &receiver, "voice", "+14155550100", kind).await;
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/2010-04-01/Accounts/AC123/Calls.json"));
        assert_eq!(r.header("authorization"), Some(auth.as_str()));
        let twiml = r.form_value("Twiml").unwrap();
        assert!(twiml.starts_with("<Response><Say>") && twiml.ends_with("</Say></Response>"), "{twiml}");
        if kind == "verification" {
            assert!(twiml.contains("0, 4, 2, 9, 1, 7") && !twiml.contains(CODE), "{twiml}");
        } else {
            assert!(twiml.contains("[TEST]"), "{twiml}");
        }

        let (_, r) =
            send_one(&db, &worker, &receiver, "slack", "https://hooks.slack.com/services/T0/B0/XyZ", kind).await;
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/services/T0/B0/XyZ"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let text = r.json().unwrap()["text"].as_str().unwrap().to_owned();
        assert!(text.starts_with(&format!("*{}*\n", subject(kind))), "{text}");
        assert_text(kind, &text);

        let (_, r) =
            send_one(&db, &worker, &receiver, "discord", "https://discord.com/api/webhooks/1/tok?thread_id=9", kind)
                .await;
        assert_eq!((r.path.as_str(), r.query.as_deref()), ("/api/webhooks/1/tok", Some("thread_id=9")));
        let body = r.json().unwrap();
        let content = body["content"].as_str().unwrap();
        assert!(content.starts_with(&format!("**{}**\n", subject(kind))), "{content}");
        assert_text(kind, content);
        assert_eq!(body["allowed_mentions"], json!({"parse": []}));

        let teams = "https://prod-1.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=S1g";
        let (_, r) = send_one(&db, &worker, &receiver, "msteams", teams, kind).await;
        assert_eq!(
            (r.path.as_str(), r.query.as_deref()),
            ("/workflows/abc/triggers/manual/paths/invoke", Some("sig=S1g"))
        );
        let card = &r.json().unwrap()["attachments"][0]["content"];
        assert_eq!(card["body"][0]["text"], subject(kind));
        assert_text(kind, card["body"][1]["text"].as_str().unwrap());

        let key = "R0123456789ABCDEF0123456789ABCDE";
        let (id, r) = send_one(&db, &worker, &receiver, "pagerduty", key, kind).await;
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v2/enqueue"));
        let event = r.json().unwrap();
        assert_eq!(event["routing_key"], key);
        assert_eq!(event["event_action"], "trigger");
        assert_eq!(event["dedup_key"], id.0.to_string());
        let summary = match kind {
            "verification" => format!("{SUBJECT_VERIFY}: {CODE}"),
            _ => SUBJECT_TEST.to_owned(),
        };
        assert_eq!(event["payload"]["summary"], summary.as_str());
        assert_eq!(
            (event["payload"]["severity"].as_str(), event["payload"]["source"].as_str()),
            (Some("info"), Some("Roster"))
        );

        let (id, r) = send_one(&db, &worker, &receiver, "push-notification", "device-token-1", kind).await;
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/push"));
        assert_eq!(r.header("authorization"), Some("Bearer p-token"));
        let push = r.json().unwrap();
        assert_eq!((push["token"].as_str(), push["title"].as_str()), (Some("device-token-1"), Some(subject(kind))));
        assert_text(kind, push["body"].as_str().unwrap());
        assert_eq!(push["data"]["delivery_id"], id.0.to_string());
    }
}

#[tokio::test]
async fn webhooks_send_the_default_document_or_the_channel_template() {
    let (db, receiver) = (TestDb::new().await, HttpReceiver::start().await);
    let worker = worker(&db, log_mailer(), channel_config(&receiver, false), &[0, 5]);
    let url = receiver.url_for("/hook?static=1");
    for kind in ["verification", "test"] {
        let (id, r) = send_one(&db, &worker, &receiver, "webhook", &url, kind).await;
        assert_eq!((r.method.as_str(), r.path.as_str(), r.query.as_deref()), ("POST", "/hook", Some("static=1")));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("webhook-id"), Some(id.0.to_string().as_str()));
        assert!(r.header("webhook-timestamp").is_some() && r.header("webhook-signature").is_none());
        let body = r.json().unwrap();
        assert_eq!(body["type"], kind);
        assert_eq!(body["delivery_id"], id.0.to_string());
        assert_eq!(body["channel_id"], db.channel.to_string());
        assert_eq!(body["title"], subject(kind));
        assert_text(kind, body["message"].as_str().unwrap());
        assert!(body["sent_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        match kind {
            "verification" => assert_eq!(body["code"], CODE),
            _ => assert!(body.get("code").is_none(), "{body}"),
        }
    }

    // The channel's own method, headers, query and body template.
    let webhook = json!({
        "method": "PUT",
        "headers": {"Authorization": "Bearer hook-token", "X-Team": "ops"},
        "query": {"source": "roster"},
        "body_template": "{\"text\": \"{{title}}\", \"id\": \"{{delivery_id}}\"}",
    });
    let id = db.queue("webhook", &url, "test", json!({ "webhook": webhook })).await;
    worker.run_once().await.unwrap();
    let r = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(r.method, "PUT");
    assert_eq!(r.query_pairs(), [("static".into(), "1".into()), ("source".into(), "roster".into())]);
    assert_eq!((r.header("authorization"), r.header("x-team")), (Some("Bearer hook-token"), Some("ops")));
    assert_eq!(r.json().unwrap(), json!({"text": SUBJECT_TEST, "id": id.0.to_string()}));

    // GET carries no body at all.
    db.queue("webhook", &url, "test", json!({ "webhook": {"method": "GET"} })).await;
    worker.run_once().await.unwrap();
    let r = receiver.next_request(WAIT).await.unwrap();
    assert_eq!((r.method.as_str(), r.body.as_str(), r.header("content-type")), ("GET", "", None));
}

#[tokio::test]
async fn email_channels_go_through_the_mailer() {
    let (db, receiver, smtp) = (TestDb::new().await, HttpReceiver::start().await, SmtpServer::start().await);
    let mailer =
        Mailer::new(&MailerConfig::Smtp { url: smtp.url(), timeout: WAIT }, "Roster <roster@localhost>").unwrap();
    let worker = worker(&db, mailer, channel_config(&receiver, true), &[0]);
    let id = db.queue("email", "ops@example.com", "verification", json!({})).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let mail = smtp.wait_for("ops@example.com", WAIT).await.expect("delivered");
    assert_eq!((mail.subject.as_str(), mail.code().as_deref()), (SUBJECT_VERIFY, Some(CODE)));
    let (row, attempts) = db.delivery(id).await;
    assert_eq!((row.status.as_str(), attempts.len(), attempts[0].status_code), ("sent", 1, None));
    assert!(receiver.requests().is_empty());
}
