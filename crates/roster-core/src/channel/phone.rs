//! Phone numbers for SMS and voice channels, in E.164 form.

use crate::validation::FieldProblem;
use serde::{Deserialize, Serialize};

/// An international phone number: `+` then 8 to 15 digits, the first 1–9.
///
/// Input may group the digits with spaces, dashes, dots and parentheses, as
/// people write them (`+994 55-123-4567`, `(+1) 415.555.0100`); the stored
/// form has none of them (`+994551234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// At most this many characters are read, separators included.
    const MAX_INPUT: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldProblem::new("required", "must not be empty"));
        }
        let invalid = |why: &str| {
            FieldProblem::new(
                "invalid_phone",
                format!(
                    "is not an international phone number: {why}; \
                     write it as + and the country code, such as +14155550100"
                ),
            )
        };
        if s.chars().count() > Self::MAX_INPUT {
            return Err(invalid("it is too long"));
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_digit() || "+ -.()".contains(*c))) {
            return Err(invalid(&format!("`{c}` is not allowed (only digits, spaces, dashes, dots and parentheses)")));
        }
        let compact: String = s.chars().filter(|c| !" -.()".contains(*c)).collect();
        let digits = compact.strip_prefix('+').ok_or_else(|| invalid("it must start with +"))?;
        if digits.contains('+') {
            return Err(invalid("only the first character may be +"));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(invalid(&format!("it has {} digits, not 8 to 15", digits.len())));
        }
        if digits.starts_with('0') {
            return Err(invalid("a country code never starts with 0"));
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|p| p.message)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> Self {
        p.0
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_grouped_numbers_and_normalizes() {
        for (raw, want) in [
            ("+994 55-123-4567", "+994551234567"),
            ("(+1) 415.555.0100", "+14155550100"),
            ("+1 (415) 555-0100", "+14155550100"),
            ("  +442071838750 ", "+442071838750"),
            ("+49 30 12345678", "+493012345678"),
            ("+12345678", "+12345678"),
            ("+123456789012345", "+123456789012345"),
        ] {
            assert_eq!(PhoneNumber::parse(raw).unwrap().as_str(), want, "{raw:?}");
        }
    }

    #[test]
    fn refuses_everything_else_with_an_example() {
        for bad in [
            "4155550100",
            "0044 20 7183 8750",
            "+0 415 555 0100",
            "+1234567",
            "+1234567890123456",
            "+1 415 555 0100 ext 2",
            "+1/415/555/0100",
            "++14155550100",
            "+1415+5550100",
            "+",
            "+1\t4155550100",
            "+١٤١٥٥٥٥٠١٠٠",
            "tel:+14155550100",
        ] {
            let p = PhoneNumber::parse(bad).unwrap_err();
            assert_eq!(p.code, "invalid_phone", "{bad:?}");
            assert!(p.message.contains("+14155550100"), "{}", p.message);
        }
        assert_eq!(PhoneNumber::parse("  ").unwrap_err().code, "required");
        assert!(PhoneNumber::parse("+1 (415) 555-0100 x").unwrap_err().message.contains("`x`"));
        assert!(PhoneNumber::parse(&format!("+1{}", " ".repeat(70))).is_err());
    }

    #[test]
    fn serde_uses_the_normalized_string() {
        let p: PhoneNumber = serde_json::from_str("\"+1 415 555 0100\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+14155550100\"");
        assert!(serde_json::from_str::<PhoneNumber>("\"555\"").is_err());
    }
}
