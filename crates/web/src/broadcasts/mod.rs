//! `/api/broadcasts`: a logged-in user creates broadcasts with their destinations, lists
//! them (live ones with their state, then history), inspects, changes and stops them.
//!
//! Each broadcast belongs to the user who created it; anyone else gets 404 for it. Its bearer
//! token (handed out once, at creation; only its hash is stored) also opens it, so OBS and
//! scripts can use the WHIP endpoint and these endpoints without a login.

mod events;
mod live_destinations;
mod stream_slots;
mod view;

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header::HOST};
use serde::{Deserialize, Serialize};
use streamhard_relay::BroadcastId;
use streamhard_store::{NewBroadcast, Platform, SecretToken, User};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{CurrentUser, authorize_broadcast};
use crate::destinations::validate;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub(crate) use stream_slots::StreamSlots;
pub use view::BroadcastView;

/// Most history entries `GET /api/broadcasts` returns.
const HISTORY_LIMIT: u32 = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, stop))
        .routes(routes!(events::events))
        .routes(routes!(live_destinations::add))
        .routes(routes!(live_destinations::remove))
        .layer(axum::extract::DefaultBodyLimit::max(crate::MAX_JSON_BYTES))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBroadcast {
    pub destinations: Vec<NewDestination>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDestination {
    /// Shown in the UI, 1 to 100 characters.
    #[schema(example = "Twitch")]
    pub name: String,
    /// `rtmp://` or `rtmps://` with the stream key. Kept in memory only, never shown again.
    #[schema(example = "rtmp://live.twitch.tv/app/live_123_abc")]
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    /// Where to `POST` the WHIP offer (OBS: "Server").
    pub whip_url: String,
    /// The broadcast's bearer token (OBS: "Bearer Token"). Shown only here, only once.
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct BroadcastList {
    /// Newest first: broadcasts running now, then history.
    pub broadcasts: Vec<BroadcastView>,
}

pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t)
        .map_err(|e| ApiError::new(e.status(), "invalid_body", e.body_text()))
}

pub(crate) fn parse_id(id: &str) -> Result<BroadcastId, ApiError> {
    BroadcastId::parse(id).ok_or_else(|| ApiError::not_found("broadcast"))
}

/// Destinations currently running in `user`'s broadcasts on this node.
pub(crate) async fn live_destinations_of(state: &AppState, user: &User) -> Result<usize, ApiError> {
    let records = state
        .store
        .broadcasts_of(&user.id, HISTORY_LIMIT)
        .await
        .map_err(ApiError::internal)?;
    Ok(records
        .iter()
        .filter(|r| r.ended_at.is_none())
        .filter_map(|r| BroadcastId::parse(&r.id).and_then(|id| state.relay.broadcast(&id)))
        .map(|b| b.status().destinations.len())
        .sum())
}

pub(crate) fn too_many_destinations_of_user(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "destination_limit",
        format!(
            "your broadcasts can have at most {limit} destinations running at once; remove one first"
        ),
    )
}

/// Starts a broadcast to the given destinations; it goes live when a publisher connects.
#[utoipa::path(
    post,
    path = "/api/broadcasts",
    tag = "broadcasts",
    request_body = CreateBroadcast,
    responses(
        (status = 201, body = Created),
        (status = 400, description = "No destinations, too many, or one is invalid or private", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
        (status = 409, description = "The user's limit of broadcasts or destinations is reached", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    body: Result<Json<CreateBroadcast>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let body = json_body(body)?;
    let config = &state.config;
    if body.destinations.is_empty() {
        return Err(ApiError::bad_request(
            "no_destinations",
            "add at least one destination",
        ));
    }
    if body.destinations.len() > config.max_destinations {
        return Err(ApiError::bad_request(
            "too_many_destinations",
            format!(
                "a broadcast can have at most {} destinations",
                config.max_destinations
            ),
        ));
    }
    let mut destinations = Vec::with_capacity(body.destinations.len());
    let mut platforms = Vec::with_capacity(body.destinations.len());
    for d in body.destinations {
        let url = validate(&d.name, &d.url, config.allow_private_destinations).await?;
        platforms.push(Platform::from_host(url.host()));
        destinations.push((d.name.trim().to_owned(), url));
    }

    // Checking the limits and recording the broadcast happen under one lock, so two
    // simultaneous requests cannot both take the last slot.
    let _guard = state.limits.lock().await;
    let open = state
        .store
        .open_broadcast_count(&user.id)
        .await
        .map_err(ApiError::internal)?;
    if open >= config.max_broadcasts_per_user as u64 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "broadcast_limit",
            format!(
                "you can run at most {} broadcasts at once; stop one first",
                config.max_broadcasts_per_user
            ),
        ));
    }
    if live_destinations_of(&state, &user).await? + destinations.len()
        > config.max_destinations_per_user
    {
        return Err(too_many_destinations_of_user(
            config.max_destinations_per_user,
        ));
    }
    let broadcast = state.relay.create_broadcast(destinations);
    let token = SecretToken::generate();
    let recorded = state
        .store
        .record_broadcast(&NewBroadcast {
            id: broadcast.id.as_str(),
            owner: &user.id,
            node: &config.node,
            token: &token.hash(),
            created_at: state.clock.now(),
            destinations: &platforms,
        })
        .await;
    if let Err(e) = recorded {
        state.relay.stop_broadcast(&broadcast.id).await;
        return Err(ApiError::internal(e));
    }
    tracing::info!(broadcast = %broadcast.id, destinations = platforms.len(), "broadcast created");
    tokio::spawn(end_when_abandoned(state.clone(), Arc::clone(&broadcast)));

    let base = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8080");
            // A Secure cookie means browsers reach us over HTTPS (our own TLS or a TLS proxy).
            let scheme = if config.cookie_secure {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: broadcast.id.to_string(),
            whip_url: format!("{base}/whip/{}", broadcast.id),
            token: token.expose().to_owned(),
        }),
    ))
}

