//! Channel health: `disabled_by_system`, owner notice, per-kind caps, quotas, fallback.
//!
//! End to end through the API and the in-process worker: alerts come from
//! `notify`, receivers are real HTTP servers on this machine, and notices to
//! people reach the test SMTP server.

use crate::channels::{add_email, address, list, verify_with_mail, Owner};
use crate::helpers::*;
use roster_testkit::{Behavior, HttpReceiver, ReceivedMail};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const GONE: &str = "the receiver answered 410 Gone";

/// An app whose webhooks may go to receivers on this machine, with `adjust` applied.
async fn app_for_receivers(backend: Backend, adjust: impl FnOnce(&mut roster_server::Config)) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        c.channels.allow_private_targets = true;
        c.channels.allow_http_webhooks = true;
        adjust(c);
    })
    .await
}

fn team_of(acc: &Account) -> Owner {
    Owner { kind: "team", base: format!("/v1/team/{}", acc.team_id), token: acc.token.clone() }
}

/// Adds a webhook channel to `receiver`'s `path` and verifies it with the
/// code the receiver was sent; answers the channel as created.
async fn verified_webhook(app: &TestApp, o: &Owner, receiver: &HttpReceiver, path: &str) -> Value {
    let r = app
        .post(
            &o.path("notification-channel"),
            Some(&o.token),
            json!({"type": "webhook", "value": receiver.url_for(path)}),
        )
        .await;
    r.assert(201, None);
    let code = receiver.next_request(WAIT).await.expect("the code was sent").json().unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = json!({"priority": r.body["priority"], "code": code});
    app.patch(&o.path("notification-channel/verification"), &o.token, verify).await.assert(200, None);
    r.body
}

/// The next email to `to` whose subject contains `needle`, skipping others.
async fn mail_about(app: &TestApp, to: &str, needle: &str) -> ReceivedMail {
    for _ in 0..5 {
        let mail = app.mail_to(to).await;
        if mail.subject.contains(needle) {
            return mail;
        }
    }
    panic!("no email about `{needle}` reached {to}");
}

/// The attempts of a delivery as (outcome, status code, error class).
fn attempts(delivery: &Value) -> Vec<(String, Option<i64>, Option<String>)> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_owned(),
                a["status_code"].as_i64(),
                a["error_class"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

dual_test! {
    async fn an_alert_answered_410_turns_the_channel_off_and_the_team_managers_hear_of_it(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for_receivers(backend, |_| {}).await else { return };
        let receiver = HttpReceiver::start().await;
        let owner = app.signup().await;
        let team = team_of(&owner);
        let channel = verified_webhook(&app, &team, &receiver, "/hook").await;
        receiver.respond_with(Behavior::Status(410));

        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "checkout is down"})).await;
        r.assert(202, None);
        let delivery = r.body["deliveries"][0]["delivery_id"].as_str().unwrap().to_owned();
        let request = receiver.next_request(WAIT).await.expect("the alert was sent");
        assert_eq!(request.header("webhook-id"), Some(delivery.as_str()));

        // The team has no other channel: its owner (a member of it) is emailed.
        let mail = mail_about(&app, &owner.email, "turned off").await;
        assert!(mail.subject.contains("the webhook channel") && mail.subject.contains("of the team"), "{}", mail.subject);
        assert!(mail.text.contains(GONE), "{}", mail.text);

        let d = app.settled_delivery(&owner.token, &delivery).await.body;
        assert_eq!((d["kind"].as_str(), d["status"].as_str()), (Some("alert"), Some("failed")));
        assert_eq!(attempts(&d), [("failed".to_owned(), Some(410), Some("gone".to_owned()))]);
        let shown = list(&app, &team).await;
        assert_eq!(shown[0]["id"], channel["id"]);
        assert_eq!(shown[0]["disabled_by_system"]["reason"], GONE, "{}", shown[0]);
        assert_eq!(shown[0]["enabled"], true, "the owner's own switch is untouched");

        // Nothing is left to reach the team: the next alert says so.
        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "still down"})).await;
        r.assert(409, Some("UNREACHABLE"));
        assert_eq!(r.body["skipped"][0]["reason"], "disabled_by_system");
        assert_eq!(receiver.requests().len(), 2, "the code and the one alert");
    }
}

