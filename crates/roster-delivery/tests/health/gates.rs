//! Before a send: alerts for channels switched off since are skipped, alerts
//! too old for their transport expire, and a destination's quota delays
//! messages (never drops them).

use crate::*;
use roster_testkit::{Behavior, HttpReceiver};
use std::time::Duration;

both! {
    async fn alerts_for_a_channel_switched_off_since_are_skipped_but_requests_go_out(db) {
        let receiver = HttpReceiver::start().await;
        let a = db.channel(Owner::Team(db.team), "webhook", &receiver.url_for("/a")).await;
        let w = worker(&db, &[0, 0], DeliveryPolicy::default());

        // Switched off by its owner after the alert was queued.
        let alert = db.queue_alert(a, None, "down").await;
        db.set_channel(a, "enabled", false).await;
        // A code is the owner's own request: it goes out whatever the switch says.
        let code = db.queue_channel_message(a, "verification").await;
        assert_eq!(w.run_once().await.unwrap(), 2);
        let m = db.message(alert).await;
        assert_eq!((m.status.as_str(), m.skip_reason.as_deref(), m.attempts), ("skipped", Some("disabled"), 0));
        assert!(db.attempts(alert).await.is_empty(), "a skip is not an attempt");
        assert_eq!(db.message(code).await.status, "sent");

        db.set_channel(a, "enabled", true).await;
        db.set_mute(a, "true").await;
        let alert = db.queue_alert(a, None, "down").await;
        let test = db.queue_channel_message(a, "test").await;
        assert_eq!(w.run_once().await.unwrap(), 2);
        assert_eq!(db.message(alert).await.skip_reason.as_deref(), Some("muted"));
        assert_eq!(db.message(test).await.status, "sent");

        // A mute that has run out no longer holds anything back.
        db.set_mute(a, "2001-01-01T00:00:00Z").await;
        let alert = db.queue_alert(a, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(alert).await.status, "sent");

        db.set_mute(a, "false").await;
        db.set_channel(a, "disabled_by_system_at", Some(clock::now())).await;
        let alert = db.queue_alert(a, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(alert).await.skip_reason.as_deref(), Some("disabled_by_system"));

        // A deleted channel keeps its history; its queued alerts go nowhere.
        db.set_channel(a, "disabled_by_system_at", None::<OffsetDateTime>).await;
        let alert = db.queue_alert(a, None, "down").await;
        db.exec("DELETE FROM notification_channels WHERE owner_id IN (SELECT id FROM teams WHERE name = 'Ops')").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let m = db.message(alert).await;
        assert_eq!((m.status.as_str(), m.skip_reason.as_deref(), m.channel_id), ("skipped", Some("deleted"), None));

        assert_eq!(receiver.requests().len(), 3, "the code, the test and the alert after the mute ended");
        let counts = db.store.outbox_counts().await.unwrap();
        assert_eq!((counts.skipped, counts.sent, counts.failed, counts.unsettled()), (4, 3, 0, 0));
    }
}

/// The default policy with webhook alerts capped at one hour.
fn capped() -> DeliveryPolicy {
    let mut policy = DeliveryPolicy::default();
    policy.max_age.webhook = Some(Duration::from_secs(3600));
    policy
}

both! {
    async fn an_alert_too_old_for_its_transport_expires_instead_of_going_out(db) {
        let receiver = HttpReceiver::start().await;
        let a = db.channel(Owner::Team(db.team), "webhook", &receiver.url_for("/a")).await;
        let mail = db.channel(Owner::Team(db.team), "email", "ops@example.com").await;
        let w = worker(&db, &[0, 0], capped());
        let two_hours_ago = clock::now() - time::Duration::hours(2);

        let old = db.queue_alert(a, None, "down").await;
        db.set_created(old, two_hours_ago).await;
        // Email has no cap: a late email is still a record.
        let old_mail = db.queue_alert(mail, None, "down").await;
        db.set_created(old_mail, clock::now() - time::Duration::days(2)).await;
        // A verification code is not an alert: no cap.
        let code = db.queue_channel_message(a, "verification").await;
        db.set_created(code, two_hours_ago).await;
        assert_eq!(w.run_once().await.unwrap(), 3);

        let m = db.message(old).await;
        assert_eq!((m.status.as_str(), m.last_error.as_deref()), ("failed", Some("expired")));
        assert_eq!(db.attempts(old).await, [(1, "failed".into(), None, Some("expired".into()))]);
        assert_eq!(db.message(old_mail).await.status, "sent");
        assert_eq!(db.message(code).await.status, "sent");
        assert_eq!(receiver.requests().len(), 1, "only the code went to the webhook");
        let h = db.store.channel_health(a).await.unwrap().unwrap();
        assert_eq!(h.failing_since, None, "an expired alert says nothing about the receiver");

        // An alert held for quiet hours counts its age from the end of the hold.
        let held = db.queue_alert(a, None, "up").await;
        db.set_created(held, two_hours_ago).await;
        db.set_held_until(held, clock::now() - time::Duration::minutes(5)).await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(held).await.status, "sent");
    }
}

