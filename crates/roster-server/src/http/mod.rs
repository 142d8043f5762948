//! The HTTP layer: routes, the middleware stack, and the OpenAPI document
//! generated from the handlers.

pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod permissions;
pub mod problem;
pub mod routes;

use crate::state::AppState;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

impl FromRef<AppState> for metrics::Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics().clone()
    }
}

/// Request ids are UUIDv7, so they sort by time in logs.
#[derive(Clone, Copy)]
struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).ok().map(RequestId::new)
    }
}

/// The whole application: every route behind the middleware stack.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let (api, openapi) = openapi::api_router().split_for_parts();
    let request_id = HeaderName::from_static("x-request-id");

    let cors = if config.cors_allowed_origins.is_empty() {
        CorsLayer::new()
    } else {
        let origins: Vec<HeaderValue> =
            config.cors_allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE])
            .expose_headers([request_id.clone()])
            .max_age(Duration::from_secs(3600))
    };

    api.merge(openapi::docs_router(openapi))
        .fallback(|| async { problem::ApiError::NotFound })
        .route_layer(axum::middleware::from_fn(metrics::tag_route))
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(state.store().clone(), extract::forget_principals))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuidV7))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<_>| {
                            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                            tracing::info_span!("request", method = %req.method(), route = tracing::field::Empty, request_id = %id)
                        })
                        .on_request(())
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn_with_state(state.metrics().clone(), metrics::track))
                .layer(axum::middleware::from_fn(problem::ensure_problem_body))
                .layer(CatchPanicLayer::custom(problem::panic_response))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(config.request_timeout_secs),
                ))
                .layer(cors),
        )
        .with_state(state)
}
