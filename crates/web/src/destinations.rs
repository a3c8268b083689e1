//! Validation of destination URLs given by users.
//!
//! A destination makes the server open a connection wherever the user says, so by default
//! only public addresses are allowed: otherwise any user could make the server connect into
//! the operator's network (metadata services at 169.254.169.254, databases on 10.0.0.0/8, ...).

use streamhard_relay::is_public;
use streamhard_rtmp::url::RtmpUrl;

use crate::error::ApiError;

const MAX_NAME: usize = 100;

/// Parses a destination and, unless `allow_private`, refuses hosts that resolve to a
/// non-public address. Errors never repeat the URL (it contains the stream key).
pub async fn validate(name: &str, url: &str, allow_private: bool) -> Result<RtmpUrl, ApiError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::bad_request(
            "invalid_destination",
            format!("a destination needs a name of 1 to {MAX_NAME} characters"),
        ));
    }
    let parsed = RtmpUrl::parse(url).map_err(|e| {
        ApiError::bad_request(
            "invalid_destination",
            format!("destination \"{name}\": {e}"),
        )
    })?;
    if allow_private {
        return Ok(parsed);
    }
    let addrs = tokio::net::lookup_host((parsed.host(), parsed.port()))
        .await
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_destination",
                format!("destination \"{name}\": its host name does not resolve"),
            )
        })?
        .collect::<Vec<_>>();
    if addrs.is_empty() || addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(ApiError::bad_request(
            "private_destination",
            format!(
                "destination \"{name}\": its host resolves to a private, loopback or reserved address; \
                 the operator can allow that with --allow-private-destinations"
            ),
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_loopback_destination_is_refused_unless_allowed() {
        let err = validate("local", "rtmp://127.0.0.1:1935/live/secretkey", false)
            .await
            .unwrap_err();
        assert_eq!(err.code, "private_destination");
        assert!(!err.message.contains("secretkey"));
        assert!(
            validate("local", "rtmp://127.0.0.1:1935/live/secretkey", true)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn errors_never_repeat_the_key() {
        let err = validate("x", "http://example.com/app/secretkey", false)
            .await
            .unwrap_err();
        assert_eq!(err.code, "invalid_destination");
        assert!(!err.message.contains("secretkey"));
    }
}
