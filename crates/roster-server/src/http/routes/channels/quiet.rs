//! `/v1/customer/quiet-hours`: when the caller's alerts wait.

use crate::http::extract::{act, ApiJson, Auth, ClientIp, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::http::routes::customer::actor;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use roster_core::channel::{QuietHours, QuietWindow};
use roster_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_quiet_hours, put_quiet_hours))
}

/// Quiet hours as shown and as set; no windows means none.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursBody {
    /// An IANA time zone such as `Europe/Berlin`.
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub windows: Option<Vec<QuietWindow>>,
}

/// The caller's quiet hours.
#[utoipa::path(
    get, path = "/v1/customer/quiet-hours", tag = "channels",
    security(("bearer" = [])),
    responses(
        (status = 200, body = QuietHoursBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Never for this route"),
    )
)]
pub async fn get_quiet_hours(
    State(state): State<AppState>,
    auth: Auth<act::ProfileRead>,
) -> ApiResult<Json<QuietHoursBody>> {
    let stored = state.store().quiet_hours(auth.customer_id).await?;
    let q: Option<QuietHours> = stored.map(serde_json::from_value).transpose().map_err(Error::internal)?;
    Ok(Json(match q {
        Some(q) => QuietHoursBody { timezone: Some(q.timezone), windows: Some(q.windows) },
        None => QuietHoursBody { timezone: None, windows: Some(Vec::new()) },
    }))
}

/// Set (or, with no windows, clear) the caller's quiet hours.
#[utoipa::path(
    put, path = "/v1/customer/quiet-hours", tag = "channels",
    security(("bearer" = [])),
    request_body = QuietHoursBody,
    responses(
        (status = 200, body = QuietHoursBody),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown time zone, bad window, or no `timezone` with windows"),
    )
)]
pub async fn put_quiet_hours(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<QuietHoursBody>,
) -> ApiResult<Json<QuietHoursBody>> {
    let windows = body.windows.unwrap_or_default();
    let stored = if windows.is_empty() {
        None
    } else {
        let Some(timezone) = body.timezone else {
            return Err(Error::invalid("timezone", "required", "give the time zone the windows are in").into());
        };
        let q = QuietHours { timezone: timezone.trim().to_owned(), windows };
        q.validate().map_err(Error::Validation)?;
        Some(q)
    };
    let json_value = stored.as_ref().map(|q| serde_json::to_value(q).expect("serializable"));
    let audit = actor(&auth, request_id, ip).event(
        "customer.quiet_hours_changed",
        "customer",
        Some(auth.customer_id.0),
        json!({ "windows": stored.as_ref().map_or(0, |q| q.windows.len()) }),
    );
    let now = roster_core::clock::now();
    state.store().set_quiet_hours(auth.customer_id, json_value.as_ref(), &audit, now).await?;
    Ok(Json(match stored {
        Some(q) => QuietHoursBody { timezone: Some(q.timezone), windows: Some(q.windows) },
        None => QuietHoursBody { timezone: None, windows: Some(Vec::new()) },
    }))
}
