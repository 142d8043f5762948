//! How a channel is shown: secrets masked, mute judged at the time of asking.

use super::stored_value;
use roster_core::channel::{ChannelType, Mute, Suppress, WebhookConfig};
use roster_core::Error;
use roster_store::channels::ChannelRow;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub channel_type: ChannelType,
    /// Where alerts go; secret values (webhook URLs, keys, tokens) masked.
    pub value: String,
    /// A new value waiting for its code, masked likewise; alerts go to `value` meanwhile.
    pub pending_value: Option<String>,
    /// 1 is tried first.
    pub priority: i64,
    pub enabled: bool,
    pub verified: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    pub mute: Mute,
    /// Whether the channel is muted right now.
    pub muted: bool,
    pub suppress: Suppress,
    pub bypass_quiet_hours: bool,
    /// Webhooks only: the request's shape, header values masked.
    pub webhook: Option<WebhookConfig>,
    /// Webhooks only: the first characters of the Standard Webhooks signing
    /// secret (the secret itself is shown once, when created or rotated).
    #[schema(example = "whsec_MfKQ…")]
    pub signing_secret_hint: Option<String>,
    /// Webhooks only: after a rotation, until when the replaced secret still signs too.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Another channel of the same owner, tried when a delivery through this one fails for good.
    pub fallback_channel_id: Option<Uuid>,
    /// Set when the system turned the channel off; switching it on (or verifying a new value) clears it.
    pub disabled_by_system: Option<DisabledBySystem>,
    /// Since when every delivery through the channel has failed; `null` while it works.
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Why and when the system turned a channel off, apart from the owner's `enabled`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisabledBySystem {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What the receiver did, e.g. that it answered 410 Gone, or failed every delivery for a day.
    pub reason: String,
}

/// A new channel: the channel, and for a webhook its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// Webhooks only, and only in this answer: the Standard Webhooks secret
    /// (`whsec_…`) that signs the channel's requests. Store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub signing_secret: Option<String>,
}

impl ChannelView {
    pub fn from_row(row: &ChannelRow, now: OffsetDateTime) -> Result<Self, Error> {
        let (channel_type, value) = stored_value(row, &row.value)?;
        let pending_value = match &row.pending_value {
            Some(p) => Some(stored_value(row, p)?.1.masked()),
            None => None,
        };
        let mute = stored_mute(&row.mute)?;
        let webhook = webhook_config(row)?.map(|mut w| {
            // Header values are often credentials (Authorization, X-Token).
            w.headers.values_mut().for_each(|v| *v = "********".to_owned());
            w
        });
        Ok(Self {
            id: row.id,
            channel_type,
            value: value.masked(),
            pending_value,
            priority: row.priority,
            enabled: row.enabled,
            verified: row.verified_at.is_some(),
            verified_at: row.verified_at,
            mute,
            muted: mute.is_muted(now),
            suppress: Suppress {
                up: row.suppress_up,
                down: row.suppress_down,
                first: row.suppress_first,
                diagnostic: row.suppress_diagnostic,
                all: row.suppress_all,
            },
            bypass_quiet_hours: row.bypass_quiet_hours,
            webhook,
            signing_secret_hint: row.signing_secret_hint.as_ref().map(|h| format!("{h}…")),
            // Shown while it lasts: an expired one signs nothing any more.
            previous_secret_expires_at: row.previous_secret_expires_at.filter(|t| *t > now),
            fallback_channel_id: row.fallback_channel_id,
            disabled_by_system: row
                .disabled_by_system_at
                .map(|at| DisabledBySystem { at, reason: row.disabled_reason.clone().unwrap_or_default() }),
            failing_since: row.failing_since,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A stored mute; one the store should never hold is an internal error.
pub(super) fn stored_mute(raw: &str) -> Result<Mute, Error> {
    Mute::from_stored(raw).map_err(|p| Error::internal(p.message))
}

/// The stored webhook configuration, unmasked.
pub(super) fn webhook_config(row: &ChannelRow) -> Result<Option<WebhookConfig>, Error> {
    row.webhook_config.as_ref().map(|j| serde_json::from_value(j.0.clone()).map_err(Error::internal)).transpose()
}
