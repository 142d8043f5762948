//! Passwords and the second factor: changing a password, resetting a
//! forgotten one with an emailed code, and enrolling or removing a TOTP
//! authenticator with its recovery codes.

use super::auth::parse_code;
use super::customer::actor;
use crate::app::accounts::{self, PURPOSE_PASSWORD_RESET};
use crate::app::audit::Actor;
use crate::app::rate_limit;
use crate::http::extract::{act, ApiJson, Auth, ClientIp, Credential, RequestId};
use crate::http::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use roster_core::email::EmailAddress;
use roster_core::message::Template;
use roster_core::password::Password;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(change_password))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(start_totp, delete_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(reauthenticate))
}

/// The session behind a request; these routes change how a person logs in, which an API key may not.
fn session_of<A: crate::http::extract::RequiredAction>(auth: &Auth<A>) -> Result<uuid::Uuid, Error> {
    match auth.credential {
        Credential::Session { token_id, .. } => Ok(token_id),
        Credential::ApiKey { .. } => Err(Error::invalid(
            "authorization",
            "not_a_session",
            "is an API key; passwords and second factors are changed only from a login session",
        )),
    }
}

/// Checks the caller's password, counted like a login: too many failures for
/// the address are refused (429) for a while. A wrong one is a 422 on `field`.
async fn confirm_password(
    state: &AppState,
    customer: &roster_store::rows::CustomerRow,
    password: &str,
    field: &str,
) -> Result<(), Error> {
    let config = state.config();
    let failures_key = rate_limit::email_key(state, "login:email", &customer.email);
    rate_limit::check(state, &failures_key, config.login_max_failures, rate_limit::window(state)).await?;
    let hash = state.store().password_hash(customer.id).await?;
    let password = password.chars().take(Password::MAX + 1).collect::<String>();
    if !state.passwords().verify(&password, hash.as_deref()).await? {
        rate_limit::hit(state, &failures_key, u32::MAX, rate_limit::window(state)).await?;
        return Err(Error::invalid(field, "incorrect_password", "is not your current password"));
    }
    Ok(())
}

