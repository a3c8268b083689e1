//! A broadcast: the destinations of one live stream and the ingest session feeding them.
//!
//! The broadcast outlives its ingest session: a publisher whose connection blips can start a new
//! WHIP session for the same broadcast, and the destinations stay connected. So the broadcast,
//! not the session, owns the destinations, the latest sequence headers and the timestamp base
//! that keeps the timeline monotonic across sessions.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use streamhard_media::flv::{Role, Tag, TagKind};
use streamhard_rtmp::url::RtmpUrl;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::destination::{Destination, DestinationSettings, DestinationStatus, Headers};
use crate::ids::{BroadcastId, DestinationId, SessionId};

/// The ingest session currently feeding a broadcast.
#[derive(Clone, Debug)]
pub(crate) struct IngestSlot {
    pub session: SessionId,
    pub cancel: CancellationToken,
    /// Reaches the session's task (WHIP PATCH).
    pub control: tokio::sync::mpsc::Sender<crate::ingest::Patch>,
}

/// What the API shows about the publisher's stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestInfo {
    pub video_codec: Option<&'static str>,
    pub audio_codec: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
    pub bitrate_bps: u64,
}

/// A snapshot of a broadcast for the API.
#[derive(Clone, Debug)]
pub struct BroadcastStatus {
    pub id: BroadcastId,
    pub live: bool,
    pub session: Option<SessionId>,
    pub ingest: IngestInfo,
    pub destinations: Vec<(DestinationId, DestinationStatus)>,
}

/// Keyframe requests from destinations to whichever session is feeding the broadcast.
#[derive(Debug, Default)]
pub(crate) struct KeyframeWanted {
    wanted: AtomicBool,
    notify: Notify,
}

