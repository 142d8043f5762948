//! `/v1/team-domains`: the hostnames the organization's status pages answer
//! on. A hostname belongs to one organization at most.

use crate::http::extract::{act, ApiJson, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::http::routes::customer::actor;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::email::is_hostname;
use roster_core::ids::*;
use roster_core::validation::FieldProblem;
use roster_core::Error;
use roster_store::organization::TeamDomainRow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::{IpAddr, Ipv6Addr};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_team_domains, add_team_domain, remove_team_domain))
}

/// A hostname the organization's status pages answer on.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamDomainView {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    #[schema(example = "status.example.com")]
    pub hostname: String,
    pub organization_id: OrganizationId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<TeamDomainRow> for TeamDomainView {
    fn from(r: TeamDomainRow) -> Self {
        Self {
            id: r.id,
            hostname: r.hostname,
            organization_id: r.organization_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// List the organization's status-page domains, oldest first.
#[utoipa::path(
    get, path = "/v1/team-domains", tag = "organization",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Paged<TeamDomainView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `organization:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Paging values invalid or out of range"),
    )
)]
pub async fn list_team_domains(
    State(state): State<AppState>,
    auth: Auth<act::OrganizationRead>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<TeamDomainView>>> {
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_team_domains(auth.organization_id, limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(Into::into).collect(), offset, total)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamDomainRequest {
    /// A fully qualified host name; stored lowercased.
    #[schema(example = "status.example.com", min_length = 1, max_length = 253)]
    pub hostname: String,
}

/// Parses a status-page hostname: one fully qualified DNS name, lowercased.
fn parse_hostname(raw: &str) -> Result<String, FieldProblem> {
    let host = raw.trim().to_lowercase();
    let invalid = |code, message: &str| Err(FieldProblem::new(code, message));
    if host.is_empty() {
        return invalid("required", "must not be empty");
    }
    if host.chars().count() > 253 {
        return invalid("too_long", "must be at most 253 characters");
    }
    if host.contains('*') {
        return invalid("wildcard", "must name one host: wildcards such as `*.example.com` are not allowed");
    }
    if host.ends_with('.') {
        return invalid("trailing_dot", "must not end with a dot");
    }
    if host.parse::<IpAddr>().is_ok() || host.trim_start_matches('[').trim_end_matches(']').parse::<Ipv6Addr>().is_ok()
    {
        return invalid("ip_address", "must be a host name, not an IP address");
    }
    if !is_hostname(&host) {
        return invalid("invalid_hostname", "must be a DNS name: letters, digits and hyphens in dot-separated labels");
    }
    // A bare label (`localhost`) is not reachable from the internet; an all-digit last label reads as an address.
    let tld = host.rsplit('.').next().unwrap_or_default();
    if !host.contains('.') || tld.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("invalid_hostname", "must be a fully qualified name such as status.example.com");
    }
    Ok(host)
}

/// Register a hostname for the organization's status pages.
#[utoipa::path(
    post, path = "/v1/team-domains", tag = "organization",
    security(("bearer" = [])),
    request_body = CreateTeamDomainRequest,
    responses(
        (status = 201, body = TeamDomainView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, or lacks `organization:write`"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The hostname is already registered"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Not a fully qualified host name"),
    )
)]
pub async fn add_team_domain(
    State(state): State<AppState>,
    auth: Auth<act::OrganizationWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateTeamDomainRequest>,
) -> ApiResult<(StatusCode, Json<TeamDomainView>)> {
    let hostname = parse_hostname(&body.hostname).map_err(|p| p.at("hostname"))?;
    let id = uuid::Uuid::now_v7();
    let audit = actor(&auth, request_id, ip).event(
        "team_domain.added",
        "team_domain",
        Some(id),
        json!({ "hostname": hostname }),
    );
    let now = roster_core::clock::now();
    let row = state.store().add_team_domain(auth.organization_id, id, &hostname, &audit, now).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTeamDomainRequest {
    /// The domain's id.
    #[schema(format = Uuid)]
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamDomainRemoved {
    pub message: String,
}

/// Remove one of the organization's status-page domains.
#[utoipa::path(
    delete, path = "/v1/team-domains", tag = "organization",
    security(("bearer" = [])),
    request_body = DeleteTeamDomainRequest,
    responses(
        (status = 200, body = TeamDomainRemoved),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, or lacks `organization:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such domain in the organization"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is missing or not a UUID"),
    )
)]
pub async fn remove_team_domain(
    State(state): State<AppState>,
    auth: Auth<act::OrganizationWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<DeleteTeamDomainRequest>,
) -> ApiResult<Json<TeamDomainRemoved>> {
    let id = uuid::Uuid::parse_str(body.id.trim()).map_err(|_| Error::invalid("id", "invalid_id", "must be a UUID"))?;
    let audit = actor(&auth, request_id, ip).event("team_domain.removed", "team_domain", Some(id), json!({}));
    if !state.store().delete_team_domain(auth.organization_id, id, &audit).await? {
        return Err(Error::NotFound("domain").into());
    }
    Ok(Json(TeamDomainRemoved { message: "the domain was removed".into() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Untrusted input never panics the parser, and what it accepts is a
        /// lowercased DNS name of at most 253 characters that reads back as itself.
        #[test]
        fn accepted_hostnames_are_fixed_points(raw in any::<String>(), dns in "[ A-Za-z0-9.*_\\[\\]:-]{0,80}") {
            for input in [raw.as_str(), dns.as_str()] {
                if let Ok(host) = parse_hostname(input) {
                    prop_assert!(is_hostname(&host) && host.contains('.'), "{host:?}");
                    prop_assert!(host.len() <= 253 && host == host.to_lowercase(), "{host:?}");
                    prop_assert_eq!(parse_hostname(&host).ok(), Some(host.clone()));
                }
            }
        }

        /// Every well-formed multi-label name is accepted, whatever its case and surrounding blanks.
        #[test]
        fn well_formed_names_are_accepted(labels in prop::collection::vec("[a-z][a-z0-9-]{0,20}[a-z0-9]", 1..5), tld in "[a-zA-Z]{2,10}") {
            let name = format!(" {}.{tld} ", labels.join("."));
            prop_assert_eq!(parse_hostname(&name).unwrap(), name.trim().to_lowercase());
        }
    }

    #[test]
    fn hostnames() {
        assert_eq!(parse_hostname("  Status.Example.COM ").unwrap(), "status.example.com");
        for (bad, code) in [
            ("", "required"),
            ("localhost", "invalid_hostname"),
            ("status.example.com.", "trailing_dot"),
            ("*.example.com", "wildcard"),
            ("192.168.0.1", "ip_address"),
            ("::1", "ip_address"),
            ("[::1]", "ip_address"),
            ("1.2.3", "invalid_hostname"),
            ("status_page.example.com", "invalid_hostname"),
            ("a..b.com", "invalid_hostname"),
        ] {
            assert_eq!(parse_hostname(bad).unwrap_err().code, code, "{bad:?}");
        }
        assert_eq!(parse_hostname(&format!("{}.com", "a.".repeat(130))).unwrap_err().code, "too_long");
    }
}
