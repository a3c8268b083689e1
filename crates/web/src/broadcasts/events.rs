//! `GET /api/broadcasts/{id}/events`: the broadcast's view as Server-Sent Events.
//!
//! The relay keeps its counters in memory and has no change feed, so the stream samples it:
//! every half second it renders the view, and sends it when it differs from the last one sent
//! or 2 s have passed. When the broadcast ends the final view is sent and the stream closes.
//!
//! Streams are limited per user and per node ([`super::stream_slots`]); the slot lives in
//! the stream's state, so it is freed when the stream ends for any reason.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use streamhard_relay::BroadcastId;
use streamhard_store::BroadcastRecord;
use tokio::time::Instant;

use super::parse_id;
use super::stream_slots::{Refused, StreamSlot};
use super::view::view;
use crate::auth::authorize_broadcast;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// A view is sent at least this often even when nothing changed, so clients can show
/// liveness without their own timers.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// `Retry-After` of a refused stream: about when a closed tab's stream has been noticed.
const RETRY_AFTER: Duration = Duration::from_secs(5);

struct Sampler {
    state: AppState,
    id: BroadcastId,
    record: BroadcastRecord,
    last: Option<(String, Instant)>,
    finished: bool,
    /// Held for as long as the stream exists; never read.
    _slot: StreamSlot,
}

impl Sampler {
    /// The next event to send, waiting as long as nothing is due.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if self.finished {
            return None;
        }
        loop {
            if self.state.draining() {
                // The server is going away: say so, so a page knows to reconnect elsewhere
                // rather than read the closed stream as the broadcast's end.
                self.finished = true;
                let event = Event::default()
                    .event("shutdown")
                    .data(r#"{"reason":"the server is shutting down"}"#);
                return Some((Ok(event), self));
            }
            let live = self.state.relay.broadcast(&self.id);
            if live.is_none() && self.record.ended_at.is_none() {
                // Gone from the relay: pick up its end (or a restart's) from the history.
                if let Ok(Some(record)) = self.state.store.broadcast(self.id.as_str()).await {
                    self.record = record;
                }
            }
            let current = view(&self.record, live.as_deref(), self.state.clock.now());
            let ended = current.state == "ended" || live.is_none();
            // Serializing a struct of strings and numbers cannot fail; an empty event would
            // only be a skipped update.
            let json = serde_json::to_string(&current).unwrap_or_default();
            let due = match &self.last {
                None => true,
                Some((previous, at)) => *previous != json || at.elapsed() >= HEARTBEAT || ended,
            };
            if due {
                self.finished = ended;
                let event = Event::default().data(&json);
                self.last = Some((json, Instant::now()));
                return Some((Ok(event), self));
            }
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
    }
}

/// The broadcast's view (as `GET /api/broadcasts/{id}`) on every change and at least every
/// 2 s; the stream ends after the broadcast does, or with an `event: shutdown` when the
/// server shuts down.
#[utoipa::path(
    get,
    path = "/api/broadcasts/{id}/events",
    tag = "broadcasts",
    params(("id" = String, Path, description = "The broadcast's id")),
    responses(
        (status = 200, description = "Server-Sent Events; each `data:` is a BroadcastView as JSON",
            content_type = "text/event-stream", body = super::BroadcastView),
        (status = 401, description = "Neither the owner's session nor the broadcast's token", body = ErrorBody),
        (status = 404, description = "No such broadcast (or someone else's)", body = ErrorBody),
        (status = 429, description = "The user has --max-event-streams-per-user streams open (`event_stream_limit`); see Retry-After", body = ErrorBody),
        (status = 503, description = "The node has --max-event-streams streams open (`event_streams_full`); see Retry-After", body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = parse_id(&id)?;
    let (_, record) = authorize_broadcast(&state, &headers, &id).await?;
    let record = record.ok_or_else(|| ApiError::not_found("broadcast"))?;
    let slot = state.event_streams.take(&record.owner).map_err(refused)?;
    let sampler = Sampler {
        state,
        id,
        record,
        last: None,
        finished: false,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(sampler, Sampler::next);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn refused(why: Refused) -> ApiError {
    let error = match why {
        Refused::User(limit) => ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "event_stream_limit",
            format!(
                "your broadcasts have {limit} event streams open, the most allowed at once; \
                 close one (another tab?) and try again"
            ),
        ),
        Refused::Node(limit) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "event_streams_full",
            format!("this server has {limit} event streams open, its limit; try again shortly"),
        ),
    };
    ApiError {
        retry_after: Some(RETRY_AFTER),
        ..error
    }
}
