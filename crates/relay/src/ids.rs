//! Identifiers handed to clients. Random (128 bits) so they cannot be guessed or enumerated.

use std::fmt;

use rand::RngCore;

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn random() -> Self {
                Self(random_hex())
            }

            /// Accepts only what `random` produces: 32 lowercase hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                (s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                    .then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A broadcast: a set of destinations fed by at most one ingest session at a time.
    BroadcastId
);
id_type!(
    /// One WHIP session (one WebRTC peer connection).
    SessionId
);
id_type!(
    /// One destination of a broadcast.
    DestinationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_parse_back() {
        let a = SessionId::random();
        assert_ne!(a, SessionId::random());
        assert_eq!(SessionId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn parse_refuses_anything_else() {
        assert_eq!(BroadcastId::parse("../etc/passwd"), None);
        assert_eq!(BroadcastId::parse(&"A".repeat(32)), None);
        assert_eq!(BroadcastId::parse(&"a".repeat(33)), None);
    }
}
