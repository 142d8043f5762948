//! `disabled_by_system`: a receiver that answers 410, or a channel that has
//! failed every alert for the configured period, is turned off with its
//! reason, and its owner is told through their other usable channels or by
//! email.

use crate::*;
use roster_testkit::{Behavior, HttpReceiver};
use std::time::Duration;

const GONE: &str = "the receiver answered 410 Gone";

both! {
    async fn a_410_turns_a_team_channel_off_and_the_team_hears_of_it_elsewhere(db) {
        let (gone, other) = (HttpReceiver::start().await, HttpReceiver::start().await);
        gone.respond_with(Behavior::Status(410));
        let team = Owner::Team(db.team);
        let a = db.channel(team, "webhook", &gone.url_for("/a")).await;
        let b = db.channel(team, "webhook", &other.url_for("/b")).await;
        // Neither a muted nor an unverified channel carries the notice.
        let muted = db.channel(team, "webhook", &other.url_for("/muted")).await;
        db.set_mute(muted, "true").await;
        let unverified = db.channel(team, "webhook", &other.url_for("/unverified")).await;
        db.set_channel(unverified, "verified_at", None::<OffsetDateTime>).await;
        let w = worker(&db, &[0, 0, 0], DeliveryPolicy::default());

        let id = db.queue_alert(a, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let m = db.message(id).await;
        assert_eq!((m.status.as_str(), m.last_error.as_deref()), ("failed", Some("gone")), "a 410 is not retried");
        assert_eq!(db.attempts(id).await, [(1, "failed".into(), Some(410), Some("gone".into()))]);
        let health = db.store.channel_health(a).await.unwrap().unwrap();
        assert!(health.disabled_by_system_at.is_some());
        assert_eq!(health.disabled_reason.as_deref(), Some(GONE));

        let notices = db.messages_through(b).await;
        assert_eq!(notices.len(), 1, "{notices:?}");
        let n = &notices[0];
        assert_eq!((n.kind.as_str(), n.template.as_str(), n.status.as_str()), ("notice", "channel_disabled", "pending"));
        assert_eq!((n.data["reason"].as_str(), n.data["owner_name"].as_str()), (Some(GONE), Some("Ops")));
        let label = n.data["channel_label"].as_str().unwrap();
        assert!(label.starts_with("the webhook channel ") && label.ends_with(" of the team Ops"), "{label}");
        assert_eq!(n.data["channel_id"], b.to_string());
        assert!(db.messages_through(muted).await.is_empty() && db.messages_through(unverified).await.is_empty());
        assert!(db.notice_emails().await.is_empty(), "the team has another usable channel: no email");
        let audit = db.audit_actions(a).await;
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!((audit[0].0.as_str(), audit[0].1), ("channel.disabled_by_system", None));
        assert_eq!((audit[0].2["reason"].as_str(), audit[0].2["notices"].as_i64()), (Some(GONE), Some(1)));

        // The notice goes out like any message, with its own id.
        assert_eq!(w.run_once().await.unwrap(), 1);
        let request = other.next_request(WAIT).await.expect("the notice was sent");
        assert_eq!(request.path, "/b");
        assert_eq!(request.header("webhook-id"), Some(n.id.to_string().as_str()));
        assert_eq!(db.message(MessageId(n.id)).await.status, "sent");

        // Later alerts through the channel are skipped, and nobody is told twice.
        let next = db.queue_alert(a, None, "up").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let m = db.message(next).await;
        assert_eq!((m.status.as_str(), m.skip_reason.as_deref(), m.attempts), ("skipped", Some("disabled_by_system"), 0));
        assert!(db.attempts(next).await.is_empty());
        assert_eq!(gone.requests().len(), 1);
        assert_eq!(db.messages_through(b).await.len(), 1);
    }
}

both! {
    async fn a_410_on_a_verification_counts_but_not_on_a_test(db) {
        let gone = HttpReceiver::start().await;
        gone.respond_with(Behavior::Status(410));
        let personal = db.channel(Owner::Customer(db.root), "webhook", &gone.url_for("/mine")).await;
        let w = worker(&db, &[0, 0, 0], DeliveryPolicy::default());

        let test = db.queue_channel_message(personal, "test").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(test).await.status, "failed");
        let health = db.store.channel_health(personal).await.unwrap().unwrap();
        assert_eq!((health.disabled_by_system_at, health.failing_since), (None, None), "a test never counts");

        let code = db.queue_channel_message(personal, "verification").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        assert_eq!(db.message(code).await.status, "failed");
        let health = db.store.channel_health(personal).await.unwrap().unwrap();
        assert_eq!(health.disabled_reason.as_deref(), Some(GONE));

        // Ada has no other channel: her login address hears of it.
        let emails = db.notice_emails().await;
        assert_eq!(emails.len(), 1, "{emails:?}");
        let e = &emails[0];
        assert_eq!((e.kind.as_str(), e.transport.as_str()), ("account", "email"));
        assert_eq!(e.recipient, db.email_of(db.root).await);
        assert_eq!(e.customer_id, Some(db.root));
        assert_eq!(e.data["owner_name"], "Ada");
        let label = e.data["channel_label"].as_str().unwrap();
        assert!(label.starts_with("the webhook channel ") && !label.contains("team"), "{label}");
        assert_eq!(drain(&w).await, 1, "the email is sent");
        assert_eq!(db.store.outbox_counts().await.unwrap().sent, 1);
    }
}

