//! The client's IP address, for login throttling.
//!
//! Normally the TCP peer (axum's `ConnectInfo`). Behind a reverse proxy every peer is the
//! proxy, so with `--trust-proxy-headers` the last address of `X-Forwarded-For` is used: the
//! one our proxy appended, which a client cannot forge (it can only prepend).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// Used when the address is unknown (no `ConnectInfo`, e.g. a test without one): such
/// clients share one throttling bucket.
const UNKNOWN: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = state
            .config
            .trust_proxy_headers
            .then(|| forwarded_for(&parts.headers))
            .flatten();
        Ok(ClientIp(forwarded.or(peer).unwrap_or(UNKNOWN)))
    }
}

/// The last address in the `X-Forwarded-For` headers, if it parses.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .next_back()?;
    last.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_last_forwarded_address_is_the_one_our_proxy_saw() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.1"),
        );
        h.append("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        assert_eq!(forwarded_for(&h), Some("198.51.100.7".parse().unwrap()));
        let mut spoofed = HeaderMap::new();
        spoofed.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(forwarded_for(&spoofed), None);
    }
}
