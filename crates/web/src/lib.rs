//! The HTTP layer: accounts, the broadcasts API, WHIP ingest (RFC 9725), health and metrics,
//! and the OpenAPI description of all of it.
//!
//! `app(state)` builds the whole router so tests drive it in-process with
//! `tower::ServiceExt::oneshot`, without a socket.

mod accounts;
mod auth;
mod broadcasts;
mod client;
mod clock;
mod conditional;
mod csrf;
mod destinations;
mod error;
mod health;
mod instance;
mod metrics;
mod openapi;
mod state;
mod studio;
mod studio_settings;
mod uplink;
mod whip;

use axum::Router;
use axum::http::StatusCode;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use clock::Clock;
pub use error::ApiError;
pub use openapi::{openapi, openapi_json_text};
pub use state::{AppState, WebConfig};

/// Not an API: the JSON request bodies and their validation, reachable from outside the crate
/// only so that the fuzz targets (`fuzz/fuzz_targets/web_json.rs`) can drive them without a
/// server, a store or a password hash per input. The modules stay private.
#[doc(hidden)]
pub mod fuzz_support {
    pub use crate::accounts::{LoginRequest, SignupRequest};
    pub use crate::broadcasts::{CreateBroadcast, NewDestination};
    pub use crate::destinations::validate as validate_destination;
    pub use crate::studio_settings::{MAX_SETTINGS_BYTES, canonical_settings};
}

/// Largest SDP offer accepted. Browser offers are 3–8 KiB; 64 KiB leaves room for many codecs.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Largest JSON body accepted by the API.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Everything under `/api`, each route registered together with its OpenAPI description.
pub(crate) fn api_router() -> OpenApiRouter<state::AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(accounts::signup))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(instance::instance))
        .routes(routes!(uplink::probe))
        .routes(routes!(openapi::serve))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
        .merge(broadcasts::routes())
        .merge(studio_settings::routes())
}

pub fn app(state: AppState) -> Router {
    let (api, _) = api_router().split_for_parts();
    Router::new()
        .merge(health::routes())
        .merge(studio::routes())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .merge(api)
        .nest("/whip", whip::routes())
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "no such endpoint; the API is described at /api/openapi.json",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::refuse_cross_origin,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The matched route, never the raw path: paths carry ids, and nothing here may
                // ever log a query string.
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "unmatched".to_owned());
                tracing::info_span!("http", method = %req.method(), route)
            }),
        )
        .with_state(state)
}
