//! `/v1/organization`: the organization's settings, plan and limits (the
//! uptime API's "team"); its ownership and its status-page domains are in
//! the submodules.

mod domains;
mod ownership;

use super::customer::{actor, LimitUsage, Limits, PerOwnerLimit};
use crate::http::extract::{act, ApiJson, Auth, ClientIp, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use roster_core::email::is_hostname;
use roster_core::ids::*;
use roster_core::names::DisplayName;
use roster_core::plan::{PlanLimits, Usage};
use roster_core::validation::{FieldErrors, FieldProblem};
use roster_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::{IpAddr, Ipv6Addr};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_organization, update_organization))
        .merge(ownership::router())
        .merge(domains::router())
}

/// The limits of an organization's plan; an organization on a plan that is
/// no longer configured gets the default plan's.
pub(crate) fn plan_limits(state: &AppState, plan: &str) -> Result<PlanLimits, Error> {
    let config = state.config();
    config
        .plans
        .get(plan)
        .or_else(|| config.plans.get(&config.default_plan))
        .copied()
        .ok_or_else(|| Error::internal(format!("plan `{plan}` is not configured")))
}

/// A plan's limits beside the organization's usage.
pub(crate) fn limits(plan: PlanLimits, usage: Usage) -> Limits {
    Limits {
        teams: LimitUsage { limit: plan.teams, used: usage.teams },
        members: LimitUsage { limit: plan.members, used: usage.members },
        services: LimitUsage { limit: plan.services, used: usage.services },
        notification_channels_per_owner: PerOwnerLimit { limit: plan.channels_per_owner },
    }
}

