//! `/v1/auth`: sign-up and its confirmation, login, logout and email verification.

use crate::app::accounts::{self, SignupInput};
use crate::app::audit::Actor;
use crate::app::passwords::Passwords;
use crate::app::rate_limit;
use crate::http::extract::{act, ApiJson, Auth, ClientIp, Credential, RequestId};
use crate::http::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::email::EmailAddress;
use roster_core::ids::*;
use roster_core::message::Template;
use roster_core::names::{DisplayName, PersonName};
use roster_core::password::Password;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_signup))
        .routes(routes!(confirm_signup))
        .routes(routes!(create_login))
        .routes(routes!(create_logout))
        .routes(routes!(verify_email))
        .routes(routes!(resend_email_verification))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The owner's login; the code that finishes the sign-up is sent here.
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// 8–256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(example = "Ann", min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(example = "Lee", min_length = 1, max_length = 100)]
    pub surname: String,
    #[schema(example = "Acme Inc", min_length = 1, max_length = 255)]
    pub organization_name: String,
}

/// A session: send `token` as `Authorization: Bearer <token>`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub customer_id: CustomerId,
    pub organization_id: OrganizationId,
}

/// A session from a login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub session: Session,
    /// True when the organization requires a second factor and this customer
    /// has none yet: enrol with `POST /v1/customer/totp`.
    pub totp_enrolment_required: bool,
}

/// The answer to every accepted sign-up, whether or not the address was free.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignupAccepted {
    pub message: String,
    /// When the code stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    #[serde(flatten)]
    pub session: Session,
    pub team_id: TeamId,
    pub organization_slug: String,
    /// Always true: the code proved the address.
    pub email_verified: bool,
}

/// Refuses when sign-up is closed on this server.
fn signup_open(state: &AppState) -> Result<(), Error> {
    match state.config().signup_enabled {
        true => Ok(()),
        false => Err(Error::Forbidden("sign-up is disabled on this server; ask its operator for an account".into())),
    }
}

