//! The JSON bodies of the API as a client sends them, read the way the handlers read them
//! (`serde_json::from_slice` into the request types, as axum's `Json` does) and validated:
//! signup and login (name, email, password), broadcast creation and live destinations
//! (destination names and RTMP URLs), and the studio settings document.
//!
//! Input: `[kind] body`, `kind % 4`: signup, login, broadcast (its destinations), settings.
//!
//! Invariants: no panic; validated values are normalised (parsing them again changes
//! nothing); an accepted destination URL never shows its stream key or userinfo in its
//! redacted, Display or Debug forms, nor in `tcUrl`, beyond what the kept part already
//! holds; an error never repeats a password; a settings document is stored within its limit,
//! reads back as the same JSON and is a fixed point of its own canonicalisation.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use streamhard_store::{Email, Password, UserName};
use streamhard_web::MAX_JSON_BYTES;
use streamhard_web::fuzz_support::{
    CreateBroadcast, LoginRequest, MAX_SETTINGS_BYTES, SignupRequest, canonical_settings,
    validate_destination,
};
use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

fn email(text: &str) {
    if let Ok(email) = Email::parse(text) {
        let again = Email::parse(email.as_str()).expect("a normalised email parses");
        assert_eq!(again.as_str(), email.as_str());
    }
}

fn destination(name: &str, url: &str) {
    // allow_private: the resolver (a network look-up) is not what is fuzzed here.
    match runtime().block_on(validate_destination(name, url, true)) {
        Ok(parsed) => {
            let redacted = parsed.redacted();
            let kept = redacted.strip_suffix("/…").expect("redacted ends with /…");
            let mut secrets = vec![parsed.stream_key().expose()];
            secrets.extend(parsed.userinfo().map(|u| u.expose()));
            for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
                if kept.contains(secret) {
                    continue; // The host or the app itself happens to hold the same text.
                }
                for shown in [
                    redacted.clone(),
                    parsed.to_string(),
                    format!("{parsed:?}"),
                    parsed.tc_url(),
                ] {
                    assert!(!shown.contains(secret), "{shown:?} shows a secret");
                }
            }
        }
        Err(e) => assert!(e.status.is_client_error()),
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, body @ ..] = data else {
        return;
    };
    if body.len() > MAX_JSON_BYTES {
        return;
    }
    match kind % 4 {
        0 => {
            let Ok(request) = serde_json::from_slice::<SignupRequest>(body) else {
                return;
            };
            if let Ok(name) = UserName::parse(&request.name) {
                let again = UserName::parse(name.as_str()).expect("a normalised name parses");
                assert_eq!(again.as_str(), name.as_str());
            }
            email(&request.email);
            if let Err(e) = Password::new(request.password.clone()) {
                let shown = format!("{e} {e:?}");
                assert!(request.password.len() < 4 || !shown.contains(&request.password));
            }
        }
        1 => {
            let Ok(request) = serde_json::from_slice::<LoginRequest>(body) else {
                return;
            };
            email(&request.email);
            if let Err(e) = Password::for_login(request.password.clone()) {
                let shown = format!("{e} {e:?}");
                assert!(request.password.len() < 4 || !shown.contains(&request.password));
            }
        }
        2 => {
            let Ok(request) = serde_json::from_slice::<CreateBroadcast>(body) else {
                return;
            };
            for d in request.destinations.iter().take(16) {
                destination(&d.name, &d.url);
            }
        }
        _ => {
            if body.len() > MAX_SETTINGS_BYTES {
                return;
            }
            let Ok(value) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            let Ok(text) = canonical_settings(&value) else {
                return;
            };
            assert!(text.len() <= MAX_SETTINGS_BYTES);
            let back: Value = serde_json::from_str(&text).expect("stored settings are JSON");
            assert_eq!(back, value, "the stored document differs from the one sent");
            let again = canonical_settings(&back).expect("stored settings pass again");
            assert_eq!(again, text, "canonical form is not a fixed point");
        }
    }
});
