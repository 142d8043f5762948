//! `/v1/service`, `/v1/services` and `/v1/team-service`: the services an
//! organization monitors (the seed's Service management). Each is owned by a
//! team; a team's managers manage its services, admins and owners any.

use super::customer::actor;
use super::organization::organization_plan;
use crate::http::extract::{act, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::ids::*;
use roster_core::names::DisplayName;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::services::{NewService, ServiceActor, ServiceRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_service))
        .routes(routes!(list_services))
        .routes(routes!(update_service, delete_service))
        .routes(routes!(get_service))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub service_id: ServiceId,
    pub name: String,
    /// The team that owns the service.
    pub team_id: TeamId,
    /// Resources (servers, APIs) monitored for the service.
    pub resource_count: i64,
    /// Heartbeat monitors of the service.
    pub heartbeat_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<ServiceRow> for ServiceView {
    fn from(r: ServiceRow) -> Self {
        Self {
            service_id: r.id,
            name: r.name,
            team_id: r.team_id,
            resource_count: r.resource_count,
            heartbeat_count: r.heartbeat_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn service_actor<A: crate::http::extract::RequiredAction>(auth: &Auth<A>) -> ServiceActor {
    ServiceActor { customer_id: auth.customer_id, role: auth.role }
}

fn parse_team_id(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<TeamId> {
    let parsed = raw.trim().parse::<TeamId>();
    if parsed.is_err() {
        errors.push(field, "invalid_id", "must be a UUID");
    }
    parsed.ok()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceRequest {
    #[schema(example = "ServiceName", min_length = 1, max_length = 255)]
    pub name: String,
    /// The team that will own the service.
    #[schema(format = Uuid, example = "39ed7fbd-200b-41eb-8467-a91f0809e802")]
    pub team_id: String,
}

/// Create a service owned by one of the organization's teams.
#[utoipa::path(
    post, path = "/v1/service", tag = "services",
    security(("bearer" = [])),
    request_body = CreateServiceRequest,
    responses(
        (status = 201, body = ServiceView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Cannot manage the team, lacks `services:write`, or the plan's service limit is reached (`PLAN_LIMIT_REACHED`)"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid name or team id"),
    )
)]
pub async fn create_service(
    State(state): State<AppState>,
    auth: Auth<act::ServiceManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateServiceRequest>,
) -> ApiResult<(StatusCode, Json<ServiceView>)> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", DisplayName::parse(&body.name));
    let team_id = parse_team_id(&body.team_id, "team_id", &mut errors);
    errors.finish()?;
    let (name, team_id) = (name.expect("checked"), team_id.expect("checked"));
    let plan = organization_plan(&state, auth.organization_id).await?;
    let id = ServiceId::new();
    let audit =
        actor(&auth, request_id, ip).event("service.created", "service", Some(id.0), json!({ "team_id": team_id }));
    let row = state
        .store()
        .create_service(&NewService {
            id,
            organization_id: auth.organization_id,
            team_id,
            name: name.as_str().to_owned(),
            max_services: plan.services,
            actor: service_actor(&auth),
            audit,
            now: roster_core::clock::now(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceFilter {
    /// Only this team's services.
    #[param(format = Uuid)]
    pub team_id: Option<String>,
}

/// List the organization's services, or one team's, oldest first.
#[utoipa::path(
    get, path = "/v1/services", tag = "services",
    security(("bearer" = [])),
    params(ServiceFilter, PageParams),
    responses(
        (status = 200, body = Paged<ServiceView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `services:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A malformed team id, or paging values invalid or out of range"),
    )
)]
pub async fn list_services(
    State(state): State<AppState>,
    auth: Auth<act::ServiceRead>,
    ApiQuery(filter): ApiQuery<ServiceFilter>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<ServiceView>>> {
    let mut errors = FieldErrors::default();
    let team = filter.team_id.as_deref().map(|t| parse_team_id(t, "team_id", &mut errors));
    errors.finish()?;
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_services(auth.organization_id, team.flatten(), limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(Into::into).collect(), offset, total)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceRequest {
    #[schema(example = "ServiceName", min_length = 1, max_length = 255)]
    pub name: String,
    /// Moves the service to another team (the caller must manage both);
    /// this is how a team's services are reassigned before the team is deleted.
    #[schema(format = Uuid)]
    pub team_id: Option<String>,
}

/// Rename a service and, with `team_id`, move it to another team.
#[utoipa::path(
    put, path = "/v1/service/{id}", tag = "services",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The service's id")),
    request_body = UpdateServiceRequest,
    responses(
        (status = 200, body = ServiceView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Cannot manage the service's team or the new team, or lacks `services:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such service, or no such new team, in the organization"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid id, name or team id"),
    )
)]
pub async fn update_service(
    State(state): State<AppState>,
    auth: Auth<act::ServiceManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<ServiceId>,
    ApiJson(body): ApiJson<UpdateServiceRequest>,
) -> ApiResult<Json<ServiceView>> {
    let mut errors = FieldErrors::default();
    let name = errors.check("name", DisplayName::parse(&body.name));
    let team = body.team_id.as_deref().map(|t| parse_team_id(t, "team_id", &mut errors));
    errors.finish()?;
    let name = name.expect("checked");
    let team = team.flatten();
    let audit = actor(&auth, request_id, ip).event(
        "service.updated",
        "service",
        Some(id.0),
        json!({ "fields": if team.is_some() { vec!["name", "team_id"] } else { vec!["name"] }, "team_id": team }),
    );
    let now = roster_core::clock::now();
    let row = state
        .store()
        .update_service(auth.organization_id, id, name.as_str(), team, service_actor(&auth), &audit, now)
        .await?;
    Ok(Json(row.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDeleted {
    pub message: String,
}

/// Delete a service.
#[utoipa::path(
    delete, path = "/v1/service/{id}", tag = "services",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The service's id")),
    responses(
        (status = 200, body = ServiceDeleted),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Cannot manage the service's team, or lacks `services:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such service in the organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
    )
)]
pub async fn delete_service(
    State(state): State<AppState>,
    auth: Auth<act::ServiceManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<ServiceId>,
) -> ApiResult<Json<ServiceDeleted>> {
    let audit = actor(&auth, request_id, ip).event("service.deleted", "service", Some(id.0), json!({}));
    state.store().delete_service(auth.organization_id, id, service_actor(&auth), &audit).await?;
    Ok(Json(ServiceDeleted { message: "the service was deleted".into() }))
}

/// Get a service's details: its name, team and usage counts.
#[utoipa::path(
    get, path = "/v1/team-service/{id}", tag = "services",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The service's id")),
    responses(
        (status = 200, body = ServiceView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `services:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such service in the organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
    )
)]
pub async fn get_service(
    State(state): State<AppState>,
    auth: Auth<act::ServiceRead>,
    ApiPath(id): ApiPath<ServiceId>,
) -> ApiResult<Json<ServiceView>> {
    let row = state.store().service(auth.organization_id, id).await?.ok_or(Error::NotFound("service"))?;
    Ok(Json(row.into()))
}
