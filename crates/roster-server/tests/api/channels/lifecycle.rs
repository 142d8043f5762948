//! Create, verify, test, disable; codes and their limits.

use super::*;

dual_test! {
    async fn an_email_channel_is_created_verified_tested_and_disabled(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let email = address();
            let c = add_email(&app, &o, &email).await;
            assert_eq!(c["type"], "email", "{}", o.kind);
            assert_eq!(c["value"], email);
            assert_eq!(c["priority"], 1);
            assert_eq!((c["enabled"].clone(), c["verified"].clone(), c["mute"].clone()), (json!(true), json!(false), json!(false)));
            assert_eq!(c["pending_value"], Value::Null);
            assert_eq!(c["suppress"], json!({"up": false, "down": false, "first": false, "diagnostic": false, "all": false}));
            let id: uuid::Uuid = c["id"].as_str().unwrap().parse().unwrap();

            // Unverified channels cannot be tested.
            let test = o.path("notification-channel/test");
            app.post(&test, Some(&o.token), json!({"priority": 1})).await.assert(409, Some("CONFLICT"));

            let verification = o.path("notification-channel/verification");
            let code = app.code_for(&email).await;
            let wrong = if code == "000000" { "111111" } else { "000000" };
            let r = app.patch(&verification, &o.token, json!({"priority": 1, "code": wrong})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["code"]);
            assert!(r.text.contains("invalid_code") && r.text.contains("attempt"), "{}", r.text);
            // A malformed code costs no attempt and names the field.
            let r = app.patch(&verification, &o.token, json!({"priority": 1, "code": "12ab"})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["code"]);
            app.patch(&verification, &o.token, json!({"priority": 9, "code": "123456"})).await.assert(404, Some("NOT_FOUND"));
            let r = app.patch(&verification, &o.token, json!({"priority": 1, "code": code})).await;
            r.assert(200, None);
            assert_eq!(r.body["verified"], true);
            assert!(r.body["verified_at"].is_string());
            app.patch(&verification, &o.token, json!({"priority": 1, "code": code})).await.assert(409, Some("CONFLICT"));
            let resend = o.path("notification-channel/verification/resend");
            app.post(&resend, Some(&o.token), json!({"priority": 1})).await.assert(409, Some("CONFLICT"));

            let r = app.post(&test, Some(&o.token), json!({"priority": 1})).await;
            r.assert(202, None);
            assert!(r.body["delivery_id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());
            let mail = app.mail_to(&email).await;
            assert!(mail.text.to_lowercase().contains("test"), "{}", mail.text);

            let enabled = o.path("notification-channel/enabled");
            let r = app.put(&enabled, &o.token, json!({"priority": 1, "enabled": false})).await;
            r.assert(200, None);
            assert_eq!(r.body["enabled"], false);
            app.post(&test, Some(&o.token), json!({"priority": 1})).await.assert(409, Some("CONFLICT"));
            app.put(&enabled, &o.token, json!({"priority": 1})).await.assert(422, Some("VALIDATION_ERROR"));
            app.put(&enabled, &o.token, json!({"priority": 1, "enabled": true})).await.assert(200, None);

            // A muted channel, like a disabled one, receives no test either; unmuted, it does again.
            let controls = o.path("notification-channel");
            app.patch(&controls, &o.token, json!({"priority": 1, "mute": true})).await.assert(200, None);
            let r = app.post(&test, Some(&o.token), json!({"priority": 1})).await;
            r.assert(409, Some("CONFLICT"));
            assert!(r.text.contains("muted"), "{}", r.text);
            app.patch(&controls, &o.token, json!({"priority": 1, "mute": false})).await.assert(200, None);
            app.post(&test, Some(&o.token), json!({"priority": 1})).await.assert(202, None);
            app.mail_to(&email).await;

            let trail: Vec<String> = app.audit_trail(id).await.into_iter().map(|(a, _)| a).collect();
            for action in ["channel.created", "channel.verified", "channel.tested", "channel.disabled", "channel.enabled"] {
                assert!(trail.iter().any(|a| a == action), "{action} missing from {trail:?}");
            }
            // Audit records carry no personal data.
            for (_, data) in app.audit_trail(id).await {
                assert!(!data.to_string().contains(&email), "{data}");
            }
        }
    }
}

dual_test! {
    async fn resending_replaces_the_code_and_is_limited_per_channel(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let email = address();
            add_email(&app, &o, &email).await;
            let first = app.code_for(&email).await;
            let resend = o.path("notification-channel/verification/resend");
            let r = app.post(&resend, Some(&o.token), json!({"priority": 1})).await;
            r.assert(202, None);
            assert!(r.body["expires_at"].is_string());
            let second = app.code_for(&email).await;
            if first != second {
                // The replaced code no longer works.
                let r = app
                    .patch(&o.path("notification-channel/verification"), &o.token, json!({"priority": 1, "code": first}))
                    .await;
                r.assert(422, Some("VALIDATION_ERROR"));
            }
            let limit = app.config.channels.code_sends_per_hour;
            for _ in 1..limit {
                app.post(&resend, Some(&o.token), json!({"priority": 1})).await.assert(202, None);
            }
            app.post(&resend, Some(&o.token), json!({"priority": 1})).await.assert(429, None);
            app.post(&resend, Some(&o.token), json!({})).await.assert(422, Some("VALIDATION_ERROR"));
            app.post(&resend, Some(&o.token), json!({"priority": 7})).await.assert(404, Some("NOT_FOUND"));
        }
    }
}

