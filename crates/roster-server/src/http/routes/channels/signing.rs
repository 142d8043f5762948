//! Rotating a webhook channel's Standard Webhooks signing secret.
//!
//! The new secret is shown once, in the answer. The replaced one keeps
//! signing beside it (`webhook-signature` then carries two `v1,` signatures)
//! until the configured overlap ends, so a receiver can switch to the new
//! secret without rejecting a message in between.

use super::verify::PriorityRequest;
use super::{channel_at, priority, resolve, ChannelView};
use crate::http::extract::act::ChannelManage;
use crate::http::extract::Auth;
use crate::http::routes::customer::actor;
use crate::state::AppState;
use roster_core::channel::ChannelType;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_delivery::transports::standard_webhooks::generate_secret;
use roster_store::channels::ChannelOwner;
use serde::Serialize;
use serde_json::json;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct SigningSecretRotated {
    /// The new secret (`whsec_…`), shown this once: every request is signed with it from now on.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub signing_secret: String,
    /// Until when the replaced secret signs too; `null` when there was none to replace.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    pub channel: ChannelView,
}

pub(super) async fn rotate(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: PriorityRequest,
) -> Result<SigningSecretRotated, Error> {
    resolve(state, auth, owner).await?;
    let mut errors = FieldErrors::default();
    let p = priority(&mut errors, body.priority);
    errors.finish()?;
    let row = channel_at(state, owner, p.expect("checked")).await?;
    if row.channel_type != ChannelType::Webhook.as_str() {
        return Err(Error::invalid("priority", "not_a_webhook", "only webhook channels have a signing secret"));
    }
    let hours = state.config().channels.signing_secret_overlap_hours;
    let now = roster_core::clock::now();
    let audit = actor(auth, request_id, ip).event(
        "channel.signing_secret_rotated",
        "notification_channel",
        Some(row.id),
        json!({ "type": row.channel_type, "priority": row.priority, "overlap_hours": hours }),
    );
    let secret = generate_secret();
    let until = now + Duration::hours(i64::from(hours));
    let rotated = state.store().rotate_signing_secret(row.id, &secret, until, &audit, now).await?;
    Ok(SigningSecretRotated {
        signing_secret: secret,
        previous_secret_expires_at: rotated.previous_secret_expires_at,
        channel: ChannelView::from_row(&rotated.channel, now)?,
    })
}
