//! A broadcast: the destinations of one live stream and the ingest session feeding them.
//!
//! The broadcast outlives its ingest session: a publisher whose connection blips can start a new
//! WHIP session for the same broadcast (or restart ICE on its session), and the destinations
//! stay connected. So the broadcast, not the session, owns the destinations, the latest
//! sequence headers and the timeline that keeps time moving forward across sessions
//! ([`timeline`]). While the publisher is away it keeps every destination fed ([`standby`]),
//! and when the publisher does not come back it ends ([`presence`], driven by [`watchdog`]).

mod presence;
mod standby;
mod timeline;
mod watchdog;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use streamhard_media::flv::{Role, Tag, TagKind};
use streamhard_rtmp::url::RtmpUrl;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::destination::{Destination, DestinationSettings, DestinationStatus, Headers};
use crate::ids::{BroadcastId, DestinationId, SessionId};
pub use presence::BroadcastState;
use presence::Presence;
use standby::Standby;
use timeline::Timeline;

/// How a broadcast behaves when its publisher goes away.
#[derive(Clone, Debug)]
pub struct StandbySettings {
    /// How long a vanished publisher has to come back before the broadcast ends.
    pub grace: Duration,
    /// One silent AAC frame (an FLV audio tag) in the sessions' audio configuration.
    pub silence: Tag,
}

/// Where a tag a session publishes comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Made from media the publisher sent.
    Packets,
    /// Made by the session's clock (silence filling a hole in the publisher's audio).
    Clock,
}

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
    pub state: BroadcastState,
    /// Media is arriving (`state` is `Live`).
    pub live: bool,
    /// While the publisher is away: how long until the broadcast ends unless it comes back.
    pub ends_in: Option<Duration>,
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

/// Everything that goes out, in order: placing a tag on the timeline and handing it to the
/// destinations happen under one lock, so the session and standby never interleave out of
/// order.
#[derive(Debug, Default)]
struct Output {
    timeline: Timeline,
    /// While the publisher is away, and when it started.
    standby: Option<(Instant, Standby)>,
    /// When media came back while standby was still on air (a half the publisher has not
    /// taken over yet, e.g. no keyframe yet).
    resumed_at: Option<Instant>,
    /// The publisher's latest keyframe: standby's picture.
    last_keyframe: Option<Tag>,
    /// Standby was ended before the publisher's video took it over: its inter frames wait for
    /// a keyframe.
    video_needs_keyframe: bool,
    /// The session whose tags go out. A replaced session may still publish a tag or two
    /// before it sees its cancellation: those are dropped, and cannot set the new session's
    /// place on the timeline.
    session: Option<SessionId>,
}

pub struct Broadcast {
    pub id: BroadcastId,
    settings: DestinationSettings,
    standby: StandbySettings,
    headers: watch::Sender<Headers>,
    destinations: RwLock<Vec<(DestinationId, Destination)>>,
    pub(crate) keyframe: Arc<KeyframeWanted>,
    pub(crate) ingest: Mutex<Option<IngestSlot>>,
    ingest_info: Mutex<IngestInfo>,
    output: Mutex<Output>,
    presence: Mutex<Presence>,
    stopped: CancellationToken,
    /// Cancelled when the publisher did not come back within the grace period.
    abandoned: CancellationToken,
}

/// When the session that went away comes back, its media within this much of the last sent
/// before standby is from before the outage (a frame its AAC encoder still held, a late
/// packet): standby already covered that time. Media captured after the outage is at least
/// [`presence::LOST_AFTER`] later, since standby starts only after that long without media.
const STALE_WITHIN_MS: u32 = (presence::LOST_AFTER.as_millis() / 2) as u32;

/// Media back for this long and a standby half still not taken over (a publisher that now
/// sends no video, say): standby ends anyway.
const STANDBY_HANDOVER: Duration = Duration::from_secs(3);

