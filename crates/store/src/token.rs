//! Bearer secrets (session cookies, broadcast tokens) and the hashes the database keeps.
//!
//! The database only ever sees SHA-256 of a token. Tokens are 256 random bits, so a fast hash
//! is enough: there is nothing to brute-force, and a stolen table logs nobody in.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;

/// A random 256-bit secret, hex encoded. Debug does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl SecretToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex(&bytes))
    }

    /// Accepts exactly what `generate` produces (64 lowercase hex digits), so anything a client
    /// sends is bounded before it is hashed or compared.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == TOKEN_BYTES * 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(s.to_owned()))
    }

    /// The secret itself, to hand to its owner once (cookie value, API response).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(hex(&Sha256::digest(self.0.as_bytes())))
    }
}

/// SHA-256 of a [`SecretToken`], hex encoded: what the database stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    /// Whether `token` hashes to this value, compared without an early exit.
    pub fn matches(&self, token: &SecretToken) -> bool {
        let other = token.hash();
        self.0.len() == other.0.len()
            && self
                .0
                .bytes()
                .zip(other.0.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The hash in hex. Not a secret: it cannot be turned back into the token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_distinct_and_parse_back() {
        let a = SecretToken::generate();
        assert_eq!(a.expose().len(), 64);
        assert_ne!(a, SecretToken::generate());
        assert_eq!(SecretToken::parse(a.expose()), Some(a));
    }

    #[test]
    fn parse_refuses_anything_but_64_lowercase_hex_digits() {
        assert_eq!(SecretToken::parse(&"a".repeat(63)), None);
        assert_eq!(SecretToken::parse(&"a".repeat(65)), None);
        assert_eq!(SecretToken::parse(&"A".repeat(64)), None);
        assert_eq!(SecretToken::parse(&"g".repeat(64)), None);
    }

    #[test]
    fn the_hash_is_sha256_of_the_hex_text() {
        // printf '%s' "$(printf '0%.0s' {1..64})" | sha256sum
        let token = SecretToken::parse(&"0".repeat(64)).unwrap();
        assert_eq!(
            token.hash().as_str(),
            "60e05bd1b195af2f94112fa7197a5c88289058840ce7c6df9693756bc6250f55"
        );
        assert!(token.hash().matches(&token));
        assert!(!token.hash().matches(&SecretToken::generate()));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = SecretToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