/// The limits of the plan `org` is on.
pub(crate) async fn organization_plan(state: &AppState, org: OrganizationId) -> Result<PlanLimits, Error> {
    let overview = state.store().organization_overview(org).await?.ok_or(Error::NotFound("organization"))?;
    plan_limits(state, &overview.organization.plan)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: OrganizationId,
    pub name: String,
    /// Fixed at creation: renaming the organization leaves it, so links keep working.
    pub slug: String,
    pub logo_url: Option<String>,
    /// The earliest owner (role `root`); an organization may have several.
    pub owner_id: CustomerId,
    pub plan: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub trial_ends_at: Option<OffsetDateTime>,
    pub active: bool,
    /// Whether members must have a second factor (TOTP); enforced at login,
    /// whose answer tells a member without one to enrol (`totp_enrolment_required`).
    pub require_totp: bool,
    pub limits: Limits,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

pub(super) async fn load_organization(state: &AppState, org: OrganizationId) -> Result<OrganizationView, Error> {
    let o = state.store().organization_overview(org).await?.ok_or(Error::NotFound("organization"))?;
    let owner_id = o.owner_id.ok_or_else(|| Error::internal(format!("organization {org} has no owner")))?;
    let plan = plan_limits(state, &o.organization.plan)?;
    let require_totp = state.store().organization_requires_totp(org).await?;
    let org = o.organization;
    Ok(OrganizationView {
        id: org.id,
        name: org.name,
        slug: org.slug,
        logo_url: org.logo_url,
        owner_id,
        plan: org.plan,
        trial_ends_at: org.trial_ends_at,
        active: org.active,
        require_totp,
        limits: limits(plan, o.usage),
        created_at: org.created_at,
        updated_at: org.updated_at,
    })
}

/// Get the caller's organization: its settings, owner, plan, and limits beside usage.
#[utoipa::path(
    get, path = "/v1/organization", tag = "organization",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OrganizationView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `organization:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid input"),
    )
)]
pub async fn get_organization(
    State(state): State<AppState>,
    auth: Auth<act::OrganizationRead>,
) -> ApiResult<Json<OrganizationView>> {
    Ok(Json(load_organization(&state, auth.organization_id).await?))
}

// The handler refuses an empty body (422 `body` `required`): say so in the document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct UpdateOrganizationRequest {
    #[schema(example = "Acme Corporation", min_length = 1, max_length = 255)]
    pub name: Option<String>,
    /// An absolute `https` (or `http`) URL of the logo, at most 2048 characters; `""` removes the logo.
    #[schema(example = "https://cdn.example.com/logos/acme.png", max_length = 2048)]
    pub logo_url: Option<String>,
    /// Require every member to have a second factor (TOTP); only owners may change it.
    pub require_totp: Option<bool>,
}

/// Parses a logo URL: `None` for `""` (remove the logo), the URL otherwise.
fn parse_logo_url(raw: &str) -> Result<Option<String>, FieldProblem> {
    const MAX: usize = 2048;
    let url = raw.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let invalid = |why: &str| FieldProblem::new("invalid_url", format!("must be an absolute http or https URL: {why}"));
    if url.chars().count() > MAX {
        return Err(FieldProblem::new("too_long", format!("must be at most {MAX} characters")));
    }
    if !url.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid("spaces, control and non-ASCII characters must be percent-encoded"));
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("it has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(invalid("the scheme is not http or https"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid("it must not carry credentials"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or_else(|| invalid("the IPv6 address is not closed"))?;
            addr.parse::<Ipv6Addr>().map_err(|_| invalid("the IPv6 address is malformed"))?;
            (None, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        },
    };
    if let Some(host) = host {
        if host.parse::<IpAddr>().is_err() && !is_hostname(&host.to_ascii_lowercase()) {
            return Err(invalid("the host is not a valid host name"));
        }
    }
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return Err(invalid("the port is not a number from 1 to 65535"));
    }
    Ok(Some(url.to_owned()))
}

/// Rename the organization, change its logo and/or (owners only) whether a second factor is required; at least one. The slug never changes.
#[utoipa::path(
    patch, path = "/v1/organization", tag = "organization",
    security(("bearer" = [])),
    request_body = UpdateOrganizationRequest,
    responses(
        (status = 200, body = OrganizationView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, or lacks `organization:write`; `require_totp` from a non-owner"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`require_totp: true` from an owner who has no second factor"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "No field given, or an invalid one"),
    )
)]
pub async fn update_organization(
    State(state): State<AppState>,
    auth: Auth<act::OrganizationWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<UpdateOrganizationRequest>,
) -> ApiResult<Json<OrganizationView>> {
    if body.name.is_none() && body.logo_url.is_none() && body.require_totp.is_none() {
        return Err(
            Error::invalid("body", "required", "give at least one of `name`, `logo_url`, `require_totp`").into()
        );
    }
    if body.require_totp.is_some() && auth.role != roster_core::role::Role::Root {
        return Err(Error::Forbidden("only an owner can change whether a second factor is required".into()).into());
    }
    let mut errors = FieldErrors::default();
    let name = body.name.as_deref().and_then(|n| errors.check("name", DisplayName::parse(n)));
    let logo_url = body.logo_url.as_deref().and_then(|u| errors.check("logo_url", parse_logo_url(u)));
    errors.finish()?;
    // Requiring a factor the owner lacks would confine the owner, too, to enrolment.
    if body.require_totp == Some(true) && state.store().totp_state(auth.customer_id).await?.enabled_at.is_none() {
        return Err(Error::Conflict(
            "enrol a second factor yourself (POST /v1/customer/totp) before requiring one of everybody".into(),
        )
        .into());
    }
    let changed: Vec<&str> =
        [("name", name.is_some()), ("logo_url", logo_url.is_some()), ("require_totp", body.require_totp.is_some())]
            .into_iter()
            .filter_map(|(f, set)| set.then_some(f))
            .collect();
    let org = auth.organization_id;
    let audit = actor(&auth, request_id, ip).event(
        "organization.updated",
        "organization",
        Some(org.0),
        json!({ "fields": changed }),
    );
    let name = name.as_ref().map(DisplayName::as_str);
    let logo_url = logo_url.as_ref().map(Option::as_deref);
    if !state
        .store()
        .update_organization(org, name, logo_url, body.require_totp, &audit, roster_core::clock::now())
        .await?
    {
        return Err(Error::NotFound("organization").into());
    }
    Ok(Json(load_organization(&state, org).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_urls() {
        assert_eq!(parse_logo_url("").unwrap(), None);
        assert_eq!(parse_logo_url("  ").unwrap(), None);
        for ok in [
            "https://cdn.example.com/logos/acme.png",
            "HTTP://example.com",
            "https://example.com:8443/a?b=c#d",
            "https://10.0.0.1/logo.svg",
            "https://[::1]:8080/x",
        ] {
            assert_eq!(parse_logo_url(ok).unwrap().as_deref(), Some(ok), "{ok}");
        }
        for bad in [
            "cdn.example.com/logo.png",
            "ftp://example.com/logo.png",
            "javascript:alert(1)",
            "https://",
            "https://exa mple.com/",
            "https://user:pw@example.com/",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://-bad-.com/",
            "https://[::1/",
        ] {
            assert!(parse_logo_url(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(parse_logo_url(&long).unwrap_err().code, "too_long");
    }
}
