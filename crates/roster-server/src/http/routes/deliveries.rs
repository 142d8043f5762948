//! `/v1/deliveries/{id}`: what became of a message sent through a
//! notification channel (a verification code, a test, an alert), for whoever
//! may read the channel. The receiver's answer and the operator-only error
//! detail are never shown: a webhook's response may echo its secrets.

use crate::http::extract::{act, ApiPath, Auth};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use roster_core::ids::MessageId;
use roster_core::policy;
use roster_core::Error;
use roster_store::deliveries::{DeliveryAttemptRow, DeliveryRow};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_delivery))
}

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
    /// `verification`, `test` or `alert`.
    #[schema(example = "test")]
    pub kind: String,
    /// `pending`, `sending`, `sent` or `failed`.
    #[schema(example = "sent")]
    pub status: String,
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
            kind: row.kind,
            status: row.status,
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
