//! Destinations: one task per RTMP/RTMPS server a broadcast goes to.
//!
//! The broadcast hands every tag to [`Destination::push`], which never blocks: the tag lands in
//! the destination's own bounded queue ([`queue`]). The destination's task ([`task`]) connects
//! ([`transport`]), publishes and streams with the sans-IO RTMP client ([`driver`]), sending the
//! current sequence headers first and media from the next keyframe. When the connection breaks
//! it reconnects with exponential backoff and jitter ([`backoff`]), and gives up after
//! `max_failures` consecutive failed attempts so a revoked key does not hammer a platform.
//! A slow or dead destination therefore never affects ingest or the other destinations.
//!
//! Stream keys stay inside [`RtmpUrl`]: status, errors and logs only ever see its redacted form.

mod address;
mod backoff;
mod driver;
mod queue;
mod task;
mod transport;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use streamhard_media::flv::Tag;
use streamhard_rtmp::url::RtmpUrl;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use address::is_public;
use queue::{Pushed, TagQueue};

/// How long [`Destination::stop`] waits for the task to unpublish before abandoning it.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The latest sequence headers of a broadcast, sent first on every (re)connect.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    pub metadata: Option<Tag>,
    pub video: Option<Tag>,
    pub audio: Option<Tag>,
}

#[derive(Clone, Debug)]
pub struct DestinationSettings {
    /// Most tags queued (400 is about 4 s of 30 fps video with its audio).
    pub queue_limit: usize,
    /// Most bytes queued.
    pub queue_bytes: usize,
    /// Consecutive failed attempts before giving up (state `Failed`).
    pub max_failures: u32,
    /// Delay before the first retry (jittered down to half); doubles per failure.
    pub backoff_initial: Duration,
    /// Longest delay between retries.
    pub backoff_max: Duration,
    /// For TCP + TLS + RTMP handshake + publish.
    pub connect_timeout: Duration,
    /// Pending output that makes no progress for this long means the server is gone.
    pub write_timeout: Duration,
    /// A connection that stayed live this long resets the failure count.
    pub healthy_after: Duration,
    /// Allow loopback/private addresses (checked on the resolved address before connecting).
    pub allow_private: bool,
}

impl Default for DestinationSettings {
    fn default() -> Self {
        Self {
            queue_limit: 400,
            queue_bytes: 8 << 20,
            max_failures: 8,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            healthy_after: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationState {
    /// The first attempt is under way.
    Connecting,
    /// Publishing: bytes reach the server.
    Live,
    /// Publishing, but no byte reached the server for a few seconds: nothing to send (the
    /// publisher is gone) or the server stopped reading.
    Stalled,
    /// An attempt failed; waiting to retry, or retrying.
    Retrying,
    /// Gave up: after `max_failures` consecutive failures, or at once when the server refused
    /// the stream (a wrong or revoked key) before it was ever live.
    Failed,
    /// Stopped on request.
    Stopped,
}

impl DestinationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Stalled => "stalled",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
        }
    }
}

/// A snapshot of a destination for the API and metrics.
#[derive(Clone, Debug)]
pub struct DestinationStatus {
    pub name: String,
    /// Scheme, host, port and app only.
    pub url_redacted: String,
    pub state: DestinationState,
    /// Bytes written to the server over all connections.
    pub bytes_sent: u64,
    /// Over the last second or so.
    pub bitrate_bps: u64,
    /// Attempts started after a failure.
    pub reconnects: u32,
    /// Why the last attempt or connection failed. Never contains the key or the full URL.
    pub last_error: Option<String>,
    /// Frames dropped because the destination fell behind.
    pub dropped_frames: u64,
    /// While retrying: how long until the next attempt.
    pub retry_in: Option<Duration>,
}

/// State shared between the handle and the task.
#[derive(Debug)]
struct Shared {
    name: String,
    url_redacted: String,
    queue: TagQueue,
    state: Mutex<(DestinationState, Option<String>)>,
    /// When the next attempt starts, while retrying (so a page can count down to it).
    retry_at: Mutex<Option<tokio::time::Instant>>,
    bytes_sent: AtomicU64,
    bitrate_bps: AtomicU64,
    reconnects: AtomicU32,
}

