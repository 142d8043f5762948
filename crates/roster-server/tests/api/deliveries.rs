//! `GET /v1/deliveries/{id}`: what became of a channel's message, for whoever
//! may read the channel, without the receiver's answer.
//!
//! Channels are made, verified and tested through the channel routes; the
//! in-process worker sends for real, to the test SMTP server or to an HTTP
//! receiver.

use crate::helpers::*;
use roster_core::role::Role;
use roster_testkit::{Behavior, HttpReceiver};
use serde_json::json;
use uuid::Uuid;

dual_test! {
    async fn a_sent_test_email_reads_as_sent_for_its_readers_only(app) {
        let owner = app.signup().await;
        let address = fresh_address("ops");
        let base = format!("/v1/customer/{}/notification-channel", owner.customer_id.0);
        let r = app.post(&base, Some(&owner.token), json!({ "type": "email", "value": address })).await;
        r.assert(201, None);
        let (priority, channel) = (r.body["priority"].as_i64().unwrap(), r.body["id"].as_str().unwrap().to_owned());
        let code = app.code_for(&address).await;
        let verify = json!({ "priority": priority, "code": code });
        app.patch(&format!("{base}/verification"), &owner.token, verify).await.assert(200, None);
        let r = app.post(&format!("{base}/test"), Some(&owner.token), json!({ "priority": priority })).await;
        r.assert(202, None);
        let id: Uuid = r.body["delivery_id"].as_str().unwrap().parse().unwrap();

        let mail = app.mail_to(&address).await;
        assert!(mail.subject.starts_with("[TEST]"), "{}", mail.subject);
        let r = app.settled_delivery(&owner.token, id).await;
        assert_eq!(r.body["id"], id.to_string());
        assert_eq!(r.body["channel_id"], channel);
        assert_eq!((r.body["kind"].as_str(), r.body["status"].as_str()), (Some("test"), Some("sent")));
        let attempts = r.body["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["attempt"], 1);
        assert_eq!(attempts[0]["outcome"], "sent");
        assert!(attempts[0]["status_code"].is_null() && attempts[0]["error_class"].is_null());
        assert!(attempts[0]["duration_ms"].as_i64().is_some() && attempts[0]["started_at"].is_string());
        assert!(time_of(&r.body["settled_at"]) >= time_of(&r.body["created_at"]));
        assert!(!r.text.contains("error_detail"), "{}", r.text);

        // A personal channel is its owner's and an admin's to read; anyone else sees nothing.
        let path = format!("/v1/deliveries/{id}");
        let admin = app.add_member(&owner, Role::Admin).await;
        app.get(&path, &admin.token).await.assert(200, None);
        let member = app.add_member(&owner, Role::User).await;
        app.get(&path, &member.token).await.assert(404, Some("NOT_FOUND"));
        let manager = app.add_member(&owner, Role::Manager).await;
        app.get(&path, &manager.token).await.assert(404, Some("NOT_FOUND"));
        let stranger = app.signup().await;
        app.get(&path, &stranger.token).await.assert(404, Some("NOT_FOUND"));
        app.get(&format!("/v1/deliveries/{}", Uuid::new_v4()), &owner.token).await.assert(404, Some("NOT_FOUND"));
        app.get("/v1/deliveries/not-a-uuid", &owner.token).await.assert(422, None);
        app.call(reqwest::Method::GET, &path, None, None).await.assert(401, None);
    }
}

dual_test! {
    async fn account_messages_are_not_deliveries(app) {
        let owner = app.signup().await;
        // The sign-up's verification email went through the outbox without a channel.
        let ids: Vec<Uuid> = on_db!(app, |conn| {
            sqlx::query_scalar("SELECT id FROM outbox WHERE recipient = $1")
                .bind(&owner.email)
                .fetch_all(&mut conn)
                .await
                .unwrap()
        });
        assert!(!ids.is_empty());
        for id in ids {
            app.get(&format!("/v1/deliveries/{id}"), &owner.token).await.assert(404, Some("NOT_FOUND"));
        }
    }
}

dual_test! {
    async fn a_failed_webhook_test_shows_the_status_but_not_the_answer(app) {
        // The receiver is on loopback over http: this test needs an app that allows both.
        let backend = app.backend;
        drop(app);
        failed_webhook_test(backend).await;
    }
}

/// A webhook answering 500 with a body: the test is tried once, and the
/// delivery shows the status code, never the body.
async fn failed_webhook_test(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.channels.allow_private_targets = true;
        c.channels.allow_http_webhooks = true;
    })
    .await
    else {
        return;
    };
    let receiver = HttpReceiver::start().await;
    let owner = app.signup().await;
    let base = format!("/v1/team/{}/notification-channel", owner.team_id.0);
    let r = app.post(&base, Some(&owner.token), json!({ "type": "webhook", "value": receiver.url_for("/hook") })).await;
    r.assert(201, None);
    let priority = r.body["priority"].as_i64().unwrap();
    // The code arrives in the webhook's default document.
    let request = receiver.next_request(WAIT).await.expect("the verification was sent");
    let code = request.json().unwrap()["code"].as_str().expect("a code").to_owned();
    let verify = json!({ "priority": priority, "code": code });
    app.patch(&format!("{base}/verification"), &owner.token, verify).await.assert(200, None);

    receiver.respond_with(Behavior::Body { status: 500, body: "echo: secret-token-42".into() });
    let r = app.post(&format!("{base}/test"), Some(&owner.token), json!({ "priority": priority })).await;
    r.assert(202, None);
    let id = r.body["delivery_id"].as_str().unwrap().to_owned();
    let request = receiver.next_request(WAIT).await.expect("the test was sent");
    assert_eq!(request.header("webhook-id"), Some(id.as_str()));
    assert_eq!(request.json().unwrap()["type"], "test");

    // Any member may read a team channel's deliveries.
    let member = app.add_member(&owner, Role::User).await;
    let r = app.settled_delivery(&member.token, &id).await;
    assert_eq!((r.body["kind"].as_str(), r.body["status"].as_str()), (Some("test"), Some("failed")));
    let attempts = r.body["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "a test is tried once: {}", r.text);
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(
        (attempts[0]["outcome"].as_str(), attempts[0]["error_class"].as_str()),
        (Some("failed"), Some("server_error"))
    );
    assert!(!r.text.contains("secret-token-42") && !r.text.contains("echo"), "{}", r.text);
    assert!(!r.text.contains("error_detail"), "{}", r.text);
    assert_eq!(receiver.requests().len(), 2, "the verification and one try of the test");
    let stranger = app.signup().await;
    app.get(&format!("/v1/deliveries/{id}"), &stranger.token).await.assert(404, Some("NOT_FOUND"));
}