dual_test! {
    async fn a_new_value_waits_for_its_code_while_alerts_keep_the_old_one(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let (old, new, other) = (address(), address(), address());
            add_email(&app, &o, &old).await;
            verify_with_mail(&app, &o, 1, &old).await;
            add_email(&app, &o, &other).await;
            let put = o.path("notification-channel");
            app.put(&put, &o.token, json!({"priority": 1, "value": old})).await.assert(422, Some("VALIDATION_ERROR"));
            app.put(&put, &o.token, json!({"priority": 1, "value": other})).await.assert(409, Some("CONFLICT"));
            app.put(&put, &o.token, json!({"priority": 1, "value": "nope"})).await.assert(422, Some("VALIDATION_ERROR"));
            app.put(&put, &o.token, json!({"priority": 5, "value": new})).await.assert(404, Some("NOT_FOUND"));

            let r = app.put(&put, &o.token, json!({"priority": 1, "value": new})).await;
            r.assert(200, None);
            assert_eq!((r.body["value"].as_str(), r.body["pending_value"].as_str()), (Some(old.as_str()), Some(new.as_str())));
            assert_eq!(r.body["verified"], true);
            let listed = list(&app, &o).await;
            assert_eq!(listed[0]["value"], old.as_str());
            assert_eq!(listed[0]["pending_value"], new.as_str());

            // Meanwhile the channel still reaches the old, proven address.
            app.post(&o.path("notification-channel/test"), Some(&o.token), json!({"priority": 1})).await.assert(202, None);
            assert!(app.mail_to(&old).await.text.to_lowercase().contains("test"));

            let r = verify_with_mail(&app, &o, 1, &new).await;
            assert_eq!((r["value"].as_str(), r["pending_value"].clone()), (Some(new.as_str()), Value::Null));

            // A never-verified channel's value is simply replaced, and still needs verifying.
            let replaced = address();
            let r = app.put(&put, &o.token, json!({"priority": 2, "value": replaced})).await;
            r.assert(200, None);
            assert_eq!((r.body["value"].as_str(), r.body["pending_value"].clone()), (Some(replaced.as_str()), Value::Null));
            assert_eq!(r.body["verified"], false);
            verify_with_mail(&app, &o, 2, &replaced).await;
        }
    }
}

