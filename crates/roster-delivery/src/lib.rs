//! Roster's delivery engine.
//!
//! Messages are written to the outbox in the same transaction as the change
//! that causes them (roster-store). The [`Worker`] claims due ones under a
//! lease, renders them with [`Templates`], sends them with the [`Mailer`] and
//! settles each attempt; transient failures are retried on the
//! [`RetryPolicy`]'s schedule, then given up on.
//!
//! Notification channels' messages go through the [`transports`] (webhooks,
//! chat, SMS and voice, PagerDuty, push), built once as [`ChannelSenders`].

mod dispatch;
mod mailer;
mod retry;
mod senders;
mod templates;
pub mod transports;
mod worker;

pub use mailer::{Mailer, MailerConfig, MailerError, SendError};
pub use retry::RetryPolicy;
pub use senders::{ChannelConfig, ChannelSenders};
pub use templates::{RenderError, RenderedEmail, Templates};
pub use transports::{Delivered, HttpClient, HttpConfig, HttpConfigError, TransportError};
pub use worker::{Worker, WorkerConfig};
