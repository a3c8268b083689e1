//! Response headers for the studio's files: caching and the browser's security policies.

use axum::http::{HeaderMap, HeaderValue, header};

use super::assets::File;

/// Only our own scripts, styles and connections. `blob:` images are the logo preview,
/// `mediastream:`/`blob:` media the program preview and the local recording; workers are our
/// own modules. Nothing may frame the page, and forms only post here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob:; media-src 'self' blob: mediastream:; \
     connect-src 'self'; worker-src 'self'; font-src 'self'; manifest-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page asks for the camera, microphone and screen itself and nothing else does.
const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=(self), \
     geolocation=(), payment=(), usb=()";

/// File names carry no version, so every use revalidates: a new release is picked up on the
/// next load, and an unchanged file costs a 304.
const CACHE_CONTROL: &str = "no-cache";

pub fn for_file(file: &File) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if let Ok(etag) = HeaderValue::from_str(&file.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
}
