//! Names people type: their own, their organization's, their teams'.

use crate::validation::{bounded_text, FieldProblem};

/// A first name or surname: 1–100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        bounded_text(raw, 1, Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An organization's or team's display name: 1–255 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        bounded_text(raw, 1, Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key two names collide on: case and inner spacing do not make a new name.
    pub fn key(&self) -> String {
        self.0.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    }

    /// A URL-safe slug: lowercase ASCII letters and digits joined by single
    /// hyphens, at most 48 characters; `org` when nothing usable is left.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.0.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= 48 {
                break;
            }
        }
        let slug = slug.trim_end_matches('-').to_owned();
        if slug.is_empty() {
            "org".to_owned()
        } else {
            slug
        }
    }
}

/// Why an account was deleted: a short lowercase slug such as `poor-features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldProblem::new("required", "must not be empty"));
        }
        if s.len() > 64 {
            return Err(FieldProblem::new("too_long", "must be at most 64 characters"));
        }
        let ok = s
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if !ok {
            return Err(FieldProblem::new(
                "invalid_format",
                "must be lowercase letters and digits separated by single hyphens, such as `poor-features`",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        let n = |s: &str| DisplayName::parse(s).unwrap();
        assert_eq!(n("Acme Inc.").slug(), "acme-inc");
        assert_eq!(n("  Ops & SRE -- EU ").slug(), "ops-sre-eu");
        assert_eq!(n("日本").slug(), "org");
        assert!(n(&"x".repeat(200)).slug().len() <= 48);
    }

    #[test]
    fn name_keys_ignore_case_and_spacing() {
        assert_eq!(DisplayName::parse("Ops  Team").unwrap().key(), DisplayName::parse("ops team").unwrap().key());
    }

    #[test]
    fn reason_slugs() {
        assert!(Slug::parse("poor-features").is_ok());
        assert!(Slug::parse("too-expensive2").is_ok());
        for bad in ["", "Poor", "poor--features", "-x", "x-", "a b", &"a".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
