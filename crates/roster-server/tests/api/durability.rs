//! Nothing is lost: worker processes killed with SIGKILL mid-send, several workers on one PostgreSQL.
//! The `roster` binary as an operator runs it: a real process, real signals.
//!
//! Every wait is for a signal (a receiver's arrivals, a process's log line or
//! exit); durations only bound how long a failing test takes.

mod database;
mod deployment;
mod process;

use crate::helpers::Backend;
use deployment::{Deployment, Owner};
use process::sent_ids;
use roster_testkit::{Behavior, HttpReceiver, RecordedRequest, Tally};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

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

/// The messages queued so far for webhooks whose URL starts with `prefix`.
async fn queued_for(deployment: &Deployment, prefix: &str) -> BTreeSet<String> {
    let rows = deployment.db.outbox().await;
    rows.iter()
        .filter(|r| r.transport == "webhook" && r.recipient.starts_with(prefix))
        .map(|r| r.id.to_string())
        .collect()
}

/// Whether every one of `expected` is in `requests` (by `webhook-id`).
fn all_of(expected: &BTreeSet<String>) -> impl Fn(&[RecordedRequest]) -> bool + '_ {
    move |requests| Tally::of(requests, ID).missing(expected.iter().map(String::as_str)).is_empty()
}

/// Store and API agree that everything was sent: no outbox row is left
/// pending, sending or failed, and each of `attempt_of`'s deliveries reads as
/// sent at the first try it recorded, numbered as given (a try cut short by
/// a crash counts, though it left no record).
async fn assert_all_sent(deployment: &Deployment, owner: &Owner, attempt_of: &BTreeMap<String, i64>) {
    let unsent: Vec<_> = deployment.db.outbox().await.into_iter().filter(|r| r.status != "sent").collect();
    assert!(unsent.is_empty(), "messages not sent: {unsent:?}");
    for (id, attempt) in attempt_of {
        let delivery = deployment.delivery(owner, id).await;
        assert_eq!(delivery["status"], "sent", "{delivery}");
        let attempts = delivery["attempts"].as_array().unwrap_or_else(|| panic!("no attempts: {delivery}"));
        assert_eq!(attempts.len(), 1, "one recorded attempt: {delivery}");
        assert_eq!(
            (&attempts[0]["attempt"], &attempts[0]["outcome"]),
            (&(*attempt).into(), &"sent".into()),
            "{delivery}"
        );
    }
}

/// One worker sends to a prompt receiver and a receiver that holds every
/// request; once all its sends are held it is killed. A second worker sends
/// the rest at once, and the held ones when their lease runs out.
async fn crash_and_take_over(backend: Backend) {
    const CONCURRENCY: usize = 4;
    const PER_RECEIVER: usize = 20;
    let Some(mut deployment) = Deployment::start(backend, CONCURRENCY).await else { return };
    let owner = deployment.signup().await;
    let prompt = HttpReceiver::start().await;
    let holding = HttpReceiver::start().await;
    holding.respond_with(Behavior::Hang);
    for i in 0..PER_RECEIVER {
        // Alternating, so the worker has delivered some by the time all its sends are held.
        deployment.add_webhook(&owner, &prompt.url_for(&format!("/prompt/{i}"))).await;
        deployment.add_webhook(&owner, &holding.url_for(&format!("/holding/{i}"))).await;
    }
    let to_prompt = queued_for(&deployment, &prompt.url()).await;
    let to_holding = queued_for(&deployment, &holding.url()).await;
    assert_eq!((to_prompt.len(), to_holding.len()), (PER_RECEIVER, PER_RECEIVER), "one message per channel");

    let mut first = deployment.worker();
    let held = holding.wait_until_received(BOUND, |r| r.len() >= CONCURRENCY).await;
    let held = held.unwrap_or_else(|| panic!("the worker's sends were never all held:\n{}", first.tail()));
    // Every permit is out on a held request, so everything before them is settled.
    first.kill().await;
    let held = Tally::of(&held, ID);
    assert_eq!((held.total(), held.values().count()), (CONCURRENCY, CONCURRENCY), "{held:?}");
    let before = prompt.requests().len();
    assert!(0 < before && before < PER_RECEIVER, "mid-flight: {before} of {PER_RECEIVER} delivered");

    // The receiver recovers; a new worker takes over.
    holding.respond_with(Behavior::Status(200));
    let mut second = deployment.worker();
    let answered = |r: &[RecordedRequest]| all_of(&to_holding)(r.get(CONCURRENCY..).unwrap_or_default());
    let arrived = prompt.wait_until_received(BOUND, all_of(&to_prompt)).await.is_some()
        && holding.wait_until_received(BOUND, answered).await.is_some();
    if !arrived {
        panic!("not every message arrived:\n{}\n{}", second.tail(), deployment.api_log());
    }
    let log = second.stop().await;

    // Counted once no worker runs. At least once: each message arrived; the
    // held ones again, once answered. The settled ones were not sent again.
    let (at_prompt, at_holding) = (Tally::of(&prompt.requests(), ID), holding.requests());
    assert!(at_prompt.repeated().is_empty(), "sent again after it was settled: {:?}", at_prompt.repeated());
    assert_eq!(at_prompt.total(), PER_RECEIVER);
    let after_crash = Tally::of(&at_holding[CONCURRENCY..], ID);
    assert_eq!(after_crash.total(), PER_RECEIVER, "{after_crash:?}");
    assert!(held.values().all(|id| to_holding.contains(id) && after_crash.count(id) == 1), "{held:?}");
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
    const MESSAGES: usize = 90;
    let Some(mut deployment) = Deployment::start(Backend::Postgres, 2).await else { return };
    let owner = deployment.signup().await;
    let receiver = HttpReceiver::start().await;
    let mut workers: Vec<_> = (0..WORKERS).map(|_| deployment.worker()).collect();
    for worker in &mut workers {
        worker.wait_for_log("its start", |line| process::says(line, "outbox worker started")).await;
    }
    // One after another (concurrent creation on one owner can collide on
    // PostgreSQL): the workers claim while messages arrive, as alerts would.
    for i in 0..MESSAGES {
        deployment.add_webhook(&owner, &receiver.url_for(&format!("/hook/{i}"))).await;
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
