//! Webhook signing secrets: shown once, used for every request the channel
//! receives, rotated with an overlap during which both sign. (The delivery
//! crate's tests check the same signatures with an implementation of their
//! own and with the specification's reference library.)

use super::*;
use roster_delivery::transports::standard_webhooks;
use roster_testkit::{HttpReceiver, RecordedRequest};

/// The `v1,` signatures the request carries.
pub fn signatures(req: &RecordedRequest) -> Vec<String> {
    req.header("webhook-signature").map(|h| h.split(' ').map(str::to_owned).collect()).unwrap_or_default()
}

/// Whether the request verifies with `secret` as a receiver checks it.
pub fn signed_with(secret: &str, req: &RecordedRequest) -> bool {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &req.headers {
        headers.append(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_str(value).unwrap(),
        );
    }
    let now = roster_core::clock::now();
    standard_webhooks::verify(&[secret], &headers, req.body.as_bytes(), now, standard_webhooks::DEFAULT_TOLERANCE)
        .is_ok()
}

async fn webhook_app(backend: Backend, overlap_hours: u32) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.channels.allow_private_targets = true;
        c.channels.allow_http_webhooks = true;
        c.channels.signing_secret_overlap_hours = overlap_hours;
    })
    .await
    .unwrap()
}

/// Adds a webhook channel pointed at `receiver` and verifies it with the
/// code its first (signed) request carried; answers the channel and the secret.
async fn add_webhook(app: &TestApp, o: &Owner, receiver: &HttpReceiver) -> (Value, String) {
    let body = json!({"type": "webhook", "value": receiver.url_for("/hook")});
    let r = app.post(&o.path("notification-channel"), Some(&o.token), body).await;
    r.assert(201, None);
    let secret = r.body["signing_secret"].as_str().expect("the secret, shown once").to_owned();
    let request = receiver.next_request(WAIT).await.expect("the verification was sent");
    assert_eq!(signatures(&request).len(), 1);
    assert!(signed_with(&secret, &request), "the verification is signed with the secret just shown");
    let code = request.json().unwrap()["code"].as_str().unwrap().to_owned();
    let priority = r.body["priority"].as_i64().unwrap();
    let body = json!({"priority": priority, "code": code});
    app.patch(&o.path("notification-channel/verification"), &o.token, body).await.assert(200, None);
    (r.body.clone(), secret)
}

/// Sends a test message through the channel of `priority` and answers the request it made.
async fn test_request(app: &TestApp, o: &Owner, receiver: &HttpReceiver, priority: i64) -> RecordedRequest {
    let r = app.post(&o.path("notification-channel/test"), Some(&o.token), json!({"priority": priority})).await;
    r.assert(202, None);
    receiver.next_request(WAIT).await.expect("the test was sent")
}

