//! `/v1/invitations/{token}`: the invited person reads, accepts or declines
//! an invitation with the token from its link. No credentials: the token is
//! the proof, so a malformed or unknown one is 404 and every call is limited
//! per client address.

use super::{plan_limits, InvitationMessage};
use crate::app::accounts;
use crate::app::audit::Actor;
use crate::app::rate_limit;
use crate::http::extract::{ApiJson, ClientIp, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::http::routes::auth::Session;
use crate::http::routes::customer::TeamRef;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::ids::*;
use roster_core::message::{NewMessage, Template, Transport};
use roster_core::names::PersonName;
use roster_core::password::Password;
use roster_core::role::Role;
use roster_core::secret::{token_kind, TokenKind};
use roster_core::validation::FieldErrors;
use roster_core::Error;
use roster_store::invitations::{AcceptInvitation, AcceptedNotice, Invitee, TokenInvitation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::net::IpAddr;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(decline_invitation))
}

const ANOTHER_ORGANIZATION: &str = "this address now belongs to an account in another organization, \
     which cannot join this one; ask for an invitation to another address";

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOrganization {
    pub id: OrganizationId,
    pub name: String,
}

/// What an invitation's page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDetails {
    pub organization: InvitationOrganization,
    pub team: TeamRef,
    /// Who invited.
    pub inviter_name: String,
    /// The address invited.
    pub channel: String,
    /// The role a new account gets; an existing account keeps its own.
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether the address already has an account: then accepting asks for
    /// its password, otherwise for a name, surname and a new password.
    pub account_exists: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The existing account's password, or the new account's (8–256 characters).
    pub password: String,
    /// Required when the address has no account yet.
    #[schema(example = "Bo", min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Required when the address has no account yet.
    #[schema(example = "Berg", min_length = 1, max_length = 100)]
    pub surname: Option<String>,
}

/// A session for the person who accepted, and the team they joined.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedInvitation {
    #[serde(flatten)]
    pub session: Session,
    pub team_id: TeamId,
}

/// The invitation behind a link's token, counting the call against the client's limit.
async fn find(state: &AppState, ip: IpAddr, token: &str) -> Result<TokenInvitation, Error> {
    let key = format!("invitation:ip:{ip}");
    rate_limit::hit(state, &key, state.config().login_max_per_ip, rate_limit::window(state)).await?;
    if token_kind(token) != Some(TokenKind::Invitation) {
        return Err(Error::NotFound("invitation"));
    }
    state.store().invitation_by_token(&state.key().hash_token(token)).await?.ok_or(Error::NotFound("invitation"))
}

/// An invitation that can still be answered: 410 once expired or answered,
/// 409 when its address has meanwhile become another organization's.
fn usable(found: &TokenInvitation, now: OffsetDateTime) -> Result<(), Error> {
    if let Some(why) = found.invitation.unusable(now) {
        return Err(Error::Gone(why));
    }
    if found.account.as_ref().is_some_and(|a| a.organization_id != found.invitation.organization_id) {
        return Err(Error::Conflict(ANOTHER_ORGANIZATION.into()));
    }
    Ok(())
}

/// Read an invitation by the token in its link.
#[utoipa::path(
    get, path = "/v1/invitations/{token}", tag = "invitations",
    params(("token" = String, Path, description = "The token from the invitation's link (`rsi_…`)")),
    responses(
        (status = 200, body = InvitationDetails),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No invitation has this token (a replaced or withdrawn link, or a mistyped one)"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The address belongs to an account in another organization"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "The invitation expired, or was already accepted or declined"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many attempts from this client"),
    )
)]
pub async fn get_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> ApiResult<Json<InvitationDetails>> {
    let found = find(&state, ip, &token).await?;
    usable(&found, roster_core::clock::now())?;
    let inv = found.invitation;
    Ok(Json(InvitationDetails {
        organization: InvitationOrganization { id: inv.organization_id, name: found.organization_name },
        team: TeamRef { id: inv.team_id, name: found.team_name },
        inviter_name: inv.sender_full_name,
        channel: inv.channel_value,
        role: inv.role,
        expires_at: inv.expires_at,
        account_exists: found.account.is_some(),
    }))
}

