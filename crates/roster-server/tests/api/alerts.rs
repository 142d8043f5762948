//! Alerts: `notify` fan-out, idempotency, reachability, quiet hours, skips.
//!
//! Channels are made and verified through the channel routes with codes read
//! from the test SMTP server; alerts then really go out through the
//! in-process worker, and skipped ones are read back as skipped deliveries.

use crate::channels::{add_email, address, verify_with_mail, Owner};
use crate::helpers::*;
use roster_core::role::Role;
use serde_json::{json, Value};
use uuid::Uuid;

fn team_owner(acc: &Account) -> Owner {
    Owner { kind: "team", base: format!("/v1/team/{}", acc.team_id), token: acc.token.clone() }
}

fn personal(acc: &Account) -> Owner {
    Owner { kind: "customer", base: format!("/v1/customer/{}", acc.customer_id), token: acc.token.clone() }
}

/// Adds an email channel and verifies it; answers its address and id.
async fn verified_email(app: &TestApp, o: &Owner) -> (String, String) {
    let email = address();
    let created = add_email(app, o, &email).await;
    verify_with_mail(app, o, created["priority"].as_i64().unwrap(), &email).await;
    (email, created["id"].as_str().unwrap().to_owned())
}

fn down(title: &str) -> Value {
    json!({ "event": "down", "title": title, "message": "HTTP 503 from 3 of 3 locations" })
}

/// The channel ids of an answer's deliveries (or skips), in order.
fn channel_ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|d| d["channel"]["channel_id"].as_str().unwrap().to_owned()).collect()
}

async fn alert_rows(app: &TestApp) -> i64 {
    on_db!(app, |conn| {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts").fetch_one(&mut conn).await.unwrap();
        n
    })
}

async fn alert_deliveries(app: &TestApp) -> i64 {
    on_db!(app, |conn| {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'alert'").fetch_one(&mut conn).await.unwrap();
        n
    })
}