dual_test! {
    async fn webhook_secrets_are_shown_once_sign_every_request_and_rotate_with_an_overlap(app) {
        let app = webhook_app(app.backend, 24).await;
        let acc = app.signup().await;
        for o in owners(&acc) {
            let receiver = HttpReceiver::start().await;
            let (created, first) = add_webhook(&app, &o, &receiver).await;
            assert!(first.starts_with("whsec_") && standard_webhooks::secret_key(&first).unwrap().len() >= 24, "{first}");
            assert_eq!(created["signing_secret_hint"], format!("{}…", &first[..10]));
            assert_eq!(created["previous_secret_expires_at"], Value::Null);
            let id: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();

            // Listings show the hint, never the secret.
            let r = app.get(&o.path("notification-channels"), &o.token).await;
            assert!(!r.text.contains(&first), "{}", r.text);
            assert!(r.body["data"][0].get("signing_secret").is_none());
            assert_eq!(r.body["data"][0]["signing_secret_hint"], created["signing_secret_hint"]);

            let req = test_request(&app, &o, &receiver, 1).await;
            assert_eq!(signatures(&req).len(), 1);
            assert!(signed_with(&first, &req));

            // A rotation shows the new secret once; the old one signs beside it for the overlap.
            let rotate = o.path("notification-channel/signing-secret");
            let before = roster_core::clock::now();
            let r = app.post(&rotate, Some(&o.token), json!({"priority": 1})).await;
            r.assert(200, None);
            let second = r.body["signing_secret"].as_str().unwrap().to_owned();
            assert!(second.starts_with("whsec_") && second != first);
            let until = time_of(&r.body["previous_secret_expires_at"]);
            let overlap = until - before;
            let day = time::Duration::hours(24);
            assert!(overlap >= day && overlap < day + time::Duration::MINUTE, "{overlap}");
            assert_eq!(r.body["channel"]["signing_secret_hint"], format!("{}…", &second[..10]));
            assert_eq!(time_of(&r.body["channel"]["previous_secret_expires_at"]), until);
            let req = test_request(&app, &o, &receiver, 1).await;
            assert_eq!(signatures(&req).len(), 2, "{:?}", signatures(&req));
            assert!(signed_with(&first, &req) && signed_with(&second, &req));

            // When the overlap ends, only the new secret signs.
            on_db!(app, |conn| {
                sqlx::query("UPDATE notification_channels SET previous_secret_expires_at = $1 WHERE id = $2")
                    .bind(roster_core::clock::now() - time::Duration::SECOND)
                    .bind(id)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            });
            let req = test_request(&app, &o, &receiver, 1).await;
            assert_eq!(signatures(&req).len(), 1);
            assert!(signed_with(&second, &req) && !signed_with(&first, &req));
            assert_eq!(list(&app, &o).await[0]["previous_secret_expires_at"], Value::Null);

            let trail = app.audit_trail(id).await;
            let rotated: Vec<_> = trail.iter().filter(|(a, _)| a == "channel.signing_secret_rotated").collect();
            assert_eq!(rotated.len(), 1, "{trail:?}");
            assert_eq!(rotated[0].1["overlap_hours"], 24);
            assert!(trail.iter().all(|(_, d)| !d.to_string().contains("whsec_")), "{trail:?}");
        }
    }
}

dual_test! {
    async fn only_webhook_channels_have_a_secret_to_rotate(app) {
        let app = webhook_app(app.backend, 24).await;
        let acc = app.signup().await;
        for o in owners(&acc) {
            let email = add_email(&app, &o, &address()).await;
            assert!(email.get("signing_secret").is_none(), "{email}");
            assert_eq!(email["signing_secret_hint"], Value::Null);
            let rotate = o.path("notification-channel/signing-secret");
            let r = app.post(&rotate, Some(&o.token), json!({"priority": 1})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["priority"]);
            assert!(r.text.contains("not_a_webhook"), "{}", r.text);
            app.post(&rotate, Some(&o.token), json!({"priority": 7})).await.assert(404, Some("NOT_FOUND"));
            let r = app.post(&rotate, Some(&o.token), json!({})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["priority"]);
        }
    }
}

dual_test! {
    async fn with_no_overlap_the_old_secret_stops_signing_at_once(app) {
        let app = webhook_app(app.backend, 0).await;
        let acc = app.signup().await;
        let o = &owners(&acc)[1];
        let receiver = HttpReceiver::start().await;
        let (_, first) = add_webhook(&app, o, &receiver).await;
        let r = app.post(&o.path("notification-channel/signing-secret"), Some(&o.token), json!({"priority": 1})).await;
        r.assert(200, None);
        let second = r.body["signing_secret"].as_str().unwrap().to_owned();
        assert_eq!(r.body["channel"]["previous_secret_expires_at"], Value::Null);
        let req = test_request(&app, o, &receiver, 1).await;
        assert_eq!(signatures(&req).len(), 1);
        assert!(signed_with(&second, &req) && !signed_with(&first, &req));
    }
}
