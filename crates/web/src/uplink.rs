//! `POST /api/uplink-probe`: the studio's preflight times an upload to this server to
//! estimate the streamer's uplink, the path the stream will take. The body is read and thrown
//! away; nothing is kept.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures_util::StreamExt;

use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};

/// The studio sends 1 MiB; anything much larger is not a probe.
pub const MAX_PROBE_BYTES: usize = 2 * 1024 * 1024;

/// Reads and discards up to 2 MiB, so the browser can time the upload.
#[utoipa::path(
    post,
    path = "/api/uplink-probe",
    tag = "accounts",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "Any bytes, at most 2 MiB"),
    responses(
        (status = 204, description = "Received (and discarded)"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 413, description = "More than 2 MiB", body = ErrorBody),
    )
)]
pub async fn probe(_user: CurrentUser, body: Body) -> Result<impl IntoResponse, ApiError> {
    let mut stream = body.into_data_stream();
    let mut received = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("invalid_body", "the upload was cut off before its end")
        })?;
        received += chunk.len();
        if received > MAX_PROBE_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "an uplink probe is at most 2 MiB",
            ));
        }
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "no-store")],
    ))
}
