//! WHIP ingest (RFC 9725): `POST` an SDP offer, get `201 Created` with the answer and the
//! session's `Location`; `DELETE` that location to stop publishing.
//!
//! Our server is ICE-lite and puts all its candidates in the answer. `PATCH` on the session
//! (`application/trickle-ice-sdpfrag`) takes trickled candidates (`If-Match: "etag"`, 204) and
//! ICE restarts (`If-Match: *`, 200 with our new credentials and candidates and a new `ETag`);
//! a restart keeps the broadcast and its destinations. No `Link` header: this server has no
//! STUN/TURN servers to offer.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use streamhard_relay::{
    BroadcastId, IfMatch, IngestError, OfferError, PatchError, PatchOutcome, SdpFrag, SessionId,
};
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::authorize_broadcast;
use crate::error::ApiError;
use crate::state::AppState;

/// `Retry-After` of a WHIP offer refused because the node carries its most sessions: long
/// enough for a session to end, short enough that a streamer waiting to go live barely notices.
const NODE_FULL_RETRY_SECONDS: u64 = 5;

pub fn routes() -> Router<AppState> {
    // Browsers on another origin may publish with a bearer token (no cookies are involved,
    // so a wildcard origin is safe here). OBS does not use CORS at all.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::DELETE, Method::PATCH, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([header::LOCATION, header::ETAG, header::LINK]);
    Router::new()
        .route("/{id}", post(offer).options(options))
        .route(
            "/{id}/sessions/{session}",
            axum::routing::delete(end).patch(patch).options(options),
        )
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_SDP_BYTES))
        .layer(cors)
        // Also on CORS preflight answers, which the CORS layer produces without our handler.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("accept-post"),
            HeaderValue::from_static("application/sdp"),
        ))
}

async fn options() -> impl IntoResponse {
    (
        StatusCode::NO_CONTENT,
        [
            (
                header::ALLOW,
                HeaderValue::from_static("OPTIONS, POST, DELETE, PATCH"),
            ),
            (
                header::HeaderName::from_static("accept-post"),
                HeaderValue::from_static("application/sdp"),
            ),
        ],
    )
}

fn broadcast_id(id: &str) -> Result<BroadcastId, ApiError> {
    // A malformed id cannot have a token: answer like a wrong token, not with a 404 that
    // would tell a prober which ids are well-formed.
    BroadcastId::parse(id)
        .ok_or_else(|| ApiError::unauthorized("the token is not valid for this broadcast"))
}

async fn offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let id = broadcast_id(&id)?;
    authorize_broadcast(&state, &headers, &id).await?;
    if state.draining() {
        return Err(ApiError::unavailable(
            std::time::Duration::from_secs(2),
            "shutting_down",
            "this server is shutting down and takes no new sessions; try again in a moment",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a WHIP offer must be sent with Content-Type: application/sdp",
        ));
    }
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "offer_too_large",
            format!(
                "the SDP offer is larger than {} bytes",
                crate::MAX_SDP_BYTES
            ),
        ),
        status => ApiError::new(status, "invalid_body", e.body_text()),
    })?;
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_sdp", "the SDP offer is not UTF-8"))?;
    let broadcast = state
        .relay
        .broadcast(&id)
        .ok_or_else(|| ApiError::unauthorized("the token is not valid for this broadcast"))?;
    let accepted = state
        .relay
        .accept_offer(&broadcast, sdp)
        .map_err(offer_error)?;
    let session = accepted.session;
    let answer = accepted.answer;
    let location = format!("/whip/{id}/sessions/{session}");
    let mut response = (StatusCode::CREATED, answer).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    h.insert(
        header::LOCATION,
        HeaderValue::try_from(location).map_err(ApiError::internal)?,
    );
    h.insert(
        header::ETAG,
        HeaderValue::try_from(accepted.etag).map_err(ApiError::internal)?,
    );
    Ok(response)
}

