//! Roster's delivery engine.
//!
//! Messages are written to the outbox in the same transaction as the change
//! that causes them (roster-store). The [`Worker`] claims due ones under a
//! lease, renders them with [`Templates`], sends them with the [`Mailer`] and
//! settles each attempt; transient failures are retried on the
//! [`RetryPolicy`]'s schedule, then given up on. The [`DeliveryPolicy`] caps
//! how old an alert may get per transport, spreads sends to one destination
//! over quota windows (delaying, never dropping), and says when a failing
//! channel is turned off (its owner is told; an alert that failed for good
//! goes through the channel's fallback).
//!
//! Notification channels' messages go through the [`transports`] (webhooks,
//! chat, SMS and voice, PagerDuty, push), built once as [`ChannelSenders`].

mod dispatch;
mod gate;
mod health;
mod mailer;
mod policy;
mod retry;
mod senders;
mod templates;
pub mod transports;
mod worker;

pub use mailer::{Mailer, MailerConfig, MailerError, SendError};
pub use policy::{DeliveryPolicy, PerTransport};
pub use retry::RetryPolicy;
pub use senders::{ChannelConfig, ChannelSenders};
pub use templates::{RenderError, RenderedEmail, Templates};
pub use transports::{Delivered, HttpClient, HttpConfig, HttpConfigError, TransportError};
pub use worker::{Worker, WorkerConfig};
