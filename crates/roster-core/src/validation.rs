//! Per-field validation errors, collected so a caller learns every problem at once.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name as sent, with dots for nesting (`suppress.up`).
    pub field: String,
    /// A stable, machine-readable reason (`required`, `too_long`, `invalid_format`, …).
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.0.push(FieldError { field: field.to_owned(), code, message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses one field, recording its error under `field` and returning `None` on failure.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, FieldProblem>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(p) => {
                self.push(field, p.code, p.message);
                None
            }
        }
    }

    /// `Ok(())` when nothing was recorded, the collected errors otherwise.
    pub fn finish(self) -> Result<(), crate::Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::Validation(self))
        }
    }
}

/// What a value parser reports: the field name is added by whoever knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub code: &'static str,
    pub message: String,
}

impl FieldProblem {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// Attaches a field name, making a full domain error.
    pub fn at(self, field: &str) -> crate::Error {
        crate::Error::invalid(field, self.code, self.message)
    }
}

impl std::fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for FieldProblem {}

/// Trims `raw` and checks its length in characters and that it holds no control characters.
pub fn bounded_text(raw: &str, min: usize, max: usize) -> Result<String, FieldProblem> {
    let s = raw.trim();
    let len = s.chars().count();
    if len < min {
        return Err(if len == 0 {
            FieldProblem::new("required", "must not be empty")
        } else {
            FieldProblem::new("too_short", format!("must be at least {min} characters"))
        });
    }
    if len > max {
        return Err(FieldProblem::new("too_long", format!("must be at most {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldProblem::new("invalid_characters", "must not contain control characters"));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_trims_and_bounds() {
        assert_eq!(bounded_text("  Ann ", 1, 10).unwrap(), "Ann");
        assert_eq!(bounded_text("   ", 1, 10).unwrap_err().code, "required");
        assert_eq!(bounded_text("abcdef", 1, 5).unwrap_err().code, "too_long");
        assert_eq!(bounded_text("ab", 3, 5).unwrap_err().code, "too_short");
        assert_eq!(bounded_text("a\u{0}b", 1, 5).unwrap_err().code, "invalid_characters");
        // Length is counted in characters, not bytes.
        assert_eq!(bounded_text("ééééé", 1, 5).unwrap(), "ééééé");
    }
}
