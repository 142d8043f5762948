//! `POST /v1/team/{id}/notify`, `POST /v1/customer/{id}/notify` and
//! `GET /v1/team/{id}/reachability`: alerts fanned out to channels.

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
