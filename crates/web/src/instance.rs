//! `GET /api/instance`: what a page needs to know about this server before anyone logs in.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Instance {
    /// Whether `POST /api/auth/signup` creates accounts; the sign-up page says so when not.
    pub signup_enabled: bool,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// Public facts about this server (no login needed).
#[utoipa::path(
    get,
    path = "/api/instance",
    tag = "accounts",
    responses((status = 200, body = Instance))
)]
pub async fn instance(State(state): State<AppState>) -> Json<Instance> {
    Json(Instance {
        signup_enabled: state.config.signup_enabled,
        version: env!("CARGO_PKG_VERSION"),
    })
}
