//! CSRF defence: state-changing requests that a browser could send on a user's behalf from
//! another site must prove they come from our own origin.
//!
//! The rule, applied to every `POST`/`PUT`/`PATCH`/`DELETE` without an `Authorization` header:
//! - if it carries our session cookie, it needs `Sec-Fetch-Site: same-origin` or an `Origin`
//!   equal to ours (a script or form on another site cannot forge either);
//! - if it carries an `Origin` that is not ours, it is refused even without a cookie (that is
//!   login CSRF: a foreign page logging the victim into the attacker's account).
//!
//! Requests with `Authorization: Bearer` are exempt: browsers never attach that header on
//! their own, so whoever sends it holds the secret. For that to be sound, handlers never fall
//! back to the cookie when an `Authorization` header is present (see `credentials.rs`).
//!
//! "Our origin" is the origin of `--public-url` when configured, else the request's `Host`
//! (http or https). SameSite=Lax on the cookie is a second layer, not the defence.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::accounts::cookie::has_session_cookie;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn refuse_cross_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if safe || headers.contains_key(AUTHORIZATION) {
        return next.run(request).await;
    }
    let needs_proof = has_session_cookie(headers) || headers.contains_key(ORIGIN);
    if needs_proof && !is_same_origin(headers, state.config.public_url.as_deref()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "cross-origin request refused: requests authenticated by the session cookie must come from \
             this site's own pages (same-origin Origin or Sec-Fetch-Site header); scripts can send the \
             Origin header or use a bearer token",
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether the browser says the request comes from our own origin.
pub fn is_same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|v| v.eq_ignore_ascii_case("same-origin")) {
        return true;
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return false;
    };
    match public_url {
        Some(url) => origin_of(url).is_some_and(|ours| origin.eq_ignore_ascii_case(&ours)),
        None => {
            let Some(host) = header(HOST.as_str()) else {
                return false;
            };
            let origin = origin.to_ascii_lowercase();
            let host = host.to_ascii_lowercase();
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host.as_str())
        }
    }
}

/// `scheme://host[:port]` of a URL (what browsers put in `Origin`).
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn an_origin_matching_the_host_is_ours_over_http_or_https() {
        assert!(is_same_origin(
            &headers(&[
                ("host", "live.example.com:8080"),
                ("origin", "http://live.example.com:8080")
            ]),
            None
        ));
        assert!(is_same_origin(
            &headers(&[
                ("host", "live.example.com"),
                ("origin", "https://LIVE.example.com")
            ]),
            None
        ));
    }

    #[test]
    fn other_origins_and_missing_headers_are_not_ours() {
        for h in [
            headers(&[
                ("host", "live.example.com"),
                ("origin", "https://evil.example"),
            ]),
            headers(&[
                ("host", "live.example.com"),
                ("origin", "https://live.example.com.evil.example"),
            ]),
            headers(&[("host", "live.example.com"), ("origin", "null")]),
            headers(&[
                ("host", "live.example.com"),
                ("sec-fetch-site", "same-site"),
            ]),
            headers(&[("host", "live.example.com")]),
            headers(&[("origin", "http://live.example.com")]),
        ] {
            assert!(!is_same_origin(&h, None), "{h:?}");
        }
    }

    #[test]
    fn sec_fetch_site_same_origin_is_enough() {
        assert!(is_same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            None
        ));
    }

    #[test]
    fn with_a_public_url_only_its_origin_counts() {
        let public = Some("https://live.example.com/base/");
        assert!(is_same_origin(
            &headers(&[
                ("host", "10.0.0.5:8080"),
                ("origin", "https://live.example.com")
            ]),
            public
        ));
        assert!(!is_same_origin(
            &headers(&[
                ("host", "10.0.0.5:8080"),
                ("origin", "http://10.0.0.5:8080")
            ]),
            public
        ));
        assert!(!is_same_origin(
            &headers(&[("origin", "http://live.example.com")]),
            public
        ));
    }
}
