//! The HTTP half of WHIP (RFC 9725 §4.2): POST the offer, read the answer and the session's
//! Location, DELETE the session at the end.
//!
//! Responses are hostile input: bodies are read up to a bound, statuses other than the ones the
//! protocol allows are errors carrying the start of the body (the server's reason), and no error
//! mentions the URL or the token.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Client, Response, StatusCode, Url};

use crate::error::WhipError;

/// An SDP answer is a few kB; anything this large is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How much of an error body is kept for the error message.
const MAX_REASON_CHARS: usize = 300;

/// What a successful POST returns.
pub(crate) struct Created {
    pub answer: String,
    /// The session resource, resolved against the WHIP URL.
    pub location: Url,
}

/// Parses the endpoint URL, refusing anything but absolute http(s).
pub(crate) fn parse_endpoint(whip_url: &str) -> Result<Url, WhipError> {
    let url = Url::parse(whip_url).map_err(|_| WhipError::InvalidUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(WhipError::InvalidUrl);
    }
    Ok(url)
}

/// `Authorization: Bearer <token>` as a header value marked sensitive (so it is never printed
/// by reqwest's or hyper's own debug output).
pub(crate) fn bearer_header(token: &str) -> Result<HeaderValue, WhipError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| WhipError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}

/// POSTs `offer` and expects `201 Created` with an `application/sdp` answer and a Location.
pub(crate) async fn post_offer(
    client: &Client,
    endpoint: &Url,
    bearer: Option<&HeaderValue>,
    offer: String,
) -> Result<Created, WhipError> {
    const REQUEST: &str = "POST";
    let mut request = client
        .post(endpoint.clone())
        .header(CONTENT_TYPE, "application/sdp")
        .body(offer);
    if let Some(bearer) = bearer {
        request = request.header(AUTHORIZATION, bearer.clone());
    }
    let mut response = request.send().await.map_err(http_error(REQUEST))?;
    if response.status() != StatusCode::CREATED {
        return Err(status_error(REQUEST, response).await);
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    // Parameters such as "; charset=utf-8" are allowed; the media type is not negotiable.
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/sdp") {
        return Err(WhipError::UnexpectedContentType(
            content_type.chars().take(100).collect(),
        ));
    }
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| endpoint.join(v).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or(WhipError::MissingLocation)?;
    let body = read_bounded(REQUEST, &mut response, MAX_ANSWER_BYTES).await?;
    let answer =
        String::from_utf8(body).map_err(|_| WhipError::InvalidAnswer("not UTF-8".to_owned()))?;
    Ok(Created { answer, location })
}

/// DELETEs the session resource; any 2xx ends it.
pub(crate) async fn delete_session(
    client: &Client,
    location: &Url,
    bearer: Option<&HeaderValue>,
) -> Result<(), WhipError> {
    const REQUEST: &str = "DELETE";
    let mut request = client.delete(location.clone());
    if let Some(bearer) = bearer {
        request = request.header(AUTHORIZATION, bearer.clone());
    }
    let response = request.send().await.map_err(http_error(REQUEST))?;
    if !response.status().is_success() {
        return Err(status_error(REQUEST, response).await);
    }
    Ok(())
}

fn http_error(request: &'static str) -> impl Fn(reqwest::Error) -> WhipError {
    move |source| WhipError::Http {
        request,
        source: source.without_url(),
    }
}

/// Turns an unexpected status into an error with the start of the body as the reason.
async fn status_error(request: &'static str, mut response: Response) -> WhipError {
    let status = response.status().as_u16();
    // The reason is a courtesy: a body that fails to arrive still leaves a useful error.
    let body = read_bounded(request, &mut response, MAX_REASON_CHARS * 4)
        .await
        .unwrap_or_default();
    WhipError::Status {
        request,
        status,
        body: String::from_utf8_lossy(&body)
            .chars()
            .take(MAX_REASON_CHARS)
            .collect(),
    }
}

/// Reads at most `max` bytes of body; more is an error (the rest is never read).
async fn read_bounded(
    request: &'static str,
    response: &mut Response,
    max: usize,
) -> Result<Vec<u8>, WhipError> {
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(WhipError::BodyTooLarge { request, max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http_error(request))? {
        if body.len() + chunk.len() > max {
            return Err(WhipError::BodyTooLarge { request, max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