dual_test! {
    async fn a_failed_delivery_is_replayed_by_whoever_may_change_its_channel(app) {
        let backend = app.backend;
        drop(app);
        replayed_webhook(backend).await;
    }
}

/// A test that failed (500) is listed as failed, replayed, and then sent.
async fn replayed_webhook(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.channels.allow_private_targets = true;
        c.channels.allow_http_webhooks = true;
    })
    .await
    else {
        return;
    };
    let receiver = HttpReceiver::start().await;
    let owner = app.signup().await;
    let base = format!("/v1/team/{}/notification-channel", owner.team_id.0);
    let r = app.post(&base, Some(&owner.token), json!({ "type": "webhook", "value": receiver.url_for("/hook") })).await;
    r.assert(201, None);
    let (priority, channel) = (r.body["priority"].as_i64().unwrap(), r.body["id"].as_str().unwrap().to_owned());
    let request = receiver.next_request(WAIT).await.expect("the verification was sent");
    let code = request.json().unwrap()["code"].as_str().expect("a code").to_owned();
    app.patch(&format!("{base}/verification"), &owner.token, json!({ "priority": priority, "code": code }))
        .await
        .assert(200, None);
    receiver.respond_with(Behavior::Status(500));
    let r = app.post(&format!("{base}/test"), Some(&owner.token), json!({ "priority": priority })).await;
    r.assert(202, None);
    let id = r.body["delivery_id"].as_str().unwrap().to_owned();
    receiver.next_request(WAIT).await.expect("the test was tried");
    app.settled_delivery(&owner.token, &id).await;

    // The listing shows both deliveries of the channel, newest first, and filters.
    let r = app.get(&format!("/v1/deliveries?channel={channel}"), &owner.token).await;
    r.assert(200, None);
    let kinds: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["test", "verification"]);
    assert_eq!(r.body["total_count"], 2);
    let r = app.get(&format!("/v1/deliveries?channel={channel}&status=failed"), &owner.token).await;
    assert_eq!(r.body["total_count"], 1);
    assert_eq!(r.body["data"][0]["id"], id);
    assert_eq!(r.body["data"][0]["attempt_count"], 1);
    app.get("/v1/deliveries?status=lost&channel=nope", &owner.token).await.assert(422, Some("VALIDATION_ERROR"));

    // A member of the team may read it but not replay it (managing team channels is for its managers); a viewer neither.
    let member = app.add_member(&owner, Role::User).await;
    let retry = format!("/v1/deliveries/{id}/retry");
    app.post(&retry, Some(&member.token), json!({})).await.assert(403, Some("FORBIDDEN"));
    let viewer = app.add_member(&owner, Role::Viewer).await;
    app.post(&retry, Some(&viewer.token), json!({})).await.assert(403, Some("FORBIDDEN"));
    let stranger = app.signup().await;
    app.post(&retry, Some(&stranger.token), json!({})).await.assert(404, Some("NOT_FOUND"));

    receiver.respond_with(Behavior::Status(200));
    let r = app.post(&retry, Some(&owner.token), json!({})).await;
    r.assert(202, None);
    assert_eq!(r.body["status"], "pending");
    let request = receiver.next_request(WAIT).await.expect("the replay was sent");
    assert_eq!(request.header("webhook-id"), Some(id.as_str()), "the same id, so the receiver can deduplicate");
    let r = app.settled_delivery(&owner.token, &id).await;
    assert_eq!(r.body["status"], "sent");
    let outcomes: Vec<&str> =
        r.body["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failed", "sent"], "the failed attempt stays on record");

    // Only a failed delivery is replayed; a verification code never is.
    app.post(&retry, Some(&owner.token), json!({})).await.assert(409, Some("CONFLICT"));
    let verification = app.get(&format!("/v1/deliveries?channel={channel}&kind=verification"), &owner.token).await;
    let vid = verification.body["data"][0]["id"].as_str().unwrap().to_owned();
    on_db!(app, |conn| {
        sqlx::query("UPDATE outbox SET status = 'failed' WHERE id = $1")
            .bind(vid.parse::<Uuid>().unwrap())
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let r = app.post(&format!("/v1/deliveries/{vid}/retry"), Some(&owner.token), json!({})).await;
    r.assert(409, Some("CONFLICT"));
    assert!(r.body["detail"].as_str().unwrap().contains("new code"), "{}", r.text);
}

dual_test! {
    async fn the_listing_shows_only_channels_the_caller_may_read(app) {
        let owner = app.signup().await;
        let address = fresh_address("mine");
        let base = format!("/v1/customer/{}/notification-channel", owner.customer_id.0);
        app.post(&base, Some(&owner.token), json!({ "type": "email", "value": address })).await.assert(201, None);
        app.mail_to(&address).await;
        let member = app.add_member(&owner, Role::User).await;
        let r = app.get("/v1/deliveries", &member.token).await;
        r.assert(200, None);
        assert_eq!(r.body["total_count"], 0, "someone else's personal channel: {}", r.text);
        let admin = app.add_member(&owner, Role::Admin).await;
        assert_eq!(app.get("/v1/deliveries", &admin.token).await.body["total_count"], 1);
        assert_eq!(app.get("/v1/deliveries", &owner.token).await.body["total_count"], 1);
        let stranger = app.signup().await;
        assert_eq!(app.get("/v1/deliveries", &stranger.token).await.body["total_count"], 0);
    }
}
