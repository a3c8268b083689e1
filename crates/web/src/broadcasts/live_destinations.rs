//! Adding and removing destinations of a running broadcast. A new destination starts with
//! the current sequence headers and the next keyframe; the others are not disturbed.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use streamhard_relay::DestinationId;
use streamhard_store::Platform;

use super::view::{DestinationView, destination_view};
use super::{
    NewDestination, json_body, live_destinations_of, parse_id, too_many_destinations_of_user,
};
use crate::auth::{Access, authorize_broadcast};
use crate::destinations::validate;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

fn not_running() -> ApiError {
    ApiError::not_found("running broadcast")
}

/// Adds a destination to a running broadcast.
#[utoipa::path(
    post,
    path = "/api/broadcasts/{id}/destinations",
    tag = "broadcasts",
    params(("id" = String, Path, description = "The broadcast's id")),
    request_body = NewDestination,
    responses(
        (status = 201, body = DestinationView),
        (status = 400, description = "Invalid or private destination, or too many for one broadcast", body = ErrorBody),
        (status = 401, description = "Neither the owner's session nor the broadcast's token", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
        (status = 404, description = "No such running broadcast (or someone else's)", body = ErrorBody),
        (status = 409, description = "The user's limit of destinations is reached", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<NewDestination>, JsonRejection>,
) -> Result<(StatusCode, Json<DestinationView>), ApiError> {
    let id = parse_id(&id)?;
    let (access, record) = authorize_broadcast(&state, &headers, &id).await?;
    let body = json_body(body)?;
    let record = record
        .filter(|r| r.ended_at.is_none())
        .ok_or_else(not_running)?;
    let broadcast = state.relay.broadcast(&id).ok_or_else(not_running)?;
    let url = validate(
        &body.name,
        &body.url,
        state.config.allow_private_destinations,
    )
    .await?;
    let platform = Platform::from_host(url.host());

    let _guard = state.limits.lock().await;
    if broadcast.status().destinations.len() >= state.config.max_destinations {
        return Err(ApiError::bad_request(
            "too_many_destinations",
            format!(
                "a broadcast can have at most {} destinations",
                state.config.max_destinations
            ),
        ));
    }
    let owner = match access {
        Access::Owner(user) => Some(user),
        Access::Token => state
            .store
            .user(&record.owner)
            .await
            .map_err(ApiError::internal)?,
    };
    if let Some(owner) = owner
        && live_destinations_of(&state, &owner).await? >= state.config.max_destinations_per_user
    {
        return Err(too_many_destinations_of_user(
            state.config.max_destinations_per_user,
        ));
    }
    let destination = broadcast.add_destination(body.name.trim().to_owned(), url);
    state
        .store
        .add_broadcast_destinations(id.as_str(), &[platform])
        .await
        .map_err(ApiError::internal)?;
    let status = broadcast
        .status()
        .destinations
        .into_iter()
        .find(|(d, _)| *d == destination)
        .ok_or_else(not_running)?;
    Ok((
        StatusCode::CREATED,
        Json(destination_view(&status.0, status.1)),
    ))
}

/// Removes a destination from a running broadcast (it unpublishes cleanly).
#[utoipa::path(
    delete,
    path = "/api/broadcasts/{id}/destinations/{destination}",
    tag = "broadcasts",
    params(
        ("id" = String, Path, description = "The broadcast's id"),
        ("destination" = String, Path, description = "The destination's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Neither the owner's session nor the broadcast's token", body = ErrorBody),
        (status = 403, description = "Cross-origin request", body = ErrorBody),
        (status = 404, description = "No such destination or running broadcast", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, destination)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    authorize_broadcast(&state, &headers, &id).await?;
    let destination =
        DestinationId::parse(&destination).ok_or_else(|| ApiError::not_found("destination"))?;
    let broadcast = state.relay.broadcast(&id).ok_or_else(not_running)?;
    if broadcast.remove_destination(&destination).await {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("destination"))
    }
}
