//! `/v1/team/{id}/invitation…`: a team's managers invite people by email,
//! list, withdraw and remind invitations. The invited person answers through
//! the link in the email (`invitations/public.rs`).
//!
//! The link carries a token (`rsi_…`) that is stored only as a keyed hash;
//! a new invitation to the same address, or a reminder, gives a new token and
//! the old link dies.

mod public;

use super::customer::actor;
use super::organization::plan_limits;
use crate::app::rate_limit;
use crate::http::extract::{act, ApiJson, ApiPath, ApiQuery, Auth, ClientIp, RequestId, RequiredAction};
use crate::http::pagination::{PageParams, Paged};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::email::EmailAddress;
use roster_core::ids::*;
use roster_core::message::{NewMessage, Template, Transport};
use roster_core::policy;
use roster_core::role::Role;
use roster_core::secret::{generate_token, TokenKind};
use roster_core::validation::{FieldErrors, FieldProblem};
use roster_core::Error;
use roster_store::invitations::{InvitationReminder, InvitationRow, InvitationTeam, NewInvitation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations))
        .routes(routes!(create_invitation, delete_invitation))
        .routes(routes!(create_invitation_reminder))
        .merge(public::router())
}

/// How invitations travel. Only email so far; the field stays open for others (`sms`).
const CHANNEL_TYPES: [&str; 1] = ["email"];

/// The least time between two emails for one invitation.
const REMIND_INTERVAL: Duration = Duration::hours(1);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// The address to invite.
    #[schema(example = "test@pinghome.eu")]
    pub channel_value: String,
    /// How to send the invitation: `email`.
    #[schema(example = "email")]
    pub channel_type: String,
    /// The role the person gets in the organization when they join as a new
    /// account (`user` when absent); never above the inviter's own, never `root`.
    #[schema(example = "user")]
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationAddressRequest {
    /// The address the invitation was sent to.
    #[schema(example = "test@pinghome.eu")]
    pub channel_value: String,
}

/// Where an invitation stands. `Expired`: still pending, but its link no
/// longer works until a reminder gives it a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Expired,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// The address invited.
    pub channel: String,
    pub channel_type: String,
    pub role: Role,
    /// Who sent the invitation, as they were named then.
    pub sender_full_name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the last reminder went out.
    #[serde(with = "time::serde::rfc3339::option")]
    pub reminded_at: Option<OffsetDateTime>,
    /// When the link stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub status: InvitationStatus,
}

