//! One-click unsubscribe (RFC 8058) from the `List-Unsubscribe` link in alert emails.

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
