//! A string that must never be printed: stream keys and URL credentials.
//!
//! Destination URLs travel through logs, status structs and error paths; making the key a
//! type whose `Debug` and `Display` print a placeholder means a stray `{:?}` cannot leak it.
//! The only way to the text is [`Secret::expose`], which is easy to grep for.

use std::fmt;

/// What `Debug` and `Display` print instead of the secret.
pub const REDACTED: &str = "…";

/// A secret string. Compare and clone freely; print it and you get [`REDACTED`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret text, for the one place that must send it (the RTMP `publish` command).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_print_a_placeholder_and_expose_gives_the_text() {
        let key = Secret::new("live_123_SECRET");
        assert_eq!(format!("{key}"), "…");
        assert_eq!(format!("{key:?}"), "Secret(…)");
        assert_eq!(format!("{:?}", Some(&key)), "Some(Secret(…))");
        assert_eq!(key.expose(), "live_123_SECRET");
    }
}