/// Checks the caller's password, or else a current code of their enabled
/// authenticator; failures count like failed logins for the address.
async fn confirm_identity(
    state: &AppState,
    customer: &roster_store::rows::CustomerRow,
    totp: &roster_store::totp::TotpState,
    password: Option<&str>,
    code: Option<&str>,
) -> Result<(), Error> {
    match (password, code) {
        (Some(password), _) => confirm_password(state, customer, password, "password").await,
        (None, Some(code)) => {
            let failures_key = rate_limit::email_key(state, "login:email", &customer.email);
            rate_limit::check(state, &failures_key, state.config().login_max_failures, rate_limit::window(state))
                .await?;
            let right = match (&totp.secret, totp.enabled_at) {
                (Some(sealed), Some(_)) => accounts::check_totp_code(state, customer.id, sealed, code).await?,
                _ => false,
            };
            if !right {
                rate_limit::hit(state, &failures_key, u32::MAX, rate_limit::window(state)).await?;
                return Err(Error::invalid("code", "invalid_code", "is not the current code of the authenticator app"));
            }
            Ok(())
        }
        (None, None) => Err(Error::invalid("password", "required", "or `code` is needed to confirm it is you")),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthenticateRequest {
    /// Your current password…
    pub password: Option<String>,
    /// …or a current code from your authenticator app.
    #[schema(example = "492039")]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reauthenticated {
    /// Until when this session may take sensitive actions without confirming again.
    #[serde(with = "time::serde::rfc3339")]
    pub confirmed_until: OffsetDateTime,
}

/// Confirm it is you, so that this session may take sensitive actions.
///
/// Deleting the account, changing the login email, creating API keys and
/// offering the organization's ownership need a session that proved its
/// password or second factor recently (`reauthentication_window_secs`, 10
/// minutes by default); a login counts. Without it they answer 403
/// `REAUTHENTICATION_REQUIRED`. Wrong answers count as failed logins.
#[utoipa::path(
    post, path = "/v1/auth/reauthenticate", tag = "auth",
    security(("bearer" = [])),
    request_body = ReauthenticateRequest,
    responses(
        (status = 200, body = Reauthenticated),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The organization requires a second factor the caller has not enrolled (`TOTP_ENROLMENT_REQUIRED`)"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Neither a correct password nor a correct code, or an API key"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many wrong attempts"),
    )
)]
pub async fn reauthenticate(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ReauthenticateRequest>,
) -> ApiResult<Json<Reauthenticated>> {
    let session = session_of(&auth)?;
    let customer = super::auth::own_customer(&state, &auth).await?;
    let totp = state.store().totp_state(auth.customer_id).await?;
    confirm_identity(&state, &customer, &totp, body.password.as_deref(), body.code.as_deref()).await?;
    let now = roster_core::clock::now();
    if !state.store().confirm_session(session, now).await? {
        return Err(Error::Unauthorized("the session ended".into()).into());
    }
    Ok(Json(Reauthenticated { confirmed_until: now + state.config().reauthentication_window() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8–256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    pub message: String,
    /// How many other sessions were ended.
    pub sessions_revoked: u64,
}

/// Change your password.
///
/// Every other session ends; this one and API keys keep working. A wrong
/// `current_password` counts as a failed login for the address.
#[utoipa::path(
    put, path = "/v1/customer/password", tag = "customer",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 200, body = PasswordChanged),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Wrong current password, a new password that breaks the rules, or an API key"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many wrong passwords"),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<Json<PasswordChanged>> {
    let session = session_of(&auth)?;
    let new_password = Password::parse(&body.new_password).map_err(|p| p.at("new_password"))?;
    let customer = super::auth::own_customer(&state, &auth).await?;
    confirm_password(&state, &customer, &body.current_password, "current_password").await?;
    let hash = state.passwords().hash(&new_password).await?;
    let audit = actor(&auth, request_id, ip).event(
        "customer.password_changed",
        "customer",
        Some(auth.customer_id.0),
        json!({}),
    );
    let sessions_revoked = state
        .store()
        .change_password(auth.customer_id, &hash, session, PURPOSE_PASSWORD_RESET, &audit, roster_core::clock::now())
        .await?;
    Ok(Json(PasswordChanged { message: "your password was changed".into(), sessions_revoked }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetAccepted {
    pub message: String,
}

/// Ask for a password-reset code by email.
///
/// The answer is the same whether or not the address has an account (and
/// takes about as long); only an account's address gets an email. Limited per
/// client address and per email address.
#[utoipa::path(
    post, path = "/v1/auth/password/reset", tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, body = PasswordResetAccepted),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Not an email address"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many requests"),
    )
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> ApiResult<(StatusCode, Json<PasswordResetAccepted>)> {
    let config = state.config();
    let email = EmailAddress::parse(&body.email).map_err(|p| p.at("email"))?;
    rate_limit::hit(
        &state,
        &format!("password-reset:ip:{ip}"),
        config.password_reset_max_per_ip,
        rate_limit::window(&state),
    )
    .await?;
    let email_key = rate_limit::email_key(&state, "password-reset:email", email.as_str());
    rate_limit::hit(&state, &email_key, config.password_reset_max_per_email, rate_limit::window(&state)).await?;
    // The code and its hash are made for every address, so both cases do the same work.
    let code = roster_core::secret::verification_code();
    let hash = state.key().hash_code(PURPOSE_PASSWORD_RESET, email.as_str(), &code);
    let now = roster_core::clock::now();
    let message = |name: &str| accounts::code_message(&state, Template::PasswordReset, &email, name, code.clone());
    let issued = state
        .store()
        .request_password_reset(
            email.as_str(),
            PURPOSE_PASSWORD_RESET,
            &hash,
            now + accounts::code_ttl(&state),
            message,
            now,
        )
        .await?;
    if issued {
        state.message_queued();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(PasswordResetAccepted {
            message: "if this address has an account, a code to reset its password is on its way".into(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// The 6-digit code from the email.
    #[schema(example = "293479")]
    pub code: String,
    /// 8–256 characters.
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// Set a new password with the emailed code.
///
/// Every session of the account ends; API keys keep working. A code allows 5
/// attempts and expires (15 minutes by default).
#[utoipa::path(
    post, path = "/v1/auth/password/reset/confirm", tag = "auth",
    request_body = PasswordResetConfirm,
    responses(
        (status = 200, body = PasswordResetAccepted),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not sent as JSON"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Wrong, expired or exhausted code, or a password that breaks the rules"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many attempts"),
    )
)]
pub async fn confirm_password_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<PasswordResetConfirm>,
) -> ApiResult<Json<PasswordResetAccepted>> {
    let config = state.config();
    let mut errors = FieldErrors::default();
    let email = errors.check("email", EmailAddress::parse(&body.email));
    let new_password = errors.check("new_password", Password::parse(&body.new_password));
    errors.finish()?;
    let (email, new_password) = (email.expect("checked"), new_password.expect("checked"));
    let code = parse_code(&body.code)?;
    rate_limit::hit(
        &state,
        &format!("password-reset:ip:{ip}"),
        config.password_reset_max_per_ip,
        rate_limit::window(&state),
    )
    .await?;
    let hash = state.passwords().hash(&new_password).await?;
    let key = state.key().clone();
    let audit = |org, customer: roster_core::ids::CustomerId| {
        let actor =
            Actor { organization_id: Some(org), customer_id: Some(customer), request_id, ip: Some(ip.to_string()) };
        actor.event("customer.password_reset", "customer", Some(customer.0), json!({ "via": "email_code" }))
    };
    let check = state
        .store()
        .reset_password(
            email.as_str(),
            PURPOSE_PASSWORD_RESET,
            i64::from(config.code_max_attempts),
            move |target| key.hash_code(PURPOSE_PASSWORD_RESET, target, &code),
            &hash,
            audit,
            roster_core::clock::now(),
        )
        .await?;
    // No pending code reads like a wrong one, so the answer says nothing about the address.
    let check = match check {
        roster_store::CodeCheck::Missing => {
            return Err(
                Error::invalid("code", "invalid_code", "is incorrect or no longer valid: request a new code").into()
            )
        }
        other => other,
    };
    accounts::code_outcome(check, "password reset")?;
    Ok(Json(PasswordResetAccepted { message: "your password was changed; log in with it".into() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartTotpRequest {
    /// Your current password: a stolen session alone cannot add a second factor.
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The shared secret, base32: type it into an authenticator app, or use `otpauth_uri`.
    pub secret: String,
    /// `otpauth://totp/Roster:{email}?secret=…&issuer=Roster`, for a QR code.
    pub otpauth_uri: String,
}

/// Start enrolling an authenticator app (TOTP, RFC 6238).
///
/// The answer holds the secret; it is not active until a code from the app is
/// sent to `POST /v1/customer/totp/confirm`. Starting again replaces a pending secret.
#[utoipa::path(
    post, path = "/v1/customer/totp", tag = "customer",
    security(("bearer" = [])),
    request_body = StartTotpRequest,
    responses(
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 200, body = TotpEnrolment),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "A second factor is already active"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Wrong password, or an API key"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many wrong passwords"),
    )
)]
pub async fn start_totp(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    ApiJson(body): ApiJson<StartTotpRequest>,
) -> ApiResult<Json<TotpEnrolment>> {
    session_of(&auth)?;
    let customer = super::auth::own_customer(&state, &auth).await?;
    confirm_password(&state, &customer, &body.password, "password").await?;
    let secret = roster_core::totp::generate_secret();
    let sealed = accounts::seal_totp_secret(&state, auth.customer_id, &secret);
    if !state.store().start_totp(auth.customer_id, &sealed, roster_core::clock::now()).await? {
        return Err(Error::Conflict("a second factor is already active; remove it first".into()).into());
    }
    Ok(Json(TotpEnrolment {
        secret: roster_core::totp::base32_encode(&secret),
        otpauth_uri: roster_core::totp::otpauth_uri("Roster", &customer.email, &secret),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The current 6-digit code from the authenticator app.
    #[schema(example = "492039")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnabled {
    #[serde(with = "time::serde::rfc3339")]
    pub enabled_at: OffsetDateTime,
    /// Ten one-time codes for when the app is lost; shown only now, each works once.
    pub recovery_codes: Vec<String>,
}

/// Activate the pending second factor with a code from the app.
#[utoipa::path(
    post, path = "/v1/customer/totp/confirm", tag = "customer",
    security(("bearer" = [])),
    request_body = ConfirmTotpRequest,
    responses(
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 200, body = TotpEnabled),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "No enrolment is pending, or one is already active"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Wrong code, or an API key"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many wrong codes"),
    )
)]
pub async fn confirm_totp(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<ConfirmTotpRequest>,
) -> ApiResult<Json<TotpEnabled>> {
    session_of(&auth)?;
    let totp = state.store().totp_state(auth.customer_id).await?;
    let sealed = match (totp.secret, totp.enabled_at) {
        (_, Some(_)) => return Err(Error::Conflict("a second factor is already active".into()).into()),
        (None, None) => {
            return Err(Error::Conflict("no enrolment is pending; start one with POST /v1/customer/totp".into()).into())
        }
        (Some(sealed), None) => sealed,
    };
    let key = format!("totp-confirm:{}", auth.customer_id);
    rate_limit::check(&state, &key, state.config().login_max_failures, rate_limit::window(&state)).await?;
    if !roster_core::totp::is_code_format(body.code.trim())
        || !accounts::check_totp_code(&state, auth.customer_id, &sealed, &body.code).await?
    {
        rate_limit::hit(&state, &key, u32::MAX, rate_limit::window(&state)).await?;
        return Err(Error::invalid("code", "invalid_code", "is not the current code of the authenticator app").into());
    }
    let (codes, hashes) = accounts::recovery_codes(&state, auth.customer_id);
    let now = roster_core::clock::now();
    let audit =
        actor(&auth, request_id, ip).event("customer.totp_enabled", "customer", Some(auth.customer_id.0), json!({}));
    if !state.store().enable_totp(auth.customer_id, &sealed, &hashes, &audit, now).await? {
        return Err(Error::Conflict("the enrolment changed meanwhile; start again".into()).into());
    }
    state.store().rate_limit_reset(&key).await?;
    Ok(Json(TotpEnabled { enabled_at: now, recovery_codes: codes }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteTotpRequest {
    /// Your current password…
    pub password: Option<String>,
    /// …or a current code from the authenticator app.
    #[schema(example = "492039")]
    pub code: Option<String>,
}

/// Remove the second factor (or a pending enrolment), confirmed with your password or a current code.
///
/// Its recovery codes stop working.
#[utoipa::path(
    delete, path = "/v1/customer/totp", tag = "customer",
    security(("bearer" = [])),
    request_body = DeleteTotpRequest,
    responses(
        (status = 400, body = Problem, content_type = "application/problem+json", description = "The body is not JSON"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "The body is not `application/json`"),
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "No valid credentials"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Lacks `customers:write`"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "No second factor to remove"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Neither a correct password nor a correct code, or an API key"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "Too many wrong attempts"),
    )
)]
pub async fn delete_totp(
    State(state): State<AppState>,
    auth: Auth<act::ProfileWrite>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    ApiJson(body): ApiJson<DeleteTotpRequest>,
) -> ApiResult<StatusCode> {
    session_of(&auth)?;
    let customer = super::auth::own_customer(&state, &auth).await?;
    let totp = state.store().totp_state(auth.customer_id).await?;
    confirm_identity(&state, &customer, &totp, body.password.as_deref(), body.code.as_deref()).await?;
    if totp.secret.is_none() {
        return Err(Error::Conflict("there is no second factor to remove".into()).into());
    }
    let audit =
        actor(&auth, request_id, ip).event("customer.totp_disabled", "customer", Some(auth.customer_id.0), json!({}));
    state.store().disable_totp(auth.customer_id, &audit, roster_core::clock::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
