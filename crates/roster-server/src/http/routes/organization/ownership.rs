//! `/v1/organization/ownership-transfer`: ownership moves in two steps. An
//! owner offers it to another member, who is emailed; nothing changes until
//! that member accepts, and then they become an owner and the offerer an admin.

use super::{load_organization, OrganizationView};
use crate::http::extract::{act, parse_json, ApiJson, Auth, ClientIp, RequestId};
use crate::http::problem::{ApiError, ApiResult, Problem};
use crate::http::routes::customer::actor;
use crate::state::AppState;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;
use roster_core::ids::*;
use roster_core::message::{NewMessage, Template, Transport};
use roster_core::Error;
use roster_store::organization::{NewOwnershipOffer, OwnershipOfferRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(offer_ownership, cancel_ownership_offer)).routes(routes!(accept_ownership))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnershipTransferRequest {
    /// The customer of the organization offered ownership.
    #[schema(format = Uuid)]
    pub customer_id: String,
}

/// A pending offer of ownership.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnershipOfferView {
    pub organization_id: OrganizationId,
    pub from_customer_id: CustomerId,
    pub to_customer_id: CustomerId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl From<OwnershipOfferRow> for OwnershipOfferView {
    fn from(r: OwnershipOfferRow) -> Self {
        Self {
            organization_id: r.organization_id,
            from_customer_id: r.from_customer_id,
            to_customer_id: r.to_customer_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// Offer ownership of the organization to another of its members (owners only).
///
/// The recipient is emailed and becomes an owner only when they accept with
/// `POST /v1/organization/ownership-transfer/accept`; the offerer then becomes
/// an admin. Nothing changes until then. A new offer replaces a pending one.
#[utoipa::path(
    post, path = "/v1/organization/ownership-transfer", tag = "organization",
    security(("bearer" = [])),
    request_body = OwnershipTransferRequest,
    responses(
        (status = 201, body = OwnershipOfferView),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an owner, or lacks `organization:write`; or not a session confirmed in the last minutes, API keys included (`REAUTHENTICATION_REQUIRED`)"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such customer in the organization"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Not a UUID, yourself, a notify-only contact, or a suspended customer"),
    )
)]
pub async fn offer_ownership(
    State(state): State<AppState>,
    auth: Auth<act::OwnershipTransfer>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<OwnershipTransferRequest>,
) -> ApiResult<(StatusCode, Json<OwnershipOfferView>)> {
    let to: CustomerId =
        body.customer_id.trim().parse().map_err(|_| Error::invalid("customer_id", "invalid_id", "must be a UUID"))?;
    let now = roster_core::clock::now();
    let ttl_days = state.config().ownership_offer_ttl_days;
    let expires_at = now + Duration::days(i64::from(ttl_days));
    let org = auth.organization_id;
    let audit = actor(&auth, request_id, ip).event(
        "organization.ownership_offered",
        "organization",
        Some(org.0),
        json!({ "to_customer_id": to, "ttl_days": ttl_days }),
    );
    let offer = NewOwnershipOffer { organization_id: org, from: auth.customer_id, to, expires_at, audit, now };
    let row = state
        .store()
        .offer_ownership(&offer, |p| NewMessage {
            transport: Transport::Email,
            template: Template::OwnershipOffered,
            recipient: p.to.email.clone(),
            data: json!({
                "name": p.to.name,
                "from_name": format!("{} {}", p.from.name, p.from.surname),
                "organization_name": p.organization.name,
                "expires_in_days": ttl_days,
            }),
            secret: None,
        })
        .await?;
    state.message_queued();
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// Withdraw the organization's pending offer of ownership (owners only).
#[utoipa::path(
    delete, path = "/v1/organization/ownership-transfer", tag = "organization",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The offer is withdrawn"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not an owner, or lacks `organization:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No offer is pending"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid input"),
    )
)]
pub async fn cancel_ownership_offer(
    State(state): State<AppState>,
    auth: Auth<act::OwnershipTransfer>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
) -> ApiResult<StatusCode> {
    let org = auth.organization_id;
    let audit = actor(&auth, request_id, ip).event(
        "organization.ownership_offer_cancelled",
        "organization",
        Some(org.0),
        json!({}),
    );
    if !state.store().cancel_ownership_offer(org, &audit).await? {
        return Err(Error::NotFound("ownership offer").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A body that carries nothing: none at all, or an empty JSON object (any
/// field in it is a 422, as unknown fields are everywhere).
pub struct NoFields;

impl<S: Send + Sync> FromRequest<S> for NoFields {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Empty {}
        let body = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner) if inner.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::MalformedJson(other.body_text()),
        })?;
        if !body.trim_ascii().is_empty() {
            parse_json::<Empty>(&body)?;
        }
        Ok(NoFields)
    }
}

/// Accept the offer of ownership made to the caller: they become an owner,
/// and the owner who offered it becomes an admin. No body is needed.
#[utoipa::path(
    post, path = "/v1/organization/ownership-transfer/accept", tag = "organization",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OrganizationView, description = "Ownership moved; the organization as it is now"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "A body was sent that is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No offer to the caller is pending"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "The offer expired"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A body was sent with fields"),
    )
)]
pub async fn accept_ownership(
    State(state): State<AppState>,
    auth: Auth<act::OwnershipAccept>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    _: NoFields,
) -> ApiResult<Json<OrganizationView>> {
    let org = auth.organization_id;
    let audit = actor(&auth, request_id, ip).event(
        "organization.ownership_transferred",
        "organization",
        Some(org.0),
        json!({ "to_customer_id": auth.customer_id }),
    );
    state.store().accept_ownership(org, auth.customer_id, &audit, roster_core::clock::now()).await?;
    Ok(Json(load_organization(&state, org).await?))
}