impl InvitationView {
    fn from_row(r: InvitationRow, now: OffsetDateTime) -> Self {
        let status = match r.status.as_str() {
            roster_store::invitations::STATUS_ACCEPTED => InvitationStatus::Accepted,
            roster_store::invitations::STATUS_DECLINED => InvitationStatus::Declined,
            _ if r.is_expired(now) => InvitationStatus::Expired,
            _ => InvitationStatus::Pending,
        };
        Self {
            id: r.id,
            channel: r.channel_value,
            channel_type: r.channel_type,
            role: r.role,
            sender_full_name: r.sender_full_name,
            created_at: r.created_at,
            reminded_at: r.reminded_at,
            expires_at: r.expires_at,
            status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationMessage {
    pub message: String,
}

fn parse_channel_type(raw: &str) -> Result<&'static str, FieldProblem> {
    let wanted = raw.trim().to_ascii_lowercase();
    CHANNEL_TYPES.into_iter().find(|t| *t == wanted).ok_or_else(|| {
        FieldProblem::new("unsupported_channel_type", format!("must be one of: {}", CHANNEL_TYPES.join(", ")))
    })
}

/// A role someone can be invited with: anyone who can log in (notify-only contacts cannot answer a link).
fn parse_invited_role(raw: &str) -> Result<Role, FieldProblem> {
    let role = Role::parse(raw)?;
    if !role.can_log_in() {
        return Err(FieldProblem::new("invalid_role", "notify-only contacts cannot log in, so they cannot be invited"));
    }
    Ok(role)
}

/// The caller's organization's team, found (else 404) and managed by the caller (else 403).
async fn managed_team<A: RequiredAction>(
    state: &AppState,
    auth: &Auth<A>,
    team: TeamId,
) -> Result<InvitationTeam, Error> {
    let found = team_of(state, auth, team).await?;
    if !policy::can_manage_team(auth.role, found.caller_is_member()) {
        return Err(Error::Forbidden("a manager manages the invitations of the teams they belong to only".into()));
    }
    Ok(found)
}

async fn team_of<A: RequiredAction>(state: &AppState, auth: &Auth<A>, team: TeamId) -> Result<InvitationTeam, Error> {
    state.store().invitation_team(auth.organization_id, team, auth.customer_id).await?.ok_or(Error::NotFound("team"))
}

/// The email that carries an invitation's link; the token is the message's secret.
fn invitation_email(
    state: &AppState,
    template: Template,
    recipient: &str,
    inviter_name: &str,
    team: &InvitationTeam,
    token: String,
) -> NewMessage {
    NewMessage {
        transport: Transport::Email,
        template,
        recipient: recipient.to_owned(),
        data: json!({
            "inviter_name": inviter_name,
            "organization_name": team.organization_name,
            "team_name": team.team_name,
            "expires_in_days": state.config().invitation_ttl_days,
        }),
        secret: Some(token),
    }
}

/// Counts an invitation or reminder email against the sender's and the
/// client's hourly limits, so a manager's account cannot be made to spam.
async fn count_send(state: &AppState, sender: CustomerId, ip: std::net::IpAddr) -> Result<(), Error> {
    let config = state.config();
    let per_customer = format!("invite:customer:{sender}");
    rate_limit::hit(state, &per_customer, config.invitations_per_hour_per_customer, Duration::HOUR).await?;
    rate_limit::hit(state, &format!("invite:ip:{ip}"), config.invitations_per_hour_per_ip, Duration::HOUR).await
}

fn expiry(state: &AppState, now: OffsetDateTime) -> OffsetDateTime {
    now + Duration::days(i64::from(state.config().invitation_ttl_days))
}

/// List a team's invitations, oldest first, with their status.
#[utoipa::path(
    get, path = "/v1/team/{id}/invitations", tag = "invitations",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id"), PageParams),
    responses(
        (status = 200, body = Paged<InvitationView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `teams:read`"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The id is not a UUID, or paging values are invalid"),
    )
)]
pub async fn list_invitations(
    State(state): State<AppState>,
    auth: Auth<act::TeamRead>,
    ApiPath(team): ApiPath<TeamId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Paged<InvitationView>>> {
    let (limit, offset) = page.resolve()?;
    team_of(&state, &auth, team).await?;
    let (rows, total) = state.store().list_invitations(auth.organization_id, team, limit, offset).await?;
    let now = roster_core::clock::now();
    let data = rows.into_iter().map(|r| InvitationView::from_row(r, now)).collect();
    Ok(Json(Paged::new(data, offset, total)))
}

/// Invite someone to a team by email. A pending invitation to the same
/// address for the team is replaced: its link stops working.
#[utoipa::path(
    post, path = "/v1/team/{id}/invitation", tag = "invitations",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id")),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, body = InvitationView, description = "Invited; the email is on its way"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a manager of this team, a role above the caller's, or the plan's members limit (`PLAN_LIMIT_REACHED`)"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team in the organization"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Already a member of the team"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid address, unsupported channel type or unknown role"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "The caller, or their client address, sent too many invitations and reminders this hour"),
    )
)]
pub async fn create_invitation(
    State(state): State<AppState>,
    auth: Auth<act::MemberManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(team_id): ApiPath<TeamId>,
    ApiJson(body): ApiJson<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    let mut errors = FieldErrors::default();
    let channel_type = errors.check("channel_type", parse_channel_type(&body.channel_type));
    let address = errors.check("channel_value", EmailAddress::parse(&body.channel_value));
    let role = errors.check("role", body.role.as_deref().map_or(Ok(Role::User), parse_invited_role));
    errors.finish()?;
    let (channel_type, address, role) =
        (channel_type.expect("checked"), address.expect("checked"), role.expect("checked"));
    let team = managed_team(&state, &auth, team_id).await?;
    policy::can_grant(auth.role, role).map_err(|why| Error::Forbidden(why.into()))?;
    let sender_full_name = team.caller_full_name.clone().ok_or(Error::NotFound("customer"))?;
    let limits = plan_limits(&state, &team.plan)?;
    count_send(&state, auth.customer_id, ip).await?;
    let now = roster_core::clock::now();
    let token = generate_token(TokenKind::Invitation);
    let token_hash = state.key().hash_token(&token);
    let id = uuid::Uuid::now_v7();
    let audit = actor(&auth, request_id, ip).event(
        "invitation.created",
        "invitation",
        Some(id),
        json!({ "team_id": team_id, "role": role, "channel_type": channel_type }),
    );
    let message = invitation_email(&state, Template::Invitation, address.as_str(), &sender_full_name, &team, token);
    let row = state
        .store()
        .create_invitation(&NewInvitation {
            id,
            organization_id: auth.organization_id,
            team_id,
            channel_type,
            channel_value: address.as_str().to_owned(),
            role,
            inviter_id: auth.customer_id,
            sender_full_name,
            token_hash,
            expires_at: expiry(&state, now),
            max_members: limits.members,
            message,
            audit,
            now,
        })
        .await?;
    state.message_queued();
    Ok((StatusCode::CREATED, Json(InvitationView::from_row(row, now))))
}