dual_test! {
    async fn a_team_alert_reaches_every_usable_channel_and_records_each_skip(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let (first, first_id) = verified_email(&app, &team).await;
        let (_, muted_id) = verified_email(&app, &team).await;
        app.patch(&team.path("notification-channel"), &team.token, json!({"priority": 2, "mute": true})).await.assert(200, None);
        let unverified = add_email(&app, &team, &address()).await;
        app.code_for(unverified["value"].as_str().unwrap()).await;
        let (_, quiet_id) = verified_email(&app, &team).await;
        app.patch(&team.path("notification-channel"), &team.token, json!({"priority": 4, "suppress": {"down": true}})).await.assert(200, None);
        let (last, last_id) = verified_email(&app, &team).await;

        let r = app.post(&team.path("notify"), Some(&owner.token), down("checkout is down")).await;
        r.assert(202, None);
        assert_eq!(r.body["status"], "queued");
        assert_eq!((r.body["event"].as_str(), r.body["urgency"].as_str()), (Some("down"), Some("high")));
        assert_eq!(r.body["reached"], 2);
        assert_eq!(r.body["held"], 0);
        assert_eq!(channel_ids(&r.body["deliveries"]), [first_id.clone(), last_id.clone()], "priority order");
        assert!(r.body["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == "queued" && d["held_until"].is_null()));
        let skipped = r.body["skipped"].as_array().unwrap();
        let reasons: Vec<(&str, &str)> =
            skipped.iter().map(|s| (s["channel"]["channel_id"].as_str().unwrap(), s["reason"].as_str().unwrap())).collect();
        let unverified_id = unverified["id"].as_str().unwrap();
        assert_eq!(reasons, [(muted_id.as_str(), "muted"), (unverified_id, "unverified"), (quiet_id.as_str(), "suppressed")]);
        assert!(skipped.iter().all(|s| s["channel"]["owner_type"] == "team" && s["channel"]["type"] == "email"));

        // The reached channels get the alert through the real SMTP server.
        for to in [&first, &last] {
            let mail = app.mail_to(to).await;
            assert_eq!(mail.subject, "[DOWN] checkout is down");
            assert!(mail.text.contains("HTTP 503 from 3 of 3 locations"), "{}", mail.text);
            assert!(mail.text.contains(r.body["alert_id"].as_str().unwrap()), "{}", mail.text);
        }
        // A skipped delivery is on record with its reason, never sent.
        let skipped_id = skipped[0]["delivery_id"].as_str().unwrap();
        let d = app.get(&format!("/v1/deliveries/{skipped_id}"), &owner.token).await;
        d.assert(200, None);
        assert_eq!((d.body["status"].as_str(), d.body["skip_reason"].as_str()), (Some("skipped"), Some("muted")));
        assert_eq!(d.body["kind"], "alert");
        assert_eq!(d.body["alert_id"], r.body["alert_id"]);
        assert!(d.body["attempts"].as_array().unwrap().is_empty());
    }
}

dual_test! {
    async fn members_personal_channels_are_included_on_request(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let (team_mail, team_channel) = verified_email(&app, &team).await;
        let member = app.add_member(&owner, Role::User).await;
        // add_member puts them in the owner's first team.
        let (member_mail, member_channel) = verified_email(&app, &personal(&member)).await;

        let r = app.post(&team.path("notify"), Some(&owner.token), down("db is down")).await;
        r.assert(202, None);
        assert_eq!(channel_ids(&r.body["deliveries"]), std::slice::from_ref(&team_channel));
        app.mail_to(&team_mail).await;

        let mut body = down("db is still down");
        body["include_members"] = json!(true);
        let r = app.post(&team.path("notify"), Some(&owner.token), body).await;
        r.assert(202, None);
        assert_eq!(channel_ids(&r.body["deliveries"]), [team_channel, member_channel]);
        let personal_delivery = &r.body["deliveries"][1]["channel"];
        assert_eq!(personal_delivery["owner_type"], "customer");
        assert_eq!(personal_delivery["owner_id"], member.customer_id.to_string());
        assert_eq!(app.mail_to(&member_mail).await.subject, "[DOWN] db is still down");
        app.mail_to(&team_mail).await;

        // A suspended member is not paged.
        app.put(&format!("/v1/members/{}/active", member.customer_id), &owner.token, json!({"is_active": false})).await.assert(200, None);
        let mut body = down("db is down again");
        body["include_members"] = json!(true);
        let r = app.post(&team.path("notify"), Some(&owner.token), body).await;
        r.assert(202, None);
        assert_eq!(r.body["reached"], 1);
    }
}

dual_test! {
    async fn nobody_to_reach_is_a_clear_unreachable_never_a_quiet_success(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let r = app.post(&team.path("notify"), Some(&owner.token), down("lonely")).await;
        r.assert(409, Some("UNREACHABLE"));
        assert!(r.body["detail"].as_str().unwrap().contains("no notification channels"), "{}", r.text);
        assert!(r.body["alert_id"].is_string());

        let (_, id) = verified_email(&app, &team).await;
        app.put(&team.path("notification-channel/enabled"), &team.token, json!({"priority": 1, "enabled": false})).await.assert(200, None);
        let r = app.post(&team.path("notify"), Some(&owner.token), down("still lonely")).await;
        r.assert(409, Some("UNREACHABLE"));
        assert_eq!(r.body["status"], 409);
        assert_eq!(channel_ids(&r.body["skipped"]), [id]);
        assert_eq!(r.body["skipped"][0]["reason"], "disabled");
        // The unreachable alert is on record, with its skipped delivery.
        assert_eq!(alert_rows(&app).await, 2);
        assert_eq!(alert_deliveries(&app).await, 1);
    }
}

dual_test! {
    async fn an_idempotency_key_answers_the_first_call_and_sends_nothing_again(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let (mail, _) = verified_email(&app, &team).await;
        let mut body = down("api is down");
        body["idempotency_key"] = json!("check-7-down-1");

        let first = app.post(&team.path("notify"), Some(&owner.token), body.clone()).await;
        first.assert(202, None);
        let again = app.call(reqwest::Method::POST, &team.path("notify"), Some(&owner.token), Some(body.clone())).await;
        again.assert(202, None);
        assert_eq!(again.body, first.body, "the replay is the first answer");
        assert_eq!(alert_rows(&app).await, 1);
        assert_eq!(alert_deliveries(&app).await, 1);
        assert_eq!(app.mail_to(&mail).await.subject, "[DOWN] api is down");

        // The same key for a different request is refused and changes nothing.
        body["title"] = json!("api is down again");
        let r = app.post(&team.path("notify"), Some(&owner.token), body.clone()).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["idempotency_key"]);
        assert_eq!(alert_rows(&app).await, 1);

        // After 24 hours the key is free again.
        on_db!(app, |conn| {
            let day_ago = roster_core::clock::now() - time::Duration::hours(25);
            sqlx::query("UPDATE alerts SET created_at = $1").bind(day_ago).execute(&mut conn).await.unwrap();
        });
        let r = app.post(&team.path("notify"), Some(&owner.token), body).await;
        r.assert(202, None);
        assert_ne!(r.body["alert_id"], first.body["alert_id"]);
        assert_eq!(alert_rows(&app).await, 2);
    }
}

dual_test! {
    async fn replays_carry_the_replayed_header_and_unreachable_replays_too(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let body = json!({"event": "up", "title": "back", "idempotency_key": "k-1"});
        let url = app.url(&team.path("notify"));
        let client = reqwest::Client::new();
        let send = || client.post(&url).bearer_auth(&owner.token).json(&body).send();
        let first = send().await.unwrap();
        assert_eq!(first.status(), 409);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let first: Value = first.json().await.unwrap();
        let again = send().await.unwrap();
        assert_eq!(again.status(), 409);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["content-type"], "application/problem+json");
        assert_eq!(again.json::<Value>().await.unwrap(), first);
    }
}

