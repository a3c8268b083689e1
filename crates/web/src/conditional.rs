//! Conditional requests (RFC 9110 §13): one reading of `If-None-Match` for everything served
//! with an ETag (the studio's files, the user's logo).

use axum::http::HeaderMap;
use axum::http::header::IF_NONE_MATCH;

/// Whether `If-None-Match` lists `etag` or `*` (weak comparison, as RFC 9110 asks for this
/// header): the client's copy is current and a 304 will do.
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}
