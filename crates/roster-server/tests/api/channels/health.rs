//! A channel's fallback, and the system's disable shown apart from the
//! owner's switch, cleared when the owner switches the channel on or proves
//! a new value.

use super::*;

fn id_of(channel: &Value) -> uuid::Uuid {
    channel["id"].as_str().unwrap().parse().unwrap()
}

/// Marks channel `id` as the delivery worker does when it gives up on it.
async fn disable_by_system(app: &TestApp, id: uuid::Uuid, reason: &str) {
    let now = roster_core::clock::now();
    on_db!(app, |conn| {
        sqlx::query(
            "UPDATE notification_channels SET disabled_by_system_at = $1, disabled_reason = $2, failing_since = $3
             WHERE id = $4",
        )
        .bind(now)
        .bind(reason)
        .bind(now - time::Duration::DAY)
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    })
}

dual_test! {
    async fn a_fallback_is_another_channel_of_the_same_owner_kept_by_id(app) {
        let acc = app.signup().await;
        let [me, team] = owners(&acc);
        let (a, b) = (add_email(&app, &me, &address()).await, add_email(&app, &me, &address()).await);
        let theirs = add_email(&app, &team, &address()).await;
        assert_eq!(a["fallback_channel_id"], Value::Null);
        let controls = me.path("notification-channel");
        let set = |fallback: Value| json!({"priority": 1, "fallback_channel_id": fallback});

        let r = app.patch(&controls, &me.token, set(b["id"].clone())).await;
        r.assert(200, None);
        assert_eq!(r.body["fallback_channel_id"], b["id"]);
        // Other controls leave it alone, and it follows the channel through a reorder.
        app.patch(&controls, &me.token, json!({"priority": 1, "mute": true})).await.assert(200, None);
        app.put(&me.path("notification-channels/order"), &me.token, json!({"priorities": [2, 1]})).await.assert(200, None);
        let listed = list(&app, &me).await;
        assert_eq!((listed[1]["id"].clone(), listed[1]["fallback_channel_id"].clone()), (a["id"].clone(), b["id"].clone()));

        for (bad, code) in [
            (a["id"].clone(), "self_reference"),
            (theirs["id"].clone(), "not_found"),
            (json!(uuid::Uuid::now_v7()), "not_found"),
        ] {
            let r = app.patch(&controls, &me.token, json!({"priority": 2, "fallback_channel_id": bad})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["fallback_channel_id"], "{}", r.text);
            assert!(r.text.contains(code), "{}", r.text);
        }
        let r = app.patch(&controls, &me.token, json!({"priority": 2, "fallback_channel_id": "channel two"})).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["fallback_channel_id"], "{}", r.text);
        assert_eq!(list(&app, &me).await[1]["fallback_channel_id"], b["id"], "refusals change nothing");

        // `null` clears it; deleting the fallback clears it too.
        let r = app.patch(&controls, &me.token, json!({"priority": 2, "fallback_channel_id": null})).await;
        r.assert(200, None);
        assert_eq!(r.body["fallback_channel_id"], Value::Null);
        app.patch(&controls, &me.token, json!({"priority": 2, "fallback_channel_id": b["id"]})).await.assert(200, None);
        app.delete(&me.path("notification-channel?priority=1"), &me.token, None).await.assert(200, None);
        let listed = list(&app, &me).await;
        assert_eq!((listed.len(), listed[0]["fallback_channel_id"].clone()), (1, Value::Null));

        let trail = app.audit_trail(id_of(&a)).await;
        assert!(trail.iter().any(|(action, data)| action == "channel.updated" && data["fallback_channel_id"] == b["id"]), "{trail:?}");
    }
}

dual_test! {
    async fn a_system_disable_shows_why_until_the_owner_switches_the_channel_on_or_proves_a_new_value(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let email = address();
            let c = add_email(&app, &o, &email).await;
            verify_with_mail(&app, &o, 1, &email).await;
            assert_eq!((c["disabled_by_system"].clone(), c["failing_since"].clone()), (Value::Null, Value::Null));
            let id = id_of(&c);

            disable_by_system(&app, id, "the receiver answered 410 Gone").await;
            let shown = &list(&app, &o).await[0];
            assert_eq!(shown["disabled_by_system"]["reason"], "the receiver answered 410 Gone", "{}", o.kind);
            time_of(&shown["disabled_by_system"]["at"]);
            time_of(&shown["failing_since"]);
            // The owner's own switch is apart from it: still on, and switching it off keeps the reason.
            assert_eq!(shown["enabled"], true);
            let enabled = o.path("notification-channel/enabled");
            let r = app.put(&enabled, &o.token, json!({"priority": 1, "enabled": false})).await;
            r.assert(200, None);
            assert!(r.body["disabled_by_system"].is_object(), "{}", r.text);

            let r = app.put(&enabled, &o.token, json!({"priority": 1, "enabled": true})).await;
            r.assert(200, None);
            assert_eq!((r.body["disabled_by_system"].clone(), r.body["failing_since"].clone()), (Value::Null, Value::Null));
            let trail = app.audit_trail(id).await;
            let (_, data) = trail.iter().rev().find(|(a, _)| a == "channel.enabled").unwrap();
            assert_eq!(data["cleared_system_disable"], true);

            // A new value, once its code comes back, starts afresh too; a pending one does not.
            disable_by_system(&app, id, "failed every delivery for 24 hours").await;
            let new = address();
            let r = app.put(&o.path("notification-channel"), &o.token, json!({"priority": 1, "value": new})).await;
            r.assert(200, None);
            assert!(r.body["disabled_by_system"].is_object());
            let r = verify_with_mail(&app, &o, 1, &new).await;
            assert_eq!((r["disabled_by_system"].clone(), r["failing_since"].clone()), (Value::Null, Value::Null));
        }
    }
}
