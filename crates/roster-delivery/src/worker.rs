//! The outbox worker: claims due messages under a lease, sends them with
//! bounded concurrency and settles each with a record of the attempt.
//!
//! Several workers (one per instance) may share an outbox: the lease makes
//! each message theirs alone while they hold it, and a worker that dies
//! mid-send only delays its messages until the lease runs out.

use crate::dispatch::{self, Outgoing};
use crate::gate::{self, Gate};
use crate::health::{self, TEST};
use crate::policy::human;
use crate::transports::TransportError;
use crate::{ChannelSenders, DeliveryPolicy, Mailer, RetryPolicy, Templates};
use roster_core::clock;
use roster_core::message::{Template, Transport};
use roster_store::channel_health::{Outcome, Settled, Settlement};
use roster_store::{AttemptRecord, ClaimedMessage, Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The longest the worker sleeps between looks at the outbox when nothing wakes it.
    pub poll_interval: Duration,
    /// How long a claimed message is the worker's alone.
    pub lease: Duration,
    /// The most messages claimed at once.
    pub batch_size: i64,
    /// The most sends in flight at once.
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            batch_size: 16,
            concurrency: 4,
            retry: RetryPolicy::default(),
        }
    }
}

/// The error class of an alert given up on because it got too old for its transport.
const EXPIRED: &str = "expired";
/// How much longer than a send the lease must be: settling takes a moment too.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// The least the worker waits when a message is due but could not be claimed
/// (another worker is claiming it), so the loop does not spin.
const MIN_WAIT: Duration = Duration::from_millis(100);
/// Longer durations are taken as this: nothing legitimate waits longer, and
/// it keeps time arithmetic far from overflowing.
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

impl WorkerConfig {
    /// Checks the settings; `send_timeout` bounds one send (the longer of the
    /// SMTP and HTTP timeouts).
    pub fn validate(&self, send_timeout: Duration) -> Result<(), String> {
        if self.poll_interval.is_zero() {
            return Err("the outbox poll interval must be more than zero".into());
        }
        if self.batch_size < 1 || self.concurrency < 1 {
            return Err("the outbox batch size and concurrency must be at least 1".into());
        }
        if self.lease < send_timeout + LEASE_MARGIN {
            return Err(format!(
                "the outbox lease ({:?}) must be at least {:?} longer than the send timeout ({:?}): \
                 otherwise another worker may claim a message that is still being sent, and send it twice",
                self.lease, LEASE_MARGIN, send_timeout
            ));
        }
        self.retry.validate()
    }
}

pub struct Worker {
    inner: Arc<Inner>,
    wake: Arc<Notify>,
}

/// What every delivery task shares.
#[derive(Clone)]
struct Inner {
    store: Store,
    mailer: Arc<Mailer>,
    senders: Arc<ChannelSenders>,
    templates: Arc<Templates>,
    cfg: WorkerConfig,
    policy: DeliveryPolicy,
    permits: Arc<Semaphore>,
}

/// What a look at the outbox found.
struct Pass {
    claimed: usize,
    /// How long to wait before looking again, unless woken.
    wait: Duration,
}

impl Worker {
    /// `wake` lets the service start a send at once after queueing a message
    /// (`notify_one`, which is remembered if the worker is busy).
    pub fn new(
        store: Store,
        mailer: Arc<Mailer>,
        senders: Arc<ChannelSenders>,
        templates: Arc<Templates>,
        cfg: WorkerConfig,
        wake: Arc<Notify>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        let policy = DeliveryPolicy::default();
        Self { inner: Arc::new(Inner { store, mailer, senders, templates, cfg, policy, permits }), wake }
    }

    /// Replaces the default caps, quotas and health thresholds.
    pub fn with_policy(self, policy: DeliveryPolicy) -> Self {
        let inner = Inner { policy, ..Inner::clone(&self.inner) };
        Self { inner: Arc::new(inner), wake: self.wake }
    }

