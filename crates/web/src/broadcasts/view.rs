//! What the API shows of a broadcast: its history record joined with its live state on this
//! node. Destination URLs appear only redacted (scheme, host, port, application).

use serde::Serialize;
use streamhard_relay::{Broadcast, BroadcastStatus, DestinationId, DestinationStatus};
use streamhard_store::{BroadcastRecord, Timestamp};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct BroadcastView {
    pub id: String,
    /// `waiting` (no media yet, or the publisher ended its session), `live` (media is
    /// arriving), `reconnecting` (the publisher vanished: the destinations get a still picture
    /// and silence until it comes back) or `ended`.
    #[schema(value_type = String, example = "live")]
    pub state: &'static str,
    /// While `reconnecting`, or `waiting` after the publisher left: milliseconds until the
    /// broadcast ends unless a publisher comes back.
    pub ends_in_ms: Option<u64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; null while the broadcast runs.
    pub ended_at: Option<i64>,
    /// How long it ran, or has been running.
    pub duration_seconds: u64,
    /// Destinations it had in all, including those added and removed while it ran.
    pub destination_count: u64,
    /// Platforms among them: `twitch`, `youtube`, `facebook`, `kick`, `linkedin`, `custom`.
    #[schema(value_type = Vec<String>)]
    pub platforms: Vec<&'static str>,
    /// What the publisher sends; null unless live.
    pub ingest: Option<IngestView>,
    /// The destinations now; empty once ended.
    pub destinations: Vec<DestinationView>,
}

#[derive(Serialize, ToSchema)]
pub struct IngestView {
    #[schema(value_type = Option<String>, example = "h264")]
    pub video_codec: Option<&'static str>,
    #[schema(value_type = Option<String>, example = "opus")]
    pub audio_codec: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    pub bitrate_bps: u64,
}

#[derive(Serialize, ToSchema)]
pub struct DestinationView {
    pub id: String,
    pub name: String,
    /// Redacted: scheme, host, port and application only, never the stream key.
    #[schema(example = "rtmp://live.twitch.tv/app")]
    pub url: String,
    /// `connecting`, `live` (bytes are flowing), `stalled` (connected, but nothing could be
    /// sent for 5 s), `retrying`, `failed` or `stopped`.
    #[schema(value_type = String, example = "live")]
    pub state: &'static str,
    pub bytes_sent: u64,
    pub bitrate_bps: u64,
    pub reconnects: u64,
    pub dropped_frames: u64,
    /// Why the last attempt failed; never contains the key.
    pub last_error: Option<String>,
    /// While `retrying`: milliseconds until the next attempt.
    pub retry_in_ms: Option<u64>,
}

pub fn destination_view(id: &DestinationId, d: DestinationStatus) -> DestinationView {
    DestinationView {
        id: id.to_string(),
        name: d.name,
        url: d.url_redacted,
        state: d.state.as_str(),
        bytes_sent: d.bytes_sent,
        bitrate_bps: d.bitrate_bps,
        reconnects: u64::from(d.reconnects),
        dropped_frames: d.dropped_frames,
        last_error: d.last_error,
        retry_in_ms: d
            .retry_in
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

fn ingest_view(status: &BroadcastStatus) -> Option<IngestView> {
    status.live.then_some(IngestView {
        video_codec: status.ingest.video_codec,
        audio_codec: status.ingest.audio_codec,
        width: status.ingest.width,
        height: status.ingest.height,
        fps: status.ingest.fps,
        bitrate_bps: status.ingest.bitrate_bps,
    })
}

/// The view of a broadcast: `live` is its in-memory state when this node holds it.
pub fn view(record: &BroadcastRecord, live: Option<&Broadcast>, now: Timestamp) -> BroadcastView {
    let status = live
        .filter(|_| record.ended_at.is_none())
        .map(Broadcast::status);
    let state = match (&status, record.ended_at) {
        (_, Some(_)) => "ended",
        (Some(s), None) => s.state.as_str(),
        (None, None) => "waiting",
    };
    BroadcastView {
        id: record.id.clone(),
        state,
        ends_in_ms: status
            .as_ref()
            .and_then(|s| s.ends_in)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        created_at: record.created_at.unix_seconds(),
        ended_at: record.ended_at.map(Timestamp::unix_seconds),
        duration_seconds: record
            .ended_at
            .unwrap_or(now)
            .since(record.created_at)
            .as_secs(),
        destination_count: record.destination_count,
        platforms: record.platforms.iter().map(|p| p.as_str()).collect(),
        ingest: status.as_ref().and_then(ingest_view),
        destinations: status
            .map(|s| {
                s.destinations
                    .into_iter()
                    .map(|(id, d)| destination_view(&id, d))
                    .collect()
            })
            .unwrap_or_default(),
    }
}
