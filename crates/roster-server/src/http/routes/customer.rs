//! `/v1/customer`: the customer's own profile (the seed's Customer Management).

use super::auth::{own_customer, parse_code, CodeRequest, CodeSent};
use super::organization::{limits, plan_limits};
use crate::app::accounts;
use crate::app::audit::Actor;
use crate::http::extract::{act, ApiJson, ApiPath, Auth, ClientIp, Credential, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::email::EmailAddress;
use roster_core::ids::*;
use roster_core::message::Template;
use roster_core::names::{PersonName, Slug};
use roster_core::role::Role;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::rows::ProfileRow;
use roster_store::DeleteOutcome;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(get_customer_by_id))
        .routes(routes!(start_username_change, confirm_username_change))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: CustomerId,
    pub email: String,
    /// The login, which is the email address.
    pub username: String,
    pub name: String,
    pub surname: String,
    pub full_name: String,
    pub role: Role,
    /// `active` or `suspended`.
    pub status: String,
    pub email_verified: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamRef {
    pub id: TeamId,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub plan: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub trial_ends_at: Option<OffsetDateTime>,
}

/// A plan limit beside the organization's current usage.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitUsage {
    pub limit: u32,
    pub used: u32,
}

/// A per-owner limit, counted separately for each owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct PerOwnerLimit {
    pub limit: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Limits {
    pub teams: LimitUsage,
    pub members: LimitUsage,
    pub services: LimitUsage,
    pub notification_channels_per_owner: PerOwnerLimit,
}

/// A customer with their team, organization and the plan's limits.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerProfile {
    pub customer: CustomerView,
    /// The customer's first team; absent for someone in no team.
    pub team: Option<TeamRef>,
    pub organization: OrganizationRef,
    pub limits: Limits,
}

