//! The studio's logo: one image per user, drawn on the stream by the browser's compositor.
//!
//! Only raster formats a browser decodes into pixels are accepted, and the bytes must carry
//! the signature of the declared type: SVG is refused outright (it can hold scripts), and a
//! file that is not what it claims never gets served under an image type. Served with
//! `nosniff` and a sandboxing CSP besides, so nothing uploaded here runs as a page.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Largest logo accepted. A logo is drawn at a fraction of the frame's width; 512 KiB is a
/// generous PNG at that size.
pub const MAX_LOGO_BYTES: usize = 512 * 1024;

const ACCEPTED: &str = "the logo must be a PNG, JPEG, WebP or GIF image (SVG is not accepted)";

/// The image types accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImageType {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl ImageType {
    fn mime(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Webp => "image/webp",
            ImageType::Gif => "image/gif",
        }
    }

    fn name(self) -> &'static str {
        match self {
            ImageType::Png => "PNG",
            ImageType::Jpeg => "JPEG",
            ImageType::Webp => "WebP",
            ImageType::Gif => "GIF",
        }
    }

    /// The type a `Content-Type` header declares (parameters ignored, case-insensitive).
    fn declared(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
        let essence = value.split(';').next()?.trim();
        [Self::Png, Self::Jpeg, Self::Webp, Self::Gif]
            .into_iter()
            .find(|t| t.mime().eq_ignore_ascii_case(essence))
    }

    /// The type the file's signature (its first bytes) says it is.
    fn sniffed(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            _ => None,
        }
    }
}

fn unsupported(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_image",
        message,
    )
}

/// The type of an upload: declared by `Content-Type` and confirmed by its bytes.
fn image_type(headers: &HeaderMap, bytes: &[u8]) -> Result<ImageType, ApiError> {
    let declared = ImageType::declared(headers).ok_or_else(|| {
        unsupported(format!(
            "{ACCEPTED}; send it with Content-Type image/png, image/jpeg, image/webp or image/gif"
        ))
    })?;
    match ImageType::sniffed(bytes) {
        Some(found) if found == declared => Ok(declared),
        Some(found) => Err(unsupported(format!(
            "the file is a {} image but was sent as {}; send it as {}",
            found.name(),
            declared.mime(),
            found.mime()
        ))),
        None => Err(unsupported(format!(
            "this file is not a {} image: {ACCEPTED}",
            declared.name()
        ))),
    }
}

/// `"<sha256>"`: the bytes' hash, so the validator changes exactly when the image does.
fn etag(sha256: &str) -> String {
    format!("\"{sha256}\"")
}

/// The logged-in user's logo.
#[utoipa::path(
    get,
    operation_id = "get_logo",
    path = "/api/me/logo",
    tag = "studio",
    params(("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy already held")),
    responses(
        (status = 200, description = "The image, with the type it was uploaded as and an `ETag`",
            content(("image/png"), ("image/jpeg"), ("image/webp"), ("image/gif"))),
        (status = 304, description = "Unchanged since the `ETag` given in If-None-Match"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No logo uploaded", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let logo = state
        .store
        .logo(&user.id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no logo uploaded"))?;
    let tag = etag(&logo.sha256);
    let validators = [
        (
            ETAG,
            HeaderValue::from_str(&tag).map_err(ApiError::internal)?,
        ),
        (CACHE_CONTROL, HeaderValue::from_static("private, no-cache")),
    ];
    if crate::conditional::not_modified(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, validators).into_response());
    }
    let content_type = HeaderValue::from_str(&logo.content_type).map_err(ApiError::internal)?;
    Ok((
        validators,
        [
            (CONTENT_TYPE, content_type),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        logo.bytes,
    )
        .into_response())
}

/// Uploads the logged-in user's logo, replacing the previous one. The body is the image file.
#[utoipa::path(
    put,
    operation_id = "put_logo",
    path = "/api/me/logo",
    tag = "studio",
    request_body(description = "The image file, at most 512 KiB",
        content(("image/png"), ("image/jpeg"), ("image/webp"), ("image/gif"))),
    responses(
        (status = 204, description = "Saved"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
        (status = 413, description = "Larger than 512 KiB", body = ErrorBody),
        (status = 415, description = "Not a PNG, JPEG, WebP or GIF image, or not the declared type", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn upload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let bytes = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "logo_too_large",
            format!(
                "the logo is larger than {} KiB; export it smaller (a few hundred pixels wide is plenty)",
                MAX_LOGO_BYTES / 1024
            ),
        ),
        status => ApiError::new(status, "invalid_body", e.body_text()),
    })?;
    let kind = image_type(&headers, &bytes)?;
    state
        .store
        .put_logo(&user.id, kind.mime(), &bytes, state.clock.now())
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the logged-in user's logo (also when there is none).
#[utoipa::path(
    delete,
    operation_id = "delete_logo",
    path = "/api/me/logo",
    tag = "studio",
    responses(
        (status = 204, description = "Removed, or there was none"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_logo(&user.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        h
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF";
    const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 ";
    const GIF: &[u8] = b"GIF89a\x01\0\x01\0";

    #[test]
    fn each_accepted_type_is_recognised_by_its_signature() {
        for (bytes, mime) in [
            (PNG, "image/png"),
            (JPEG, "image/jpeg"),
            (WEBP, "image/webp"),
            (GIF, "image/gif"),
            (&b"GIF87a\x01\0"[..], "image/gif"),
        ] {
            assert_eq!(image_type(&typed(mime), bytes).unwrap().mime(), mime);
        }
    }

    #[test]
    fn the_content_type_is_read_case_insensitively_without_its_parameters() {
        assert_eq!(
            image_type(&typed("Image/PNG; charset=binary"), PNG).unwrap(),
            ImageType::Png
        );
    }

    #[test]
    fn svg_and_undeclared_uploads_are_refused() {
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        for headers in [typed("image/svg+xml"), HeaderMap::new()] {
            let e = image_type(&headers, svg).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(
                e.message.contains("PNG, JPEG, WebP or GIF"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn bytes_of_another_type_than_declared_are_refused_with_the_type_found() {
        let e = image_type(&typed("image/png"), JPEG).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(e.message.contains("is a JPEG image"), "{}", e.message);
        // An SVG (or anything) labelled as PNG.
        let e = image_type(&typed("image/png"), b"<svg/>").unwrap_err();
        assert!(e.message.contains("not a PNG image"), "{}", e.message);
        // Truncated signatures and a RIFF file that is not WebP (WAV) are nothing.
        assert!(image_type(&typed("image/png"), &PNG[..7]).is_err());
        assert!(image_type(&typed("image/webp"), b"RIFF\x24\0\0\0WAVEfmt ").is_err());
        assert!(image_type(&typed("image/gif"), b"").is_err());
    }

    #[test]
    fn if_none_match_matches_the_tag_weakly_in_a_list_or_as_a_wildcard() {
        use crate::conditional::not_modified;
        use axum::http::header::IF_NONE_MATCH;
        let tag = etag("abc");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(not_modified(&with("\"abc\""), &tag));
        assert!(not_modified(&with("W/\"abc\""), &tag));
        assert!(not_modified(&with("\"x\", \"abc\""), &tag));
        assert!(not_modified(&with("*"), &tag));
        assert!(!not_modified(&with("\"abd\""), &tag));
        assert!(!not_modified(&with("abc"), &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }
}
