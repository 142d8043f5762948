//! Extractors: the request's body, its caller and where it came from.

use super::permissions::{listed, DURING_TOTP_ENROLMENT, FRESH_CONFIRMATION};
use super::problem::ApiError;
use crate::state::AppState;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use bytes::Bytes;
use roster_core::ids::{CustomerId, OrganizationId};
use roster_core::policy::Action;
use roster_core::role::Role;
use roster_core::scope::{Scope, ScopeSet};
use roster_core::secret::{token_kind, TokenKind};
use roster_core::validation::{FieldErrors, FieldProblem};
use roster_core::Error;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use time::OffsetDateTime;

/// A JSON body. Errors follow the API's rules: not JSON → 400, not sent as
/// JSON → 415, too large → 413, JSON of the wrong shape → 422 naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner) if inner.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::MalformedJson(other.body_text()),
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON document into `T`, telling syntax errors (400) from shape errors (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                // serde's message names the problem ("missing field `x`", "invalid type: …").
                let message = inner.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                let code = if message.starts_with("missing field") {
                    "required"
                } else if message.starts_with("unknown field") {
                    "unknown_field"
                } else {
                    "invalid_type"
                };
                let field = match (code, message.split('`').nth(1)) {
                    ("required" | "unknown_field", Some(name)) if field == "body" => name.to_owned(),
                    _ => field,
                };
                ApiError::Domain(Error::invalid(&field, code, message))
            }
            _ => ApiError::MalformedJson(inner.to_string()),
        }
    })
}

/// Who is calling, as of this request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub customer_id: CustomerId,
    pub organization_id: OrganizationId,
    pub role: Role,
    pub credential: Credential,
    /// The organization requires a second factor this person has not enrolled.
    pub totp_enrolment_pending: bool,
}

#[derive(Debug, Clone)]
pub enum Credential {
    /// A login session; can do whatever the role allows. `confirmed_at`: when
    /// it last proved the password or second factor (a login, a reauthentication).
    Session { token_id: uuid::Uuid, confirmed_at: Option<OffsetDateTime> },
    /// An API key; can do what both its scopes and its creator's current role allow.
    ApiKey { key_id: uuid::Uuid, scopes: ScopeSet },
}

impl Principal {
    pub fn allows(&self, scope: Scope) -> bool {
        self.role.allows(scope)
            && match &self.credential {
                Credential::Session { .. } => true,
                Credential::ApiKey { scopes, .. } => scopes.contains(scope),
            }
    }

    /// Checks that this principal may perform `action`: its role, and for an API key its scopes.
    pub fn may(&self, action: Action) -> Result<(), Error> {
        if !action.allows(self.role) {
            return Err(Error::Forbidden(format!("your role `{}` does not allow this: {}", self.role, action.why())));
        }
        if let Credential::ApiKey { scopes, .. } = &self.credential {
            if !scopes.contains(action.scope()) {
                return Err(Error::Forbidden(format!("this API key lacks the `{}` scope", action.scope())));
            }
        }
        Ok(())
    }
}

/// The action a route performs, named in the handler's signature.
pub trait RequiredAction {
    const ACTION: Option<Action>;
}

/// An authenticated caller allowed the action `A`: `Auth<act::TeamCreate>`.
/// Missing or bad credentials are 401; an action the caller's role, or their
/// API key's scopes, do not allow is 403. Rules about the particular object
/// (which team, whose membership) are the handler's, through `roster_core::policy`.
pub struct Auth<A: RequiredAction = act::Any> {
    pub principal: Principal,
    _action: PhantomData<A>,
}

impl<A: RequiredAction> std::ops::Deref for Auth<A> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

pub mod act {
    //! Marker types for [`super::Auth`], one per [`roster_core::policy::Action`].
    use super::RequiredAction;
    use roster_core::policy::Action;

    /// Any authenticated caller.
    pub struct Any;
    impl RequiredAction for Any {
        const ACTION: Option<Action> = None;
    }

    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            pub struct $name;
            impl RequiredAction for $name {
                const ACTION: Option<Action> = Some(Action::$name);
            }
        )*};
    }
    markers!(
        ProfileRead,
        ProfileWrite,
        CustomerRead,
        ApiKeysRead,
        ApiKeysWrite,
        TeamRead,
        TeamCreate,
        TeamUpdate,
        TeamDelete,
        MemberManage,
        MembersRead,
        MemberSuspend,
        MemberRemove,
        OrganizationRead,
        OrganizationWrite,
        OwnershipTransfer,
        OwnershipAccept,
        ServiceRead,
        ServiceManage,
        ChannelRead,
        ChannelManage,
        DeliveryRead,
        DeliveryRetry,
        AlertSend,
        AuditRead,
    );
}

impl<A, St> FromRequestParts<St> for Auth<A>
where
    A: RequiredAction,
    St: Send + Sync,
    AppState: FromRef<St>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let principal = authenticate(&state, parts).await?;
        if let Some(action) = A::ACTION {
            principal.may(action)?;
        }
        let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or_default();
        let method = parts.method.as_str();
        if principal.totp_enrolment_pending && !listed(DURING_TOTP_ENROLMENT, method, route) {
            return Err(ApiError::Coded {
                status: StatusCode::FORBIDDEN,
                code: "TOTP_ENROLMENT_REQUIRED",
                detail: "your organization requires a second factor: enrol one with POST /v1/customer/totp first"
                    .into(),
            });
        }
        if listed(FRESH_CONFIRMATION, method, route) {
            principal.confirmed_since(roster_core::clock::now() - state.config().reauthentication_window())?;
        }
        Ok(Auth { principal, _action: PhantomData })
    }
}

