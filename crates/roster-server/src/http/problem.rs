//! RFC 9457 problem+json: the one place where errors become responses.
//!
//! Client errors carry a stable `code` and a sentence; validation errors list
//! each field. Internal errors are logged once with their cause chain and
//! answered with an opaque 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use roster_core::validation::FieldError;
use roster_core::Error;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` is the machine-readable discriminator.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP status's phrase.
    pub title: &'static str,
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// Stable: `VALIDATION_ERROR`, `MALFORMED_JSON`, `UNSUPPORTED_MEDIA_TYPE`, `UNAUTHORIZED`, `FORBIDDEN`,
    /// `NOT_FOUND`, `METHOD_NOT_ALLOWED`, `CONFLICT`, `GONE`, `PLAN_LIMIT_REACHED`, `PAYLOAD_TOO_LARGE`, `RATE_LIMITED`, `TIMEOUT`,
    /// `SERVICE_UNAVAILABLE`, `INTERNAL_ERROR`, `TOTP_REQUIRED`.
    pub code: &'static str,
    /// One entry per invalid field (validation errors only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    Domain(Error),
    /// The body is not JSON at all.
    MalformedJson(String),
    UnsupportedMediaType,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    Timeout,
    Unavailable(String),
    /// A refusal with its own stable code (`TOTP_REQUIRED`), for callers that
    /// must tell it apart from the generic one for its status.
    Coded {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Domain(e)
    }
}

impl From<roster_store::StoreError> for ApiError {
    fn from(e: roster_store::StoreError) -> Self {
        ApiError::Domain(e.into())
    }
}

impl From<roster_core::validation::FieldErrors> for ApiError {
    fn from(e: roster_core::validation::FieldErrors) -> Self {
        ApiError::Domain(Error::Validation(e))
    }
}

/// A problem response for `status` with `code` and `detail`.
pub fn problem(status: StatusCode, code: &'static str, detail: impl Into<String>, errors: Vec<FieldError>) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: detail.into(),
        code,
        errors,
    };
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        match self {
            ApiError::Domain(e) => match e {
                Error::Validation(errors) => {
                    let detail = match errors.0.as_slice() {
                        [one] => format!("`{}` {}", one.field, one.message),
                        many => format!("{} fields are invalid", many.len()),
                    };
                    problem(S::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", detail, errors.0)
                }
                Error::NotFound(what) => problem(S::NOT_FOUND, "NOT_FOUND", format!("{what} not found"), vec![]),
                Error::Conflict(msg) => problem(S::CONFLICT, "CONFLICT", msg, vec![]),
                Error::Forbidden(msg) => problem(S::FORBIDDEN, "FORBIDDEN", msg, vec![]),
                Error::Gone(msg) => problem(S::GONE, "GONE", msg, vec![]),
                Error::LimitReached { what, max } => problem(
                    S::FORBIDDEN,
                    "PLAN_LIMIT_REACHED",
                    format!("your organization's plan allows at most {max} {what}; remove some or change plans"),
                    vec![],
                ),
                Error::Unauthorized(msg) => {
                    let mut res = problem(S::UNAUTHORIZED, "UNAUTHORIZED", msg, vec![]);
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                    res
                }
                Error::RateLimited { retry_after_secs, limit, window_secs } => {
                    let secs = retry_after_secs.max(1);
                    let mut res = problem(
                        S::TOO_MANY_REQUESTS,
                        "RATE_LIMITED",
                        format!("too many attempts; try again in {secs} seconds"),
                        vec![],
                    );
                    let headers = res.headers_mut();
                    headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
                    // draft-ietf-httpapi-ratelimit-headers: the quota policy, and what is left of it (nothing) until when.
                    let policy = format!("\"default\";q={limit};w={window_secs}");
                    let state = format!("\"default\";r=0;t={secs}");
                    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
                        if let Ok(value) = HeaderValue::from_str(&value) {
                            headers.insert(header::HeaderName::from_static(name), value);
                        }
                    }
                    res
                }
                Error::Internal(cause) => {
                    tracing::error!(error = %cause, cause = ?cause, "internal error");
                    problem(S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "an internal error occurred", vec![])
                }
            },
            ApiError::MalformedJson(why) => {
                problem(S::BAD_REQUEST, "MALFORMED_JSON", format!("the body is not valid JSON: {why}"), vec![])
            }
            ApiError::UnsupportedMediaType => problem(
                S::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as JSON with `Content-Type: application/json`",
                vec![],
            ),
            ApiError::PayloadTooLarge => {
                problem(S::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "the request body is too large", vec![])
            }
            ApiError::NotFound => problem(S::NOT_FOUND, "NOT_FOUND", "no such route", vec![]),
            ApiError::MethodNotAllowed => {
                problem(S::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "this route does not accept that method", vec![])
            }
            ApiError::Timeout => problem(S::REQUEST_TIMEOUT, "TIMEOUT", "the request took too long", vec![]),
            ApiError::Unavailable(why) => problem(S::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", why, vec![]),
            ApiError::Coded { status, code, detail } => {
                let mut res = problem(status, code, detail, vec![]);
                if status == S::UNAUTHORIZED {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                res
            }
        }
    }
}

/// Gives error responses that a layer or the router produced without a body
/// (405, 408, 413, …) the problem+json envelope, so every error looks alike.
pub async fn ensure_problem_body(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return res;
    }
    let replacement = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        s if s.is_server_error() => ApiError::Domain(Error::internal(format!("{s} without a body from a layer"))),
        s => {
            let code = if s == StatusCode::BAD_REQUEST { "BAD_REQUEST" } else { "CLIENT_ERROR" };
            return problem(s, code, s.canonical_reason().unwrap_or("error").to_lowercase(), vec![]);
        }
    };
    let mut new = replacement.into_response();
    // Keep headers such as Allow, Retry-After and the request id.
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    new
}

/// The answer to a panic in a handler: a 500 that leaks nothing.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "an internal error occurred", vec![])
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_is_an_opaque_problem() {
        let app = axum::Router::new()
            .route(
                "/boom",
                get(|| async {
                    if true {
                        panic!("secret internals: password=hunter2");
                    }
                    "unreachable"
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response));
        let res = app.oneshot(axum::http::Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("INTERNAL_ERROR") && !body.contains("hunter2") && !body.contains("secret"), "{body}");
    }

    #[test]
    fn rate_limited_states_its_policy() {
        let res =
            ApiError::Domain(Error::RateLimited { retry_after_secs: 42, limit: 5, window_secs: 900 }).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "42");
        assert_eq!(res.headers()["ratelimit-policy"], "\"default\";q=5;w=900");
        assert_eq!(res.headers()["ratelimit"], "\"default\";r=0;t=42");
    }

    #[tokio::test]
    async fn bodiless_layer_errors_get_the_envelope() {
        let app = axum::Router::new()
            .route("/only-get", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(ensure_problem_body));
        let res = app.oneshot(axum::http::Request::post("/only-get").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
        assert!(res.headers().contains_key(header::ALLOW));
    }
}
