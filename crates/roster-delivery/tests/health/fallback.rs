//! Fallback channels: an alert that fails for good through one channel is
//! queued once through its fallback, in the same transaction, and a fallback
//! delivery does not chain further.

use crate::*;
use roster_testkit::{Behavior, HttpReceiver};

both! {
    async fn an_alert_that_fails_for_good_goes_through_the_fallback_with_its_settings(db) {
        let (primary, backup) = (HttpReceiver::start().await, HttpReceiver::start().await);
        primary.respond_with(Behavior::Status(500));
        let team = Owner::Team(db.team);
        let a = db.channel(team, "webhook", &primary.url_for("/a")).await;
        let b = db.channel(team, "webhook", &backup.url_for("/b")).await;
        db.set_webhook_config(a, json!({ "method": "POST", "headers": { "X-Channel": "primary" } })).await;
        db.set_webhook_config(b, json!({ "method": "PUT", "headers": { "X-Channel": "fallback" }, "query": { "via": "fallback" } })).await;
        db.set_channel(a, "fallback_channel_id", Some(b)).await;
        let alert = db.alert_row("down").await;
        let w = worker(&db, &[0, 0], DeliveryPolicy::default());

        let id = db.queue_alert(a, Some(alert), "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(id).await.status, "pending", "a retry is not the end");
        assert!(db.messages_through(b).await.is_empty(), "no fallback before the last retry");
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(id).await.status, "failed");

        let through_b = db.messages_through(b).await;
        assert_eq!(through_b.len(), 1, "{through_b:?}");
        let f = &through_b[0];
        assert_eq!((f.kind.as_str(), f.template.as_str(), f.status.as_str()), ("alert", "alert", "pending"));
        assert_eq!((f.alert_id, f.fallback_of), (Some(alert), Some(id.0)));
        assert_eq!((f.transport.as_str(), f.recipient.clone()), ("webhook", backup.url_for("/b")));
        assert_eq!(f.data["webhook"]["method"], "PUT", "the fallback's own request settings: {:?}", f.data);
        assert_eq!(f.data["channel_id"], b.to_string());
        let original = db.message(id).await;
        assert_eq!((f.data["title"].clone(), f.data["event"].clone()), (original.data["title"].clone(), json!("down")));

        assert_eq!(w.run_once().await.unwrap(), 1);
        let request = backup.next_request(WAIT).await.expect("the fallback was sent");
        assert_eq!((request.method.as_str(), request.path.as_str()), ("PUT", "/b"));
        assert_eq!(request.header("x-channel"), Some("fallback"));
        assert_eq!(request.query.as_deref(), Some("via=fallback"));
        assert_eq!(db.message(MessageId(f.id)).await.status, "sent");
        assert_eq!(primary.requests().len(), 2);
    }
}

