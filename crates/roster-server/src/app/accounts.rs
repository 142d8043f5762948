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

/// The purpose a password-reset code is bound to (with the address).
pub const PURPOSE_PASSWORD_RESET: &str = "password_reset";

/// How many recovery codes an enrolment hands out.
pub const RECOVERY_CODES: usize = 10;

/// Seals a TOTP secret for storage: XORed with an HMAC of the server key over
/// the customer and a random nonce, so a leaked table alone yields nothing,
/// and a sealed secret copied to another customer does not open.
pub fn seal_totp_secret(state: &AppState, customer: CustomerId, secret: &[u8]) -> String {
    use rand::RngCore;
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = xor_pad(state, customer, &nonce, secret);
    format!("v1.{}.{}", roster_core::totp::base32_encode(&nonce), roster_core::totp::base32_encode(&sealed))
}

/// The secret [`seal_totp_secret`] sealed.
pub fn open_totp_secret(state: &AppState, customer: CustomerId, sealed: &str) -> Result<Vec<u8>, Error> {
    let broken = || Error::internal(format!("the stored TOTP secret of {customer} is malformed"));
    let mut parts = sealed.split('.');
    let (Some("v1"), Some(nonce), Some(body), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(broken());
    };
    let nonce = roster_core::totp::base32_decode(nonce).ok_or_else(broken)?;
    let body = roster_core::totp::base32_decode(body).ok_or_else(broken)?;
    if body.len() > 32 {
        return Err(broken());
    }
    Ok(xor_pad(state, customer, &nonce, &body))
}

fn xor_pad(state: &AppState, customer: CustomerId, nonce: &[u8], data: &[u8]) -> Vec<u8> {
    let pad = state.key().hash("totp-secret", &[customer.0.as_bytes(), nonce]);
    data.iter().zip(pad.iter()).map(|(d, p)| d ^ p).collect()
}

/// Fresh recovery codes, `xxxxx-xxxxx` (50 random bits each), and their stored hashes.
pub fn recovery_codes(state: &AppState, customer: CustomerId) -> (Vec<String>, Vec<Vec<u8>>) {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_code_hash(state, customer, c)).collect();
    (codes, hashes)
}

/// The stored form of a recovery code; case, spaces and dashes do not matter.
pub fn recovery_code_hash(state: &AppState, customer: CustomerId, code: &str) -> Vec<u8> {
    let normalized: String = code.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_lowercase()).collect();
    state.key().hash("recovery_code", &[customer.0.as_bytes(), normalized.as_bytes()])
}

/// Whether `code` is the customer's current TOTP code. A code is accepted once:
/// its time step is remembered (in the rate-limit table, which every instance
/// shares) for as long as it could still be valid.
pub async fn check_totp_code(state: &AppState, customer: CustomerId, sealed: &str, code: &str) -> Result<bool, Error> {
    let secret = open_totp_secret(state, customer, sealed)?;
    let now = roster_core::clock::now();
    let Some(step) = roster_core::totp::verify(&secret, code.trim(), now.unix_timestamp().max(0) as u64) else {
        return Ok(false);
    };
    let window = Duration::seconds(((2 * roster_core::totp::DRIFT_STEPS + 2) * roster_core::totp::STEP_SECS) as i64);
    // Keyed by the enrolment's nonce too, so a new secret's codes are not mistaken for replays.
    let enrolment = sealed.split('.').nth(1).unwrap_or_default();
    let key = format!("totp-used:{customer}:{enrolment}:{step}");
    let (uses, _) = state.store().rate_limit_hit(&key, window, now).await?;
    Ok(uses == 1)
}

/// Checks a second factor: a TOTP code, or else an unused recovery code (used up
/// by this). `None` when neither was given.
pub async fn check_second_factor(
    state: &AppState,
    customer: CustomerId,
    sealed: &str,
    totp_code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<Option<bool>, Error> {
    if let Some(code) = totp_code.filter(|c| !c.trim().is_empty()) {
        return Ok(Some(check_totp_code(state, customer, sealed, code).await?));
    }
    if let Some(code) = recovery_code.filter(|c| !c.trim().is_empty()) {
        let hash = recovery_code_hash(state, customer, code);
        return Ok(Some(state.store().use_recovery_code(customer, &hash, roster_core::clock::now()).await?));
    }
    Ok(None)
}