/// Quiet hours every day from an hour ago to two hours from now (UTC), so now is quiet whatever the time.
fn quiet_now() -> Value {
    let now = roster_core::clock::now();
    let hhmm = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let (start, end) = (hhmm(now - time::Duration::HOUR), hhmm(now + time::Duration::hours(2)));
    json!({"timezone": "UTC", "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": start, "end": end}]})
}

dual_test! {
    async fn quiet_hours_hold_low_urgency_alerts_to_personal_channels_only(app) {
        let owner = app.signup().await;
        let me = personal(&owner);
        let (_, channel) = verified_email(&app, &me).await;
        let (_, bypass) = verified_email(&app, &me).await;
        app.patch(&me.path("notification-channel"), &me.token, json!({"priority": 2, "bypass_quiet_hours": true})).await.assert(200, None);
        let now = roster_core::clock::now();
        app.put("/v1/customer/quiet-hours", &owner.token, quiet_now()).await.assert(200, None);

        let r = app.post(&me.path("notify"), Some(&owner.token), json!({"event": "up", "title": "all clear"})).await;
        r.assert(202, None);
        assert_eq!(r.body["urgency"], "low");
        assert_eq!(r.body["held"], 1);
        let deliveries = r.body["deliveries"].as_array().unwrap();
        assert_eq!(deliveries[0]["channel"]["channel_id"], channel);
        assert_eq!(deliveries[0]["status"], "held");
        let until = time_of(&deliveries[0]["held_until"]);
        assert!(until > now + time::Duration::HOUR && until <= now + time::Duration::hours(2), "held until the window ends: {until}");
        assert_eq!(deliveries[1]["channel"]["channel_id"], bypass);
        assert_eq!(deliveries[1]["status"], "queued");

        // The held delivery waits in the outbox until then.
        let id = deliveries[0]["delivery_id"].as_str().unwrap();
        let d = app.get(&format!("/v1/deliveries/{id}"), &owner.token).await;
        assert_eq!(d.body["status"], "pending");
        assert_eq!(time_of(&d.body["held_until"]), until);

        // A down alert is urgent: it goes out at once, quiet hours or not.
        let r = app.post(&me.path("notify"), Some(&owner.token), down("site down")).await;
        r.assert(202, None);
        assert_eq!((r.body["urgency"].as_str(), r.body["held"].as_i64()), (Some("high"), Some(0)));
        // So does a low-urgency one asked for as high.
        let r = app.post(&me.path("notify"), Some(&owner.token), json!({"event": "up", "urgency": "high", "title": "all clear"})).await;
        assert_eq!(r.body["held"], 0);
    }
}

