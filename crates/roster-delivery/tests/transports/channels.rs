//! Chat, SMS, voice, paging and push: each transport's exact request.

use crate::{client, WAIT};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roster_delivery::transports::*;
use roster_testkit::{Behavior, HttpReceiver};
use serde_json::json;
use time::macros::datetime;
use url::Url;

fn base(receiver: &HttpReceiver) -> Url {
    Url::parse(&receiver.url()).unwrap()
}

fn message() -> ChatMessage {
    ChatMessage { title: "Added to ops".into(), text: "Zoë joined <ops> & more".into() }
}

#[tokio::test]
async fn slack_posts_mrkdwn_text_to_the_stored_path() {
    let receiver = HttpReceiver::start().await;
    let slack = SlackSender::new(client(), Some(base(&receiver)));
    let sent = slack.send("https://hooks.slack.com/services/T00/B00/XXXX", &message()).await;
    assert_eq!(sent, Ok(Delivered { status: 200 }));
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/services/T00/B00/XXXX"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.json().unwrap(), json!({"text": "*Added to ops*\nZoë joined &lt;ops&gt; &amp; more"}));

    // An archived channel answers 410: the channel is to be disabled.
    receiver.respond_with(Behavior::Body { status: 410, body: "channel_is_archived".into() });
    let err = slack.send("https://hooks.slack.com/services/T00/B00/XXXX", &message()).await.unwrap_err();
    assert!(err.is_gone() && err.is_permanent(), "{err}");
}

#[tokio::test]
async fn discord_posts_content_without_pinging_anyone() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Status(204));
    let discord = DiscordSender::new(client(), Some(base(&receiver)));
    let long = ChatMessage { title: String::new(), text: "x".repeat(3000) };
    let sent = discord.send("https://discord.com/api/webhooks/123/tok-en?thread_id=9", &long).await;
    assert_eq!(sent, Ok(Delivered { status: 204 }));
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!((req.path.as_str(), req.query.as_deref()), ("/api/webhooks/123/tok-en", Some("thread_id=9")));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body = req.json().unwrap();
    let content = body["content"].as_str().unwrap();
    assert_eq!((content.chars().count(), content.ends_with('…')), (2000, true));
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
}

#[tokio::test]
async fn teams_posts_an_adaptive_card_to_the_workflow() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Status(202));
    let teams = TeamsSender::new(client(), Some(base(&receiver)));
    let url = "https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=S1g";
    assert_eq!(teams.send(url, &message()).await, Ok(Delivered { status: 202 }));
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(req.path, "/workflows/abc/triggers/manual/paths/invoke");
    assert_eq!(req.query.as_deref(), Some("api-version=2016-06-01&sig=S1g"));
    let expected = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Added to ops", "weight": "Bolder", "size": "Large", "wrap": true},
                    {"type": "TextBlock", "text": "Zoë joined <ops> & more", "wrap": true}
                ]
            }
        }]
    });
    assert_eq!(req.json().unwrap(), expected);
}

fn twilio(receiver: &HttpReceiver, path: &str) -> TwilioSender {
    let mut cfg = TwilioConfig::new("AC0123456789abcdef", "t0ken-s3cret", "+15550001111");
    cfg.base_url = Url::parse(&receiver.url_for(path)).unwrap();
    TwilioSender::new(client(), cfg)
}

