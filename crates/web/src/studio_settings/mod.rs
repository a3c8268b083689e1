//! `/api/me/studio` and `/api/me/logo`: the studio's overlay settings and logo, saved per user
//! so they follow the streamer from one browser to the next.
//!
//! Neither is a secret (both are drawn on the stream), but both are the user's own: only the
//! logged-in owner reads or changes them. The studio keeps destination URLs and stream keys out
//! of the settings document; the server cannot tell them apart from other text, so it bounds
//! the document instead (size, depth, string length) and never logs it.

mod document;
mod logo;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub use document::MAX_SETTINGS_BYTES;
/// For the fuzz target (`crate::fuzz_support`): the check and re-serialisation of a document.
pub use document::canonical as canonical_settings;
use logo::MAX_LOGO_BYTES;

/// Each route with the body limit of what it accepts: 16 KiB of JSON, 512 KiB of image.
pub fn routes() -> OpenApiRouter<AppState> {
    let settings = OpenApiRouter::new()
        .routes(routes!(document::show, document::save))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_SETTINGS_BYTES));
    let logo = OpenApiRouter::new()
        .routes(routes!(logo::show, logo::upload, logo::remove))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_LOGO_BYTES));
    settings.merge(logo)
}