    /// Sends due messages until `shutdown`, then waits for the sends in
    /// flight (each bounded by the send timeout) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let cfg = &self.inner.cfg;
        tracing::info!(concurrency = cfg.concurrency, batch_size = cfg.batch_size, transport = %self.inner.mailer.describe(), "outbox worker started");
        let mut tasks = JoinSet::new();
        'outer: while !shutdown.is_cancelled() {
            let wait = match self.fill(&mut tasks).await {
                Ok(pass) => pass.wait,
                Err(e) => {
                    tracing::error!(error = %e, "outbox worker: store error, backing off");
                    cfg.poll_interval
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'outer,
                () = self.wake.notified() => {}
                // A finished send frees a permit and may have queued a retry: look again.
                Some(done) = tasks.join_next(), if !tasks.is_empty() => report_panic(done),
                () = tokio::time::sleep(wait) => {}
            }
        }
        if !tasks.is_empty() {
            tracing::info!(in_flight = tasks.len(), "outbox worker stopping, finishing sends in flight");
        }
        while let Some(done) = tasks.join_next().await {
            report_panic(done);
        }
        tracing::info!("outbox worker stopped");
    }

    /// Claims one batch, sends it and settles it; answers how many messages
    /// were handled. For tests and admin tasks.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut tasks = JoinSet::new();
        let pass = self.fill(&mut tasks).await?;
        while let Some(done) = tasks.join_next().await {
            report_panic(done);
        }
        Ok(pass.claimed)
    }

    /// Claims as many due messages as there are free permits (up to a batch)
    /// and starts a delivery task for each.
    async fn fill(&self, tasks: &mut JoinSet<()>) -> Result<Pass, StoreError> {
        let inner = &self.inner;
        let batch = usize::try_from(inner.cfg.batch_size.max(1)).unwrap_or(1);
        let mut permits = Vec::with_capacity(batch);
        while permits.len() < batch {
            match Arc::clone(&inner.permits).try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        if permits.is_empty() {
            // Every permit is out; a finishing task wakes the loop.
            return Ok(Pass { claimed: 0, wait: inner.cfg.poll_interval });
        }
        let asked = permits.len();
        let messages = inner.store.claim_due_messages(clock::now(), to_time(inner.cfg.lease), asked as i64).await?;
        let claimed = messages.len();
        for (message, permit) in messages.into_iter().zip(permits) {
            let inner = Arc::clone(inner);
            tasks.spawn(async move {
                inner.deliver(message).await;
                drop(permit);
            });
        }
        if claimed == asked {
            // A full batch: more may be due.
            return Ok(Pass { claimed, wait: Duration::ZERO });
        }
        let wait = match inner.store.next_due_at().await? {
            Some(due) => Duration::try_from(due - clock::now()).unwrap_or(Duration::ZERO).max(MIN_WAIT),
            None => inner.cfg.poll_interval,
        };
        Ok(Pass { claimed, wait: wait.min(inner.cfg.poll_interval) })
    }
}

impl Inner {
    /// Judges one message, sends it if it is to go, and records the outcome
    /// together with what follows from it (the channel's health, a fallback).
    async fn deliver(&self, message: ClaimedMessage) {
        let (id, attempt) = (message.id, message.attempts);
        let now = clock::now();
        let deadline = match gate::check(&self.store, &self.policy, &message, now).await {
            Ok(Gate::Send { deadline }) => deadline,
            Ok(Gate::Skip(reason)) => {
                if self.settle(&message, Outcome::Skipped(reason), None, None, now).await.recorded {
                    tracing::info!(message_id = %id, kind = %message.kind, reason, "outbox: not sent, the channel is off, muted or gone");
                }
                return;
            }
            Ok(Gate::Expired(cap)) => {
                let record = AttemptRecord {
                    started_at: now,
                    duration_ms: 0,
                    outcome: "failed",
                    status_code: None,
                    error_class: Some(EXPIRED),
                    error_detail: Some(format!("not sent: older than the {} cap of {}", message.transport, human(cap))),
                };
                if self.settle(&message, Outcome::Failed, Some(record), None, now).await.recorded {
                    tracing::warn!(message_id = %id, attempt, transport = %message.transport, "outbox: alert too old for its transport, given up");
                }
                return;
            }
            Ok(Gate::Delay(until)) => {
                match self.store.defer_message(id, message.lease_token, until, now).await {
                    Ok(true) => tracing::info!(
                        message_id = %id, transport = %message.transport, until = %until,
                        "outbox: the destination's quota is used up, delayed to its next window"
                    ),
                    Ok(false) => {
                        tracing::warn!(message_id = %id, "outbox: lease lost before delaying; another worker has the message")
                    }
                    Err(e) => {
                        tracing::error!(message_id = %id, error = %e, "outbox: could not delay the message; it is retried when its lease runs out")
                    }
                }
                return;
            }
            Err(e) => {
                tracing::error!(message_id = %id, error = %e, "outbox: could not check the message; it is retried when its lease runs out");
                return;
            }
        };
        let started_at = clock::now();
        let started = Instant::now();
        let result = self.attempt(&message).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let now = clock::now();
        // `expired`: the cap a retry would pass, so the alert is given up on now.
        let (outcome, expired) = match &result {
            Ok(_) => (Outcome::Sent, None),
            Err(e) => match (self.retry_delay(&message, e).map(|d| later(now, d)), deadline) {
                (Some(at), Some((until, cap))) if at > until => (Outcome::Failed, Some(cap)),
                (Some(at), _) => (Outcome::Retry(at), None),
                (None, _) => (Outcome::Failed, None),
            },
        };
        let error = result.as_ref().err();
        let status_code = match &result {
            Ok(status) => *status,
            Err(e) => e.status(),
        };
        let record = AttemptRecord {
            started_at,
            duration_ms,
            outcome: match outcome {
                Outcome::Sent => "sent",
                Outcome::Retry(_) => "retry",
                Outcome::Failed | Outcome::Skipped(_) => "failed",
            },
            status_code: status_code.map(i64::from),
            error_class: if expired.is_some() { Some(EXPIRED) } else { error.map(TransportError::class) },
            error_detail: error.map(|e| match expired {
                Some(cap) => format!("{e}; a retry would come after the {} cap of {}", message.transport, human(cap)),
                None => e.detail().to_owned(),
            }),
        };
        let health = health::assess(&message.kind, Transport::parse(&message.transport), &result, &self.policy);
        let retry_at = match outcome {
            Outcome::Retry(at) => Some(at),
            _ => None,
        };
        if !self.settle(&message, outcome, Some(record), health, now).await.recorded {
            return;
        }
        match (error, retry_at) {
            (None, _) => {
                tracing::info!(message_id = %id, template = %message.template, attempt, duration_ms, "outbox: message sent")
            }
            (Some(e), Some(at)) => tracing::warn!(
                message_id = %id, attempt, error_class = e.class(), error = e.detail(), retry_at = %at,
                "outbox: send failed, will retry"
            ),
            (Some(e), None) if expired.is_some() => tracing::warn!(
                message_id = %id, attempt, error_class = e.class(), error = e.detail(), transport = %message.transport,
                "outbox: send failed and a retry would come too late for the transport; given up"
            ),
            (Some(e), None) if e.is_permanent() || message.kind == TEST => tracing::warn!(
                message_id = %id, attempt, error_class = e.class(), error = e.detail(), kind = %message.kind,
                "outbox: message failed permanently"
            ),
            (Some(e), None) => tracing::error!(
                message_id = %id, attempt, error_class = e.class(), error = e.detail(),
                "outbox: message failed after its last retry"
            ),
        }
    }