impl CustomerView {
    fn from_row(c: roster_store::rows::CustomerRow) -> Self {
        Self {
            id: c.id,
            username: c.email.clone(),
            email: c.email,
            full_name: format!("{} {}", c.name, c.surname),
            name: c.name,
            surname: c.surname,
            role: c.role,
            status: c.status,
            email_verified: c.email_verified_at.is_some(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn profile(state: &AppState, p: ProfileRow) -> Result<CustomerProfile, Error> {
    let plan = plan_limits(state, &p.organization.plan)?;
    Ok(CustomerProfile {
        customer: CustomerView::from_row(p.customer),
        team: p.team.map(|t| TeamRef { id: t.id, name: t.name }),
        organization: OrganizationRef {
            id: p.organization.id,
            name: p.organization.name,
            slug: p.organization.slug,
            plan: p.organization.plan,
            trial_ends_at: p.organization.trial_ends_at,
        },
        limits: limits(plan, p.usage),
    })
}

async fn load_profile(state: &AppState, org: OrganizationId, id: CustomerId) -> Result<CustomerProfile, Error> {
    let row = state.store().customer_profile(org, id).await?.ok_or(Error::NotFound("customer"))?;
    profile(state, row)
}

/// Get the authenticated customer's profile, team, organization and limits.
#[utoipa::path(
    get, path = "/v1/customer", tag = "customer",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerProfile),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:read`"),
    )
)]
pub async fn get_customer(
    State(state): State<AppState>,
    auth: Auth<act::CustomerRead>,
) -> ApiResult<Json<CustomerProfile>> {
    Ok(Json(load_profile(&state, auth.organization_id, auth.customer_id).await?))
}

/// Get a customer of the caller's organization. Anyone else's id is 404.
#[utoipa::path(
    get, path = "/v1/customer/{customer_id}", tag = "customer",
    security(("bearer" = [])),
    params(("customer_id" = String, Path, format = Uuid, description = "The customer's id")),
    responses(
        (status = 200, body = CustomerProfile),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such customer in the organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
    )
)]
pub async fn get_customer_by_id(
    State(state): State<AppState>,
    auth: Auth<act::CustomerRead>,
    ApiPath(id): ApiPath<CustomerId>,
) -> ApiResult<Json<CustomerProfile>> {
    Ok(Json(load_profile(&state, auth.organization_id, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerRequest {
    #[schema(example = "John", min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(example = "Smith", min_length = 1, max_length = 100)]
    pub surname: Option<String>,
}

/// Change the authenticated customer's first name and/or surname (at least one).
#[utoipa::path(
    patch, path = "/v1/customer", tag = "customer",
    security(("bearer" = [])),
    request_body = UpdateCustomerRequest,
    responses(
        (status = 200, body = CustomerProfile),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "No field given, or an invalid one"),
    )
)]
pub async fn update_customer(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<UpdateCustomerRequest>,
) -> ApiResult<Json<CustomerProfile>> {
    if body.name.is_none() && body.surname.is_none() {
        return Err(Error::invalid("body", "required", "give at least one of `name`, `surname`").into());
    }
    let mut errors = FieldErrors::default();
    let name = body.name.as_deref().and_then(|n| errors.check("name", PersonName::parse(n)));
    let surname = body.surname.as_deref().and_then(|n| errors.check("surname", PersonName::parse(n)));
    errors.finish()?;
    let actor = actor(&auth, request_id, ip);
    let changed: Vec<&str> = [("name", name.is_some()), ("surname", surname.is_some())]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect();
    let audit = actor.event("customer.updated", "customer", Some(auth.customer_id.0), json!({ "fields": changed }));
    let found = state
        .store()
        .update_customer_names(
            auth.organization_id,
            auth.customer_id,
            name.as_ref().map(PersonName::as_str),
            surname.as_ref().map(PersonName::as_str),
            &audit,
            roster_core::clock::now(),
        )
        .await?;
    if !found {
        return Err(Error::NotFound("customer").into());
    }
    Ok(Json(load_profile(&state, auth.organization_id, auth.customer_id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteCustomerRequest {
    /// Why the account is deleted, as a short slug.
    #[schema(example = "poor-features", max_length = 64)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub message: String,
    /// True when the customer was the organization's only member and it went too.
    pub organization_deleted: bool,
}

/// Delete the authenticated customer's account and all their personal data.
///
/// Only a login session can do this, not an API key. The organization's last
/// owner cannot leave while other members remain (409); a sole member's
/// deletion removes the organization.
#[utoipa::path(
    delete, path = "/v1/customer", tag = "customer",
    security(("bearer" = [])),
    request_body = DeleteCustomerRequest,
    responses(
        (status = 200, body = Deleted),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Called with an API key"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The last owner must transfer ownership first"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing or malformed reason"),
    )
)]
pub async fn delete_customer(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<DeleteCustomerRequest>,
) -> ApiResult<Json<Deleted>> {
    if !matches!(auth.credential, Credential::Session { .. }) {
        return Err(Error::Forbidden(
            "an account can only be deleted from a login session, not with an API key".into(),
        )
        .into());
    }
    let reason = Slug::parse(&body.reason).map_err(|p| p.at("reason"))?;
    let actor = actor(&auth, request_id, ip);
    let audit =
        actor.event("customer.deleted", "customer", Some(auth.customer_id.0), json!({ "reason": reason.as_str() }));
    let outcome = state.store().delete_customer(auth.organization_id, auth.customer_id, &audit).await?;
    let organization_deleted = outcome == DeleteOutcome::OrganizationDeleted;
    Ok(Json(Deleted {
        message: if organization_deleted {
            "the account and its organization were deleted".into()
        } else {
            "the account was deleted".into()
        },
        organization_deleted,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsernameChangeRequest {
    /// The new login address; a code is sent there.
    #[schema(example = "pinghome@example.com")]
    pub email: String,
}

/// Start moving the login to a new address: a 6-digit code goes to it, and
/// nothing changes until the code is confirmed with `PATCH /v1/customer/username`.
#[utoipa::path(
    put, path = "/v1/customer/username", tag = "customer",
    security(("bearer" = [])),
    request_body = UsernameChangeRequest,
    responses(
        (status = 202, body = CodeSent),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The address is in use"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many codes requested"),
    )
)]
pub async fn start_username_change(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    ApiJson(body): ApiJson<UsernameChangeRequest>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let email = EmailAddress::parse(&body.email).map_err(|p| p.at("email"))?;
    let customer = own_customer(&state, &auth).await?;
    if customer.email == email.as_str() {
        return Err(Error::invalid("email", "unchanged", "is already your login address").into());
    }
    let expires_at = accounts::send_code(
        &state,
        auth.organization_id,
        auth.customer_id,
        roster_store::PURPOSE_EMAIL_CHANGE,
        Template::EmailChange,
        &email,
        &customer.name,
        true,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            message: format!("a verification code was sent to {}; confirm it to complete the change", email.masked()),
            expires_at,
        }),
    ))
}

/// Confirm a login change with the code sent to the new address.
#[utoipa::path(
    patch, path = "/v1/customer/username", tag = "customer",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, body = CustomerProfile),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "No change pending, or the address was taken meanwhile"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Wrong, expired or exhausted code"),
    )
)]
pub async fn confirm_username_change(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CodeRequest>,
) -> ApiResult<Json<CustomerProfile>> {
    let code = parse_code(&body.code)?;
    let key = state.key().clone();
    let audit =
        actor(&auth, request_id, ip).event("customer.email_changed", "customer", Some(auth.customer_id.0), json!({}));
    let check = state
        .store()
        .apply_email_change(
            auth.customer_id,
            i64::from(state.config().code_max_attempts),
            move |target| key.hash_code(roster_store::PURPOSE_EMAIL_CHANGE, target, &code),
            &audit,
            roster_core::clock::now(),
        )
        .await?;
    accounts::code_outcome(check, "email change")?;
    Ok(Json(load_profile(&state, auth.organization_id, auth.customer_id).await?))
}

pub(crate) fn actor<A: crate::http::extract::RequiredAction>(
    auth: &Auth<A>,
    request_id: Option<String>,
    ip: std::net::IpAddr,
) -> Actor {
    Actor::new(auth.organization_id, Some(auth.customer_id), request_id, ip)
}
