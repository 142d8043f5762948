//! `GET /v1/audit-events`: the organization's append-only audit trail, for
//! its owners and admins.

use crate::http::extract::{act, ApiQuery, Auth};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use roster_core::ids::CustomerId;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::audit::{AuditEventRow, AuditFilter};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

/// One audit record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: Uuid,
    /// What happened, such as `team.created` or `member.role_changed`.
    #[schema(example = "team.created")]
    pub action: String,
    /// The customer who acted; `null` for the system or an operator. After a
    /// person's account is deleted, their earlier records carry a stand-in id
    /// that names no one.
    pub actor_id: Option<Uuid>,
    /// The kind of object acted on: `team`, `customer`, `notification_channel`, …
    #[schema(example = "team")]
    pub target_type: String,
    pub target_id: Option<Uuid>,
    /// Details of the change, without personal data.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The request's `x-request-id`, as echoed in its response.
    pub request_id: Option<String>,
    /// The address the request came from.
    pub ip: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<AuditEventRow> for AuditEventView {
    fn from(r: AuditEventRow) -> Self {
        Self {
            id: r.id,
            action: r.action,
            actor_id: r.actor_id,
            target_type: r.target_type,
            target_id: r.target_id,
            data: r.data.0,
            request_id: r.request_id,
            ip: r.ip,
            created_at: r.created_at,
        }
    }
}

/// Filters; each one given narrows the list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only what this customer did (their id).
    #[param(format = Uuid)]
    pub actor: Option<String>,
    /// Only this action, such as `team.created`.
    #[param(example = "team.created")]
    pub action: Option<String>,
    /// Only what was done to this object (its id).
    #[param(format = Uuid)]
    pub target: Option<String>,
    /// Only records written at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Only records written before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
}

impl AuditQuery {
    /// The validated filter, every bad value named at once.
    fn filter(&self, errors: &mut FieldErrors) -> AuditFilter {
        let id = |errors: &mut FieldErrors, field: &str, raw: &Option<String>| {
            let raw = raw.as_deref()?;
            let parsed = Uuid::parse_str(raw.trim());
            if parsed.is_err() {
                errors.push(field, "invalid_id", "must be a UUID");
            }
            parsed.ok()
        };
        let time = |errors: &mut FieldErrors, field: &str, raw: &Option<String>| {
            // A `+` sent unencoded in a query string arrives as a space.
            let raw = raw.as_deref()?.trim().replace(' ', "+");
            match OffsetDateTime::parse(&raw, &Rfc3339) {
                Ok(t) => Some(t.to_offset(UtcOffset::UTC)),
                Err(_) => {
                    errors.push(field, "invalid_format", "must be an RFC 3339 time such as 2025-01-31T08:00:00Z");
                    None
                }
            }
        };
        let actor = id(errors, "actor", &self.actor).map(CustomerId);
        let target = id(errors, "target", &self.target);
        let action = self.action.as_deref().map(str::trim).and_then(|a| {
            let valid = (1..=64).contains(&a.len())
                && a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
            if !valid {
                errors.push("action", "invalid_format", "must be an action name such as `team.created`");
            }
            valid.then(|| a.to_owned())
        });
        let since = time(errors, "since", &self.since);
        let until = time(errors, "until", &self.until);
        if let (Some(s), Some(u)) = (since, until) {
            if u <= s {
                errors.push("until", "invalid_range", "must be after `since`");
            }
        }
        AuditFilter { actor, action, target, since, until }
    }
}

/// List the organization's audit records, newest first: who did what, to
/// what, when, from where, and in which request. Owners and admins only.
///
/// Records are written in the same transaction as the change they describe
/// and are never edited, with one exception: when a person deletes their
/// account, their id in earlier records is replaced by a stand-in id and the
/// addresses they acted from are removed; the `customer.deleted` record keeps
/// their id, the reason and the request id.
#[utoipa::path(
    get, path = "/v1/audit-events", tag = "audit",
    security(("bearer" = [])),
    params(PageParams, AuditQuery),
    responses(
        (status = 200, body = Paged<AuditEventView>),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an admin or owner, or lacks `audit:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A filter or paging value is invalid"),
    )
)]
pub async fn list_audit_events(
    State(state): State<AppState>,
    auth: Auth<act::AuditRead>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Paged<AuditEventView>>> {
    let mut errors = FieldErrors::default();
    let paging = match page.resolve() {
        Ok(p) => Some(p),
        Err(Error::Validation(e)) => {
            errors.0.extend(e.0);
            None
        }
        Err(e) => return Err(e.into()),
    };
    let filter = query.filter(&mut errors);
    errors.finish()?;
    let (limit, offset) = paging.expect("validated");
    let (rows, total) = state.store().list_audit_events(auth.organization_id, &filter, limit, offset).await?;
    Ok(Json(Paged::new(rows.into_iter().map(AuditEventView::from).collect(), offset, total)))
}