/// Withdraw the pending invitation to an address: its link stops working.
#[utoipa::path(
    delete, path = "/v1/team/{id}/invitation", tag = "invitations",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id")),
    request_body = InvitationAddressRequest,
    responses(
        (status = 200, body = InvitationMessage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a manager of this team"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team, or no pending invitation to the address"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid address"),
    )
)]
pub async fn delete_invitation(
    State(state): State<AppState>,
    auth: Auth<act::MemberManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(team_id): ApiPath<TeamId>,
    ApiJson(body): ApiJson<InvitationAddressRequest>,
) -> ApiResult<Json<InvitationMessage>> {
    let address = EmailAddress::parse(&body.channel_value).map_err(|p| p.at("channel_value"))?;
    managed_team(&state, &auth, team_id).await?;
    let audit =
        actor(&auth, request_id, ip).event("invitation.deleted", "invitation", None, json!({ "team_id": team_id }));
    if !state.store().delete_invitation(auth.organization_id, team_id, address.as_str(), &audit).await? {
        return Err(Error::NotFound("pending invitation").into());
    }
    Ok(Json(InvitationMessage {
        message: format!("the invitation to {} was withdrawn; its link no longer works", address.masked()),
    }))
}

/// Send a pending (or expired) invitation again, with a new link and a new
/// lifetime; the previous link stops working. At most once an hour.
#[utoipa::path(
    post, path = "/v1/team/{id}/invitation/reminder", tag = "invitations",
    security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The team's id")),
    request_body = InvitationAddressRequest,
    responses(
        (status = 200, body = InvitationView, description = "Reminded; the email is on its way"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a manager of this team"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such team, or no pending invitation to the address"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid address"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Sent or reminded less than an hour ago, or the caller or their client address sent too many invitations and reminders this hour; `Retry-After` says when"),
    )
)]
pub async fn create_invitation_reminder(
    State(state): State<AppState>,
    auth: Auth<act::MemberManage>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    ApiPath(team_id): ApiPath<TeamId>,
    ApiJson(body): ApiJson<InvitationAddressRequest>,
) -> ApiResult<Json<InvitationView>> {
    let address = EmailAddress::parse(&body.channel_value).map_err(|p| p.at("channel_value"))?;
    let team = managed_team(&state, &auth, team_id).await?;
    count_send(&state, auth.customer_id, ip).await?;
    let now = roster_core::clock::now();
    let token = generate_token(TokenKind::Invitation);
    let reminder = InvitationReminder {
        organization_id: auth.organization_id,
        team_id,
        channel_value: address.as_str().to_owned(),
        token_hash: state.key().hash_token(&token),
        expires_at: expiry(&state, now),
        interval: REMIND_INTERVAL,
        audit: actor(&auth, request_id, ip).event(
            "invitation.reminded",
            "invitation",
            None,
            json!({ "team_id": team_id }),
        ),
        now,
    };
    let email = |row: &InvitationRow| {
        invitation_email(&state, Template::InvitationReminder, &row.channel_value, &row.sender_full_name, &team, token)
    };
    let row = state.store().remind_invitation(&reminder, email).await?;
    state.message_queued();
    Ok(Json(InvitationView::from_row(row, now)))
}
