//! HTTP/2 requests carry their host in the `:authority` pseudo-header, not in `Host`.
//!
//! HTTPS offers HTTP/2 by ALPN and browsers take it. The web layer reads `Host` (the
//! same-origin check on cookie requests, the `whip_url` it hands out), so the authority is
//! copied there when a request comes without one.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::HOST;

/// A `map_request` middleware: adds `Host` from the request's authority when it is missing.
pub async fn host_from_authority(mut request: Request) -> Request {
    if request.headers().contains_key(HOST) {
        return request;
    }
    let host = request
        .uri()
        .authority()
        // Userinfo has no place in Host (and browsers never send it).
        .and_then(|a| a.as_str().rsplit('@').next())
        .and_then(|host| HeaderValue::from_str(host).ok());
    if let Some(host) = host {
        request.headers_mut().insert(HOST, host);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[tokio::test]
    async fn an_http2_authority_becomes_the_host() {
        let request = Request::builder()
            .uri("https://192.168.1.5:8443/api/broadcasts")
            .body(Body::empty())
            .unwrap();
        let request = host_from_authority(request).await;
        assert_eq!(request.headers()[HOST], "192.168.1.5:8443");
    }

    #[tokio::test]
    async fn a_host_header_is_left_alone() {
        let request = Request::builder()
            .uri("https://a.example:8443/")
            .header(HOST, "b.example:8443")
            .body(Body::empty())
            .unwrap();
        let request = host_from_authority(request).await;
        assert_eq!(request.headers()[HOST], "b.example:8443");
    }
}