/// Malformed SDP is a 400; valid SDP that we cannot relay is a 422 (RFC 9110 "Unprocessable
/// Content") whose code is the reason and whose message says what to change.
fn offer_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Offer(e @ OfferError::Malformed(_)) => {
            ApiError::bad_request("invalid_sdp", e.to_string())
        }
        IngestError::Offer(e) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.reason(), e.to_string())
        }
        IngestError::Negotiation(e) => ApiError::bad_request(
            "invalid_offer",
            format!("the offer could not be negotiated: {e}"),
        ),
        // The operator's configuration, not the publisher's offer: say so (it is not secret).
        e @ IngestError::Candidate(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_candidates",
            e.to_string(),
        ),
        // Busy, not broken: the publisher retries later, or a load balancer sends it elsewhere.
        e @ IngestError::Full(_) => ApiError::unavailable(
            std::time::Duration::from_secs(NODE_FULL_RETRY_SECONDS),
            "node_full",
            e.to_string(),
        ),
    }
}

/// The broadcast and session a session URL names, once the caller is authorized for it.
async fn session_resource(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    session: &str,
) -> Result<(std::sync::Arc<streamhard_relay::Broadcast>, SessionId), ApiError> {
    let id = broadcast_id(id)?;
    authorize_broadcast(state, headers, &id).await?;
    let session = SessionId::parse(session).ok_or_else(|| ApiError::not_found("session"))?;
    let broadcast = state
        .relay
        .broadcast(&id)
        .ok_or_else(|| ApiError::not_found("session"))?;
    Ok((broadcast, session))
}

async fn end(
    State(state): State<AppState>,
    Path((id, session)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (broadcast, session) = session_resource(&state, &headers, &id, &session).await?;
    if broadcast.end_session(&session) {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::not_found("session"))
    }
}

/// Trickle ICE or ICE restart on a session (RFC 9725 §4.3).
async fn patch(
    State(state): State<AppState>,
    Path((id, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let (broadcast, session) = session_resource(&state, &headers, &id, &session).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !content_type.eq_ignore_ascii_case(SDPFRAG) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a WHIP PATCH must be sent with Content-Type: application/trickle-ice-sdpfrag",
        ));
    }
    let if_match = match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(v) if v.trim() == "*" => IfMatch::Any,
        Some(v) => IfMatch::Tag(v.trim().to_owned()),
        None => {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if_match_required",
                "send If-Match with the session's ETag (trickle ICE) or * (ICE restart)",
            ));
        }
    };
    let body = body.map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_sdpfrag", "the fragment is not UTF-8"))?;
    let frag = SdpFrag::parse(text).map_err(patch_error)?;
    match state
        .relay
        .patch_session(&broadcast, &session, if_match, frag)
        .await
        .map_err(patch_error)?
    {
        PatchOutcome::Trickled => Ok(StatusCode::NO_CONTENT.into_response()),
        PatchOutcome::Restarted { fragment, etag } => {
            let mut response = (StatusCode::OK, fragment).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(SDPFRAG));
            h.insert(
                header::ETAG,
                HeaderValue::try_from(etag).map_err(ApiError::internal)?,
            );
            Ok(response)
        }
    }
}

const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

fn patch_error(e: PatchError) -> ApiError {
    let (status, code) = match e {
        PatchError::Malformed(_) => (StatusCode::BAD_REQUEST, "invalid_sdpfrag"),
        PatchError::IncompleteRestart => (StatusCode::UNPROCESSABLE_ENTITY, "incomplete_restart"),
        PatchError::RestartWithoutWildcard => (
            StatusCode::PRECONDITION_REQUIRED,
            "restart_needs_if_match_any",
        ),
        PatchError::Stale => (StatusCode::PRECONDITION_FAILED, "stale_etag"),
        PatchError::Gone => return ApiError::not_found("session"),
    };
    ApiError::new(status, code, e.to_string())
}
