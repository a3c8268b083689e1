//! Email addresses as account identifiers: normalised so that `Ann@Example.com ` and
//! `ann@example.com` are one account, and bounded so hostile input stays small.

use std::fmt;

/// RFC 5321 limits a forward path to 254 octets.
const MAX_EMAIL_BYTES: usize = 254;

/// A normalised email address: trimmed and lowercased, one `@` with something on each side,
/// a dot in the domain, no whitespace or control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("an email address is at most {MAX_EMAIL_BYTES} bytes long")]
    TooLong,
    #[error("this is not an email address (expected name@example.com)")]
    Malformed,
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.len() > MAX_EMAIL_BYTES {
            return Err(EmailError::TooLong);
        }
        let normalised = trimmed.to_lowercase();
        let (local, domain) = normalised.split_once('@').ok_or(EmailError::Malformed)?;
        let well_formed = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !normalised
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(EmailError::Malformed);
        }
        // Lowercasing can lengthen some characters; check the stored form too.
        if normalised.len() > MAX_EMAIL_BYTES {
            return Err(EmailError::TooLong);
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_surrounding_whitespace() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM\n").unwrap().as_str(),
            "ann.lee@example.com"
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a b@example.com",
            "ann@example.com.",
            "ann@.example.com",
            "ann@exa\u{0}mple.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn refuses_addresses_longer_than_254_bytes() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
        let fits = format!("{}@example.com", "a".repeat(254 - 12));
        assert!(Email::parse(&fits).is_ok());
    }
}
