//! Sign-up, sessions and the codes that prove an address.

use super::audit::Actor;
use crate::state::AppState;
use roster_core::email::EmailAddress;
use roster_core::ids::*;
use roster_core::message::{NewMessage, Template, Transport};
use roster_core::names::{DisplayName, PersonName};
use roster_core::password::Password;
use roster_core::secret::{generate_token, verification_code, TokenKind};
use roster_core::Error;
use roster_store::NewSignup;
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// A validated sign-up.
#[derive(Debug, Clone)]
pub struct SignupInput {
    pub email: EmailAddress,
    pub password: Password,
    pub name: PersonName,
    pub surname: PersonName,
    pub organization: DisplayName,
}

#[derive(Debug, Clone)]
pub struct SignupOutcome {
    pub customer_id: CustomerId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub slug: String,
}

/// The first team's name: the organization's, which people rename later.
const FIRST_TEAM_NAME: &str = "Default team";

/// Creates an organization with its first team and its owner. Unless the
/// address is vouched for (`verified`, the operator's CLI), a verification
/// code is emailed in the same transaction.
pub async fn signup(
    state: &AppState,
    input: SignupInput,
    verified: bool,
    actor: &Actor,
) -> Result<SignupOutcome, Error> {
    let config = state.config();
    let password_hash = state.passwords().hash(&input.password).await?;
    let now = roster_core::clock::now();
    let organization_id = OrganizationId::new();
    let customer_id = CustomerId::new();
    let team_id = TeamId::new();
    let team_name = DisplayName::parse(FIRST_TEAM_NAME).expect("a constant name is valid");
    let verification = (!verified).then(|| {
        let code = verification_code();
        let hash = state.key().hash_code(roster_store::PURPOSE_EMAIL_VERIFICATION, input.email.as_str(), &code);
        let message = code_message(state, Template::EmailVerification, &input.email, input.name.as_str(), code);
        (hash, now + code_ttl(state), message)
    });
    let actor = Actor { organization_id: Some(organization_id), customer_id: Some(customer_id), ..actor.clone() };
    let signup = NewSignup {
        organization_id,
        organization_name: input.organization.as_str().to_owned(),
        slug: input.organization.slug(),
        plan: config.default_plan.clone(),
        trial_ends_at: (config.trial_days > 0).then(|| now + Duration::days(i64::from(config.trial_days))),
        team_id,
        team_name: team_name.as_str().to_owned(),
        team_name_key: team_name.key(),
        customer_id,
        email: input.email.as_str().to_owned(),
        email_verified: verified,
        password_hash,
        name: input.name.as_str().to_owned(),
        surname: input.surname.as_str().to_owned(),
        membership_id: MembershipId::new(),
        verification,
        audit: actor.event(
            "organization.created",
            "organization",
            Some(organization_id.0),
            json!({ "plan": config.default_plan, "via": if verified { "admin" } else { "signup" } }),
        ),
        now,
    };
    let slug = state.store().create_signup(&signup).await?;
    if !verified {
        state.message_queued();
    }
    Ok(SignupOutcome { customer_id, organization_id, team_id, slug })
}

/// Starts a session for `customer`: the bearer token and when it expires.
pub async fn start_session(state: &AppState, customer: CustomerId) -> Result<(String, OffsetDateTime), Error> {
    let token = generate_token(TokenKind::Session);
    let now = roster_core::clock::now();
    let expires_at = now + Duration::hours(state.config().session_ttl_hours as i64);
    state
        .store()
        .create_session(customer, AccessTokenId::new(), &state.key().hash_token(&token), expires_at, now)
        .await?;
    Ok((token, expires_at))
}

/// How long a code stays valid.
pub fn code_ttl(state: &AppState) -> Duration {
    Duration::minutes(state.config().code_ttl_minutes as i64)
}

/// The email that carries a code; the code itself is the message's secret.
pub fn code_message(state: &AppState, template: Template, to: &EmailAddress, name: &str, code: String) -> NewMessage {
    NewMessage {
        transport: Transport::Email,
        template,
        recipient: to.as_str().to_owned(),
        data: json!({ "name": name, "expires_in_minutes": state.config().code_ttl_minutes }),
        secret: Some(code),
    }
}

/// Issues a fresh code for `purpose` bound to `target` and emails it there.
/// Limited per customer and hour; with `must_be_free`, a target address that
/// another customer uses is a conflict.
#[allow(clippy::too_many_arguments)]
pub async fn send_code(
    state: &AppState,
    org: OrganizationId,
    customer: CustomerId,
    purpose: &'static str,
    template: Template,
    target: &EmailAddress,
    name: &str,
    must_be_free: bool,
) -> Result<OffsetDateTime, Error> {
    super::rate_limit::hit(
        state,
        &format!("code-send:{customer}"),
        state.config().code_sends_per_hour,
        Duration::hours(1),
    )
    .await?;
    let code = verification_code();
    let hash = state.key().hash_code(purpose, target.as_str(), &code);
    let now = roster_core::clock::now();
    let expires_at = now + code_ttl(state);
    let message = code_message(state, template, target, name, code);
    state
        .store()
        .issue_code(org, customer, purpose, target.as_str(), &hash, expires_at, &message, must_be_free, now)
        .await?;
    state.message_queued();
    Ok(expires_at)
}

/// Turns the outcome of a code check into the caller's answer.
pub fn code_outcome(check: roster_store::CodeCheck, what: &str) -> Result<String, Error> {
    use roster_store::CodeCheck::*;
    match check {
        Valid { target } => Ok(target),
        Wrong { attempts_left: 0 } => Err(Error::invalid(
            "code",
            "invalid_code",
            "is incorrect, and that was the last attempt: request a new code",
        )),
        Wrong { attempts_left } => {
            Err(Error::invalid("code", "invalid_code", format!("is incorrect; {attempts_left} attempt(s) left")))
        }
        Expired => Err(Error::invalid("code", "expired_code", "has expired: request a new code")),
        Exhausted => {
            Err(Error::invalid("code", "too_many_attempts", "was entered wrongly too often: request a new code"))
        }
        Missing => Err(Error::Conflict(format!("there is no pending {what}; request a code first"))),
    }
}
