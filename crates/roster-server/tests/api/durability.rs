//! Nothing is lost: worker processes killed with SIGKILL mid-send, several workers on one PostgreSQL.
//! The `roster` binary as an operator runs it: a real process, real signals.
//!
//! Every wait is for a signal (a receiver's arrivals, a process's log line or
//! exit); durations only bound how long a failing test takes.

mod database;
mod deployment;
mod process;
mod scale_out;
mod support;

use crate::helpers::Backend;
use deployment::Deployment;
use process::sent_ids;
use roster_testkit::{Behavior, HttpReceiver, RecordedRequest, Tally};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::{all_of, assert_all_sent, queued_for, verify_at};

/// The longest any one wait may take before the test fails: well past a lease.
pub const BOUND: Duration = Duration::from_secs(30);
const ID: &str = "webhook-id";

mod a_worker_killed_mid_send_loses_nothing {
    use crate::helpers::Backend;

    #[tokio::test]
    async fn sqlite() {
        super::crash_and_take_over(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::crash_and_take_over(Backend::Postgres).await;
    }
}

/// Alerts go to a prompt receiver and to one that holds every request; a
/// worker is killed once all its sends are held. A second worker sends the
/// rest at once, and the held ones when their lease runs out.
async fn crash_and_take_over(backend: Backend) {
    const CONCURRENCY: usize = 4;
    const PER_RECEIVER: usize = 20;
    const ALERTS: usize = 2;
    const TO_EACH: usize = ALERTS * PER_RECEIVER;
    let Some(mut deployment) = Deployment::start(backend, CONCURRENCY).await else { return };
    let owner = deployment.signup().await;
    let prompt = HttpReceiver::start().await;
    let holding = HttpReceiver::start().await;
    let (mut at_prompt, mut at_holding) = (BTreeMap::new(), BTreeMap::new());
    for i in 0..PER_RECEIVER {
        // Alternating priorities: alerts go to each receiver in turn, so the
        // worker has delivered some by the time all its sends are held.
        let (id, priority) = deployment.add_webhook(&owner, &prompt.url_for(&format!("/prompt/{i}"))).await;
        at_prompt.insert(id, priority);
        let (id, priority) = deployment.add_webhook(&owner, &holding.url_for(&format!("/holding/{i}"))).await;
        at_holding.insert(id, priority);
    }
    let setup = deployment.worker();
    let prompt_base = verify_at(&deployment, &owner, &prompt, &at_prompt).await;
    let holding_base = verify_at(&deployment, &owner, &holding, &at_holding).await;
    setup.stop().await;

    holding.respond_with(Behavior::Hang);
    let (mut to_prompt, mut to_holding) = (BTreeSet::new(), BTreeSet::new());
    for n in 0..ALERTS {
        for (delivery, channel) in deployment.notify(&owner, &format!("checkout is down ({n})"), 2 * PER_RECEIVER).await
        {
            let to = if at_prompt.contains_key(&channel) { &mut to_prompt } else { &mut to_holding };
            to.insert(delivery);
        }
    }
    assert_eq!((to_prompt.len(), to_holding.len()), (TO_EACH, TO_EACH), "one delivery per alert and channel");

    let mut first = deployment.worker();
    let held = holding.wait_until_received(BOUND, |r| r.len() >= holding_base + CONCURRENCY).await;
    let held = held.unwrap_or_else(|| panic!("the worker's sends were never all held:\n{}", first.tail()));
    // Every permit is out on a held request, so everything before them is settled.
    first.kill().await;
    let held = Tally::of(&held[holding_base..], ID);
    assert_eq!((held.total(), held.values().count()), (CONCURRENCY, CONCURRENCY), "{held:?}");
    assert!(held.values().all(|id| to_holding.contains(id)), "{held:?}");
    let before = prompt.requests().len() - prompt_base;
    assert!(0 < before && before < TO_EACH, "mid-flight: {before} of {TO_EACH} delivered");

    // The receiver recovers; a new worker takes over.
    holding.respond_with(Behavior::Status(200));
    let mut second = deployment.worker();
    let answered_from = holding_base + CONCURRENCY;
    let answered = |r: &[RecordedRequest]| all_of(&to_holding)(r.get(answered_from..).unwrap_or_default());
    let arrived = prompt.wait_until_received(BOUND, all_of(&to_prompt)).await.is_some()
        && holding.wait_until_received(BOUND, answered).await.is_some();
    if !arrived {
        panic!("not every message arrived:\n{}\n{}", second.tail(), deployment.api_log());
    }
    let log = second.stop().await;

    // Counted once no worker runs. At least once: each message arrived; the
    // held ones again, once answered. The settled ones were not sent again.
    let prompt_got = Tally::of(&prompt.requests()[prompt_base..], ID);
    assert!(prompt_got.repeated().is_empty(), "sent again after it was settled: {:?}", prompt_got.repeated());
    assert_eq!(prompt_got.total(), TO_EACH);
    let after_crash = Tally::of(&holding.requests()[answered_from..], ID);
    assert_eq!(after_crash.total(), TO_EACH, "{after_crash:?}");
    assert!(held.values().all(|id| after_crash.count(id) == 1), "{held:?}");
    let resent: BTreeSet<String> = sent_ids(&log).into_iter().filter(|id| held.count(id) > 0).collect();
    assert_eq!(resent.len(), CONCURRENCY, "the second worker sent the held messages: {resent:?}");

    let attempt_of = to_prompt.iter().chain(&to_holding).map(|id| (id.clone(), 1 + held.count(id) as i64)).collect();
    assert_all_sent(&deployment, &owner, &attempt_of).await;
}

/// Three workers poll one PostgreSQL database while messages arrive; the
/// receiver answers at once. Each message arrives exactly once, sent by
/// exactly one worker, and the work was shared.
#[tokio::test]
async fn several_workers_on_postgres_send_each_message_once() {
    const WORKERS: usize = 3;
    const CHANNELS: usize = 30;
    const ALERTS: usize = 2;
    /// Each channel's verification, and every alert.
    const MESSAGES: usize = CHANNELS * (1 + ALERTS);
    let Some(mut deployment) = Deployment::start(Backend::Postgres, 2).await else { return };
    let owner = deployment.signup().await;
    let receiver = HttpReceiver::start().await;
    let mut workers: Vec<_> = (0..WORKERS).map(|_| deployment.worker()).collect();
    for worker in &mut workers {
        worker.wait_for_log("its start", |line| process::says(line, "outbox worker started")).await;
    }
    // Verifications are claimed as channels come, one after another (created
    // concurrently on one owner, channels can collide on PostgreSQL)…
    let mut channels = BTreeMap::new();
    for i in 0..CHANNELS {
        let (id, priority) = deployment.add_webhook(&owner, &receiver.url_for(&format!("/hook/{i}"))).await;
        channels.insert(id, priority);
    }
    verify_at(&deployment, &owner, &receiver, &channels).await;
    // …and each alert queues a message for every channel at once.
    for n in 0..ALERTS {
        deployment.notify(&owner, &format!("checkout is down ({n})"), CHANNELS).await;
    }
    let queued = queued_for(&deployment, &receiver.url()).await;
    assert_eq!(queued.len(), MESSAGES);

    let Some(_) = receiver.wait_until_received(BOUND, all_of(&queued)).await else {
        let logs: Vec<String> = workers.iter_mut().map(process::Process::tail).collect();
        panic!("not every message arrived:\n{}\n{}", logs.join("\n"), deployment.api_log());
    };
    let mut logs = Vec::new();
    for worker in workers {
        logs.push(worker.stop().await);
    }

    // Exactly once at the receiver, counted after every worker has exited.
    let requests = receiver.requests();
    let tally = Tally::of(&requests, ID);
    assert!(tally.repeated().is_empty(), "received more than once: {:?}", tally.repeated());
    assert_eq!((requests.len(), tally.total()), (MESSAGES, MESSAGES));
    // Exactly one worker sent each, and more than one worker took part.
    let mut sender_of: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (worker, log) in logs.iter().enumerate() {
        for id in sent_ids(log).into_iter().filter(|id| queued.contains(id)) {
            sender_of.entry(id).or_default().push(worker);
        }
    }
    assert_eq!(sender_of.len(), MESSAGES, "every message is in one worker's log as sent");
    assert!(sender_of.values().all(|w| w.len() == 1), "{sender_of:?}");
    let shares: Vec<usize> =
        (0..WORKERS).map(|w| sender_of.values().filter(|senders| senders[0] == w).count()).collect();
    assert!(shares.iter().filter(|n| **n > 0).count() >= 2, "one worker sent everything: {shares:?}");

    let attempt_of = queued.iter().map(|id| (id.clone(), 1)).collect();
    assert_all_sent(&deployment, &owner, &attempt_of).await;
}