dual_test! {
    async fn a_timed_mute_ends_by_itself(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let (mail, _) = verified_email(&app, &team).await;
        let later = (roster_core::clock::now() + time::Duration::hours(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
        app.patch(&team.path("notification-channel"), &team.token, json!({"priority": 1, "mute": later})).await.assert(200, None);
        let r = app.post(&team.path("notify"), Some(&owner.token), down("x")).await;
        r.assert(409, Some("UNREACHABLE"));
        assert_eq!(r.body["skipped"][0]["reason"], "muted");

        // The hour passes (moved back in the database: nothing to wait for).
        let past = (roster_core::clock::now() - time::Duration::minutes(1)).format(&time::format_description::well_known::Rfc3339).unwrap();
        on_db!(app, |conn| {
            sqlx::query("UPDATE notification_channels SET mute = $1").bind(&past).execute(&mut conn).await.unwrap();
        });
        let r = app.post(&team.path("notify"), Some(&owner.token), down("y")).await;
        r.assert(202, None);
        assert_eq!(app.mail_to(&mail).await.subject, "[DOWN] y");
    }
}

dual_test! {
    async fn bad_requests_are_refused_with_every_field_and_change_nothing(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        verified_email(&app, &team).await;
        let r = app.post(&team.path("notify"), Some(&owner.token), json!({})).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["event", "title"]);
        let r = app
            .post(&team.path("notify"), Some(&owner.token), json!({
                "event": "sideways", "urgency": "meh", "title": "x".repeat(201),
                "service_id": Uuid::now_v7(), "idempotency_key": "has space",
            }))
            .await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["event", "urgency", "title", "idempotency_key", "service_id"]);
        let r = app.post(&personal(&owner).path("notify"), Some(&owner.token), json!({"event": "down", "title": "x", "include_members": true})).await;
        assert_eq!(r.error_fields(), ["include_members"]);
        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "x", "role": "root"})).await;
        r.assert(422, None);
        app.post(&format!("/v1/team/{}/notify", Uuid::now_v7()), Some(&owner.token), down("x")).await.assert(404, Some("NOT_FOUND"));
        assert_eq!(alert_rows(&app).await, 0);
        assert_eq!(alert_deliveries(&app).await, 0);
    }
}

dual_test! {
    async fn a_service_names_the_alert_and_must_be_the_organizations(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let (mail, _) = verified_email(&app, &team).await;
        let r = app.post("/v1/service", Some(&owner.token), json!({"name": "checkout", "team_id": owner.team_id})).await;
        r.assert(201, None);
        let service = r.body["service_id"].as_str().unwrap().to_owned();
        let r = app
            .post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "503s", "service_id": service}))
            .await;
        r.assert(202, None);
        assert_eq!(r.body["service_id"], service);
        assert_eq!(app.mail_to(&mail).await.subject, "[DOWN] checkout: 503s");

        let other = app.signup().await;
        let r = app
            .post(&team_owner(&other).path("notify"), Some(&other.token), json!({"event": "down", "title": "x", "service_id": service}))
            .await;
        r.assert(422, None);
        assert_eq!(r.error_fields(), ["service_id"]);
    }
}

