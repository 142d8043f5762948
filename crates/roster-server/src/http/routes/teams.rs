//! `/v1/team…`: teams and their members (Pinghome's Team management).
//!
//! Object rules (`roster_core::policy`) are applied by the closures handed to
//! the store, which calls them inside its transaction on the caller's current
//! standing, after the objects were found.

use super::customer::actor;
use super::organization::plan_limits;
use crate::http::extract::{act, ApiJson, ApiPath, ApiPathPair, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::ids::*;
use roster_core::names::DisplayName;
use roster_core::policy::{can_act_on, can_grant, can_manage_team};
use roster_core::role::Role;
use roster_core::validation::{FieldErrors, FieldProblem};
use roster_core::Error;
use roster_store::teams::{MemberChange, MemberFacts, Standing, TeamMemberRow, TeamSummaryRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team))
        .routes(routes!(list_teams))
        .routes(routes!(update_team, delete_team))
        .routes(routes!(list_team_members))
        .routes(routes!(remove_team_member, update_team_member))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub team_id: TeamId,
    pub name: String,
    /// How many people belong to the team.
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<TeamSummaryRow> for TeamView {
    fn from(t: TeamSummaryRow) -> Self {
        Self {
            team_id: t.id,
            name: t.name,
            member_count: t.member_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A person as a member of a team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMemberView {
    pub customer_id: CustomerId,
    pub email: String,
    /// Full name.
    pub name: String,
    /// The person's role in the organization (the same in every team).
    pub role: Role,
    /// `active` or `suspended`.
    pub status: String,
    /// When they joined the team.
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

impl From<TeamMemberRow> for TeamMemberView {
    fn from(m: TeamMemberRow) -> Self {
        Self {
            customer_id: m.customer_id,
            email: m.email,
            name: format!("{} {}", m.name, m.surname),
            role: m.role,
            status: m.status,
            joined_at: m.joined_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    /// Unique in the organization, ignoring case and spacing.
    #[schema(example = "TeamName", min_length = 1, max_length = 255)]
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteTeamParams {
    /// Also delete the services the team owns; without it, a team that owns services is not deleted.
    #[serde(default)]
    #[param(default = false)]
    pub cascade: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamDeleted {
    pub message: String,
    /// How many of the team's services were deleted with it (`cascade=true`).
    pub deleted_services: i64,
}

// The handler refuses an empty body (422 `body` `required`): say so in the document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateMemberRequest {
    /// The new role: `admin`, `manager` (`edit`), `user` (`member`, `agent`), `viewer` (`view`) or `notify`.
    #[schema(example = "user")]
    pub role: Option<String>,
    /// Moves the membership to this team; the current team's id means "stay".
    #[schema(example = "c03b02ec-244f-4d2c-8f68-3910071ed5c8", format = Uuid)]
    pub new_team_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMemberRemoved {
    pub message: String,
}

fn team_name(raw: &str) -> Result<DisplayName, Error> {
    DisplayName::parse(raw).map_err(|p| p.at("name"))
}

fn forbid(why: &str) -> Error {
    Error::Forbidden(why.to_owned())
}

/// Renaming a team and managing its members are for its managers, and for admins and owners.
fn may_manage_team(caller: Standing) -> Result<(), Error> {
    if can_manage_team(caller.role, caller.in_team) {
        Ok(())
    } else {
        Err(forbid("a manager manages only the teams they belong to; admins and owners manage every team"))
    }
}

/// The rules for removing, re-roling or moving a team's member.
fn may_manage_member(facts: MemberFacts, new_role: Option<Role>) -> Result<(), Error> {
    may_manage_team(facts.caller)?;
    if !can_act_on(facts.caller.role, facts.target_role) {
        return Err(forbid(
            "nobody acts on a person whose role is above their own, and only an owner acts on an owner",
        ));
    }
    if let Some(new) = new_role {
        can_grant(facts.caller.role, new).map_err(forbid)?;
    }
    if facts.caller_in_new_team.is_some_and(|in_new| !can_manage_team(facts.caller.role, in_new)) {
        return Err(forbid("a manager moves people only into teams they belong to"));
    }
    Ok(())
}

/// Create a team. The creator is not made a member; the plan limits how many teams there are.
#[utoipa::path(
    post, path = "/v1/team", tag = "teams",
    security(("bearer" = [])),
    request_body = TeamRequest,
    responses(
        (status = 201, body = TeamView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, lacks `teams:write`, or the plan allows no more teams (`PLAN_LIMIT_REACHED`)"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "A team with this name exists"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing or invalid name"),
    )
)]
pub async fn create_team(
    State(state): State<AppState>,
    auth: Auth<act::TeamCreate>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<TeamRequest>,
) -> ApiResult<(StatusCode, Json<TeamView>)> {
    let name = team_name(&body.name)?;
    let id = TeamId::new();
    let max_teams = |plan: &str| plan_limits(&state, plan).map(|limits| limits.teams);
    let audit =
        actor(&auth, request_id, ip).event("team.created", "team", Some(id.0), json!({ "name": name.as_str() }));
    let row = state
        .store()
        .create_team(auth.organization_id, id, name.as_str(), &name.key(), max_teams, &audit, roster_core::clock::now())
        .await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// List the organization's teams with their member counts, oldest first.
#[utoipa::path(
    get, path = "/v1/teams", tag = "teams",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Paged<TeamView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `teams:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Paging values invalid or out of range"),
    )
)]
pub async fn list_teams(
    State(state): State<AppState>,
    auth: Auth<act::TeamRead>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<TeamView>>> {
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_teams(auth.organization_id, limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(TeamView::from).collect(), offset, total)))
}

/// Rename a team. Managers rename the teams they belong to; admins and owners any team.
#[utoipa::path(
    put, path = "/v1/team/{id}", tag = "teams",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id")),
    request_body = TeamRequest,
    responses(
        (status = 200, body = TeamView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Below manager, lacks `teams:write`, or a manager outside the team"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Another team has this name"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID, or the name is missing or invalid"),
    )
)]
pub async fn update_team(
    State(state): State<AppState>,
    auth: Auth<act::TeamUpdate>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<TeamId>,
    ApiJson(body): ApiJson<TeamRequest>,
) -> ApiResult<Json<TeamView>> {
    let name = team_name(&body.name)?;
    let audit =
        actor(&auth, request_id, ip).event("team.renamed", "team", Some(id.0), json!({ "name": name.as_str() }));
    let row = state
        .store()
        .rename_team(
            auth.organization_id,
            id,
            auth.customer_id,
            name.as_str(),
            &name.key(),
            may_manage_team,
            &audit,
            roster_core::clock::now(),
        )
        .await?;
    Ok(Json(row.into()))
}

/// Delete a team with its memberships; the people stay in the organization.
///
/// A team that owns services is not deleted (409) unless `cascade=true`, which
/// deletes its services too; otherwise move them first with `PUT /v1/service/{id}`.
#[utoipa::path(
    delete, path = "/v1/team/{id}", tag = "teams",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id"), DeleteTeamParams),
    responses(
        (status = 200, body = TeamDeleted),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, or lacks `teams:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The team owns services and `cascade` is not set"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID, or `cascade` is not a boolean"),
    )
)]
pub async fn delete_team(
    State(state): State<AppState>,
    auth: Auth<act::TeamDelete>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<TeamId>,
    ApiQuery(params): ApiQuery<DeleteTeamParams>,
) -> ApiResult<Json<TeamDeleted>> {
    let audit =
        actor(&auth, request_id, ip).event("team.deleted", "team", Some(id.0), json!({ "cascade": params.cascade }));
    let deleted_services = state.store().delete_team(auth.organization_id, id, params.cascade, &audit).await?;
    Ok(Json(TeamDeleted { message: "the team was deleted".into(), deleted_services }))
}

/// List a team's members in the order they joined.
#[utoipa::path(
    get, path = "/v1/team/{id}/members", tag = "teams",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id"), PageParams),
    responses(
        (status = 200, body = Paged<TeamMemberView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `teams:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID, or paging values are invalid"),
    )
)]
pub async fn list_team_members(
    State(state): State<AppState>,
    auth: Auth<act::TeamRead>,
    ApiPath(id): ApiPath<TeamId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<TeamMemberView>>> {
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_team_members(auth.organization_id, id, limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(TeamMemberView::from).collect(), offset, total)))
}

/// Remove a person from a team. They stay in the organization and in their other teams.
#[utoipa::path(
    delete, path = "/v1/team/{id}/member/{memberId}", tag = "teams",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The team's id"),
        ("memberId" = String, Path, format = Uuid, description = "The member's customer id"),
    ),
    responses(
        (status = 200, body = TeamMemberRemoved),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Below manager, lacks `teams:write`, a manager outside the team, or a member above the caller"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team, or no such member of it"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "An id is not a UUID"),
    )
)]
pub async fn remove_team_member(
    State(state): State<AppState>,
    auth: Auth<act::MemberManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPathPair(team, member): ApiPathPair<TeamId, CustomerId>,
) -> ApiResult<Json<TeamMemberRemoved>> {
    let audit = actor(&auth, request_id, ip).event(
        "team.member_removed",
        "customer",
        Some(member.0),
        json!({ "team_id": team }),
    );
    state
        .store()
        .remove_team_member(
            auth.organization_id,
            team,
            member,
            auth.customer_id,
            |facts| may_manage_member(facts, None),
            &audit,
        )
        .await?;
    Ok(Json(TeamMemberRemoved { message: "the member was removed from the team".into() }))
}

/// Change a team member's role, move them to another team (`new_team_id`), or both.
///
/// A role applies at once, organization-wide. Nobody grants a role above their
/// own or ownership (that is `POST /v1/organization/ownership-transfer`), and
/// the last owner cannot be demoted.
#[utoipa::path(
    patch, path = "/v1/team/{id}/member/{memberId}", tag = "teams",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The team's id"),
        ("memberId" = String, Path, format = Uuid, description = "The member's customer id"),
    ),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, body = TeamMemberView, description = "The member, in the team they are in now"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Below manager, lacks `teams:write`, a team the caller may not manage, a member above the caller, or a role the caller may not grant"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team, member of it, or destination team"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Demoting the last owner, or the member is already in the destination team"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "No field given, an unknown role, or an id that is not a UUID"),
    )
)]
pub async fn update_team_member(
    State(state): State<AppState>,
    auth: Auth<act::MemberManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPathPair(team, member): ApiPathPair<TeamId, CustomerId>,
    ApiJson(body): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<TeamMemberView>> {
    if body.role.is_none() && body.new_team_id.is_none() {
        return Err(Error::invalid("body", "required", "give at least one of `role`, `new_team_id`").into());
    }
    let mut errors = FieldErrors::default();
    let role = body.role.as_deref().and_then(|r| errors.check("role", Role::parse(r)));
    let new_team = body.new_team_id.as_deref().and_then(|t| {
        let parsed = t.trim().parse::<TeamId>().map_err(|_| FieldProblem::new("invalid_id", "must be a UUID"));
        errors.check("new_team_id", parsed)
    });
    errors.finish()?;
    let audit = actor(&auth, request_id, ip).event(
        "team.member_updated",
        "customer",
        Some(member.0),
        json!({ "team_id": team, "role": role, "new_team_id": new_team }),
    );
    let row = state
        .store()
        .update_team_member(
            auth.organization_id,
            team,
            member,
            auth.customer_id,
            MemberChange { role, new_team },
            |facts| may_manage_member(facts, role),
            &audit,
            roster_core::clock::now(),
        )
        .await?;
    Ok(Json(row.into()))
}
