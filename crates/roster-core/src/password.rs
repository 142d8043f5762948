//! Passwords as typed by people: checked for length, never printed.

use crate::validation::FieldProblem;

/// A candidate password: 8–256 characters. The upper bound keeps hashing cost bounded.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let len = raw.chars().count();
        if len < Self::MIN {
            return Err(FieldProblem::new("too_short", format!("must be at least {} characters", Self::MIN)));
        }
        if len > Self::MAX {
            return Err(FieldProblem::new("too_long", format!("must be at most {} characters", Self::MAX)));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}