both! {
    async fn a_retry_that_would_come_after_the_cap_gives_up_at_once(db) {
        let receiver = HttpReceiver::start().await;
        receiver.respond_with(Behavior::Status(503));
        let a = db.channel(Owner::Team(db.team), "webhook", &receiver.url_for("/a")).await;

        // The next try would be in two hours, past the one-hour cap.
        let w = worker(&db, &[0, 7200], capped());
        let id = db.queue_alert(a, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let m = db.message(id).await;
        assert_eq!((m.status.as_str(), m.last_error.as_deref()), ("failed", Some("expired")));
        assert_eq!(db.attempts(id).await, [(1, "failed".into(), Some(503), Some("expired".into()))]);

        // Within the cap it is retried as usual.
        let w = worker(&db, &[0, 600], capped());
        let id = db.queue_alert(a, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let m = db.message(id).await;
        assert_eq!((m.status.as_str(), m.last_error.as_deref()), ("pending", Some("server_error")));
        assert_eq!(db.attempts(id).await, [(1, "retry".into(), Some(503), Some("server_error".into()))]);
    }
}

both! {
    async fn a_destination_over_its_quota_waits_for_the_next_window(db) {
        let receiver = HttpReceiver::start().await;
        let a = db.channel(Owner::Team(db.team), "webhook", &receiver.url_for("/a")).await;
        let b = db.channel(Owner::Team(db.team), "webhook", &receiver.url_for("/b")).await;
        let mut policy = DeliveryPolicy::default();
        policy.quota.webhook = Some(2);
        let w = worker(&db, &[0], policy.clone());
        let ids = [
            db.queue_alert(a, None, "down").await,
            db.queue_alert(a, None, "down").await,
            db.queue_alert(a, None, "down").await,
        ];
        let before = clock::now();
        assert_eq!(w.run_once().await.unwrap(), 3);
        let mut waiting = Vec::new();
        for id in ids {
            let m = db.message(id).await;
            match m.status.as_str() {
                "sent" => {}
                "pending" => waiting.push((id, m)),
                other => panic!("{other}: {m:?}"),
            }
        }
        assert_eq!(waiting.len(), 1, "two sent, one delayed");
        let (late, m) = &waiting[0];
        assert_eq!(m.attempts, 0, "the delay does not use up an attempt");
        assert!(db.attempts(*late).await.is_empty());
        assert!(m.next_attempt_at > before && m.next_attempt_at <= clock::now() + time::Duration::seconds(60), "{m:?}");
        assert_eq!(receiver.requests().len(), 2);

        // Another destination has its own quota.
        db.queue_alert(b, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(receiver.requests().len(), 3);

        // The counters live in the database: another worker sees the window used up too.
        let other = worker(&db, &[0], policy);
        db.make_due(*late).await;
        assert_eq!(other.run_once().await.unwrap(), 1);
        assert_eq!(db.message(*late).await.status, "pending");
        assert_eq!(receiver.requests().len(), 3);

        // A new window: it goes out, with its one attempt intact.
        db.exec("DELETE FROM rate_limits").await;
        db.make_due(*late).await;
        assert_eq!(other.run_once().await.unwrap(), 1);
        let m = db.message(*late).await;
        assert_eq!((m.status.as_str(), m.attempts), ("sent", 1));
        assert_eq!(receiver.requests().len(), 4);
        assert_eq!(db.store.outbox_counts().await.unwrap().failed, 0, "a quota never fails a message");
    }
}
