//! Webhook channels against a real HTTP receiver: the code arrives in the
//! webhook's request, tests and new values go through the channel itself.

use super::*;
use roster_testkit::HttpReceiver;

/// The code in the next request `receiver` gets, checking it went to `path`.
async fn code_at(receiver: &HttpReceiver, path: &str) -> String {
    let request = receiver.next_request(WAIT).await.expect("the verification was sent");
    assert_eq!(request.path, path);
    let body = request.json().expect("a JSON document");
    body["code"].as_str().unwrap_or_else(|| panic!("no code in {body}")).to_owned()
}

dual_test! {
    async fn a_webhook_channel_is_verified_tested_and_moved_with_codes_it_received(app) {
        let app = TestApp::spawn_with(app.backend, |c| {
            c.channels.allow_private_targets = true;
            c.channels.allow_http_webhooks = true;
        })
        .await
        .unwrap();
        let acc = app.signup().await;
        for o in owners(&acc) {
            let receiver = HttpReceiver::start().await;
            let config = json!({"method": "POST", "headers": {"X-Token": "s3cret"}});
            let body = json!({"type": "webhook", "value": receiver.url_for("/first"), "webhook": config});
            let r = app.post(&o.path("notification-channel"), Some(&o.token), body).await;
            r.assert(201, None);
            assert!(!r.text.contains("s3cret"), "{}", r.text);
            let verification = o.path("notification-channel/verification");
            let code = code_at(&receiver, "/first").await;
            let r = app.patch(&verification, &o.token, json!({"priority": 1, "code": code})).await;
            r.assert(200, None);
            assert_eq!(r.body["verified"], true, "{}", o.kind);

            let r = app.post(&o.path("notification-channel/test"), Some(&o.token), json!({"priority": 1})).await;
            r.assert(202, None);
            let request = receiver.next_request(WAIT).await.expect("the test was sent");
            assert_eq!(request.path, "/first");
            // The channel's configured header goes with every request.
            assert_eq!(request.header("x-token"), Some("s3cret"));

            // A new URL waits for the code sent to it; the old one stays in use meanwhile.
            let r = app.put(&o.path("notification-channel"), &o.token, json!({"priority": 1, "value": receiver.url_for("/second")})).await;
            r.assert(200, None);
            assert!(r.body["pending_value"].is_string());
            let before = r.body["value"].clone();
            let code = code_at(&receiver, "/second").await;
            assert_eq!(list(&app, &o).await[0]["value"], before);
            let r = app.patch(&verification, &o.token, json!({"priority": 1, "code": code})).await;
            r.assert(200, None);
            assert_eq!(r.body["pending_value"], Value::Null);
            // Masked, both URLs read alike: what moved shows in where the next test goes.
            app.post(&o.path("notification-channel/test"), Some(&o.token), json!({"priority": 1})).await.assert(202, None);
            assert_eq!(receiver.next_request(WAIT).await.expect("the test was sent").path, "/second");
        }
    }
}

dual_test! {
    async fn chat_channels_are_verified_with_the_code_posted_to_them(app) {
        // Slack, Discord and Teams keep their real URLs; the operator's base URLs point them here.
        let receiver = HttpReceiver::start().await;
        let app = TestApp::spawn_with(app.backend, |c| {
            c.channels.allow_private_targets = true;
            c.channels.slack_base_url = Some(receiver.url());
            c.channels.discord_base_url = Some(receiver.url());
            c.channels.msteams_base_url = Some(receiver.url());
        })
        .await
        .unwrap();
        let acc = app.signup().await;
        let o = &owners(&acc)[1];
        let chats = [
            ("slack", "https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXX", "/services/T0001/B0001/XXXXXXXXXXXXXXXX", "text"),
            ("discord", "https://discord.com/api/webhooks/123456789012345678/tok-en_1", "/api/webhooks/123456789012345678/tok-en_1", "content"),
        ];
        for (priority, (kind, url, path, field)) in chats.iter().enumerate() {
            let r = app.post(&o.path("notification-channel"), Some(&o.token), json!({"type": kind, "value": url})).await;
            r.assert(201, None);
            // The stored URL is a secret: shown masked.
            assert!(!r.text.contains("XXXXXXXXXXXXXXXX") && !r.text.contains("tok-en_1"), "{}", r.text);
            let request = receiver.next_request(WAIT).await.expect("the verification was posted");
            assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", *path), "{kind}");
            let text = request.json().unwrap()[*field].as_str().unwrap_or_default().to_owned();
            let code: String = text.chars().filter(char::is_ascii_digit).collect::<String>().chars().take(6).collect();
            assert_eq!(code.len(), 6, "{kind}: no code in {text}");
            let body = json!({"priority": priority + 1, "code": code});
            let r = app.patch(&o.path("notification-channel/verification"), &o.token, body).await;
            r.assert(200, None);
            assert_eq!(r.body["verified"], true, "{kind}");
        }
    }
}
