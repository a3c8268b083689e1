//! The session cookie: `streamhard_session=<random token>; HttpOnly; SameSite=Lax; Path=/`,
//! plus `Secure` when the site is served over HTTPS.
//!
//! HttpOnly keeps scripts (and so XSS) from reading it; SameSite=Lax keeps browsers from
//! sending it with cross-site subrequests and form POSTs; the Origin check in `csrf.rs` covers
//! what SameSite does not (older browsers, same-site but cross-origin pages).

use std::time::Duration;

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use streamhard_store::SecretToken;

pub const SESSION_COOKIE: &str = "streamhard_session";

/// The session token from the request's cookies, if there is a well-formed one. Malformed
/// values are ignored like absent ones: they cannot name a session.
pub fn session_token(headers: &HeaderMap) -> Option<SecretToken> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| SecretToken::parse(value.trim_matches('"')))
}

/// Whether the request carries our session cookie at all (well-formed or not): what decides
/// whether the CSRF check applies.
pub fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(name, _)| name == SESSION_COOKIE)
        })
}

/// `Set-Cookie` for a new session.
pub fn set(token: &SecretToken, lifetime: Duration, secure: bool) -> HeaderValue {
    let value = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        token.expose(),
        lifetime.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    // The token is hex and the rest is ASCII, so the value is always a valid header.
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that makes the browser drop the cookie (logout).
pub fn clear(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "streamhard_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure",
        )
    } else {
        HeaderValue::from_static("streamhard_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn finds_the_session_among_other_cookies() {
        let token = SecretToken::generate();
        let h = headers(&format!(
            "theme=dark; {SESSION_COOKIE}={}; lang=en",
            token.expose()
        ));
        assert_eq!(session_token(&h), Some(token));
        assert!(has_session_cookie(&h));
    }

    #[test]
    fn a_malformed_or_missing_session_cookie_is_no_session() {
        assert_eq!(
            session_token(&headers("streamhard_session=../../etc")),
            None
        );
        assert!(has_session_cookie(&headers("streamhard_session=../../etc")));
        assert_eq!(session_token(&headers("xstreamhard_session=00")), None);
        assert!(!has_session_cookie(&headers("other=1")));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_when_asked() {
        let token = SecretToken::generate();
        let plain = set(&token, Duration::from_secs(3600), false);
        let plain = plain.to_str().unwrap();
        assert!(plain.starts_with(&format!("streamhard_session={};", token.expose())));
        assert!(
            plain.contains("HttpOnly")
                && plain.contains("SameSite=Lax")
                && plain.contains("Max-Age=3600")
        );
        assert!(!plain.contains("Secure"));
        assert!(
            set(&token, Duration::from_secs(1), true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        assert!(clear(true).to_str().unwrap().contains("Max-Age=0"));
    }
}
