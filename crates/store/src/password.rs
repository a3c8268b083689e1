//! Passwords: argon2id hashes in the PHC string format.
//!
//! Hashing and verifying are deliberately slow (tens of milliseconds, 19 MiB of memory: the
//! OWASP argon2id baseline), so async callers run them on a blocking thread. A login for an
//! unknown account verifies against a dummy hash, so it costs the same time as a wrong
//! password and response timing does not reveal which emails have accounts.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// Shorter passwords are refused at signup (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer input is refused before hashing: nobody types more, and it bounds the work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password in clear, only ever in memory. Debug does not show it.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    #[error("a password has at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password has at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the stored password hash cannot be read")]
    CorruptHash,
    #[error("the password cannot be hashed: {0}")]
    Hashing(String),
}

impl Password {
    /// A new password, as chosen at signup: at least [`MIN_PASSWORD_CHARS`] characters.
    pub fn new(password: String) -> Result<Self, PasswordError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        Self::for_login(password)
    }

    /// A password typed at login. Only the upper bound applies, so accounts created under an
    /// older, shorter minimum can still log in.
    pub fn for_login(password: String) -> Result<Self, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(password))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// An argon2id hash with its parameters and salt. Debug hides it: hashes can be attacked
/// offline, so they stay out of logs too.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

fn hasher() -> Argon2<'static> {
    // Argon2id, version 0x13, m = 19 MiB, t = 2, p = 1: the OWASP recommendation. Stored
    // hashes carry their own parameters, so changing these later keeps old hashes valid.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

impl PasswordHash {
    /// Hashes with a fresh random 128-bit salt. Slow by design: call from a blocking thread.
    pub fn create(password: &Password) -> Result<Self, PasswordError> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let hash = hasher()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        Ok(Self(hash.to_string()))
    }

    /// Whether `password` matches. Slow by design: call from a blocking thread.
    pub fn verify(&self, password: &Password) -> Result<bool, PasswordError> {
        let parsed = argon2::password_hash::PasswordHash::new(&self.0)
            .map_err(|_| PasswordError::CorruptHash)?;
        Ok(hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    }

    /// Spends the time of a real verification and answers false: what a login for an
    /// unknown account does, so it cannot be told apart from a wrong password by timing.
    pub fn verify_dummy(password: &Password) -> bool {
        static DUMMY: OnceLock<Option<PasswordHash>> = OnceLock::new();
        let dummy = DUMMY.get_or_init(|| {
            Password::for_login("not a password anyone has".to_owned())
                .ok()
                .and_then(|p| Self::create(&p).ok())
        });
        if let Some(dummy) = dummy {
            let _ = dummy.verify(password);
        }
        false
    }

    pub(crate) fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: &str) -> Password {
        Password::new(s.to_owned()).unwrap()
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hash = PasswordHash::create(&pw("correct horse battery")).unwrap();
        assert!(hash.verify(&pw("correct horse battery")).unwrap());
        assert!(!hash.verify(&pw("correct horse battery!")).unwrap());
    }

    #[test]
    fn hashes_are_argon2id_with_a_fresh_salt_each_time() {
        let a = PasswordHash::create(&pw("correct horse battery")).unwrap();
        let b = PasswordHash::create(&pw("correct horse battery")).unwrap();
        assert!(
            a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            a.as_str()
        );
        assert_ne!(a, b);
        assert!(!a.as_str().contains("correct horse"));
    }

    #[test]
    fn length_rules_count_characters_and_bound_bytes() {
        assert_eq!(
            Password::new("123456789".into()).unwrap_err(),
            PasswordError::TooShort
        );
        assert!(Password::new("éééééééééé".into()).is_ok());
        assert_eq!(
            Password::new("x".repeat(MAX_PASSWORD_BYTES + 1)).unwrap_err(),
            PasswordError::TooLong
        );
        assert!(Password::for_login("short".into()).is_ok());
    }

    #[test]
    fn debug_output_hides_passwords_and_hashes() {
        let p = pw("correct horse battery");
        let h = PasswordHash::create(&p).unwrap();
        let shown = format!("{p:?} {h:?}");
        assert!(
            !shown.contains("horse") && !shown.contains("argon2"),
            "{shown}"
        );
    }

    #[test]
    fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let hash = PasswordHash::from_stored("plaintext".into());
        assert_eq!(
            hash.verify(&pw("correct horse battery")),
            Err(PasswordError::CorruptHash)
        );
    }

    #[test]
    fn the_dummy_verification_never_matches() {
        assert!(!PasswordHash::verify_dummy(&pw(
            "not a password anyone has"
        )));
    }
}