dual_test! {
    async fn controls_are_patched_and_validated(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            add_email(&app, &o, &address()).await;
            let patch = o.path("notification-channel");
            let r = app.patch(&patch, &o.token, json!({"priority": 1})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            let r = app.patch(&patch, &o.token, json!({"priority": 1, "mute": "2000-01-01T00:00:00Z"})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["mute"]);
            let r = app.patch(&patch, &o.token, json!({"priority": 1, "webhook": {"method": "PUT"}})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["webhook"]);
            let r = app
                .patch(&patch, &o.token, json!({"priority": 1, "mute": "2999-01-01T00:00:00Z", "suppress": {"up": true}, "bypass_quiet_hours": true}))
                .await;
            r.assert(200, None);
            assert_eq!((r.body["mute"].as_str(), r.body["muted"].clone()), (Some("2999-01-01T00:00:00Z"), json!(true)));
            assert_eq!(r.body["suppress"]["up"], true);
            assert_eq!(r.body["bypass_quiet_hours"], true);
            let r = app.patch(&patch, &o.token, json!({"priority": 1, "mute": false})).await;
            r.assert(200, None);
            assert_eq!((r.body["mute"].clone(), r.body["muted"].clone(), r.body["suppress"]["up"].clone()), (json!(false), json!(false), json!(true)));
        }
    }
}

dual_test! {
    async fn channels_created_at_once_get_distinct_priorities_within_the_plan(app) {
        let acc = app.signup().await;
        let o = &owners(&acc)[1];
        // The free plan allows 10 channels per owner; 12 arrive at the same moment.
        let attempts = (0..12).map(|_| {
            let (app, o) = (&app, o.clone());
            async move { app.post(&o.path("notification-channel"), Some(&o.token), json!({"type": "email", "value": address()})).await }
        });
        let answers = futures::future::join_all(attempts).await;
        let created = answers.iter().filter(|r| r.status == 201).count();
        let refused = answers.iter().filter(|r| r.status == 403 && r.code() == "PLAN_LIMIT_REACHED").count();
        assert_eq!((created, refused), (10, 2), "{:?}", answers.iter().map(|r| &r.text).collect::<Vec<_>>());
        let mut priorities: Vec<i64> = list(&app, o).await.iter().map(|c| c["priority"].as_i64().unwrap()).collect();
        priorities.sort();
        assert_eq!(priorities, (1..=10).collect::<Vec<_>>());
    }
}

dual_test! {
    async fn writes_made_at_once_all_land_with_their_records(app) {
        // On SQLite these share grouped transactions (each write in a savepoint of
        // its own): a failing one must fail alone, and every answered one must stay.
        let acc = app.signup().await;
        let o = &owners(&acc)[0];
        let taken = address();
        add_email(&app, o, &taken).await;
        let renames = (0..24).map(|i| {
            let (app, token) = (&app, acc.token.clone());
            async move { app.patch("/v1/customer", &token, json!({ "name": format!("Name{i}") })).await }
        });
        let creates = (0..8).map(|i| {
            let (app, o) = (&app, o.clone());
            let value = if i % 2 == 0 { taken.clone() } else { address() };
            async move { app.post(&o.path("notification-channel"), Some(&o.token), json!({"type": "email", "value": value})).await }
        });
        let (renamed, created) =
            futures::future::join(futures::future::join_all(renames), futures::future::join_all(creates)).await;
        for r in &renamed {
            r.assert(200, None);
        }
        let answers: Vec<u16> = created.iter().map(|r| r.status.as_u16()).collect();
        assert_eq!(answers.iter().filter(|s| **s == 201).count(), 4, "{answers:?}");
        assert_eq!(answers.iter().filter(|s| **s == 409).count(), 4, "the duplicates are refused: {answers:?}");

        let events = app.store.audit_events_for_target(acc.customer_id.0).await.unwrap();
        let updates = events.iter().filter(|e| e.action == "customer.updated").count();
        assert_eq!(updates, 24, "every answered change has its record");
        let name = app.get("/v1/customer", &acc.token).await.body["customer"]["name"].clone();
        assert!((0..24).any(|i| name == format!("Name{i}")), "{name}");
        let mut priorities: Vec<i64> = list(&app, o).await.iter().map(|c| c["priority"].as_i64().unwrap()).collect();
        priorities.sort();
        assert_eq!(priorities, [1, 2, 3, 4, 5], "the refused creations left nothing");

        let deletes = (2..=5).map(|p| {
            let (app, path) = (&app, o.path(&format!("notification-channel?priority={p}")));
            async move { app.delete(&path, &o.token, None).await }
        });
        for r in futures::future::join_all(deletes).await {
            r.assert(200, None);
        }
        let left: Vec<String> = list(&app, o).await.iter().map(|c| c["value"].as_str().unwrap().to_owned()).collect();
        assert_eq!(left, [taken]);
    }
}