#[tokio::test]
async fn twilio_sends_sms_and_calls_with_basic_auth() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Status(201));
    let sender = twilio(&receiver, "/");
    let basic = format!("Basic {}", STANDARD.encode("AC0123456789abcdef:t0ken-s3cret"));

    let text = format!("Your code: 042917 & more {}", "z".repeat(2000));
    assert_eq!(sender.send_sms("+15552223333", &text).await, Ok(Delivered { status: 201 }));
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json")
    );
    assert_eq!(req.header("authorization"), Some(basic.as_str()));
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(req.form_value("To").as_deref(), Some("+15552223333"));
    assert_eq!(req.form_value("From").as_deref(), Some("+15550001111"));
    let body = req.form_value("Body").unwrap();
    assert!(body.starts_with("Your code: 042917 & more zzz") && body.ends_with('…'), "{body}");
    assert_eq!(body.chars().count(), 1600);

    assert!(sender.place_call("+15552223333", "Alert: <disk> & \"cpu\"").await.is_ok());
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(req.path, "/2010-04-01/Accounts/AC0123456789abcdef/Calls.json");
    assert_eq!(req.header("authorization"), Some(basic.as_str()));
    assert_eq!(req.form_value("To").as_deref(), Some("+15552223333"));
    assert_eq!(req.form_value("From").as_deref(), Some("+15550001111"));
    assert_eq!(
        req.form_value("Twiml").as_deref(),
        Some("<Response><Say>Alert: &lt;disk&gt; &amp; &quot;cpu&quot;</Say></Response>")
    );

    // A path on the base URL is kept; Twilio's refusals are classified as any other.
    let prefixed = twilio(&receiver, "/twilio/");
    receiver.respond_with(Behavior::Body { status: 400, body: r#"{"code":21211,"message":"Invalid 'To'"}"#.into() });
    let err = prefixed.send_sms("+1", "x").await.unwrap_err();
    assert_eq!((err.class(), err.status()), ("rejected", Some(400)));
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(req.path, "/twilio/2010-04-01/Accounts/AC0123456789abcdef/Messages.json");
}

#[tokio::test]
async fn pagerduty_triggers_and_resolves_with_one_dedup_key() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Body { status: 202, body: r#"{"status":"success","dedup_key":"d"}"#.into() });
    let pd = PagerDutySender::new(client(), Some(base(&receiver)));
    let trigger = PagerDutyAction::Trigger(PagerDutyTrigger {
        summary: "Disk full on db-1".into(),
        source: "roster: acme".into(),
        severity: PagerDutySeverity::Critical,
        timestamp: datetime!(2026-11-22 10:15:30 UTC),
    });
    assert_eq!(pd.send("R0UTING", "dlv_01JDX9", &trigger).await, Ok(Delivered { status: 202 }));
    assert_eq!(pd.send("R0UTING", "dlv_01JDX9", &PagerDutyAction::Resolve).await, Ok(Delivered { status: 202 }));

    let [first, second] = <[_; 2]>::try_from(receiver.wait_for_count(2, WAIT).await.unwrap()).unwrap();
    for req in [&first, &second] {
        assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v2/enqueue"));
        assert_eq!(req.header("content-type"), Some("application/json"));
    }
    assert_eq!(
        first.json().unwrap(),
        json!({
            "routing_key": "R0UTING",
            "event_action": "trigger",
            "dedup_key": "dlv_01JDX9",
            "payload": {"summary": "Disk full on db-1", "source": "roster: acme", "severity": "critical", "timestamp": "2026-11-22T10:15:30Z"}
        })
    );
    assert_eq!(
        second.json().unwrap(),
        json!({"routing_key": "R0UTING", "event_action": "resolve", "dedup_key": "dlv_01JDX9"})
    );
}

#[tokio::test]
async fn push_posts_to_the_gateway_with_its_token() {
    let receiver = HttpReceiver::start().await;
    let cfg = PushConfig {
        gateway_url: Url::parse(&receiver.url_for("/push/send")).unwrap(),
        auth_token: Some("gw-t0ken".into()),
    };
    let push = PushSender::new(client(), cfg);
    let notification = PushNotification {
        token: "device-abc".into(),
        title: "Invitation".into(),
        body: "You were invited to acme".into(),
        data: json!({"invitation_id": "inv_1"}),
    };
    assert_eq!(push.send(&notification).await, Ok(Delivered { status: 200 }));
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/push/send"));
    assert_eq!(req.header("authorization"), Some("Bearer gw-t0ken"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json().unwrap(),
        json!({"token": "device-abc", "title": "Invitation", "body": "You were invited to acme", "data": {"invitation_id": "inv_1"}})
    );
}