impl Shared {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, (DestinationState, Option<String>)> {
        // Plain data with no invariant a panicking holder could break.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_state(&self, state: DestinationState) {
        self.lock_state().0 = state;
    }

    fn set_retry_at(&self, at: Option<tokio::time::Instant>) {
        *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    fn retry_in(&self) -> Option<Duration> {
        let at = *self.retry_at.lock().unwrap_or_else(|e| e.into_inner());
        at.map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    fn set_error(&self, error: String) {
        self.lock_state().1 = Some(error);
    }

    fn add_bytes_sent(&self, n: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// The handle of one destination's task. Dropping it stops the task (unpublishing in the
/// background); [`Destination::stop`] does the same and waits for it.
pub struct Destination {
    shared: Arc<Shared>,
    request_keyframe: Arc<dyn Fn() + Send + Sync>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.shared.name)
            .field("url", &self.shared.url_redacted)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// Starts the destination's task: it connects at once and waits for media. Must be called
    /// within a tokio runtime.
    pub fn spawn(
        name: String,
        url: RtmpUrl,
        settings: DestinationSettings,
        headers: watch::Receiver<Headers>,
        request_keyframe: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let shared = Arc::new(Shared {
            name,
            url_redacted: url.redacted(),
            queue: TagQueue::new(settings.queue_limit, settings.queue_bytes),
            state: Mutex::new((DestinationState::Connecting, None)),
            retry_at: Mutex::new(None),
            bytes_sent: AtomicU64::new(0),
            bitrate_bps: AtomicU64::new(0),
            reconnects: AtomicU32::new(0),
        });
        let cancel = CancellationToken::new();
        let span = tracing::info_span!(
            "destination",
            name = %shared.name,
            url = %shared.url_redacted
        );
        let task = task::Task {
            url,
            settings,
            shared: Arc::clone(&shared),
            headers,
            request_keyframe: Arc::clone(&request_keyframe),
            cancel: cancel.clone(),
        };
        let task = tokio::spawn(tracing::Instrument::instrument(task.run(), span));
        Self {
            shared,
            request_keyframe,
            cancel,
            task: Some(task),
        }
    }

    /// Offers a tag. Never blocks or awaits: the tag is queued (its body is shared, not
    /// copied). A destination that is behind drops video up to the next keyframe and asks for
    /// one; while it is not publishing, media is discarded.
    pub fn push(&self, tag: &Tag) {
        self.push_received(tag, None);
    }

    /// [`Self::push`] for a video frame whose last datagram arrived at `received`: the time
    /// its tag is fully written to the socket is recorded in [`crate::latency::RELAY_LATENCY`].
    pub fn push_received(&self, tag: &Tag, received: Option<std::time::Instant>) {
        if self.shared.queue.push_received(tag, received) == Pushed::Overflowed {
            (self.request_keyframe)();
        }
    }

    pub fn status(&self) -> DestinationStatus {
        let (state, last_error) = self.shared.lock_state().clone();
        DestinationStatus {
            name: self.shared.name.clone(),
            url_redacted: self.shared.url_redacted.clone(),
            state,
            bytes_sent: self.shared.bytes_sent.load(Ordering::Relaxed),
            bitrate_bps: self.shared.bitrate_bps.load(Ordering::Relaxed),
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
            last_error,
            dropped_frames: self.shared.queue.dropped_frames(),
            retry_in: (state == DestinationState::Retrying)
                .then(|| self.shared.retry_in())
                .flatten(),
        }
    }

    /// Unpublishes (FCUnpublish, deleteStream) and closes, within a bounded time.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(STOP_TIMEOUT, &mut task).await.is_err()
        {
            task.abort();
        }
        self.shared.set_state(DestinationState::Stopped);
    }
}

impl Drop for Destination {
    fn drop(&mut self) {
        // Without this a forgotten handle would leave its task publishing forever.
        self.cancel.cancel();
    }
}