dual_test! {
    async fn only_managers_alert_other_people_and_nobody_alerts_another_organization(app) {
        let owner = app.signup().await;
        let user = app.add_member(&owner, Role::User).await;
        let colleague = app.add_member(&owner, Role::User).await;
        let manager = app.add_member(&owner, Role::Manager).await;
        verified_email(&app, &personal(&colleague)).await;
        let target = personal(&colleague).path("notify");
        app.post(&target, Some(&user.token), down("x")).await.assert(403, Some("FORBIDDEN"));
        app.post(&target, Some(&manager.token), down("x")).await.assert(202, None);
        app.post(&target, Some(&colleague.token), down("x")).await.assert(202, None);
        let viewer = app.add_member(&owner, Role::Viewer).await;
        app.post(&target, Some(&viewer.token), down("x")).await.assert(403, Some("FORBIDDEN"));

        let stranger = app.signup().await;
        app.post(&target, Some(&stranger.token), down("x")).await.assert(404, Some("NOT_FOUND"));
        app.post(&team_owner(&owner).path("notify"), Some(&stranger.token), down("x")).await.assert(404, Some("NOT_FOUND"));
    }
}

dual_test! {
    async fn reachability_tells_beforehand_what_notify_would_do(app) {
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let (_, plain) = verified_email(&app, &team).await;
        let (_, no_up) = verified_email(&app, &team).await;
        app.patch(&team.path("notification-channel"), &team.token, json!({"priority": 2, "suppress": {"up": true}})).await.assert(200, None);

        let r = app.get(&team.path("reachability"), &owner.token).await;
        r.assert(200, None);
        let events = r.body["events"].as_array().unwrap();
        let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(names, ["down", "up", "first", "diagnostic"]);
        let up = &events[1];
        assert_eq!((up["reachable"].as_bool(), up["reached"].as_i64()), (Some(true), Some(1)));
        assert_eq!(up["channels"][0]["channel"]["channel_id"], plain);
        assert_eq!(up["channels"][1]["channel"]["channel_id"], no_up);
        assert_eq!((up["channels"][1]["status"].as_str(), up["channels"][1]["reason"].as_str()), (Some("skipped"), Some("suppressed")));
        assert_eq!(events[0]["reached"], 2);

        // What notify then does matches, event by event.
        for e in events {
            let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": e["event"], "title": "t"})).await;
            r.assert(202, None);
            assert_eq!(r.body["reached"], e["reached"]);
        }
        let viewer = app.add_member(&owner, Role::Viewer).await;
        app.get(&team.path("reachability?include_members=true"), &viewer.token).await.assert(200, None);
        // Nobody is reachable: every event says so.
        let other = app.create_team(&owner.token, "empty").await;
        let r = app.get(&format!("/v1/team/{other}/reachability"), &owner.token).await;
        assert!(r.body["events"].as_array().unwrap().iter().all(|e| e["reachable"] == false && e["reached"] == 0));
        // A person's own reachability; someone else's only for admins.
        app.get(&personal(&viewer).path("reachability"), &viewer.token).await.assert(200, None);
        app.get(&personal(&owner).path("reachability"), &viewer.token).await.assert(403, Some("FORBIDDEN"));
        app.get(&personal(&viewer).path("reachability"), &owner.token).await.assert(200, None);
    }
}

/// An app whose webhooks and PagerDuty go to receivers on this machine.
async fn app_with_receivers(backend: Backend, pagerduty: &roster_testkit::HttpReceiver) -> Option<TestApp> {
    let base = pagerduty.url_for("");
    TestApp::spawn_with(backend, |c| {
        c.channels.allow_private_targets = true;
        c.channels.allow_http_webhooks = true;
        c.channels.pagerduty_base_url = Some(base.trim_end_matches('/').to_owned());
    })
    .await
}

/// The 6-digit code at the end of a text ("Your code: 123456").
fn code_in(text: &str) -> Option<String> {
    text.trim_end_matches(|c: char| !c.is_ascii_digit())
        .rsplit(|c: char| !c.is_ascii_digit())
        .next()
        .filter(|c| c.len() == 6)
        .map(str::to_owned)
}

