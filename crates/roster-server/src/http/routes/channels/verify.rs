//! Proving a channel reaches its owner (codes), and test messages.

use super::{channel_at, new_code, priority, resolve, stored_value, verification_message, ChannelView};
use crate::app::accounts::code_outcome;
use crate::app::rate_limit;
use crate::http::extract::act::ChannelManage;
use crate::http::extract::Auth;
use crate::http::routes::customer::actor;
use crate::state::AppState;
use roster_core::message::{NewMessage, Template, Transport};
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::channels::ChannelOwner;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

// Required fields are `Option` so that a missing one is a field-level 422 rather than a
// serde error; `required = true` keeps the document honest about them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyChannelRequest {
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub priority: Option<i64>,
    /// The 6-digit code the channel received.
    #[schema(value_type = String, required = true, example = "123456")]
    pub code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    #[schema(value_type = i64, required = true, minimum = 1)]
    pub priority: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestQueued {
    /// The message's id: read its outcome at `GET /v1/deliveries/{id}`.
    pub delivery_id: uuid::Uuid,
    pub message: String,
}

fn required_priority(raw: Option<i64>) -> Result<i64, Error> {
    let mut errors = FieldErrors::default();
    let p = priority(&mut errors, raw);
    errors.finish()?;
    Ok(p.expect("checked"))
}

pub(super) async fn verify(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: VerifyChannelRequest,
) -> Result<ChannelView, Error> {
    resolve(state, auth, owner).await?;
    let mut errors = FieldErrors::default();
    let p = priority(&mut errors, body.priority);
    let code = body.code.as_deref().map(str::trim).unwrap_or_default().to_owned();
    // A malformed code is refused before it costs an attempt.
    if !roster_core::secret::is_code_format(&code) {
        errors.push("code", "invalid_code_format", "must be the 6 digits the channel received");
    }
    errors.finish()?;
    let row = channel_at(state, owner, p.expect("checked")).await?;
    if row.verified_at.is_some() && row.pending_value.is_none() {
        return Err(Error::Conflict("the channel is already verified".into()));
    }
    let now = roster_core::clock::now();
    let audit = actor(auth, request_id, ip).event(
        "channel.verified",
        "notification_channel",
        Some(row.id),
        json!({ "type": row.channel_type, "priority": row.priority, "new_value": row.pending_value.is_some() }),
    );
    let id = row.id;
    let hasher = |target: &str| state.key().hash_code("channel_verification", &format!("{id}:{target}"), &code);
    let max = i64::from(state.config().code_max_attempts);
    let (check, row) = state.store().verify_channel(id, max, hasher, &audit, now).await?;
    code_outcome(check, "verification code for this channel")?;
    ChannelView::from_row(&row, now)
}

pub(super) async fn resend(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: PriorityRequest,
) -> Result<CodeSent, Error> {
    let facts = resolve(state, auth, owner).await?;
    let row = channel_at(state, owner, required_priority(body.priority)?).await?;
    let target = match (&row.verified_at, &row.pending_value) {
        (_, Some(pending)) => pending.clone(),
        (None, None) => row.value.clone(),
        (Some(_), None) => return Err(Error::Conflict("the channel is already verified".into())),
    };
    let config = state.config();
    rate_limit::hit(state, &format!("channel-code:{}", row.id), config.channels.code_sends_per_hour, Duration::HOUR)
        .await?;
    let (_, value) = stored_value(&row, &target)?;
    let now = roster_core::clock::now();
    let (code, code_row) = new_code(state, row.id, value.as_str(), now);
    let webhook = row.webhook_config.as_ref().map(|j| j.0.clone());
    let message = verification_message(state, row.id, &value, &facts.name, webhook.as_ref(), code);
    let audit = actor(auth, request_id, ip).event(
        "channel.code_sent",
        "notification_channel",
        Some(row.id),
        json!({ "type": row.channel_type, "priority": row.priority }),
    );
    let expires_at = code_row.expires_at;
    state.store().reissue_channel_code(auth.organization_id, owner, row.id, &code_row, &message, &audit, now).await?;
    state.message_queued();
    Ok(CodeSent { message: format!("a new code was sent to {}", value.label()), expires_at })
}

pub(super) async fn test(
    state: &AppState,
    auth: &Auth<ChannelManage>,
    (request_id, ip): (Option<String>, IpAddr),
    owner: ChannelOwner,
    body: PriorityRequest,
) -> Result<TestQueued, Error> {
    let facts = resolve(state, auth, owner).await?;
    let row = channel_at(state, owner, required_priority(body.priority)?).await?;
    if row.verified_at.is_none() {
        return Err(Error::Conflict("verify the channel first".into()));
    }
    if !row.enabled {
        return Err(Error::Conflict("the channel is disabled: enable it first".into()));
    }
    // A muted channel, like a disabled one, receives nothing but its own verification codes.
    if super::view::stored_mute(&row.mute)?.is_muted(roster_core::clock::now()) {
        return Err(Error::Conflict("the channel is muted: unmute it first".into()));
    }
    let config = state.config();
    rate_limit::hit(state, &format!("channel-test:{}", row.id), config.channels.test_sends_per_hour, Duration::HOUR)
        .await?;
    let caller =
        state.store().customer(auth.organization_id, auth.customer_id).await?.ok_or(Error::NotFound("customer"))?;
    let (ty, value) = stored_value(&row, &row.value)?;
    let now = roster_core::clock::now();
    let message = NewMessage {
        transport: Transport::from(ty),
        template: Template::ChannelTest,
        recipient: value.as_str().to_owned(),
        data: json!({
            "channel_label": value.label(),
            "owner_name": facts.name,
            "sent_at": now.format(&Rfc3339).map_err(Error::internal)?,
            "requested_by": format!("{} {}", caller.name, caller.surname).trim(),
            "channel_id": row.id,
            "webhook": row.webhook_config.as_ref().map(|j| &j.0),
        }),
        secret: None,
    };
    let audit = actor(auth, request_id, ip).event(
        "channel.tested",
        "notification_channel",
        Some(row.id),
        json!({ "type": ty, "priority": row.priority }),
    );
    let id = state.store().queue_channel_test(auth.organization_id, owner, row.id, &message, &audit, now).await?;
    state.message_queued();
    Ok(TestQueued { delivery_id: id.0, message: format!("a test message is on its way to {}", value.label()) })
}