dual_test! {
    async fn a_test_answered_410_counts_for_nothing_but_a_code_answered_410_does(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for_receivers(backend, |_| {}).await else { return };
        let (working, gone) = (HttpReceiver::start().await, HttpReceiver::start().await);
        let owner = app.signup().await;
        let team = team_of(&owner);
        let first = verified_webhook(&app, &team, &working, "/first").await;

        // A test is tried once, and its answer says nothing about the channel's health.
        working.respond_with(Behavior::Status(410));
        let r = app.post(&team.path("notification-channel/test"), Some(&owner.token), json!({"priority": first["priority"]})).await;
        r.assert(202, None);
        assert_eq!(working.next_request(WAIT).await.expect("the test was sent").json().unwrap()["type"], "test");
        let d = app.settled_delivery(&owner.token, r.body["delivery_id"].as_str().unwrap()).await.body;
        assert_eq!(attempts(&d), [("failed".to_owned(), Some(410), Some("gone".to_owned()))]);
        assert!(list(&app, &team).await[0]["disabled_by_system"].is_null());
        working.respond_with(Behavior::Status(200));

        // A new channel whose receiver is gone: the code bounces, the channel is turned off,
        // and the team hears of it through its working channel.
        gone.respond_with(Behavior::Status(410));
        let r = app.post(&team.path("notification-channel"), Some(&owner.token), json!({"type": "webhook", "value": gone.url_for("/gone")})).await;
        r.assert(201, None);
        gone.next_request(WAIT).await.expect("the code was sent");
        let notice = working.next_request(WAIT).await.expect("the notice reached the team's other channel");
        assert_eq!(notice.path, "/first");
        let body = notice.json().unwrap();
        assert_eq!(body["type"], "notice");
        assert!(body["message"].as_str().unwrap().contains(GONE), "{body}");
        let shown = list(&app, &team).await;
        assert!(shown[0]["disabled_by_system"].is_null());
        assert_eq!(shown[1]["disabled_by_system"]["reason"], GONE);
        let d = app.settled_delivery(&owner.token, body["delivery_id"].as_str().unwrap()).await.body;
        assert_eq!((d["kind"].as_str(), d["status"].as_str()), (Some("notice"), Some("sent")));
    }
}

dual_test! {
    async fn an_alert_that_fails_for_good_reaches_the_escalation_channel(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for_receivers(backend, |_| {}).await else { return };
        let receiver = HttpReceiver::start().await;
        let owner = app.signup().await;
        let team = team_of(&owner);
        let hook = verified_webhook(&app, &team, &receiver, "/hook").await;
        // An email channel kept for escalation: it hears of no event on its own.
        let email = address();
        let backup = add_email(&app, &team, &email).await;
        verify_with_mail(&app, &team, 2, &email).await;
        let patch = json!({"priority": 2, "suppress": {"all": true}});
        app.patch(&team.path("notification-channel"), &team.token, patch).await.assert(200, None);
        let patch = json!({"priority": 1, "fallback_channel_id": backup["id"]});
        app.patch(&team.path("notification-channel"), &team.token, patch).await.assert(200, None);
        receiver.respond_with(Behavior::Status(400));

        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "checkout is down"})).await;
        r.assert(202, None);
        assert_eq!((r.body["reached"].as_i64(), r.body["skipped"][0]["reason"].as_str()), (Some(1), Some("suppressed")));
        let alert_id = r.body["alert_id"].as_str().unwrap().to_owned();
        let failed = r.body["deliveries"][0]["delivery_id"].as_str().unwrap().to_owned();

        let mail = app.mail_to(&email).await;
        assert!(mail.subject.contains("checkout is down"), "{}", mail.subject);
        let d = app.settled_delivery(&owner.token, &failed).await.body;
        assert_eq!(attempts(&d), [("failed".to_owned(), Some(400), Some("rejected".to_owned()))]);
        // The fallback delivery exists since the failure was recorded; it is settled soon after its email arrived.
        let r = app.get(&format!("/v1/deliveries?alert={alert_id}"), &owner.token).await;
        r.assert(200, None);
        let all = r.body["data"].as_array().unwrap();
        assert_eq!(all.len(), 3, "the failed one, the suppressed one and the fallback: {}", r.text);
        let fallback = all.iter().find(|d| d["fallback_of"] == failed.as_str()).expect("a fallback delivery");
        let fallback = app.settled_delivery(&owner.token, fallback["id"].as_str().unwrap()).await.body;
        assert_eq!((fallback["status"].as_str(), fallback["kind"].as_str()), (Some("sent"), Some("alert")));
        assert_eq!(fallback["channel_id"], backup["id"]);
        assert_eq!(hook["id"], list(&app, &team).await[0]["id"]);
        assert!(list(&app, &team).await[0]["disabled_by_system"].is_null(), "a 400 is not a 410");
    }
}