/// The user's broadcasts, newest first (at most 100): running ones with their live state,
/// ended ones as history.
#[utoipa::path(
    get,
    path = "/api/broadcasts",
    tag = "broadcasts",
    responses(
        (status = 200, body = BroadcastList),
        (status = 401, description = "Not logged in", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<BroadcastList>, ApiError> {
    let records = state
        .store
        .broadcasts_of(&user.id, HISTORY_LIMIT)
        .await
        .map_err(ApiError::internal)?;
    let now = state.clock.now();
    let broadcasts = records
        .iter()
        .map(|r| {
            let live = BroadcastId::parse(&r.id).and_then(|id| state.relay.broadcast(&id));
            view::view(r, live.as_deref(), now)
        })
        .collect();
    Ok(Json(BroadcastList { broadcasts }))
}

/// One broadcast: state, ingest (codecs, size, fps, bitrate) and every destination's state,
/// bytes, bitrate, reconnects and last error, with URLs redacted.
#[utoipa::path(
    get,
    path = "/api/broadcasts/{id}",
    tag = "broadcasts",
    params(("id" = String, Path, description = "The broadcast's id")),
    responses(
        (status = 200, body = BroadcastView),
        (status = 401, description = "Neither the owner's session nor the broadcast's token", body = ErrorBody),
        (status = 404, description = "No such broadcast (or someone else's)", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<BroadcastView>, ApiError> {
    let id = parse_id(&id)?;
    let (_, record) = authorize_broadcast(&state, &headers, &id).await?;
    let record = record.ok_or_else(|| ApiError::not_found("broadcast"))?;
    let live = state.relay.broadcast(&id);
    Ok(Json(view::view(
        &record,
        live.as_deref(),
        state.clock.now(),
    )))
}

/// Ends a broadcast whose publisher did not come back within the grace period, as a DELETE
/// would: the destinations unpublish cleanly and the history records its end, so the user's
/// broadcast slot is free again. Returns when the broadcast ends either way.
async fn end_when_abandoned(state: AppState, broadcast: Arc<streamhard_relay::Broadcast>) {
    tokio::select! {
        _ = broadcast.abandoned() => {}
        _ = broadcast.finished() => return,
    }
    state.relay.stop_broadcast(&broadcast.id).await;
    match state
        .store
        .end_broadcast(broadcast.id.as_str(), state.clock.now())
        .await
    {
        Ok(_) => {
            tracing::info!(broadcast = %broadcast.id, "broadcast ended: its publisher did not come back")
        }
        Err(e) => {
            tracing::warn!(broadcast = %broadcast.id, error = %e, "could not record the end of an abandoned broadcast")
        }
    }
}

/// Stops the broadcast: ends the publisher's session and unpublishes every destination.
/// Stopping one that already ended succeeds too.
#[utoipa::path(
    delete,
    path = "/api/broadcasts/{id}",
    tag = "broadcasts",
    params(("id" = String, Path, description = "The broadcast's id")),
    responses(
        (status = 204, description = "Stopped"),
        (status = 401, description = "Neither the owner's session nor the broadcast's token", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
        (status = 404, description = "No such broadcast (or someone else's)", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn stop(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    authorize_broadcast(&state, &headers, &id).await?;
    state.relay.stop_broadcast(&id).await;
    if state
        .store
        .end_broadcast(id.as_str(), state.clock.now())
        .await
        .map_err(ApiError::internal)?
    {
        tracing::info!(broadcast = %id, "broadcast stopped");
    }
    Ok(StatusCode::NO_CONTENT)
}