both! {
    async fn a_fallback_does_not_chain_and_needs_a_usable_channel(db) {
        let (bad, good) = (HttpReceiver::start().await, HttpReceiver::start().await);
        bad.respond_with(Behavior::Status(400));
        let team = Owner::Team(db.team);
        let w = worker(&db, &[0], DeliveryPolicy::default());

        // a → b → c: b fails too, and c is not tried.
        let a = db.channel(team, "webhook", &bad.url_for("/a")).await;
        let b = db.channel(team, "webhook", &bad.url_for("/b")).await;
        let c = db.channel(team, "webhook", &good.url_for("/c")).await;
        db.set_channel(a, "fallback_channel_id", Some(b)).await;
        db.set_channel(b, "fallback_channel_id", Some(c)).await;
        db.queue_alert(a, None, "down").await;
        assert_eq!(drain(&w).await, 2, "the alert and its one fallback");
        let through_b = db.messages_through(b).await;
        assert_eq!((through_b.len(), through_b[0].status.as_str()), (1, "failed"));
        assert!(db.messages_through(c).await.is_empty(), "a fallback does not chain");

        // Not through a muted fallback, nor one switched off.
        db.set_mute(c, "true").await;
        let d = db.channel(team, "webhook", &bad.url_for("/d")).await;
        db.set_channel(d, "fallback_channel_id", Some(c)).await;
        db.queue_alert(d, None, "down").await;
        assert_eq!(drain(&w).await, 1);
        assert!(db.messages_through(c).await.is_empty(), "muted");
        db.set_mute(c, "false").await;
        db.set_channel(c, "enabled", false).await;
        db.queue_alert(d, None, "down").await;
        assert_eq!(drain(&w).await, 1);
        assert!(db.messages_through(c).await.is_empty(), "switched off");

        // A channel that suppresses every event is kept for escalation: a fallback still reaches it.
        db.set_channel(c, "enabled", true).await;
        db.set_channel(c, "suppress_all", true).await;
        db.queue_alert(d, None, "down").await;
        assert_eq!(drain(&w).await, 2);
        assert_eq!(db.messages_through(c).await.len(), 1, "the escalation channel was reached");
        db.set_channel(c, "suppress_all", false).await;

        // Not when the fallback already carries the same alert (notify sent it there too).
        let alert = db.alert_row("down").await;
        db.queue_alert(c, Some(alert), "down").await;
        db.queue_alert(d, Some(alert), "down").await;
        assert_eq!(drain(&w).await, 2);
        let copies: Vec<_> = db.messages_through(c).await.into_iter().filter(|m| m.alert_id == Some(alert)).collect();
        assert_eq!(copies.len(), 1, "{copies:?}");
        assert_eq!(copies[0].fallback_of, None);

        // A channel of another owner is never a fallback.
        let mine = db.channel(Owner::Customer(db.root), "webhook", &good.url_for("/mine")).await;
        db.set_channel(d, "fallback_channel_id", Some(mine)).await;
        db.queue_alert(d, None, "down").await;
        assert_eq!(drain(&w).await, 1);
        assert!(db.messages_through(mine).await.is_empty());

        // Tests and codes are not alerts: no fallback.
        db.set_channel(d, "fallback_channel_id", Some(c)).await;
        let before = db.messages_through(c).await.len();
        db.queue_channel_message(d, "test").await;
        db.queue_channel_message(d, "verification").await;
        assert_eq!(drain(&w).await, 2);
        assert_eq!(db.messages_through(c).await.len(), before);
    }
}

both! {
    async fn an_expired_or_gone_alert_falls_back_within_the_alerts_age(db) {
        let gone = HttpReceiver::start().await;
        gone.respond_with(Behavior::Status(410));
        let team = Owner::Team(db.team);
        let a = db.channel(team, "webhook", &gone.url_for("/a")).await;
        let b = db.channel(team, "email", "ops@example.com").await;
        db.set_channel(a, "fallback_channel_id", Some(b)).await;
        let mut policy = DeliveryPolicy::default();
        policy.max_age.webhook = Some(std::time::Duration::from_secs(10 * 60));
        policy.max_age.email = Some(std::time::Duration::from_secs(90 * 60));
        let w = worker(&db, &[0, 0], policy);

        // An hour old: too old for the webhook, still young enough for email.
        let old = db.queue_alert(a, None, "down").await;
        db.set_created(old, clock::now() - time::Duration::hours(1)).await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(old).await.last_error.as_deref(), Some("expired"));
        let through_b = db.messages_through(b).await;
        assert_eq!(through_b.len(), 1);
        assert_eq!((through_b[0].fallback_of, through_b[0].recipient.as_str()), (Some(old.0), "ops@example.com"));
        assert!(through_b[0].data["webhook"].is_null());
        assert!(gone.requests().is_empty());
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.messages_through(b).await[0].status, "sent");

        // Two hours old: its fallback is as old as the alert, too old for email as well.
        let older = db.queue_alert(a, None, "down").await;
        db.set_created(older, clock::now() - time::Duration::hours(2)).await;
        assert_eq!(drain(&w).await, 2);
        let fallback = db.messages_through(b).await.into_iter().find(|m| m.fallback_of == Some(older.0)).unwrap();
        assert_eq!((fallback.status.as_str(), fallback.last_error.as_deref()), ("failed", Some("expired")));
        assert!(db.messages_through(a).await.iter().all(|m| m.fallback_of.is_none()), "no fallback of a fallback");

        // A 410 is a permanent failure: the alert falls back, and the notice goes the same way.
        let now_gone = db.queue_alert(a, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(now_gone).await.last_error.as_deref(), Some("gone"));
        let fresh: Vec<Message> = db.messages_through(b).await.into_iter().filter(|m| m.status == "pending").collect();
        let mut kinds: Vec<(&str, Option<Uuid>)> = fresh.iter().map(|m| (m.kind.as_str(), m.fallback_of)).collect();
        kinds.sort();
        assert_eq!(kinds, [("alert", Some(now_gone.0)), ("notice", None)], "{fresh:?}");
        assert_eq!(drain(&w).await, 2);
        assert_eq!(db.store.outbox_counts().await.unwrap().unsettled(), 0);
    }
}