impl std::fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Broadcast {
    /// A broadcast with no destinations yet. Must be called within a tokio runtime: it starts
    /// the broadcast's watchdog (standby and the grace period).
    pub(crate) fn new(
        id: BroadcastId,
        settings: DestinationSettings,
        standby: StandbySettings,
    ) -> Arc<Self> {
        let broadcast = Arc::new(Self {
            id,
            settings,
            presence: Mutex::new(Presence::new(standby.grace)),
            standby,
            headers: watch::Sender::new(Headers::default()),
            destinations: RwLock::new(Vec::new()),
            keyframe: Arc::default(),
            ingest: Mutex::new(None),
            ingest_info: Mutex::new(IngestInfo::default()),
            output: Mutex::new(Output::default()),
            stopped: CancellationToken::new(),
            abandoned: CancellationToken::new(),
        });
        tokio::spawn(watchdog::run(
            Arc::downgrade(&broadcast),
            broadcast.stopped.clone(),
        ));
        broadcast
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

    /// Hands one tag of the current session (its own clock) to every destination. Never
    /// blocks: each destination has its own queue. `received`: when the datagram that
    /// completed this video frame arrived, for the relay latency histogram.
    pub(crate) fn publish(
        &self,
        session: &SessionId,
        tag: Tag,
        received: Option<Instant>,
        origin: Origin,
    ) {
        let mut output = lock(&self.output);
        if output.session.as_ref() != Some(session) {
            return;
        }
        // While standby covers this kind, only the publisher's own stream takes it over:
        // audio at its first frame, video at its sequence header or keyframe (frames between
        // would not decode after standby's picture).
        let takeover = output
            .standby
            .as_ref()
            .is_some_and(|(_, standby)| standby.covers(tag.kind));
        let takes_over = origin == Origin::Packets
            && match tag.kind {
                TagKind::Audio => tag.role == Role::Audio,
                _ => matches!(tag.role, Role::Header | Role::Keyframe),
            };
        if takeover && !takes_over {
            return;
        }
        // After standby ended without the publisher's video taking it over, inter frames wait
        // for a keyframe (or sequence header). It is the flag's end only once it goes out: one
        // dropped for landing behind standby's last picture leaves the wait on.
        let ends_keyframe_wait =
            !takeover && output.video_needs_keyframe && tag.kind == TagKind::Video;
        if ends_keyframe_wait && tag.role == Role::Inter {
            return;
        }
        let timestamp = if takeover {
            output
                .timeline
                .place_takeover(tag.kind, tag.role, tag.timestamp)
        } else {
            output
                .timeline
                .place_session(tag.kind, tag.role, tag.timestamp)
        };
        let Some(timestamp) = timestamp else {
            // A takeover refused (media from before the outage): standby stays on air.
            return;
        };
        if ends_keyframe_wait {
            output.video_needs_keyframe = false;
        }
        if takeover && let Some((_, standby)) = &mut output.standby {
            standby.hand_over(tag.kind);
            if standby.finished() {
                output.standby = None;
                output.resumed_at = None;
                tracing::info!(broadcast = %self.id, "the publisher is back: standby ended");
            }
        }
        let tag = Tag { timestamp, ..tag };
        match (tag.kind, tag.role) {
            // New parameter sets: the old picture would not decode under them.
            (TagKind::Video, Role::Header) => output.last_keyframe = None,
            (_, Role::Keyframe) => output.last_keyframe = Some(tag.clone()),
            _ => {}
        }
        self.send(&tag, received);
    }

    /// Standby's tags, already on the broadcast's timeline.
    fn publish_standby(&self, output: &mut Output, tags: &mut Vec<Tag>) {
        for tag in tags.drain(..) {
            if let Some(timestamp) = output.timeline.place(tag.kind, tag.role, tag.timestamp) {
                self.send(&Tag { timestamp, ..tag }, None);
            }
        }
    }

    /// To every destination (the caller holds the output lock, which keeps the order).
    fn send(&self, tag: &Tag, received: Option<Instant>) {
        if tag.role == Role::Header {
            self.headers.send_modify(|h| match tag.kind {
                TagKind::Script => h.metadata = Some(tag.clone()),
                TagKind::Video => h.video = Some(tag.clone()),
                TagKind::Audio => h.audio = Some(tag.clone()),
            });
        }
        for (_, destination) in read_lock(&self.destinations).iter() {
            destination.push_received(tag, received);
        }
    }

    /// The publisher's media arrived on `session` (any RTP media, before it becomes tags).
    /// A session that was replaced or deleted no longer counts.
    pub(crate) fn media_arrived(&self, session: &SessionId, at: Instant) {
        if lock(&self.output).session.as_ref() != Some(session) {
            return;
        }
        lock(&self.presence).media(at);
    }

    /// The publisher restarted ICE on its session: like a new session, it gets the grace
    /// period to bring its media back.
    pub(crate) fn ice_restarted(&self) {
        lock(&self.presence).session_started(Instant::now());
    }

    /// One turn of the watchdog: starts, feeds and ends standby; returns false once the
    /// broadcast is abandoned (the publisher did not come back within the grace period).
    fn watch(&self, now: Instant) -> bool {
        let (wanted, abandoned) = {
            let presence = lock(&self.presence);
            (presence.standby_wanted(now), presence.abandoned(now))
        };
        if abandoned {
            tracing::info!(
                broadcast = %self.id,
                grace_seconds = self.standby.grace.as_secs_f64(),
                "the publisher did not come back: ending the broadcast"
            );
            self.abandoned.cancel();
            return false;
        }
        let mut output = lock(&self.output);
        if wanted && output.standby.is_none() {
            let start = output.timeline.next();
            let still = output.last_keyframe.clone();
            tracing::info!(broadcast = %self.id, still = still.is_some(), "the publisher is gone: on standby until it comes back");
            output.standby = Some((
                now,
                Standby::new(start, still, self.standby.silence.clone()),
            ));
            output.resumed_at = None;
            // If this session comes back (an ICE restart, a stall), its media continues right
            // after standby's, and what it still held from before the outage is dropped.
            output.timeline.standby_started(STALE_WITHIN_MS);
            // A publisher still there (a stall, not a loss) answers with a fresh keyframe.
            self.keyframe.request();
        }
        if wanted {
            output.resumed_at = None;
        } else if output.standby.is_some() {
            let resumed_at = *output.resumed_at.get_or_insert(now);
            if now.saturating_duration_since(resumed_at) >= STANDBY_HANDOVER {
                let video_on = output.standby.as_ref().is_some_and(|(_, s)| s.video);
                output.video_needs_keyframe = video_on;
                output.standby = None;
                output.resumed_at = None;
            }
        }
        let mut tags = Vec::new();
        if let Some((started, standby)) = &mut output.standby {
            let elapsed = now.saturating_duration_since(*started).as_millis();
            standby.due(u64::try_from(elapsed).unwrap_or(u64::MAX), &mut tags);
        }
        self.publish_standby(&mut output, &mut tags);
        true
    }

    /// Resolves when the publisher did not come back within the grace period; the broadcast
    /// should then be stopped (its owner also records its end).
    pub async fn abandoned(&self) {
        self.abandoned.cancelled().await;
    }

    /// Resolves once the broadcast is stopped.
    pub async fn finished(&self) {
        self.stopped.cancelled().await;
    }

    pub(crate) fn set_ingest_info(&self, info: IngestInfo) {
        *lock(&self.ingest_info) = info;
    }

    /// Makes `slot` the broadcast's session, cancelling the one it replaces. Its tags continue
    /// the broadcast's timeline.
    pub(crate) fn replace_ingest(&self, slot: IngestSlot) {
        {
            let mut output = lock(&self.output);
            output.timeline.new_session();
            output.session = Some(slot.session.clone());
        }
        lock(&self.presence).session_started(Instant::now());
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

    /// Ends `session` if it feeds this broadcast (the publisher's WHIP DELETE: a goodbye, so
    /// no standby; the broadcast waits the grace period for a new session, then ends).
    /// Returns whether it did.
    pub fn end_session(&self, session: &SessionId) -> bool {
        let slot = lock(&self.ingest);
        match slot.as_ref() {
            Some(s) if &s.session == session => {
                s.cancel.cancel();
                lock(&self.presence).session_ended_by_publisher(Instant::now());
                let mut output = lock(&self.output);
                output.standby = None;
                output.resumed_at = None;
                // Whatever it still sends while it winds down is not media for anyone.
                output.session = None;
                true
            }
            _ => false,
        }
    }

    pub fn status(&self) -> BroadcastStatus {
        let session = lock(&self.ingest).as_ref().map(|s| s.session.clone());
        let now = Instant::now();
        let (state, ends_at) = {
            let presence = lock(&self.presence);
            (presence.state(now), presence.ends_at(now))
        };
        BroadcastStatus {
            id: self.id.clone(),
            state,
            live: state == BroadcastState::Live,
            ends_in: ends_at.map(|at| at.saturating_duration_since(now)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use streamhard_media::flv::{FlvTime, aac_frame, avc_frame};

    fn broadcast() -> (Arc<Broadcast>, SessionId) {
        let standby = StandbySettings {
            grace: Duration::from_secs(30),
            silence: aac_frame(FlvTime::ZERO, &[0x21, 0]),
        };
        let broadcast = Broadcast::new(
            BroadcastId::random(),
            DestinationSettings::default(),
            standby,
        );
        let session = SessionId::random();
        let (control, _) = tokio::sync::mpsc::channel(1);
        broadcast.replace_ingest(IngestSlot {
            session: session.clone(),
            cancel: CancellationToken::new(),
            control,
        });
        (broadcast, session)
    }

    fn audio(ms: u32) -> Tag {
        aac_frame(FlvTime::from_ms(ms), &[1, 2, 3])
    }

    /// The same session back after an outage (an ICE restart): its clock ran on through the
    /// outage, but standby started only once the loss was noticed, so it covered less. The
    /// session's media continues right after standby's instead of leaving that difference as
    /// a hole. (The watchdog task never runs here: the test does not yield.)
    #[tokio::test]
    async fn the_session_back_from_standby_continues_right_after_it() {
        let (broadcast, session) = broadcast();
        let t0 = Instant::now();
        let keyframe = avc_frame(FlvTime::from_ms(0), true, 0, &[0, 0, 0, 1, 0x65]);
        broadcast.publish(&session, keyframe, None, Origin::Packets);
        for ms in (0..=1_000).step_by(20) {
            broadcast.publish(&session, audio(ms), None, Origin::Packets);
        }
        broadcast.media_arrived(&session, t0);
        // The loss is noticed 0.7 s after the last media; standby runs for 10 s.
        let noticed = t0 + Duration::from_millis(700);
        assert!(broadcast.watch(noticed));
        assert!(broadcast.watch(noticed + Duration::from_secs(10)));
        let after_standby = lock(&broadcast.output).timeline.next();
        assert!(
            after_standby.wrapping_since(FlvTime::from_ms(1_000)) >= 9_900,
            "standby sent its 10 s: next is {after_standby:?}"
        );
        // An AAC frame the encoder still held from before the outage is not the publisher
        // back: refused, standby stays on air.
        broadcast.media_arrived(&session, noticed + Duration::from_secs(10));
        broadcast.publish(&session, audio(1_020), None, Origin::Packets);
        assert_eq!(lock(&broadcast.output).timeline.next(), after_standby);
        assert!(
            lock(&broadcast.output)
                .standby
                .as_ref()
                .is_some_and(|(_, s)| s.audio)
        );
        // The session's first fresh audio is 10.7 s after its last on its own clock.
        broadcast.publish(&session, audio(11_700), None, Origin::Packets);
        let landed = lock(&broadcast.output).timeline.next();
        assert_eq!(
            landed,
            after_standby.wrapping_add(1),
            "the session's audio went out right after standby's"
        );
        // Silence the session's clock made for the hole is not the publisher coming back.
        let (broadcast, session) = self::broadcast();
        broadcast.publish(&session, audio(0), None, Origin::Packets);
        broadcast.media_arrived(&session, t0);
        assert!(broadcast.watch(noticed));
        let before = lock(&broadcast.output).timeline.next();
        broadcast.publish(&session, audio(500), None, Origin::Clock);
        assert_eq!(lock(&broadcast.output).timeline.next(), before);
        assert!(
            lock(&broadcast.output).standby.is_some(),
            "standby still on air"
        );
    }

    /// Standby ended by the handover (the publisher's video never took it over): the first
    /// keyframe after it may land behind standby's last picture and be dropped; the inter
    /// frames after it must keep waiting for one that goes out.
    #[tokio::test]
    async fn after_the_handover_inter_frames_wait_for_a_keyframe_that_went_out() {
        let (broadcast, session) = broadcast();
        let t0 = Instant::now();
        let video =
            |ms: u32, key: bool| avc_frame(FlvTime::from_ms(ms), key, 0, &[0, 0, 0, 1, 0x41]);
        broadcast.publish(&session, video(0, true), None, Origin::Packets);
        for ms in (0..=1_000).step_by(20) {
            broadcast.publish(&session, audio(ms), None, Origin::Packets);
        }
        broadcast.media_arrived(&session, t0);
        let noticed = t0 + Duration::from_millis(700);
        assert!(broadcast.watch(noticed));
        // Two seconds of standby: stills up to 3_001, silence up to about 3_000.
        let back = noticed + Duration::from_secs(2);
        assert!(broadcast.watch(back));
        // The publisher's audio comes back (and moves the session to right after standby);
        // its video does not, and after 3 s the handover ends standby.
        broadcast.media_arrived(&session, back);
        broadcast.publish(&session, audio(3_700), None, Origin::Packets);
        let later = back + Duration::from_millis(1) + STANDBY_HANDOVER;
        broadcast.media_arrived(&session, back + Duration::from_millis(1));
        assert!(broadcast.watch(back + Duration::from_millis(1)));
        broadcast.media_arrived(&session, later);
        assert!(broadcast.watch(later));
        assert!(lock(&broadcast.output).standby.is_none(), "handed over");
        assert!(lock(&broadcast.output).video_needs_keyframe);
        // This keyframe lands behind standby's last still (3_001): dropped, and the wait goes on.
        broadcast.publish(&session, video(3_650, true), None, Origin::Packets);
        assert!(
            lock(&broadcast.output).video_needs_keyframe,
            "a dropped keyframe ended the wait"
        );
        let before = lock(&broadcast.output).timeline.next();
        // (It would land at 3_102, after everything sent: `next` would move.)
        broadcast.publish(&session, video(3_800, false), None, Origin::Packets);
        assert_eq!(
            lock(&broadcast.output).timeline.next(),
            before,
            "an inter frame went out"
        );
        // The next one goes out, and the stream after it with it.
        broadcast.publish(&session, video(3_900, true), None, Origin::Packets);
        assert!(!lock(&broadcast.output).video_needs_keyframe);
    }
}