/// Ask to sign up: a 6-digit code to finish is emailed to the address.
///
/// Nothing is created yet: submit the code to `POST /v1/auth/signup/confirm`,
/// which creates the organization, its first team and its owner (role
/// `root`) and logs in. The answer is the same whether or not the address
/// has an account (and takes about as long); an address with an account gets
/// an email saying someone tried to sign up with it, and no code. Asking
/// again replaces the code. Limited per client address and per email address.
#[utoipa::path(
    post, path = "/v1/auth/signup", tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 202, body = SignupAccepted, description = "A code is on its way, if the address can be used"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Sign-up is disabled"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid fields"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many sign-ups from this client or for this address"),
    )
)]
pub async fn create_signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<SignupAccepted>)> {
    signup_open(&state)?;
    let mut errors = FieldErrors::default();
    let email = errors.check("email", EmailAddress::parse(&body.email));
    let password = errors.check("password", Password::parse(&body.password));
    let name = errors.check("name", PersonName::parse(&body.name));
    let surname = errors.check("surname", PersonName::parse(&body.surname));
    let organization = errors.check("organization_name", DisplayName::parse(&body.organization_name));
    errors.finish()?;
    let input = SignupInput {
        email: email.expect("checked"),
        password: password.expect("checked"),
        name: name.expect("checked"),
        surname: surname.expect("checked"),
        organization: organization.expect("checked"),
    };
    let config = state.config();
    let window = rate_limit::window(&state);
    rate_limit::hit(&state, &format!("signup:ip:{ip}"), config.signup_max_per_ip, window).await?;
    let email_key = rate_limit::email_key(&state, "signup:email", input.email.as_str());
    rate_limit::hit(&state, &email_key, config.signup_max_per_email, window).await?;
    let expires_at = accounts::request_signup(&state, input).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SignupAccepted {
            message: "if this address can be used, a code to finish signing up is on its way".into(),
            expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupConfirmRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// The 6-digit code from the email.
    #[schema(example = "293479")]
    pub code: String,
}

/// Finish signing up with the emailed code: creates the organization, its
/// first team and its owner (role `root`, address verified), and logs in.
///
/// A code allows 5 attempts and expires (15 minutes by default). A code for
/// an address that has an account is refused as a wrong one is.
#[utoipa::path(
    post, path = "/v1/auth/signup/confirm", tag = "auth",
    request_body = SignupConfirmRequest,
    responses(
        (status = 201, body = SignupResponse, description = "Signed up and logged in"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Sign-up is disabled"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Not an email address, or a wrong, expired or exhausted code"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many attempts from this client"),
    )
)]
pub async fn confirm_signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<SignupConfirmRequest>,
) -> ApiResult<(StatusCode, Json<SignupResponse>)> {
    signup_open(&state)?;
    let email = EmailAddress::parse(&body.email).map_err(|p| p.at("email"))?;
    let code = parse_code(&body.code)?;
    let config = state.config();
    let window = rate_limit::window(&state);
    rate_limit::hit(&state, &format!("signup-confirm:ip:{ip}"), config.signup_max_per_ip, window).await?;
    let actor = Actor { request_id, ip: Some(ip.to_string()), ..Actor::default() };
    let outcome = accounts::confirm_signup(&state, &email, code, &actor).await?;
    let (token, expires_at) = accounts::start_session(&state, outcome.customer_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            session: Session {
                token,
                token_type: "Bearer",
                expires_at,
                customer_id: outcome.customer_id,
                organization_id: outcome.organization_id,
            },
            team_id: outcome.team_id,
            organization_slug: outcome.slug,
            email_verified: true,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
    pub password: String,
    /// The 6-digit code from the authenticator app, when the account has a second factor.
    #[schema(example = "492039")]
    pub totp_code: Option<String>,
    /// One of the recovery codes shown at enrolment, instead of `totp_code`; each works once.
    #[schema(example = "k7m2p-x9q4r")]
    pub recovery_code: Option<String>,
}

/// Log in with email and password (and a second factor when the account has one).
///
/// A failure never says whether the address has an account. Repeated failures
/// for one address, and many attempts from one client, are refused for a while (429).
/// With a second factor enabled, a correct password without `totp_code` (or
/// `recovery_code`), or with a wrong one, answers 401 with code `TOTP_REQUIRED`;
/// wrong codes count as failed logins.
#[utoipa::path(
    post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "Wrong email or password (`UNAUTHORIZED`), or a second factor is needed or wrong (`TOTP_REQUIRED`)"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Invalid fields"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many attempts"),
    )
)]
pub async fn create_login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let config = state.config();
    let window = rate_limit::window(&state);
    let email = EmailAddress::parse(&body.email).map_err(|p| p.at("email"))?;
    if body.password.is_empty() {
        return Err(Error::invalid("password", "required", "must not be empty").into());
    }
    rate_limit::hit(&state, &format!("login:ip:{ip}"), config.login_max_per_ip, window).await?;
    let failures_key = rate_limit::email_key(&state, "login:email", email.as_str());
    rate_limit::check(&state, &failures_key, config.login_max_failures, window).await?;

    let account = state.store().login_by_email(email.as_str()).await?;
    let password = body.password.chars().take(Password::MAX + 1).collect::<String>();
    let matches =
        state.passwords().verify(&password, account.as_ref().and_then(|a| a.password_hash.as_deref())).await?;
    let account = match account {
        Some(a) if matches => a,
        _ => {
            rate_limit::hit(&state, &failures_key, u32::MAX, window).await?;
            return Err(Error::Unauthorized("the email or password is incorrect".into()).into());
        }
    };
    if account.status != "active" {
        return Err(Error::Unauthorized("this account is suspended".into()).into());
    }
    let totp = state.store().totp_state(account.id).await?;
    let mut totp_enrolment_required = false;
    match (&totp.secret, totp.enabled_at) {
        (Some(sealed), Some(_)) => {
            let factor = accounts::check_second_factor(
                &state,
                account.id,
                sealed,
                body.totp_code.as_deref(),
                body.recovery_code.as_deref(),
            )
            .await?;
            match factor {
                Some(true) => {}
                Some(false) => {
                    rate_limit::hit(&state, &failures_key, u32::MAX, window).await?;
                    return Err(totp_required("the second-factor code is incorrect or already used"));
                }
                None => {
                    return Err(totp_required(
                        "this account has a second factor: send `totp_code` from the authenticator app, or a `recovery_code`",
                    ))
                }
            }
        }
        _ => totp_enrolment_required = state.store().organization_requires_totp(account.organization_id).await?,
    }
    state.store().rate_limit_reset(&failures_key).await?;
    if let Some(old) = account.password_hash.as_deref().filter(|h| Passwords::needs_rehash(h)) {
        // The parameters rose since this hash was made: store one made with today's.
        if let Ok(parsed) = Password::parse(&password) {
            let new = state.passwords().hash(&parsed).await?;
            state.store().upgrade_password_hash(account.id, old, &new).await?;
        }
    }
    let (token, expires_at) = accounts::start_session(&state, account.id).await?;
    Ok(Json(LoginResponse {
        session: Session {
            token,
            token_type: "Bearer",
            expires_at,
            customer_id: account.id,
            organization_id: account.organization_id,
        },
        totp_enrolment_required,
    }))
}

