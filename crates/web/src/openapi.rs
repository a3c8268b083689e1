//! `/api/openapi.json`: the API described by the code.
//!
//! Every `/api` route is registered through `utoipa_axum`'s `routes!`, which takes its path
//! and method from the handler's `#[utoipa::path]`: an `/api` route cannot exist without its
//! description. WHIP, health and metrics are plain axum routes described below; the tests
//! check that every described operation is routed, and that `openapi.json` in this crate (the
//! committed copy for readers and client generators) matches what the code generates.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stream-Hard",
        description = "Go live from a web browser to every streaming platform at once. Stream keys are kept in \
                       memory for the life of a broadcast only: no response, log or database row contains them. \
                       State-changing requests authenticated by the session cookie must come from this site \
                       (same-origin `Origin` or `Sec-Fetch-Site: same-origin`); requests with a bearer token \
                       are exempt."
    ),
    paths(whip_offer, whip_end, whip_patch, whip_options, healthz, readyz, metrics),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "accounts", description = "Signup, login (session cookie), logout"),
        (name = "broadcasts", description = "Broadcasts of the logged-in user and their destinations"),
        (name = "studio", description = "The studio's overlay settings and logo, saved per user"),
        (name = "whip", description = "WebRTC-HTTP ingestion (RFC 9725)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::accounts::cookie::SESSION_COOKIE,
                "Set by POST /api/auth/login; HttpOnly, SameSite=Lax",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The broadcast's token from POST /api/broadcasts"))
                    .build(),
            ),
        );
    }
}

/// The whole description: `/api` routes from the router, the rest from `ApiDoc`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    crate::api_router().into_openapi()
}

/// The description as served and committed: pretty JSON with a final newline.
pub fn openapi_json_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = openapi().to_pretty_json().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot render the OpenAPI description");
            String::from("{}")
        });
        text.push('\n');
        text
    })
}

/// This description.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 description", content_type = "application/json"))
)]
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], openapi_json_text())
}

// Descriptions of the routes that are not under `/api`. Their handlers live in `whip.rs`,
// `health.rs` and `metrics.rs`; these functions exist only to carry the attributes.

/// Publishes: an SDP offer in, the SDP answer out. A new offer for the same broadcast replaces
/// its session while the destinations stay connected.
#[utoipa::path(
    post,
    path = "/whip/{id}",
    tag = "whip",
    params(("id" = String, Path, description = "The broadcast's id")),
    request_body(content = String, content_type = "application/sdp", description = "SDP offer (H.264 + Opus)"),
    responses(
        (status = 201, description = "SDP answer; `Location` names the session, `ETag` identifies it",
            content_type = "application/sdp", body = String),
        (status = 400, description = "The offer cannot be parsed or negotiated", body = ErrorBody),
        (status = 401, description = "Neither the broadcast's token nor its owner's session", body = ErrorBody),
        (status = 403, description = "Cross-origin request authenticated by the session cookie", body = ErrorBody),
        (status = 413, description = "The offer is too large", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/sdp", body = ErrorBody),
    ),
    security(("bearer" = []), ("session" = []))
)]
#[allow(dead_code)] // Documentation only; see above.
fn whip_offer() {}

/// Ends the publishing session.
#[utoipa::path(
    delete,
    path = "/whip/{id}/sessions/{session}",
    tag = "whip",
    params(
        ("id" = String, Path, description = "The broadcast's id"),
        ("session" = String, Path, description = "The session id from `Location`"),
    ),
    responses(
        (status = 200, description = "Session ended"),
        (status = 401, description = "Neither the broadcast's token nor its owner's session", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
    ),
    security(("bearer" = []), ("session" = []))
)]
#[allow(dead_code)] // Documentation only; see above.
fn whip_end() {}

/// Trickle ICE and ICE restarts are not supported (the server is ICE-lite): always 405.
#[utoipa::path(
    patch,
    path = "/whip/{id}/sessions/{session}",
    tag = "whip",
    params(
        ("id" = String, Path, description = "The broadcast's id"),
        ("session" = String, Path, description = "The session id from `Location`"),
    ),
    responses((status = 405, description = "Not supported; start a new session instead"))
)]
#[allow(dead_code)] // Documentation only; see above.
fn whip_patch() {}

/// CORS preflight and capability discovery (`Accept-Post: application/sdp`).
#[utoipa::path(
    options,
    path = "/whip/{id}",
    tag = "whip",
    params(("id" = String, Path, description = "The broadcast's id")),
    responses((status = 204, description = "Allowed methods and `Accept-Post`"))
)]
#[allow(dead_code)] // Documentation only; see above.
fn whip_options() {}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = String)))]
#[allow(dead_code)] // Documentation only; see above.
fn healthz() {}

/// Readiness: the server can take requests (its database answers).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, body = String),
        (status = 503, description = "The database does not answer", body = String)
    )
)]
#[allow(dead_code)] // Documentation only; see above.
fn readyz() {}

/// Prometheus metrics (OpenMetrics text). Labels never carry ids, URLs or keys.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, content_type = "application/openmetrics-text", body = String))
)]
#[allow(dead_code)] // Documentation only; see above.
fn metrics() {}
