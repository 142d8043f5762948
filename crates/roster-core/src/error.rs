//! The domain's error: what went wrong in terms a caller can act on.
//! The HTTP layer turns each variant into a problem+json response in one place.

use crate::validation::FieldErrors;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that parsed but broke a rule; one entry per offending field.
    #[error("invalid input")]
    Validation(FieldErrors),
    /// The thing does not exist, or exists outside the caller's organization
    /// (the two are deliberately indistinguishable).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change collides with existing state (a taken email, the last owner).
    #[error("{0}")]
    Conflict(String),
    /// The caller is known but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller could not be identified (missing, bad or revoked credentials).
    #[error("{0}")]
    Unauthorized(String),
    /// The thing existed but is no longer usable (an expired or answered invitation link).
    #[error("{0}")]
    Gone(String),
    /// The organization's plan allows no more of something.
    #[error("the plan allows at most {max} {what}")]
    LimitReached { what: &'static str, max: u32 },
    /// Too many attempts; try again after `retry_after_secs`. `limit` attempts
    /// are allowed per `window_secs`, so the answer can state its quota policy.
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64, limit: u32, window_secs: u64 },
    /// Anything the caller cannot fix: logged with its cause, answered opaquely.
    #[error(transparent)]
    Internal(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(e.into())
    }

    /// A validation error about a single field.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.push(field, code, message);
        Error::Validation(errors)
    }
}

impl From<FieldErrors> for Error {
    fn from(e: FieldErrors) -> Self {
        Error::Validation(e)
    }
}