dual_test! {
    async fn a_destination_over_its_configured_quota_waits_and_is_not_failed(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for_receivers(backend, |c| {
            // One send per webhook URL every three seconds.
            c.worker.quota.webhook = 1;
            c.worker.quota_window_secs = 3;
        })
        .await
        else {
            return;
        };
        let receiver = HttpReceiver::start().await;
        let owner = app.signup().await;
        let team = team_of(&owner);
        // The code uses the URL's one send of its window.
        verified_webhook(&app, &team, &receiver, "/hook").await;

        // Two alerts at once: each waits for a window of its own.
        let started = Instant::now();
        let mut ids = Vec::new();
        for title in ["first", "second"] {
            let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "up", "title": title})).await;
            r.assert(202, None);
            ids.push(r.body["deliveries"][0]["delivery_id"].as_str().unwrap().to_owned());
        }
        let got = receiver.wait_for_count(3, Duration::from_secs(20)).await.expect("both alerts arrived");
        assert!(started.elapsed() >= Duration::from_secs(2), "the quota spread them out: {:?}", started.elapsed());
        let mut arrived: Vec<String> = got[1..].iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
        arrived.sort();
        ids.sort();
        assert_eq!(arrived, ids);
        for id in &ids {
            let d = app.settled_delivery(&owner.token, id).await.body;
            assert_eq!(d["status"], "sent");
            assert_eq!(attempts(&d).len(), 1, "waiting for a window is not an attempt: {d}");
        }
    }
}

dual_test! {
    async fn a_retry_past_the_configured_cap_is_given_up_on_as_expired(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for_receivers(backend, |c| {
            // Webhook alerts may be one second old at most; a retry would come five seconds later.
            c.worker.retry_schedule_secs = vec![0, 5];
            c.worker.retry_jitter = 0.0;
            c.worker.max_age_secs.webhook = 1;
        })
        .await
        else {
            return;
        };
        let receiver = HttpReceiver::start().await;
        let owner = app.signup().await;
        let team = team_of(&owner);
        verified_webhook(&app, &team, &receiver, "/hook").await;
        receiver.respond_with(Behavior::Status(503));

        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "checkout is down"})).await;
        r.assert(202, None);
        let id = r.body["deliveries"][0]["delivery_id"].as_str().unwrap().to_owned();
        let d = app.settled_delivery(&owner.token, &id).await.body;
        assert_eq!(d["status"], "failed");
        assert_eq!(attempts(&d), [("failed".to_owned(), Some(503), Some("expired".to_owned()))]);
        assert_eq!(receiver.requests().len(), 2, "the code and one try of the alert");
    }
}