impl KeyframeWanted {
    pub fn request(&self) {
        self.wanted.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Resolves when a keyframe has been requested since the last call.
    pub async fn wait(&self) {
        loop {
            if self.wanted.swap(false, Ordering::AcqRel) {
                return;
            }
            self.notify.notified().await;
        }
    }
}

pub struct Broadcast {
    pub id: BroadcastId,
    settings: DestinationSettings,
    headers: watch::Sender<Headers>,
    destinations: RwLock<Vec<(DestinationId, Destination)>>,
    pub(crate) keyframe: Arc<KeyframeWanted>,
    pub(crate) ingest: Mutex<Option<IngestSlot>>,
    ingest_info: Mutex<IngestInfo>,
    /// The last timestamp published, so a replacement session continues after it.
    last_timestamp: AtomicU32,
    stopped: CancellationToken,
}

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Broadcast {
    pub(crate) fn new(id: BroadcastId, settings: DestinationSettings) -> Arc<Self> {
        Arc::new(Self {
            id,
            settings,
            headers: watch::Sender::new(Headers::default()),
            destinations: RwLock::new(Vec::new()),
            keyframe: Arc::default(),
            ingest: Mutex::new(None),
            ingest_info: Mutex::new(IngestInfo::default()),
            last_timestamp: AtomicU32::new(0),
            stopped: CancellationToken::new(),
        })
    }

    /// Starts relaying to a new destination; it begins with the current headers and waits
    /// for a keyframe, which it requests.
    pub fn add_destination(&self, name: String, url: RtmpUrl) -> DestinationId {
        let id = DestinationId::random();
        let keyframe = Arc::clone(&self.keyframe);
        let destination = Destination::spawn(
            name,
            url,
            self.settings.clone(),
            self.headers.subscribe(),
            Arc::new(move || keyframe.request()),
        );
        write_lock(&self.destinations).push((id.clone(), destination));
        id
    }

    /// Stops one destination (unpublishes it cleanly). Returns false if it did not exist.
    pub async fn remove_destination(&self, id: &DestinationId) -> bool {
        let removed = {
            let mut list = write_lock(&self.destinations);
            list.iter()
                .position(|(d, _)| d == id)
                .map(|i| list.remove(i).1)
        };
        match removed {
            Some(destination) => {
                destination.stop().await;
                true
            }
            None => false,
        }
    }

    /// Hands one tag to every destination. Never blocks: each destination has its own queue.
    /// `received`: when the datagram that completed this video frame arrived, for the relay
    /// latency histogram.
    pub(crate) fn publish(&self, tag: Tag, received: Option<std::time::Instant>) {
        self.last_timestamp
            .fetch_max(tag.timestamp, Ordering::Relaxed);
        if tag.role == Role::Header {
            self.headers.send_modify(|h| match tag.kind {
                TagKind::Script => h.metadata = Some(tag.clone()),
                TagKind::Video => h.video = Some(tag.clone()),
                TagKind::Audio => h.audio = Some(tag.clone()),
            });
        }
        for (_, destination) in read_lock(&self.destinations).iter() {
            destination.push_received(&tag, received);
        }
    }

    /// Where a new ingest session's timeline starts: just after everything already sent, so
    /// destinations never see time go backwards when a publisher reconnects.
    pub(crate) fn timestamp_base(&self) -> u32 {
        match self.last_timestamp.load(Ordering::Relaxed) {
            0 => 0,
            last => last.saturating_add(1),
        }
    }

    pub(crate) fn set_ingest_info(&self, info: IngestInfo) {
        *lock(&self.ingest_info) = info;
    }

    /// Makes `slot` the broadcast's session, cancelling the one it replaces.
    pub(crate) fn replace_ingest(&self, slot: IngestSlot) {
        if let Some(old) = lock(&self.ingest).replace(slot) {
            old.cancel.cancel();
        }
    }

    /// Forgets `session` if it is still the current one (it ended by itself).
    pub(crate) fn clear_ingest(&self, session: &SessionId) {
        let mut slot = lock(&self.ingest);
        if slot.as_ref().is_some_and(|s| &s.session == session) {
            *slot = None;
            *lock(&self.ingest_info) = IngestInfo::default();
        }
    }

    /// The control channel of `session`, if it is the one feeding this broadcast.
    pub(crate) fn session_control(
        &self,
        session: &SessionId,
    ) -> Option<tokio::sync::mpsc::Sender<crate::ingest::Patch>> {
        lock(&self.ingest)
            .as_ref()
            .filter(|s| &s.session == session)
            .map(|s| s.control.clone())
    }

    /// Ends `session` if it feeds this broadcast. Returns whether it did.
    pub fn end_session(&self, session: &SessionId) -> bool {
        let slot = lock(&self.ingest);
        match slot.as_ref() {
            Some(s) if &s.session == session => {
                s.cancel.cancel();
                true
            }
            _ => false,
        }
    }

    pub fn status(&self) -> BroadcastStatus {
        let session = lock(&self.ingest).as_ref().map(|s| s.session.clone());
        BroadcastStatus {
            id: self.id.clone(),
            live: session.is_some(),
            session,
            ingest: lock(&self.ingest_info).clone(),
            destinations: read_lock(&self.destinations)
                .iter()
                .map(|(id, d)| (id.clone(), d.status()))
                .collect(),
        }
    }

    pub(crate) fn stopped(&self) -> &CancellationToken {
        &self.stopped
    }

    /// Ends the ingest session and unpublishes every destination.
    pub async fn stop(&self) {
        self.stopped.cancel();
        if let Some(slot) = lock(&self.ingest).take() {
            slot.cancel.cancel();
        }
        let destinations = std::mem::take(&mut *write_lock(&self.destinations));
        let stops = destinations.into_iter().map(|(_, d)| d.stop());
        futures_join_all(stops).await;
    }
}

/// Stops run concurrently so one slow destination does not delay the others' unpublish.
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for handle in handles {
        // A destination task that panicked has nothing left to stop.
        let _ = handle.await;
    }
}

// The locks below only guard plain data with no invariants spanning a panic, so a poisoned
// lock is still safe to use: recover the guard instead of propagating the panic.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read_lock<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
fn write_lock<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}