impl Principal {
    /// Checks that this is a login session that proved its password or second
    /// factor after `since`: sensitive actions need it, and an API key never has it.
    pub fn confirmed_since(&self, since: OffsetDateTime) -> Result<(), ApiError> {
        let detail = match &self.credential {
            Credential::Session { confirmed_at: Some(at), .. } if *at > since => return Ok(()),
            Credential::Session { .. } => {
                "confirm it is you: POST /v1/auth/reauthenticate with your password or a second-factor code, then retry"
            }
            Credential::ApiKey { .. } => "an API key cannot take this action; use a login session",
        };
        Err(ApiError::Coded { status: StatusCode::FORBIDDEN, code: "REAUTHENTICATION_REQUIRED", detail: detail.into() })
    }
}

/// Clears the store's principal cache once a request that may have written
/// (any method but GET, HEAD, OPTIONS and TRACE) ends: a logout, a revoked
/// key or a role change is then seen by the very next request. Done by a
/// guard, so a request cut short by a timeout or a client that hung up, after
/// its transaction committed, clears it too.
pub async fn forget_principals(
    axum::extract::State(store): axum::extract::State<roster_store::Store>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    struct Forget(roster_store::Store);
    impl Drop for Forget {
        fn drop(&mut self) {
            self.0.principals_changed();
        }
    }
    let _forget = (!req.method().is_safe()).then(|| Forget(store));
    next.run(req).await
}

async fn authenticate(state: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let unauthorized = |why: &str| ApiError::Domain(Error::Unauthorized(why.to_owned()));
    let header =
        parts.headers.get(header::AUTHORIZATION).ok_or_else(|| unauthorized("send `Authorization: Bearer <token>`"))?;
    let value = header.to_str().map_err(|_| unauthorized("the Authorization header is not valid text"))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(unauthorized("the Authorization header must use the Bearer scheme")),
    };
    let kind = token_kind(token).ok_or_else(|| unauthorized("the token is malformed"))?;
    let hash = state.key().hash_token(token);
    let now = roster_core::clock::now();
    let row = match kind {
        TokenKind::Session => state.store().principal_by_session(&hash, now).await?,
        TokenKind::ApiKey => state.store().principal_by_api_key(&hash, now).await?,
        TokenKind::Invitation => None,
    };
    let row = row.ok_or_else(|| unauthorized("the token is invalid, expired or revoked"))?;
    if row.status != "active" {
        return Err(unauthorized("this account is suspended"));
    }
    if !row.role.can_log_in() {
        return Err(unauthorized("this account receives notifications only and cannot use the API"));
    }
    let credential = match row.scopes {
        None => Credential::Session { token_id: row.credential_id, confirmed_at: row.confirmed_at },
        Some(scopes) => Credential::ApiKey { key_id: row.credential_id, scopes: ScopeSet::from_stored(&scopes) },
    };
    Ok(Principal {
        customer_id: row.customer_id,
        organization_id: row.organization_id,
        role: row.role,
        credential,
        totp_enrolment_pending: row.totp_enrolment_pending != 0,
    })
}

/// The client's address: the peer's, or with `trust_forwarded_for` the first
/// address in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<St> FromRequestParts<St> for ClientIp
where
    St: Send + Sync,
    AppState: FromRef<St>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if state.config().trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip));
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(peer.unwrap_or(IpAddr::from([127, 0, 0, 1]))))
    }
}

/// The request's id (set by the request-id layer), for audit records.
#[derive(Debug, Clone)]
pub struct RequestId(pub Option<String>);

impl<St: Send + Sync> FromRequestParts<St> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        Ok(RequestId(parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)))
    }
}

/// A path parameter that must be a UUID; anything else is a 422 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T, St> FromRequestParts<St> for ApiPath<T>
where
    T: From<uuid::Uuid> + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let params =
            axum::extract::RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        let (name, value) = params.iter().last().ok_or(ApiError::NotFound)?;
        uuid::Uuid::parse_str(value)
            .map(|u| ApiPath(T::from(u)))
            .map_err(|_| ApiError::Domain(Error::invalid(name, "invalid_id", "must be a UUID")))
    }
}

/// The first two path parameters, both UUIDs (`/v1/team/{id}/member/{memberId}`);
/// each one that is not a UUID is a 422 naming it, both at once.
pub struct ApiPathPair<A, B>(pub A, pub B);

impl<A, B, St> FromRequestParts<St> for ApiPathPair<A, B>
where
    A: From<uuid::Uuid> + Send,
    B: From<uuid::Uuid> + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let params =
            axum::extract::RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        let mut params = params.iter();
        let mut errors = FieldErrors::default();
        let mut next = || {
            let (name, raw) = params.next().unwrap_or_default();
            errors
                .check(name, uuid::Uuid::parse_str(raw).map_err(|_| FieldProblem::new("invalid_id", "must be a UUID")))
        };
        let (a, b) = (next(), next());
        errors.finish()?;
        Ok(ApiPathPair(A::from(a.expect("checked")), B::from(b.expect("checked"))))
    }
}

/// Query parameters. A value of the wrong type (`limit=abc`) is a 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequestParts<St> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let field = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = if field == "." { message.split('`').nth(1).unwrap_or("query").to_owned() } else { field };
            ApiError::Domain(Error::invalid(&field, "invalid_value", message))
        })
    }
}
