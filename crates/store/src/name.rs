//! Display names of accounts.

use std::fmt;

const MAX_NAME_CHARS: usize = 100;

/// A user's display name: 1 to 100 characters after trimming, no control characters (they
/// would let a name rewrite terminal output in `streamhard user list`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a name is 1 to {MAX_NAME_CHARS} characters without control characters")]
pub struct NameError;

impl UserName {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let name = input.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(NameError);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_unicode_names() {
        assert_eq!(
            UserName::parse("  Zoë Ōkubo ").unwrap().as_str(),
            "Zoë Ōkubo"
        );
    }

    #[test]
    fn refuses_empty_overlong_and_control_characters() {
        assert_eq!(UserName::parse("   "), Err(NameError));
        assert_eq!(UserName::parse(&"x".repeat(101)), Err(NameError));
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(UserName::parse("evil\u{1b}[2J"), Err(NameError));
    }
}