both! {
    async fn a_team_without_another_channel_tells_its_managers_or_else_the_admins(db) {
        let gone = HttpReceiver::start().await;
        gone.respond_with(Behavior::Status(410));
        let ops = db.channel(Owner::Team(db.team), "webhook", &gone.url_for("/ops")).await;
        // The team's other channel is switched off by its owner: it carries nothing.
        let off = db.channel(Owner::Team(db.team), "email", "ops@example.com").await;
        db.set_channel(off, "enabled", false).await;
        let w = worker(&db, &[0], DeliveryPolicy::default());
        db.queue_alert(ops, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let emails = db.notice_emails().await;
        let to: Vec<&str> = emails.iter().map(|e| e.recipient.as_str()).collect();
        assert_eq!(to, [db.email_of(db.manager).await.as_str()], "the manager, not the member, not the owner outside the team");
        assert_eq!(emails[0].data["owner_name"], "Grace");
        assert!(emails[0].data["channel_label"].as_str().unwrap().ends_with(" of the team Ops"));
        assert!(db.messages_through(off).await.is_empty());

        // A team with no manager among its members: the organization's admins and owners.
        let infra = db.team("Infra", &[db.member]).await;
        let admin = db.person("Alan", "admin", false).await;
        let suspended = db.person("Eve", "admin", false).await;
        db.exec("UPDATE customers SET status = 'suspended' WHERE name = 'Eve' AND role = 'admin'").await;
        let hook = db.channel(Owner::Team(infra), "webhook", &gone.url_for("/infra")).await;
        assert_eq!(drain(&w).await, 1, "the first email");
        db.queue_alert(hook, None, "down").await;
        assert_eq!(w.run_once().await.unwrap(), 1);
        let emails = db.notice_emails().await;
        let mut to: Vec<String> = emails[1..].iter().map(|e| e.recipient.clone()).collect();
        to.sort();
        let mut expected = vec![db.email_of(db.root).await, db.email_of(admin).await];
        expected.sort();
        assert_eq!(to, expected, "never {}", db.email_of(suspended).await);
    }
}

both! {
    async fn failing_every_alert_for_the_period_turns_the_channel_off(db) {
        let receiver = HttpReceiver::start().await;
        receiver.respond_with(Behavior::Status(500));
        let team = Owner::Team(db.team);
        let a = db.channel(team, "webhook", &receiver.url_for("/a")).await;
        let mail = db.channel(team, "email", "ops@example.com").await;
        let policy = DeliveryPolicy { disable_failing_after: Some(Duration::from_secs(3600)), ..DeliveryPolicy::default() };
        // One attempt each: every alert fails for good at once.
        let w = worker(&db, &[0], policy);
        let health = |db: &Db| {
            let store = db.store.clone();
            async move { store.channel_health(a).await.unwrap().unwrap() }
        };

        db.queue_alert(a, None, "down").await;
        w.run_once().await.unwrap();
        let first = health(&db).await.failing_since.expect("the failing period started");
        assert_eq!(health(&db).await.disabled_by_system_at, None);
        db.queue_alert(a, None, "down").await;
        w.run_once().await.unwrap();
        assert_eq!(health(&db).await.failing_since, Some(first), "a later failure keeps the start");

        // A sent alert ends the period.
        receiver.respond_with(Behavior::Status(200));
        db.queue_alert(a, None, "up").await;
        w.run_once().await.unwrap();
        assert_eq!(health(&db).await.failing_since, None);

        // Failing again, for longer than the period: off, with the reason.
        receiver.respond_with(Behavior::Status(500));
        db.queue_alert(a, None, "down").await;
        w.run_once().await.unwrap();
        assert!(health(&db).await.failing_since.is_some());
        db.set_channel(a, "failing_since", Some(clock::now() - time::Duration::minutes(61))).await;
        db.queue_alert(a, None, "down").await;
        w.run_once().await.unwrap();
        let h = health(&db).await;
        assert!(h.disabled_by_system_at.is_some());
        assert_eq!(h.disabled_reason.as_deref(), Some("every alert sent to it failed for 1 hour"));
        let notices = db.messages_through(mail).await;
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].data["reason"], "every alert sent to it failed for 1 hour");
        assert_eq!(notices[0].recipient, "ops@example.com");

        assert_eq!(drain(&w).await, 1, "the notice");

        // Codes and tests that fail never start a period.
        let b = db.channel(team, "webhook", &receiver.url_for("/b")).await;
        db.queue_channel_message(b, "verification").await;
        db.queue_channel_message(b, "test").await;
        assert_eq!(w.run_once().await.unwrap(), 2);
        let h = db.store.channel_health(b).await.unwrap().unwrap();
        assert_eq!((h.failing_since, h.disabled_by_system_at), (None, None));
    }
}