    /// Settles `message` with what follows from it, in one transaction;
    /// logs what could not be recorded and answers what was.
    async fn settle(
        &self,
        message: &ClaimedMessage,
        outcome: Outcome,
        attempt: Option<AttemptRecord>,
        health: Option<roster_store::channel_health::HealthUpdate>,
        now: OffsetDateTime,
    ) -> Settled {
        let id = message.id;
        let s = Settlement { id, lease_token: message.lease_token, outcome, attempt, health, now };
        match self.store.settle_delivery(&s).await {
            Ok(settled) if !settled.recorded => {
                tracing::warn!(message_id = %id, "outbox: lease lost before settling; another worker has the message");
                settled
            }
            Ok(settled) => {
                if let Some(fallback) = settled.fallback {
                    tracing::info!(message_id = %id, fallback_id = %fallback, "outbox: alert failed for good, queued through the channel's fallback");
                }
                settled
            }
            Err(e) => {
                tracing::error!(
                    message_id = %id, error = %e,
                    "outbox: could not record the outcome; the message is retried when its lease runs out"
                );
                Settled::default()
            }
        }
    }

    /// When to try again after `error`, or `None` to give up: permanent
    /// failures and test messages (tried once, so the requester sees at once
    /// whether the channel works) are not retried. A receiver's `Retry-After`
    /// pushes the next attempt back, up to the schedule's longest delay.
    fn retry_delay(&self, message: &ClaimedMessage, error: &TransportError) -> Option<Duration> {
        if error.is_permanent() || message.kind == TEST {
            return None;
        }
        let delay = self.cfg.retry.next_delay(message.attempts)?;
        Some(match error.retry_after() {
            Some(asked) => delay.max(asked.min(self.cfg.retry.max_delay())),
            None => delay,
        })
    }

    /// Renders the message once and sends it; answers the receiver's status, if any.
    async fn attempt(&self, message: &ClaimedMessage) -> Result<Option<u16>, TransportError> {
        let unsupported = |detail: String| TransportError::permanent("unsupported", detail);
        let transport = Transport::parse(&message.transport)
            .ok_or_else(|| unsupported(format!("unknown transport `{}`", message.transport)))?;
        let template = Template::parse(&message.template)
            .ok_or_else(|| unsupported(format!("unknown template `{}`", message.template)))?;
        let rendered = self
            .templates
            .render(template, &message.data.0, message.secret.as_deref())
            .map_err(|e| TransportError::permanent("render", e.to_string()))?;
        // Read at each attempt, so a rotation applies to retries as well.
        let secrets = match (transport, message.channel_id) {
            (Transport::Webhook, Some(channel)) => self
                .store
                .channel_signing_secrets(channel, clock::now())
                .await
                .map_err(|e| TransportError::transient("store", e.to_string()))?,
            _ => vec![],
        };
        let out = Outgoing { message, template, rendered, secrets };
        dispatch::send(&self.mailer, &self.senders, transport, &out).await
    }
}

fn report_panic(done: Result<(), JoinError>) {
    if let Err(e) = done {
        // The message stays leased and is retried when the lease runs out.
        tracing::error!(error = %e, "outbox: a delivery task panicked");
    }
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d.min(FAR)).unwrap_or(time::Duration::ZERO)
}

fn later(now: OffsetDateTime, d: Duration) -> OffsetDateTime {
    clock::stored(now.checked_add(to_time(d)).unwrap_or(now))
}
