//! `/v1/deliveries`: what became of the messages sent through notification
//! channels (verification codes, tests, alerts), for whoever may read the
//! channel, and the replay of a failed one for whoever may change it. The
//! receiver's answer and the operator-only error detail are never shown: a
//! webhook's response may echo its secrets or an internal page.

use crate::http::extract::{act, ApiPath, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::http::routes::customer::actor;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::ids::{CustomerId, MessageId, TeamId};
use roster_core::policy;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::channels::ChannelOwner;
use roster_store::deliveries::{DeliveryAttemptRow, DeliveryFilter, DeliveryRow, ReplayRefused};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_deliveries)).routes(routes!(get_delivery)).routes(routes!(retry_delivery))
}

const STATUSES: [&str; 5] = ["pending", "sending", "sent", "failed", "skipped"];
const KINDS: [&str; 4] = ["verification", "test", "alert", "notice"];

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttemptView {
    /// 1 for the first try.
    pub attempt: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    /// `sent`, `retry` (failed, tried again later) or `failed`.
    #[schema(example = "sent")]
    pub outcome: String,
    /// The HTTP status the receiver answered, when it answered.
    pub status_code: Option<i64>,
    /// Why the attempt failed: `timeout`, `connect`, `rejected`, `server_error`, `rate_limited`, `gone`, `not_configured`, …
    pub error_class: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub channel_id: Uuid,
    /// The channel's type: `email`, `sms`, `webhook`, …
    #[schema(example = "email")]
    pub channel_type: String,
    /// `verification`, `test`, `alert` or `notice`.
    #[schema(example = "test")]
    pub kind: String,
    /// `pending` (waiting, or held for quiet hours), `sending`, `sent`, `failed` (after its last attempt, or for
    /// good; can be replayed) or `skipped` (never sent; see `skip_reason`).
    #[schema(example = "sent")]
    pub status: String,
    /// The alert it belongs to, for alert deliveries.
    pub alert_id: Option<Uuid>,
    /// Why a skipped delivery was not sent: `disabled`, `disabled_by_system`, `unverified`, `muted` or `suppressed`.
    pub skip_reason: Option<String>,
    /// When a delivery held for the owner's quiet hours goes out.
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_until: Option<OffsetDateTime>,
    /// The failed delivery this one replaces, through the failed channel's fallback channel.
    pub fallback_of: Option<Uuid>,
    /// Every attempt, oldest first (a replay starts its numbering again at 1).
    pub attempts: Vec<DeliveryAttemptView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was sent or given up on; `null` while it is still being tried.
    #[serde(with = "time::serde::rfc3339::option")]
    pub settled_at: Option<OffsetDateTime>,
}

impl DeliveryView {
    fn new(row: DeliveryRow, attempts: Vec<DeliveryAttemptRow>) -> Self {
        Self {
            id: row.id.0,
            channel_id: row.channel_id,
            channel_type: row.channel_type,
            kind: row.kind,
            status: row.status,
            alert_id: row.alert_id,
            skip_reason: row.skip_reason,
            held_until: row.held_until,
            fallback_of: row.fallback_of,
            attempts: attempts
                .into_iter()
                .map(|a| DeliveryAttemptView {
                    attempt: a.attempt,
                    started_at: a.started_at,
                    duration_ms: a.duration_ms,
                    outcome: a.outcome,
                    status_code: a.status_code,
                    error_class: a.error_class,
                })
                .collect(),
            created_at: row.created_at,
            settled_at: row.settled_at,
        }
    }
}

