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
use roster_store::{CodeCheck, NewPendingSignup, NewSignup, ProvedSignup, SignupConfirmation, PURPOSE_SIGNUP};
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

/// Creates an organization with its first team and its owner, whose address
/// the operator vouches for (`roster admin create-org`): no code is sent.
/// People signing themselves up go through [`request_signup`] and [`confirm_signup`].
pub async fn signup(state: &AppState, input: SignupInput, actor: &Actor) -> Result<SignupOutcome, Error> {
    let password_hash = state.passwords().hash(&input.password).await?;
    let owner = Owner {
        email: input.email.as_str().to_owned(),
        password_hash,
        name: input.name.as_str().to_owned(),
        surname: input.surname.as_str().to_owned(),
        organization: input.organization,
    };
    let ids = fresh_ids();
    let signup = new_account(state, &ids, owner, "admin", actor, roster_core::clock::now());
    let slug = state.store().create_signup(&signup).await?;
    Ok(SignupOutcome { slug, ..ids })
}

/// Who an account is made for, their address proved.
struct Owner {
    email: String,
    password_hash: String,
    name: String,
    surname: String,
    organization: DisplayName,
}

/// Fresh ids for an account about to be made; the slug comes when it is.
fn fresh_ids() -> SignupOutcome {
    SignupOutcome {
        customer_id: CustomerId::new(),
        organization_id: OrganizationId::new(),
        team_id: TeamId::new(),
        slug: String::new(),
    }
}

/// Everything an account with these `ids` is made of.
fn new_account(
    state: &AppState,
    ids: &SignupOutcome,
    owner: Owner,
    via: &str,
    actor: &Actor,
    now: OffsetDateTime,
) -> NewSignup {
    let config = state.config();
    let SignupOutcome { organization_id, customer_id, team_id, .. } = *ids;
    let team_name = DisplayName::parse(FIRST_TEAM_NAME).expect("a constant name is valid");
    let actor = Actor { organization_id: Some(organization_id), customer_id: Some(customer_id), ..actor.clone() };
    NewSignup {
        organization_id,
        organization_name: owner.organization.as_str().to_owned(),
        slug: owner.organization.slug(),
        plan: config.default_plan.clone(),
        trial_ends_at: (config.trial_days > 0).then(|| now + Duration::days(i64::from(config.trial_days))),
        team_id,
        team_name: team_name.as_str().to_owned(),
        team_name_key: team_name.key(),
        customer_id,
        email: owner.email,
        email_verified: true,
        password_hash: owner.password_hash,
        name: owner.name,
        surname: owner.surname,
        membership_id: MembershipId::new(),
        verification: None,
        audit: actor.event(
            "organization.created",
            "organization",
            Some(organization_id.0),
            json!({ "plan": config.default_plan, "via": via }),
        ),
        now,
    }
}

/// Holds a sign-up until the code emailed to its address comes back, and
/// answers when that code expires. The answer and the work are the same
/// whether or not the address has an account: the password is hashed and a
/// code made either way, and an address with an account gets, instead of a
/// code, an email telling its owner that someone tried to sign up with it.
pub async fn request_signup(state: &AppState, input: SignupInput) -> Result<OffsetDateTime, Error> {
    let password_hash = state.passwords().hash(&input.password).await?;
    let code = verification_code();
    let code_hash = state.key().hash_code(PURPOSE_SIGNUP, input.email.as_str(), &code);
    let now = roster_core::clock::now();
    let expires_at = now + code_ttl(state);
    let message = code_message(state, Template::SignupCode, &input.email, input.name.as_str(), code);
    let existing = |name: &str| NewMessage {
        transport: Transport::Email,
        template: Template::SignupExisting,
        recipient: input.email.as_str().to_owned(),
        data: json!({ "name": name }),
        secret: None,
    };
    let pending = NewPendingSignup {
        email: input.email.as_str().to_owned(),
        password_hash,
        name: input.name.as_str().to_owned(),
        surname: input.surname.as_str().to_owned(),
        organization_name: input.organization.as_str().to_owned(),
        code_hash,
        expires_at,
        now,
    };
    state.store().request_signup(&pending, &message, existing).await?;
    state.message_queued();
    Ok(expires_at)
}

/// Checks a sign-up code; a right one creates the organization, its first
/// team and its owner (the address proved by the code) and answers what was
/// created. Anything else is the code's 422, the same for an address that
/// has an account as for a wrong code.
pub async fn confirm_signup(
    state: &AppState,
    email: &EmailAddress,
    code: String,
    actor: &Actor,
) -> Result<SignupOutcome, Error> {
    let key = state.key().clone();
    let now = roster_core::clock::now();
    // Made once, so every try the store makes writes the same ids.
    let ids = fresh_ids();
    let build = |held: ProvedSignup| {
        // Checked when the sign-up was asked for; a name that no longer parses keeps a neutral one.
        let organization = DisplayName::parse(&held.organization_name)
            .unwrap_or_else(|_| DisplayName::parse("Organization").expect("a constant name is valid"));
        let owner = Owner {
            email: held.email,
            password_hash: held.password_hash,
            name: held.name,
            surname: held.surname,
            organization,
        };
        new_account(state, &ids, owner, "signup", actor, now)
    };
    let confirmation = state
        .store()
        .confirm_signup(
            email.as_str(),
            i64::from(state.config().code_max_attempts),
            move |target| key.hash_code(PURPOSE_SIGNUP, target, &code),
            build,
            now,
        )
        .await?;
    match confirmation {
        SignupConfirmation::Created { slug } => Ok(SignupOutcome { slug, ..ids }),
        // No held sign-up reads like a wrong code, so the answer says nothing about the address.
        SignupConfirmation::Refused(CodeCheck::Missing) => {
            Err(Error::invalid("code", "invalid_code", "is incorrect or no longer valid: request a new code"))
        }
        SignupConfirmation::Refused(check) => match code_outcome(check, "sign-up") {
            Err(refused) => Err(refused),
            Ok(_) => Err(Error::internal("the store refused a sign-up code it found valid")),
        },
    }
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
/// Limited per customer and hour. With `if_taken`, a target address that
/// another customer uses gets, instead of the code, that template telling its
/// owner of the attempt: the answer is the same either way, so the caller
/// cannot learn which addresses are registered.
#[allow(clippy::too_many_arguments)]
pub async fn send_code(
    state: &AppState,
    org: OrganizationId,
    customer: CustomerId,
    purpose: &'static str,
    template: Template,
    target: &EmailAddress,
    name: &str,
    if_taken: Option<Template>,
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
    let if_taken = if_taken.map(|template| NewMessage {
        transport: Transport::Email,
        template,
        recipient: target.as_str().to_owned(),
        data: json!({}),
        secret: None,
    });
    state
        .store()
        .issue_code(org, customer, purpose, target.as_str(), &hash, expires_at, &message, if_taken.as_ref(), now)
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
