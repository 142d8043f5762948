//! Liveness, readiness and metrics.

use crate::http::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    status: &'static str,
}

/// The operational routes, documented like the rest.
pub fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_healthz)).routes(routes!(get_readyz)).routes(routes!(get_metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Status)))]
pub async fn get_healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The process can serve requests: its database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, body = Status),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "The database does not answer"),
    )
)]
pub async fn get_readyz(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    match tokio::time::timeout(Duration::from_secs(2), state.store().ping()).await {
        Ok(Ok(())) => Ok(Json(Status { status: "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::Unavailable("the database is not reachable".into()))
        }
        Err(_) => Err(ApiError::Unavailable("the database did not answer in time".into())),
    }
}

/// Request counts and latency histograms by route and status, in Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn get_metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics().render(state.store()))
}