/// Read a delivery: its status and every attempt, with the receiver's status code.
#[utoipa::path(
    get, path = "/v1/deliveries/{id}", tag = "deliveries",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The delivery's id, as answered when it was queued")),
    responses(
        (status = 200, body = DeliveryView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `deliveries:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such delivery through a channel you may read"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
    )
)]
pub async fn get_delivery(
    State(state): State<AppState>,
    auth: Auth<act::DeliveryRead>,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<Json<DeliveryView>> {
    let (row, attempts) =
        state.store().channel_delivery(auth.organization_id, id).await?.ok_or(Error::NotFound("delivery"))?;
    // Someone else's personal channel is as invisible as a missing one.
    if let Some(owner) = row.personal_owner() {
        if !policy::can_read_personal_channels(auth.role, owner == auth.customer_id) {
            return Err(Error::NotFound("delivery").into());
        }
    }
    Ok(Json(DeliveryView::new(row, attempts)))
}

/// A delivery in a listing: as read one by one, without its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliverySummary {
    pub id: Uuid,
    pub channel_id: Uuid,
    #[schema(example = "email")]
    pub channel_type: String,
    #[schema(example = "alert")]
    pub kind: String,
    #[schema(example = "sent")]
    pub status: String,
    pub alert_id: Option<Uuid>,
    pub skip_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_until: Option<OffsetDateTime>,
    pub fallback_of: Option<Uuid>,
    /// How many attempts were made.
    pub attempt_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub settled_at: Option<OffsetDateTime>,
}

impl From<DeliveryRow> for DeliverySummary {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id.0,
            channel_id: r.channel_id,
            channel_type: r.channel_type,
            kind: r.kind,
            status: r.status,
            alert_id: r.alert_id,
            skip_reason: r.skip_reason,
            held_until: r.held_until,
            fallback_of: r.fallback_of,
            attempt_count: r.attempts_made,
            created_at: r.created_at,
            settled_at: r.settled_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries through this channel.
    #[param(format = Uuid)]
    pub channel: Option<String>,
    /// Only deliveries in this state: `pending`, `sending`, `sent`, `failed` or `skipped`.
    pub status: Option<String>,
    /// Only deliveries of this kind: `verification`, `test`, `alert` or `notice` (Roster telling an owner it turned a channel off).
    pub kind: Option<String>,
    /// Only the deliveries of this alert.
    #[param(format = Uuid)]
    pub alert: Option<String>,
}

impl DeliveryParams {
    fn filter(&self) -> Result<DeliveryFilter, Error> {
        let mut errors = FieldErrors::default();
        let mut uuid = |field: &str, raw: &Option<String>| match raw {
            None => None,
            Some(s) => match Uuid::parse_str(s.trim()) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(field, "invalid_id", "must be a UUID");
                    None
                }
            },
        };
        let channel = uuid("channel", &self.channel);
        let alert = uuid("alert", &self.alert);
        let mut one_of = |field: &str, raw: &Option<String>, allowed: &[&str]| match raw {
            None => None,
            Some(s) if allowed.contains(&s.trim()) => Some(s.trim().to_owned()),
            Some(s) => {
                errors.push(field, "invalid_value", format!("`{s}` is not one of {}", allowed.join(", ")));
                None
            }
        };
        let status = one_of("status", &self.status, &STATUSES);
        let kind = one_of("kind", &self.kind, &KINDS);
        errors.finish()?;
        Ok(DeliveryFilter { channel, status, kind, alert })
    }
}

/// List deliveries through the channels you may read, newest first; filter by channel, status, kind or alert.
#[utoipa::path(
    get, path = "/v1/deliveries", tag = "deliveries",
    security(("bearer" = [])),
    params(PageParams, DeliveryParams),
    responses(
        (status = 200, body = Paged<DeliverySummary>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `deliveries:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "An invalid filter, or paging out of range"),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    auth: Auth<act::DeliveryRead>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> ApiResult<Json<Paged<DeliverySummary>>> {
    let (limit, offset) = page.resolve()?;
    let filter = params.filter()?;
    let all_personal = policy::can_read_personal_channels(auth.role, false);
    let (rows, total) = state
        .store()
        .list_deliveries(auth.organization_id, auth.customer_id, all_personal, &filter, limit, offset)
        .await?;
    Ok(Json(Paged::new(rows.into_iter().map(DeliverySummary::from).collect(), offset, total)))
}

/// Replay a failed delivery: it is queued again at once with a fresh retry schedule.
#[utoipa::path(
    post, path = "/v1/deliveries/{id}/retry", tag = "deliveries",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The delivery's id")),
    responses(
        (status = 202, body = DeliveryView, description = "Queued again"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `deliveries:write`, or may not change the channel"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such delivery through a channel you may read"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not failed, a verification code (request a new one), or the channel is switched off"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
    )
)]
pub async fn retry_delivery(
    State(state): State<AppState>,
    auth: Auth<act::DeliveryRetry>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let store = state.store();
    let (row, _) = store.channel_delivery(auth.organization_id, id).await?.ok_or(Error::NotFound("delivery"))?;
    let owner = match (row.channel_customer_id, row.channel_team_id) {
        (Some(c), _) => ChannelOwner::Customer(CustomerId(c)),
        (None, Some(t)) => ChannelOwner::Team(TeamId(t)),
        (None, None) => return Err(Error::NotFound("delivery").into()),
    };
    let facts =
        store.channel_owner(auth.organization_id, owner, auth.customer_id).await?.ok_or(Error::NotFound("delivery"))?;
    let allowed = match owner {
        ChannelOwner::Customer(_) if !policy::can_read_personal_channels(auth.role, facts.caller_related) => {
            return Err(Error::NotFound("delivery").into())
        }
        ChannelOwner::Customer(_) => policy::can_manage_personal_channels(facts.caller_related),
        ChannelOwner::Team(_) => policy::can_manage_team(facts.caller_role, facts.caller_related),
    };
    if !allowed {
        return Err(Error::Forbidden("only whoever may change the channel replays its deliveries".into()).into());
    }
    let now = roster_core::clock::now();
    let audit = actor(&auth, request_id, ip).event(
        "delivery.replayed",
        "delivery",
        Some(id.0),
        json!({ "channel_id": row.channel_id, "kind": row.kind }),
    );
    match store.replay_delivery(auth.organization_id, id, &audit, now).await? {
        Ok(()) => {}
        Err(ReplayRefused::NotFailed(status)) => {
            return Err(Error::Conflict(format!("only a failed delivery can be replayed; this one is {status}")).into())
        }
        Err(ReplayRefused::SecretForgotten) => {
            return Err(Error::Conflict(
                "a verification code is forgotten once settled; request a new code instead".into(),
            )
            .into())
        }
        Err(ReplayRefused::ChannelOff) => {
            return Err(Error::Conflict("the channel is switched off; switch it on first".into()).into())
        }
    }
    // Read back before waking the worker, so the answer shows the delivery as queued.
    let (row, attempts) = store.channel_delivery(auth.organization_id, id).await?.ok_or(Error::NotFound("delivery"))?;
    state.message_queued();
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::new(row, attempts))))
}