/// Accept an invitation and log in. With an account at the address, give its
/// password (and its address must be verified): the account joins the team
/// and keeps its role. Otherwise give a name, surname and password: a new
/// account is created with the invitation's role, its address verified by the link.
#[utoipa::path(
    post, path = "/v1/invitations/{token}/accept", tag = "invitations",
    params(("token" = String, Path, description = "The token from the invitation's link (`rsi_…`)")),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 200, body = AcceptedInvitation, description = "Joined the team, and logged in"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "Wrong password for the existing account"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The existing account's address is not verified, or it is suspended; or the plan's members limit (`PLAN_LIMIT_REACHED`)"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No invitation has this token"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The address belongs to an account in another organization, or its account changed meanwhile"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "The invitation expired, or was already accepted or declined"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Missing or invalid name, surname or password"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many attempts"),
    )
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<AcceptInvitationRequest>,
) -> ApiResult<Json<AcceptedInvitation>> {
    let found = find(&state, ip, &token).await?;
    usable(&found, roster_core::clock::now())?;
    let inv = &found.invitation;
    let invitee = match &found.account {
        Some(account) => {
            if body.password.is_empty() {
                return Err(Error::invalid("password", "required", "must not be empty").into());
            }
            let config = state.config();
            let failures_key = rate_limit::email_key(&state, "login:email", &inv.channel_value);
            rate_limit::check(&state, &failures_key, config.login_max_failures, rate_limit::window(&state)).await?;
            let password = body.password.chars().take(Password::MAX + 1).collect::<String>();
            if !state.passwords().verify(&password, account.password_hash.as_deref()).await? {
                rate_limit::hit(&state, &failures_key, u32::MAX, rate_limit::window(&state)).await?;
                return Err(Error::Unauthorized("the password is incorrect".into()).into());
            }
            state.store().rate_limit_reset(&failures_key).await?;
            if account.email_verified_at.is_none() {
                return Err(Error::Forbidden(
                    "verify your email first: enter the code emailed at sign-up, then open the link again".into(),
                )
                .into());
            }
            if account.status != "active" {
                return Err(Error::Forbidden("this account is suspended".into()).into());
            }
            Invitee::Existing(account.id)
        }
        None => {
            let mut errors = FieldErrors::default();
            let mut required = |field: &str, raw: &Option<String>| match raw {
                Some(raw) => errors.check(field, PersonName::parse(raw)),
                None => errors.check(field, PersonName::parse("")),
            };
            let name = required("name", &body.name);
            let surname = required("surname", &body.surname);
            let password = errors.check("password", Password::parse(&body.password));
            errors.finish()?;
            Invitee::New {
                customer_id: CustomerId::new(),
                password_hash: state.passwords().hash(&password.expect("checked")).await?,
                name: name.expect("checked").into_inner(),
                surname: surname.expect("checked").into_inner(),
                max_members: plan_limits(&state, &found.plan)?.members,
            }
        }
    };
    let customer_id = match &invitee {
        Invitee::Existing(id) | Invitee::New { customer_id: id, .. } => *id,
    };
    let actor = Actor::new(inv.organization_id, Some(customer_id), request_id, ip);
    let new_account = matches!(invitee, Invitee::New { .. });
    let audit = actor.event(
        "invitation.accepted",
        "invitation",
        Some(inv.id),
        json!({ "team_id": inv.team_id, "new_account": new_account }),
    );
    let notice = |n: AcceptedNotice<'_>| NewMessage {
        transport: Transport::Email,
        template: Template::InvitationAccepted,
        recipient: n.inviter_email.to_owned(),
        data: json!({
            "name": n.inviter_name,
            "invitee_name": n.invitee_name,
            "team_name": found.team_name,
            "organization_name": found.organization_name,
        }),
        secret: None,
    };
    let accept = AcceptInvitation {
        organization_id: inv.organization_id,
        invitation_id: inv.id,
        token_hash: state.key().hash_token(&token),
        invitee,
        membership_id: MembershipId::new(),
        audit,
        now: roster_core::clock::now(),
    };
    let outcome = state.store().accept_invitation(&accept, notice).await?;
    if outcome.inviter_notified {
        state.message_queued();
    }
    let (token, expires_at) = accounts::start_session(&state, outcome.customer_id).await?;
    Ok(Json(AcceptedInvitation {
        session: Session {
            token,
            token_type: "Bearer",
            expires_at,
            customer_id: outcome.customer_id,
            organization_id: outcome.organization_id,
        },
        team_id: outcome.team_id,
    }))
}

/// Decline an invitation: its link stops working.
#[utoipa::path(
    post, path = "/v1/invitations/{token}/decline", tag = "invitations",
    params(("token" = String, Path, description = "The token from the invitation's link (`rsi_…`)")),
    responses(
        (status = 200, body = InvitationMessage),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No invitation has this token"),
        (status = 410, body = Problem, content_type = "application/problem+json", description = "The invitation expired, or was already accepted or declined"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many attempts from this client"),
    )
)]
pub async fn decline_invitation(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    Path(token): Path<String>,
) -> ApiResult<Json<InvitationMessage>> {
    let found = find(&state, ip, &token).await?;
    let now = roster_core::clock::now();
    if let Some(why) = found.invitation.unusable(now) {
        return Err(Error::Gone(why).into());
    }
    let inv = &found.invitation;
    let member = found.account.as_ref().filter(|a| a.organization_id == inv.organization_id).map(|a| a.id);
    let actor = Actor::new(inv.organization_id, member, request_id, ip);
    let audit = actor.event("invitation.declined", "invitation", Some(inv.id), json!({ "team_id": inv.team_id }));
    state.store().decline_invitation(inv.organization_id, inv.id, &state.key().hash_token(&token), &audit, now).await?;
    Ok(Json(InvitationMessage { message: format!("you declined the invitation to {}", found.team_name) }))
}
