//! Email addresses, normalized so that one mailbox has one spelling.

use crate::validation::FieldProblem;
use serde::{Deserialize, Serialize};

/// A syntactically valid address (the RFC 5322 `addr-spec` subset that real
/// mail systems accept), trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let s = raw.trim().to_lowercase();
        let invalid = |why: &str| FieldProblem::new("invalid_email", format!("is not a valid email address: {why}"));
        if s.is_empty() {
            return Err(FieldProblem::new("required", "must not be empty"));
        }
        if s.len() > 254 {
            return Err(FieldProblem::new("too_long", "must be at most 254 characters"));
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| invalid("it has no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before @ must be 1 to 64 characters"));
        }
        const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";
        if !local.chars().all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(invalid("the part before @ has characters that are not allowed"));
        }
        if !is_hostname(domain) || !domain.contains('.') {
            return Err(invalid("the domain is not a valid host name"));
        }
        let tld = domain.rsplit('.').next().unwrap_or_default();
        if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(invalid("the domain has no valid top-level part"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with the local part masked, for logs and audit records.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or(("", &self.0));
        let first = local.chars().next().unwrap_or('*');
        format!("{first}***@{domain}")
    }
}

/// A DNS host name: dot-separated labels of letters, digits and hyphens,
/// 1–63 characters each, not starting or ending with a hyphen, 253 in all.
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|p| p.message)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> Self {
        e.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Untrusted input never panics the parser; what it accepts is one
        /// lowercased spelling that reads back as itself, and its mask keeps the domain.
        #[test]
        fn accepted_addresses_are_fixed_points(raw in any::<String>(), like in "[ A-Za-z0-9.+_@-]{0,40}@[A-Za-z0-9.-]{0,30}") {
            for input in [raw.as_str(), like.as_str()] {
                if let Ok(address) = EmailAddress::parse(input) {
                    let s = address.as_str();
                    prop_assert!(s.len() <= 254 && s == s.to_lowercase() && s.trim() == s, "{s:?}");
                    prop_assert_eq!(EmailAddress::parse(s).unwrap(), address.clone());
                    let domain = s.rsplit_once('@').unwrap().1;
                    let masked = address.masked();
                    prop_assert!(masked.ends_with(&format!("@{}", domain)), "{:?}", masked);
                }
            }
        }
    }

    #[test]
    fn accepts_and_normalizes() {
        assert_eq!(EmailAddress::parse("  Ann.Lee+ops@Example.COM ").unwrap().as_str(), "ann.lee+ops@example.com");
        assert_eq!(EmailAddress::parse("a@b.io").unwrap().as_str(), "a@b.io");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@@b.com",
            "a b@c.com",
            "a@b",
            "a@-b.com",
            "a@b-.com",
            ".a@b.com",
            "a.@b.com",
            "a..b@c.com",
            "a@b.c0m",
            "a@b.c",
            "a@b..com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let long_local = format!("{}@b.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long_local).is_err());
    }

    #[test]
    fn masks_local_part() {
        assert_eq!(EmailAddress::parse("sarah@acme.com").unwrap().masked(), "s***@acme.com");
    }
}
