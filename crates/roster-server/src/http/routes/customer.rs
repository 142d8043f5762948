//! `/v1/customer`: the customer's own profile (the seed's Customer Management).

use super::auth::{own_customer, parse_code, CodeRequest, CodeSent};
use super::organization::{limits, plan_limits};
use crate::app::accounts;
use crate::app::audit::Actor;
use crate::http::extract::{act, ApiJson, ApiPath, Auth, ClientIp, RequestId};
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
        .routes(routes!(export_customer))
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
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a session confirmed in the last minutes, API keys included (`REAUTHENTICATION_REQUIRED`)"),
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
    // Only a recently confirmed login session gets here (`permissions::FRESH_CONFIRMATION`).
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
/// An address that already has an account is answered alike, but its owner
/// gets a notice instead of the code, so nobody learns which addresses are registered.
#[utoipa::path(
    put, path = "/v1/customer/username", tag = "customer",
    security(("bearer" = [])),
    request_body = UsernameChangeRequest,
    responses(
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 202, body = CodeSent),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`; or not a session confirmed in the last minutes, API keys included (`REAUTHENTICATION_REQUIRED`)"),
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
        Some(Template::EmailChangeExisting),
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
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
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

// --- GET /v1/customer/export -------------------------------------------------

/// The customer's own record, as exported.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportProfile {
    pub id: CustomerId,
    pub email: String,
    pub name: String,
    pub surname: String,
    pub role: Role,
    /// `active` or `suspended`.
    pub status: String,
    /// `live`, `away` or `offline`.
    pub availability: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub email_verified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub invited_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    /// When a second factor was enrolled.
    #[serde(with = "time::serde::rfc3339::option")]
    pub two_factor_enabled_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportMembership {
    pub id: MembershipId,
    pub team_id: TeamId,
    pub team_name: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A login session; its token is never stored, only a hash, and never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportSession {
    pub id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportInvitation {
    pub id: uuid::Uuid,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub channel_type: String,
    /// The address invited.
    pub channel: String,
    pub role: Role,
    pub sender_full_name: String,
    /// `pending`, `accepted`, `declined` or `expired`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub responded_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportOwnershipOffer {
    pub organization_id: OrganizationId,
    pub from_customer_id: CustomerId,
    pub to_customer_id: CustomerId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A message to the customer: an account email, or one through a personal channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportDelivery {
    pub id: uuid::Uuid,
    /// The personal channel it went through; `null` for account emails.
    pub channel_id: Option<uuid::Uuid>,
    /// `account`, `verification`, `test` or `alert`.
    pub kind: String,
    pub transport: String,
    pub template: String,
    pub status: String,
    pub skip_reason: Option<String>,
    pub attempts: Vec<super::deliveries::DeliveryAttemptView>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub settled_at: Option<OffsetDateTime>,
}

/// An alert raised for the customer personally.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportAlert {
    pub id: uuid::Uuid,
    pub event: String,
    pub urgency: String,
    pub title: String,
    pub message: String,
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Everything Roster holds about the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerExport {
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    pub profile: ExportProfile,
    pub organization: OrganizationRef,
    pub memberships: Vec<ExportMembership>,
    /// Personal channels by priority; credentials in values and header values masked.
    pub notification_channels: Vec<super::channels::ChannelView>,
    /// The time zone and windows, or `null`.
    #[schema(value_type = Option<Object>)]
    pub quiet_hours: Option<serde_json::Value>,
    pub api_keys: Vec<super::api_keys::ApiKeyView>,
    pub sessions: Vec<ExportSession>,
    pub invitations_sent: Vec<ExportInvitation>,
    /// Invitations to the login email or a channel's value, once that address is verified.
    pub invitations_received: Vec<ExportInvitation>,
    pub ownership_offers: Vec<ExportOwnershipOffer>,
    /// What the customer did, newest first.
    pub audit_events: Vec<super::audit::AuditEventView>,
    /// Messages to the customer, newest first.
    pub deliveries: Vec<ExportDelivery>,
    pub alerts: Vec<ExportAlert>,
}

fn export_invitation(r: roster_store::invitations::InvitationRow, now: OffsetDateTime) -> ExportInvitation {
    let status = if r.is_expired(now) { "expired".to_owned() } else { r.status.clone() };
    ExportInvitation {
        id: r.id,
        organization_id: r.organization_id,
        team_id: r.team_id,
        channel_type: r.channel_type,
        channel: r.channel_value,
        role: r.role,
        sender_full_name: r.sender_full_name,
        status,
        created_at: r.created_at,
        expires_at: r.expires_at,
        responded_at: r.responded_at,
    }
}

fn export_document(e: roster_store::export::CustomerExport, now: OffsetDateTime) -> Result<CustomerExport, Error> {
    use super::api_keys::ApiKeyView;
    use super::deliveries::DeliveryAttemptView;
    let p = e.profile;
    let mut attempts: std::collections::HashMap<uuid::Uuid, Vec<DeliveryAttemptView>> = Default::default();
    for a in e.attempts {
        attempts.entry(a.message_id).or_default().push(DeliveryAttemptView {
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            outcome: a.outcome,
            status_code: a.status_code,
            error_class: a.error_class,
        });
    }
    Ok(CustomerExport {
        exported_at: now,
        profile: ExportProfile {
            id: p.id,
            email: p.email,
            name: p.name,
            surname: p.surname,
            role: p.role,
            status: p.status,
            availability: p.availability,
            email_verified_at: p.email_verified_at,
            invited_at: p.invited_at,
            last_login_at: p.last_login_at,
            two_factor_enabled_at: p.totp_enabled_at,
            created_at: p.created_at,
            updated_at: p.updated_at,
        },
        organization: OrganizationRef {
            id: e.organization.id,
            name: e.organization.name,
            slug: e.organization.slug,
            plan: e.organization.plan,
            trial_ends_at: e.organization.trial_ends_at,
        },
        memberships: e
            .memberships
            .into_iter()
            .map(|m| ExportMembership {
                id: m.id,
                team_id: m.team_id,
                team_name: m.team_name,
                role: m.role,
                created_at: m.created_at,
            })
            .collect(),
        notification_channels: e
            .channels
            .iter()
            .map(|c| super::channels::ChannelView::from_row(c, now))
            .collect::<Result<_, _>>()?,
        quiet_hours: p.quiet_hours.map(|q| q.0),
        api_keys: e
            .api_keys
            .into_iter()
            .map(|k| ApiKeyView {
                status: match (k.revoked_at, k.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(at)) if at <= now => "expired",
                    _ => "active",
                },
                id: k.id,
                name: k.name,
                hint: k.hint,
                scopes: roster_core::scope::ScopeSet::from_stored(&k.scopes).iter().collect(),
                created_at: k.created_at,
                expires_at: k.expires_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
        sessions: e
            .sessions
            .into_iter()
            .map(|s| ExportSession { id: s.id, created_at: s.created_at, expires_at: s.expires_at })
            .collect(),
        invitations_sent: e.invitations_sent.into_iter().map(|i| export_invitation(i, now)).collect(),
        invitations_received: e.invitations_received.into_iter().map(|i| export_invitation(i, now)).collect(),
        ownership_offers: e
            .ownership_transfers
            .into_iter()
            .map(|o| ExportOwnershipOffer {
                organization_id: o.organization_id,
                from_customer_id: o.from_customer_id,
                to_customer_id: o.to_customer_id,
                created_at: o.created_at,
                expires_at: o.expires_at,
            })
            .collect(),
        audit_events: e.audit_events.into_iter().map(Into::into).collect(),
        deliveries: e
            .messages
            .into_iter()
            .map(|m| ExportDelivery {
                attempts: attempts.remove(&m.id).unwrap_or_default(),
                id: m.id,
                channel_id: m.channel_id,
                kind: m.kind,
                transport: m.transport,
                template: m.template,
                status: m.status,
                skip_reason: m.skip_reason,
                created_at: m.created_at,
                settled_at: m.settled_at,
            })
            .collect(),
        alerts: e
            .alerts
            .into_iter()
            .map(|a| ExportAlert {
                id: a.id,
                event: a.event,
                urgency: a.urgency,
                title: a.title,
                message: a.message,
                status: a.status,
                created_at: a.created_at,
            })
            .collect(),
    })
}

/// Download everything Roster holds about the authenticated customer, as one
/// JSON document: profile, organization and role, team memberships, personal
/// channels and quiet hours, API keys and sessions (metadata only),
/// invitations sent and received, ownership offers, the audit records of
/// what they did, the messages sent to them with every attempt, and personal
/// alerts. Never included: passwords, hashes of tokens, keys or codes,
/// signing secrets, second-factor secrets, or what a message said.
#[utoipa::path(
    get, path = "/v1/customer/export", tag = "customer",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerExport),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "The account was deleted meanwhile"),
    )
)]
pub async fn export_customer(
    State(state): State<AppState>,
    auth: Auth<act::ProfileRead>,
) -> ApiResult<([(axum::http::HeaderName, &'static str); 1], Json<CustomerExport>)> {
    let export = state
        .store()
        .customer_export(auth.organization_id, auth.customer_id)
        .await?
        .ok_or(Error::NotFound("customer"))?;
    let document = export_document(export, roster_core::clock::now())?;
    // Personal data: no cache along the way keeps a copy.
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], Json(document)))
}

pub(crate) fn actor<A: crate::http::extract::RequiredAction>(
    auth: &Auth<A>,
    request_id: Option<String>,
    ip: std::net::IpAddr,
) -> Actor {
    Actor::new(auth.organization_id, Some(auth.customer_id), request_id, ip)
}
