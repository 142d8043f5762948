//! The organization's people and memberships (the uptime API's
//! `/v1/memberships`, PingBack's members), suspending and removing people,
//! and a person's own availability.

use super::customer::actor;
use crate::http::extract::{act, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use roster_core::ids::*;
use roster_core::policy::{can_act_on, Action};
use roster_core::role::Role;
use roster_core::Error;
use roster_store::members::{MembershipRow, PersonRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_memberships))
        .routes(routes!(list_members))
        .routes(routes!(remove_member))
        .routes(routes!(set_member_active))
        .routes(routes!(set_availability))
}

/// The availabilities a person can set (PingBack's).
const AVAILABILITIES: [&str; 3] = ["live", "away", "offline"];

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub id: MembershipId,
    pub customer_id: CustomerId,
    pub team_id: TeamId,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<MembershipRow> for MembershipView {
    fn from(m: MembershipRow) -> Self {
        Self {
            id: m.id,
            customer_id: m.customer_id,
            team_id: m.team_id,
            role: m.role,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A person of the organization, in PingBack's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationMemberView {
    /// The person's customer id.
    pub id: CustomerId,
    /// The same as `id`.
    pub user_id: CustomerId,
    pub email: String,
    /// Full name.
    pub name: String,
    pub role: Role,
    /// Availability: `live`, `away` or `offline`.
    pub status: String,
    /// False while the person is suspended.
    pub is_active: bool,
    /// When they were invited; when they joined, for those who were not.
    #[serde(with = "time::serde::rfc3339")]
    pub invited_at: OffsetDateTime,
}

impl From<PersonRow> for OrganizationMemberView {
    fn from(p: PersonRow) -> Self {
        Self {
            id: p.id,
            user_id: p.id,
            email: p.email,
            name: format!("{} {}", p.name, p.surname),
            role: p.role,
            status: p.availability,
            is_active: p.status == "active",
            invited_at: p.invited_at.unwrap_or(p.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberRemoved {
    #[schema(example = "Team member removed")]
    pub message: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetActiveRequest {
    /// False suspends the person (their credentials stop working at once); true reactivates them.
    pub is_active: bool,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// `live`, `away` or `offline`.
    #[schema(example = "live")]
    pub status: String,
}

/// The rules for suspending or removing a person, on the caller's current role.
fn may_act_on_person(action: Action) -> impl FnOnce(Role, Role) -> Result<(), Error> + Send {
    move |caller, target| {
        if !action.allows(caller) {
            return Err(Error::Forbidden(format!("your role `{caller}` does not allow this: {}", action.why())));
        }
        if !can_act_on(caller, target) {
            return Err(Error::Forbidden(
                "nobody acts on a person whose role is above their own, and only an owner acts on an owner".into(),
            ));
        }
        Ok(())
    }
}

fn not_yourself(auth_id: CustomerId, id: CustomerId, hint: &str) -> Result<(), Error> {
    if auth_id == id {
        return Err(Error::invalid("id", "is_yourself", hint));
    }
    Ok(())
}

/// List the organization's memberships (who is in which team, with which role), oldest first.
#[utoipa::path(
    get, path = "/v1/memberships", tag = "organization",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Paged<MembershipView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `teams:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Paging values invalid or out of range"),
    )
)]
pub async fn list_memberships(
    State(state): State<AppState>,
    auth: Auth<act::TeamRead>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<MembershipView>>> {
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_memberships(auth.organization_id, limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(MembershipView::from).collect(), offset, total)))
}

/// List the organization's people with their role, availability and whether they are active, oldest first.
#[utoipa::path(
    get, path = "/v1/members", tag = "organization",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Paged<OrganizationMemberView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Paging values invalid or out of range"),
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    auth: Auth<act::MembersRead>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<OrganizationMemberView>>> {
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_people(auth.organization_id, limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(OrganizationMemberView::from).collect(), offset, total)))
}

/// Remove a person from the organization, with all their personal data. Owners only.
///
/// The last owner cannot be removed; to leave yourself, use `DELETE /v1/customer`.
#[utoipa::path(
    delete, path = "/v1/members/{id}", tag = "organization",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The person's customer id")),
    responses(
        (status = 200, body = MemberRemoved),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an owner, or lacks `customers:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such person in the organization"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The person is the last owner"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID, or is the caller's own"),
    )
)]
pub async fn remove_member(
    State(state): State<AppState>,
    auth: Auth<act::MemberRemove>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CustomerId>,
) -> ApiResult<Json<MemberRemoved>> {
    not_yourself(auth.customer_id, id, "is your own: use DELETE /v1/customer to leave")?;
    let audit = actor(&auth, request_id, ip).event("member.removed", "customer", Some(id.0), json!({}));
    state
        .store()
        .remove_person(auth.organization_id, id, auth.customer_id, may_act_on_person(Action::MemberRemove), &audit)
        .await?;
    Ok(Json(MemberRemoved { message: "Team member removed".into() }))
}

/// Suspend (`is_active: false`) or reactivate a person. A suspended person's
/// sessions and API keys stop working at once, and work again on reactivation.
#[utoipa::path(
    put, path = "/v1/members/{id}/active", tag = "organization",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The person's customer id")),
    request_body = SetActiveRequest,
    responses(
        (status = 200, body = OrganizationMemberView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, lacks `customers:write`, or the person is above the caller"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such person in the organization"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The person is the last active owner"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing `is_active`, an id that is not a UUID, or the caller's own"),
    )
)]
pub async fn set_member_active(
    State(state): State<AppState>,
    auth: Auth<act::MemberSuspend>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CustomerId>,
    ApiJson(body): ApiJson<SetActiveRequest>,
) -> ApiResult<Json<OrganizationMemberView>> {
    not_yourself(auth.customer_id, id, "is your own: you cannot suspend or reactivate yourself")?;
    let action = if body.is_active { "member.reactivated" } else { "member.suspended" };
    let audit = actor(&auth, request_id, ip).event(action, "customer", Some(id.0), json!({}));
    let row = state
        .store()
        .set_person_active(
            auth.organization_id,
            id,
            auth.customer_id,
            body.is_active,
            may_act_on_person(Action::MemberSuspend),
            &audit,
            roster_core::clock::now(),
        )
        .await?;
    Ok(Json(row.into()))
}

/// Set your own availability: `live`, `away` or `offline`.
#[utoipa::path(
    put, path = "/v1/customer/status", tag = "organization",
    security(("bearer" = [])),
    request_body = Availability,
    responses(
        (status = 200, body = Availability),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing or unknown status"),
    )
)]
pub async fn set_availability(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Availability>,
) -> ApiResult<Json<Availability>> {
    let status = body.status.trim().to_ascii_lowercase();
    if !AVAILABILITIES.contains(&status.as_str()) {
        return Err(Error::invalid("status", "invalid_status", "must be one of live, away, offline").into());
    }
    let audit = actor(&auth, request_id, ip).event(
        "customer.availability_changed",
        "customer",
        Some(auth.customer_id.0),
        json!({ "status": status }),
    );
    let found = state
        .store()
        .set_availability(auth.organization_id, auth.customer_id, &status, &audit, roster_core::clock::now())
        .await?;
    if !found {
        return Err(Error::NotFound("customer").into());
    }
    Ok(Json(Availability { status }))
}
