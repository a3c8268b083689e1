//! The publisher's errors. None of them carries a URL or the bearer token: the WHIP URL of a
//! broadcast and its token are credentials, and errors end up in logs and test output.

use std::time::Duration;

/// Everything that can go wrong publishing over WHIP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WhipError {
    #[error("the WHIP URL is not an absolute http(s) URL")]
    InvalidUrl,
    #[error("the bearer token contains characters not allowed in an HTTP header")]
    InvalidToken,
    /// Transport-level HTTP failure; the URL has been stripped from the inner error.
    #[error("WHIP {request} request failed: {source}")]
    Http {
        request: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a status the protocol does not allow here.
    #[error("WHIP {request} answered {status}: {body}")]
    Status {
        request: &'static str,
        status: u16,
        /// The start of the response body (the server's reason), lossily decoded.
        body: String,
    },
    #[error("WHIP POST answered 201 without a usable Location header")]
    MissingLocation,
    #[error("WHIP POST answered with Content-Type {0:?}, expected application/sdp")]
    UnexpectedContentType(String),
    #[error("WHIP {request} response body exceeds {max} bytes")]
    BodyTooLarge { request: &'static str, max: usize },
    #[error("the SDP answer is not valid SDP: {0}")]
    InvalidAnswer(String),
    #[error("the SDP answer does not accept {0}")]
    Rejected(&'static str),
    #[error("WebRTC: {0}")]
    Rtc(#[from] str0m::RtcError),
    #[error("UDP socket: {0}")]
    Socket(#[source] std::io::Error),
    #[error("ICE/DTLS did not connect within {0:?}")]
    ConnectTimeout(Duration),
    #[error("the WebRTC connection was lost")]
    Disconnected,
}
