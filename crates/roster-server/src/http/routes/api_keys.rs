//! `/v1/api-keys`: keys for machine callers. The secret is shown once and
//! stored only as a keyed hash; a key never does more than its creator's
//! current role allows.

use super::customer::actor;
use crate::http::extract::{act, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, RequestId};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::ids::*;
use roster_core::scope::{Scope, ScopeSet};
use roster_core::secret::{generate_token, token_hint, TokenKind};
use roster_core::validation::{bounded_text, FieldErrors, FieldProblem};
use roster_core::Error;
use roster_store::rows::ApiKeyRow;
use roster_store::NewApiKey;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(revoke_api_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label to tell keys apart.
    #[schema(example = "uptime checker", min_length = 1, max_length = 100)]
    pub name: String,
    /// What the key may do, such as `customers:read` or `teams:write`; each must be allowed to the caller.
    #[schema(value_type = Vec<Scope>, example = json!(["customers:read", "teams:read"]))]
    pub scopes: Vec<String>,
    /// When the key stops working (RFC 3339); never when absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    pub name: String,
    /// The key's first characters, to recognize it.
    pub hint: String,
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The secret: shown this once, never again.
    pub secret: String,
}

impl ApiKeyView {
    fn from_row(r: ApiKeyRow, now: OffsetDateTime) -> Self {
        let status = if r.revoked_at.is_some() {
            "revoked"
        } else if r.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: r.id,
            name: r.name,
            hint: r.hint,
            scopes: ScopeSet::from_stored(&r.scopes).iter().collect(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            status,
        }
    }
}

/// Create an API key for the authenticated customer.
#[utoipa::path(
    post, path = "/v1/api-keys", tag = "api-keys",
    security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `api-keys:write`; or not a session confirmed in the last minutes, API keys included (`REAUTHENTICATION_REQUIRED`)"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid name, unknown scope, a scope beyond the caller's, or an expiry in the past"),
    )
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: Auth<act::ApiKeysWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let now = roster_core::clock::now();
    let mut errors = FieldErrors::default();
    let name = errors.check("name", bounded_text(&body.name, 1, 100));
    if body.scopes.is_empty() {
        errors.push("scopes", "required", "give at least one scope");
    }
    let mut requested = Vec::new();
    for (i, raw) in body.scopes.iter().enumerate() {
        let field = format!("scopes[{i}]");
        let Some(scope) = errors.check(&field, Scope::parse(raw)) else { continue };
        // A key made by a key can never outgrow the key that made it.
        if !auth.allows(scope) {
            let why = FieldProblem::new("scope_not_allowed", format!("`{scope}` is more than you may grant"));
            errors.check::<()>(&field, Err(why));
        }
        requested.push(scope);
    }
    if body.expires_at.is_some_and(|e| e <= now) {
        errors.push("expires_at", "in_the_past", "must be in the future");
    }
    errors.finish()?;
    let scopes: ScopeSet = requested.into_iter().collect();
    let secret = generate_token(TokenKind::ApiKey);
    let id = ApiKeyId::new();
    let audit = actor(&auth, request_id, ip).event(
        "api_key.created",
        "api_key",
        Some(id.0),
        json!({ "scopes": scopes.to_stored(), "expires_at": body.expires_at }),
    );
    let row = state
        .store()
        .create_api_key(&NewApiKey {
            id,
            organization_id: auth.organization_id,
            customer_id: auth.customer_id,
            name: name.expect("checked"),
            hint: token_hint(&secret),
            secret_hash: state.key().hash_token(&secret),
            scopes: scopes.to_stored(),
            expires_at: body.expires_at,
            audit,
            now,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key: ApiKeyView::from_row(row, now), secret })))
}

/// List the authenticated customer's API keys, newest first (revoked ones included).
#[utoipa::path(
    get, path = "/v1/api-keys", tag = "api-keys",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = Paged<ApiKeyView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `api-keys:read`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Paging values invalid or out of range"),
    )
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: Auth<act::ApiKeysRead>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<ApiKeyView>>> {
    let (limit, offset) = page.resolve()?;
    let (rows, total) = state.store().list_api_keys(auth.customer_id, limit, offset).await?;
    let now = roster_core::clock::now();
    let data = rows.into_iter().map(|r| ApiKeyView::from_row(r, now)).collect();
    Ok(Json(Paged::new(data, offset, total)))
}

/// Revoke one of the authenticated customer's API keys; it stops working at once.
#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `api-keys:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such key of yours"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID"),
    )
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: Auth<act::ApiKeysWrite>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<StatusCode> {
    let audit = actor(&auth, request_id, ip).event("api_key.revoked", "api_key", Some(id.0), json!({}));
    let now = roster_core::clock::now();
    match state.store().revoke_api_key(auth.customer_id, id, &audit, now).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(Error::NotFound("API key").into()),
    }
}