/// 401 `TOTP_REQUIRED`: the password was right, the second factor is missing or wrong.
fn totp_required(detail: &str) -> ApiError {
    ApiError::Coded { status: StatusCode::UNAUTHORIZED, code: "TOTP_REQUIRED", detail: detail.to_owned() }
}

/// End the current session: its token stops working at once.
#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid token"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "An API key cannot log out; revoke it instead"),
    )
)]
pub async fn create_logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    match auth.credential {
        Credential::Session { token_id, .. } => {
            state.store().delete_session(token_id).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Credential::ApiKey { .. } => Err(Error::invalid(
            "authorization",
            "not_a_session",
            "is an API key, which has no session to end; revoke it with DELETE /v1/api-keys/{id}",
        )
        .into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The 6-digit code from the email.
    #[schema(example = "293479")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailStatus {
    pub email: String,
    pub email_verified: bool,
}

/// Submit an emailed code to verify the login address.
///
/// Sign-ups are verified by their code already; this is for accounts whose
/// address is not (ask for a code with `POST /v1/auth/email/verification/resend`).
/// Codes expire (15 minutes by default) and allow 5 attempts.
#[utoipa::path(
    post, path = "/v1/auth/email/verification", tag = "auth",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 200, body = EmailStatus),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Already verified, or no code was requested"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Wrong, expired or exhausted code"),
    )
)]
pub async fn verify_email(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    ApiJson(body): ApiJson<CodeRequest>,
) -> ApiResult<Json<EmailStatus>> {
    let customer = own_customer(&state, &auth).await?;
    if customer.email_verified_at.is_some() {
        return Err(Error::Conflict("the email address is already verified".into()).into());
    }
    let code = parse_code(&body.code)?;
    let key = state.key().clone();
    let check = state
        .store()
        .verify_email(
            auth.customer_id,
            i64::from(state.config().code_max_attempts),
            move |target| key.hash_code(roster_store::PURPOSE_EMAIL_VERIFICATION, target, &code),
            roster_core::clock::now(),
        )
        .await?;
    let email = accounts::code_outcome(check, "email verification")?;
    Ok(Json(EmailStatus { email, email_verified: true }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    pub message: String,
    /// When the new code stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Email a new verification code; the previous one stops working.
#[utoipa::path(
    post, path = "/v1/auth/email/verification/resend", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 202, body = CodeSent),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Already verified"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many codes requested"),
    )
)]
pub async fn resend_email_verification(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let customer = own_customer(&state, &auth).await?;
    if customer.email_verified_at.is_some() {
        return Err(Error::Conflict("the email address is already verified".into()).into());
    }
    let email = EmailAddress::parse(&customer.email).map_err(|p| Error::internal(p.message))?;
    let expires_at = accounts::send_code(
        &state,
        auth.organization_id,
        auth.customer_id,
        roster_store::PURPOSE_EMAIL_VERIFICATION,
        Template::EmailVerification,
        &email,
        &customer.name,
        None,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent { message: format!("a new code was sent to {}", email.masked()), expires_at }),
    ))
}

/// The caller's own customer row.
pub(crate) async fn own_customer<A: crate::http::extract::RequiredAction>(
    state: &AppState,
    auth: &Auth<A>,
) -> Result<roster_store::rows::CustomerRow, Error> {
    state.store().customer(auth.organization_id, auth.customer_id).await?.ok_or(Error::NotFound("customer"))
}

/// A code must be six digits; anything else is refused before it costs an attempt.
pub(crate) fn parse_code(raw: &str) -> Result<String, Error> {
    let code = raw.trim();
    if roster_core::secret::is_code_format(code) {
        Ok(code.to_owned())
    } else {
        Err(Error::invalid("code", "invalid_format", "must be the 6 digits from the email"))
    }
}
