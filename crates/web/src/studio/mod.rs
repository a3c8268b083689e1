//! The studio: the web page a streamer goes live from, served by the same binary.
//!
//! The front end is plain ES modules under `crates/web/studio/` with no build step, embedded in
//! the binary at compile time so `streamhard serve` needs nothing beside it. `--studio-dir`
//! serves the same files from disk instead, for editing the page without rebuilding.
//!
//! The pages are one document (`index.html`) that routes on the path, so each page's URL
//! answers with it; everything else lives under `/studio/`.

mod assets;
mod headers;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use assets::Assets;

use crate::error::ApiError;
use crate::state::AppState;

/// The paths the page's router knows; each answers with `index.html`.
pub const PAGES: [&str; 4] = ["/", "/login", "/signup", "/history"];

pub fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/studio/{*path}", get(asset));
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router
}

async fn index(State(state): State<AppState>, method: Method, headers: HeaderMap) -> Response {
    serve(&state.assets, "index.html", &method, &headers)
}

async fn asset(
    State(state): State<AppState>,
    Path(path): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    // `index.html` is only ever served under the page paths, so that it is never cached under
    // a second name.
    if path == "index.html" {
        return not_found();
    }
    serve(&state.assets, &path, &method, &headers)
}

fn serve(assets: &Assets, path: &str, method: &Method, request: &HeaderMap) -> Response {
    let Some(file) = assets.get(path) else {
        return not_found();
    };
    let mut headers = headers::for_file(&file);
    if crate::conditional::not_modified(request, &file.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_LENGTH, file.bytes.len().into());
    if method == Method::HEAD {
        return (StatusCode::OK, headers).into_response();
    }
    (StatusCode::OK, headers, file.bytes).into_response()
}

fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_file",
        "no such file in the studio",
    )
    .into_response()
}