dual_test! {
    async fn webhooks_and_pagerduty_carry_the_event(app) {
        let backend = app.backend;
        drop(app);
        let (hook, pagerduty) = (roster_testkit::HttpReceiver::start().await, roster_testkit::HttpReceiver::start().await);
        let Some(app) = app_with_receivers(backend, &pagerduty).await else { return };
        let owner = app.signup().await;
        let team = team_owner(&owner);
        let template = json!({"method": "POST", "body_template": "{\"text\": \"{{event}} {{service}}: {{title}}\"}", "headers": {"Content-Type": "application/json"}});
        let r = app.post(&team.path("notification-channel"), Some(&owner.token), json!({"type": "webhook", "value": hook.url_for("/alerts")})).await;
        r.assert(201, None);
        let code = hook.next_request(WAIT).await.unwrap().json().unwrap()["code"].as_str().unwrap().to_owned();
        app.patch(&team.path("notification-channel/verification"), &owner.token, json!({"priority": 1, "code": code})).await.assert(200, None);
        let key = "a".repeat(32);
        app.post(&team.path("notification-channel"), Some(&owner.token), json!({"type": "pagerduty", "value": key})).await.assert(201, None);
        let verification = pagerduty.next_request(WAIT).await.unwrap().json().unwrap();
        let code = code_in(verification["payload"]["summary"].as_str().unwrap()).unwrap();
        app.patch(&team.path("notification-channel/verification"), &owner.token, json!({"priority": 2, "code": code})).await.assert(200, None);
        let r = app.post("/v1/service", Some(&owner.token), json!({"name": "checkout", "team_id": owner.team_id})).await;
        let service = r.body["service_id"].as_str().unwrap().to_owned();

        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "down", "title": "503s", "service_id": service})).await;
        r.assert(202, None);
        let alert_id = r.body["alert_id"].as_str().unwrap().to_owned();
        let webhook_delivery = r.body["deliveries"][0]["delivery_id"].as_str().unwrap().to_owned();
        let request = hook.next_request(WAIT).await.expect("the alert reached the webhook");
        assert_eq!(request.header("webhook-id"), Some(webhook_delivery.as_str()), "the delivery id, for deduplication");
        let body = request.json().unwrap();
        assert_eq!((body["type"].as_str(), body["event"].as_str()), (Some("alert"), Some("down")));
        assert_eq!((body["alert_id"].as_str(), body["service_name"].as_str()), (Some(alert_id.as_str()), Some("checkout")));
        assert_eq!(body["title"], "[DOWN] checkout: 503s");
        let trigger = pagerduty.next_request(WAIT).await.expect("the alert reached PagerDuty").json().unwrap();
        assert_eq!((trigger["event_action"].as_str(), trigger["routing_key"].as_str()), (Some("trigger"), Some(key.as_str())));
        assert_eq!(trigger["payload"]["severity"], "critical");
        let dedup = trigger["dedup_key"].as_str().unwrap().to_owned();
        assert!(dedup.contains(&service), "keyed by the service: {dedup}");

        // The channel's own body template sees the event; `up` resolves the same PagerDuty incident.
        app.patch(&team.path("notification-channel"), &owner.token, json!({"priority": 1, "webhook": template})).await.assert(200, None);
        let r = app.post(&team.path("notify"), Some(&owner.token), json!({"event": "up", "title": "fine", "service_id": service})).await;
        r.assert(202, None);
        let body = hook.next_request(WAIT).await.unwrap().json().unwrap();
        assert_eq!(body["text"], "up checkout: [UP] checkout: fine");
        let resolve = pagerduty.next_request(WAIT).await.unwrap().json().unwrap();
        assert_eq!((resolve["event_action"].as_str(), resolve["dedup_key"].as_str()), (Some("resolve"), Some(dedup.as_str())));
    }
}