both! {
    async fn workers_racing_on_a_gone_receiver_turn_it_off_once(db) {
        let (gone, other) = (HttpReceiver::start().await, HttpReceiver::start().await);
        gone.respond_with(Behavior::Status(410));
        let a = db.channel(Owner::Team(db.team), "webhook", &gone.url_for("/a")).await;
        let b = db.channel(Owner::Team(db.team), "webhook", &other.url_for("/b")).await;
        for _ in 0..6 {
            db.queue_alert(a, None, "down").await;
        }
        let (one, two) = (worker(&db, &[0], DeliveryPolicy::default()), worker(&db, &[0], DeliveryPolicy::default()));
        let (x, y) = tokio::join!(one.run_once(), two.run_once());
        assert_eq!(x.unwrap() + y.unwrap(), 6, "each message claimed by one worker");
        assert!(db.store.channel_health(a).await.unwrap().unwrap().disabled_by_system_at.is_some());
        assert_eq!(db.messages_through(b).await.len(), 1, "one notice");
        assert_eq!(db.audit_actions(a).await.len(), 1, "one record");
        let through_a = db.messages_through(a).await;
        assert!(through_a.iter().all(|m| m.status == "failed" || m.status == "skipped"), "{through_a:?}");
    }
}

both! {
    async fn a_worker_that_lost_its_lease_changes_nothing(db) {
        use roster_store::channel_health::{HealthUpdate, Outcome, Settlement};
        use roster_store::AttemptRecord;
        let a = db.channel(Owner::Team(db.team), "webhook", "https://example.com/hook").await;
        let b = db.channel(Owner::Team(db.team), "email", "ops@example.com").await;
        db.set_channel(a, "fallback_channel_id", Some(b)).await;
        let id = db.queue_alert(a, None, "down").await;
        let now = clock::now();
        // The first claim's lease runs out at once; a second worker takes the message over.
        let slow = db.store.claim_due_messages(now, time::Duration::ZERO, 1).await.unwrap().remove(0);
        let later = now + time::Duration::seconds(1);
        let fast = db.store.claim_due_messages(later, time::Duration::minutes(1), 1).await.unwrap().remove(0);
        assert_eq!((slow.id, fast.id, fast.attempts), (id, id, 2));

        let gone = |token| Settlement {
            id,
            lease_token: token,
            outcome: Outcome::Failed,
            attempt: Some(AttemptRecord {
                started_at: now,
                duration_ms: 5,
                outcome: "failed",
                status_code: Some(410),
                error_class: Some("gone"),
                error_detail: None,
            }),
            health: Some(HealthUpdate::Gone { reason: GONE.into() }),
            now: later,
        };
        let settled = db.store.settle_delivery(&gone(slow.lease_token)).await.unwrap();
        assert!(!settled.recorded && !settled.channel_disabled && settled.fallback.is_none(), "{settled:?}");
        assert!(db.attempts(id).await.is_empty());
        assert_eq!(db.store.channel_health(a).await.unwrap().unwrap().disabled_by_system_at, None);
        assert!(db.messages_through(b).await.is_empty(), "no notice, no fallback");
        assert_eq!(db.message(id).await.status, "sending");

        // The worker holding the lease records it all at once.
        let settled = db.store.settle_delivery(&gone(fast.lease_token)).await.unwrap();
        assert!(settled.recorded && settled.channel_disabled && settled.fallback.is_some(), "{settled:?}");
        assert_eq!(db.attempts(id).await, [(2, "failed".into(), Some(410), Some("gone".into()))]);
        let mut kinds: Vec<String> = db.messages_through(b).await.into_iter().map(|m| m.kind).collect();
        kinds.sort();
        assert_eq!(kinds, ["alert", "notice"]);
    }
}

both! {
    async fn turning_a_channel_off_twice_tells_the_owner_once(db) {
        let a = db.channel(Owner::Customer(db.member), "sms", "+14155550100").await;
        let b = db.channel(Owner::Customer(db.member), "email", "bob-other@example.com").await;
        let now = clock::now();
        assert!(db.store.disable_channel_by_system(a, "the number no longer exists", now).await.unwrap());
        assert!(!db.store.disable_channel_by_system(a, "again", now).await.unwrap());
        assert!(!db.store.disable_channel_by_system(Uuid::now_v7(), "no such channel", now).await.unwrap());
        let h = db.store.channel_health(a).await.unwrap().unwrap();
        assert_eq!(h.disabled_reason.as_deref(), Some("the number no longer exists"));
        let notices = db.messages_through(b).await;
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].data["owner_name"], "Bob");
        assert_eq!(notices[0].data["channel_label"], "the sms channel +14155550100");
        assert_eq!(notices[0].customer_id, Some(db.member));
        assert_eq!(db.audit_actions(a).await.len(), 1);
    }
}
