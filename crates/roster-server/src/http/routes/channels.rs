//! `/v1/customer/{id}/notification-channel…` and `/v1/team/{id}/notification-channel…`:
//! the notification channels of a customer and of a team, with one
//! implementation for both owners ([`ChannelOwner`]), and a customer's quiet hours.
//!
//! A channel is created unverified and receives a code through itself; a new
//! value of a verified channel waits as `pending_value` until its own code
//! comes back, so alerts never go to an address nobody has proved.

mod handlers;
mod manage;
mod quiet;
mod signing;
mod verify;
mod view;

use crate::http::extract::{Auth, RequiredAction};
use crate::state::AppState;
use roster_core::channel::{ChannelType, ChannelValue, ValueRules};
use roster_core::message::{NewMessage, Template, Transport};
use roster_core::policy::{self, Action};
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::channels::{ChannelOwner, ChannelRow, NewChannelCode, OwnerFacts};
use time::{Duration, OffsetDateTime};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub use view::ChannelView;

pub fn router() -> OpenApiRouter<AppState> {
    handlers::router().merge(quiet::router())
}

/// Finds the owner in the caller's organization (404 otherwise) and applies
/// the object rule for reading or changing its channels (403).
pub(super) async fn resolve<A: RequiredAction>(
    state: &AppState,
    auth: &Auth<A>,
    owner: ChannelOwner,
) -> Result<OwnerFacts, Error> {
    let facts = state.store().channel_owner(auth.organization_id, owner, auth.customer_id).await?;
    judge::<A>(owner, facts)
}

/// [`resolve`]'s rules on facts already read: 404 without them, 403 when the
/// caller may not read (or change) the owner's channels.
pub(super) fn judge<A: RequiredAction>(owner: ChannelOwner, facts: Option<OwnerFacts>) -> Result<OwnerFacts, Error> {
    let what = match owner {
        ChannelOwner::Customer(_) => "customer",
        ChannelOwner::Team(_) => "team",
    };
    let facts = facts.ok_or(Error::NotFound(what))?;
    let write = A::ACTION == Some(Action::ChannelManage);
    let role = facts.caller_role;
    let allowed = match (owner, write) {
        (ChannelOwner::Customer(_), false) => policy::can_read_personal_channels(role, facts.caller_related),
        (ChannelOwner::Customer(_), true) => policy::can_manage_personal_channels(facts.caller_related),
        (ChannelOwner::Team(_), false) => true,
        (ChannelOwner::Team(_), true) => policy::can_manage_team(role, facts.caller_related),
    };
    if !allowed {
        let why = match (owner, write) {
            (ChannelOwner::Customer(_), false) => "only admins and owners read other people's channels",
            (ChannelOwner::Customer(_), true) => "people manage only their own channels",
            _ => "only the team's managers, admins and owners manage its channels",
        };
        return Err(Error::Forbidden(why.into()));
    }
    Ok(facts)
}

/// A stored channel's type and parsed value.
pub(super) fn stored_value(row: &ChannelRow, raw: &str) -> Result<(ChannelType, ChannelValue), Error> {
    let ty = ChannelType::parse(&row.channel_type).map_err(|p| Error::internal(p.message))?;
    let value = ChannelValue::parse(ty, raw, &ValueRules::STORED).map_err(|p| Error::internal(p.message))?;
    Ok((ty, value))
}

/// A `priority` field: required, 1 or more.
pub(super) fn priority(errors: &mut FieldErrors, raw: Option<i64>) -> Option<i64> {
    match raw {
        None => errors.push("priority", "required", "give the channel's priority"),
        Some(p) if p < 1 => errors.push("priority", "out_of_range", "must be 1 or more"),
        Some(p) => return Some(p),
    }
    None
}

/// The owner's channel of `priority`, or 404.
pub(super) async fn channel_at(state: &AppState, owner: ChannelOwner, priority: i64) -> Result<ChannelRow, Error> {
    state.store().channel_by_priority(owner, priority).await?.ok_or(Error::NotFound("notification channel"))
}

/// A fresh code for channel `id` bound to `target`, and the code itself.
pub(super) fn new_code(state: &AppState, id: Uuid, target: &str, now: OffsetDateTime) -> (String, NewChannelCode) {
    let code = roster_core::secret::verification_code();
    let hash = state.key().hash_code("channel_verification", &format!("{id}:{target}"), &code);
    let minutes = state.config().code_ttl_minutes;
    (code, NewChannelCode { target: target.to_owned(), hash, expires_at: now + Duration::minutes(minutes as i64) })
}

/// The message that carries `code` to `value` through channel `id`.
pub(super) fn verification_message(
    state: &AppState,
    id: Uuid,
    value: &ChannelValue,
    owner_name: &str,
    webhook: Option<&serde_json::Value>,
    code: String,
) -> NewMessage {
    NewMessage {
        transport: Transport::from(value.channel_type()),
        template: Template::ChannelVerification,
        recipient: value.as_str().to_owned(),
        data: serde_json::json!({
            "channel_label": value.label(),
            "owner_name": owner_name,
            "expires_in_minutes": state.config().code_ttl_minutes,
            "channel_id": id,
            "webhook": webhook,
        }),
        secret: Some(code),
    }
}

/// The audit target of an owner.
pub(super) fn owner_target(owner: ChannelOwner) -> &'static str {
    match owner {
        ChannelOwner::Customer(_) => "customer",
        ChannelOwner::Team(_) => "team",
    }
}
