//! Claims: a worker leases the earliest due messages, lapsed leases among
//! them, never more than it asked for, and nothing that is not yet due.

use crate::*;

both! {
    async fn a_claim_takes_the_earliest_due_messages_lapsed_leases_among_them_and_no_more(db) {
        let channel = db.channel(Owner::Team(db.team), "webhook", "https://example.com/hook").await;
        let now = clock::now();
        let mut ids = Vec::new();
        for offset in [-50, -40, -30, -20, 60] {
            let id = db.queue_channel_message(channel, "test").await;
            db.set_created(id, now + time::Duration::seconds(offset)).await;
            ids.push(id);
        }
        let claimed = |messages: Vec<roster_store::ClaimedMessage>| {
            let mut got: Vec<(MessageId, i64)> = messages.into_iter().map(|m| (m.id, m.attempts)).collect();
            got.sort_by_key(|(id, _)| id.0);
            got
        };

        // The earliest, on a lease that runs out at once.
        let first = db.store.claim_due_messages(now, time::Duration::ZERO, 1).await.unwrap();
        assert_eq!(claimed(first), [(ids[0], 1)]);

        // Its lapsed lease is due again, and earlier than the rest: three asked, three given.
        let later = now + time::Duration::seconds(1);
        let second = db.store.claim_due_messages(later, time::Duration::minutes(1), 3).await.unwrap();
        assert_eq!(claimed(second), [(ids[0], 2), (ids[1], 1), (ids[2], 1)]);

        // What is left and due; the message due in a minute stays queued.
        let third = db.store.claim_due_messages(later, time::Duration::minutes(1), 10).await.unwrap();
        assert_eq!(claimed(third), [(ids[3], 1)]);
        assert_eq!(db.message(ids[4]).await.status, "pending");
        assert!(db.store.claim_due_messages(later, time::Duration::minutes(1), 10).await.unwrap().is_empty());
        let next = db.store.next_due_at().await.unwrap().map(|t| t.unix_timestamp());
        assert_eq!(next, Some((now + time::Duration::seconds(60)).unix_timestamp()), "the queued message's time");
    }
}
