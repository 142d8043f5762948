//! The OpenAPI 3.1 document, generated from the handlers' annotations, and
//! the offline docs page that renders it.

use crate::state::AppState;
use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster API",
        description = "Accounts, organizations, teams and notification channels for monitoring and alerting platforms. \
            Errors are RFC 9457 problem+json with a stable `code`; lists page with `limit` and `offset` or `page`.",
    ),
    modifiers(&BearerAuth),
    components(schemas(super::problem::Problem, roster_core::validation::FieldError)),
    tags(
        (name = "auth", description = "Sign-up, login, sessions and email verification"),
        (name = "customer", description = "The customer's own profile"),
        (name = "api-keys", description = "API keys for machine callers"),
        (name = "teams", description = "Teams and their members"),
        (name = "invitations", description = "Inviting people to a team, and answering an invitation"),
        (name = "organization", description = "The organization, its people, ownership and status-page domains"),
        (name = "services", description = "Services owned by teams"),
        (name = "channels", description = "Notification channels of customers and teams: verified, tested, switchable"),
        (name = "deliveries", description = "What was sent through a channel, attempt by attempt"),
        (name = "alerts", description = "Alerts: notify a team or a customer through every channel that should hear of it"),
        (name = "audit", description = "Who did what, when and from where"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from login or sign-up (`rst_…`), or an API key (`rsk_…`)."))
                    .build(),
            ),
        );
    }
}

/// Every documented route.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(super::routes::auth::router())
        .merge(super::routes::customer::router())
        .merge(super::routes::api_keys::router())
        .merge(super::routes::teams::router())
        .merge(super::routes::members::router())
        .merge(super::routes::invitations::router())
        .merge(super::routes::organization::router())
        .merge(super::routes::services::router())
        .merge(super::routes::channels::router())
        .merge(super::routes::deliveries::router())
        .merge(super::routes::alerts::router())
        .merge(super::routes::audit::router())
        .merge(super::routes::security::router())
        .merge(super::routes::unsubscribe::router())
        .merge(super::routes::health::documented())
}

/// `GET /openapi.json` and the docs page at `/docs`, with its assets served from the binary.
pub fn docs_router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}
