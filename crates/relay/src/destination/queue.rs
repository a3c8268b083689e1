//! The per-destination queue between the broadcast (which must never wait) and the
//! destination's connection task (which waits on the network).
//!
//! Bounded by count and bytes. When a destination falls behind, its queued video is dropped
//! up to the next keyframe — video frames are useless without the ones they reference — and
//! a keyframe is requested, so the stream resumes cleanly instead of smearing. Sequence
//! headers are never dropped; audio only as a last resort, because a gap in sound is worse
//! than a frozen picture. Every dropped frame is counted.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use streamhard_media::flv::{FlvTime, Role, Tag, TagKind};
use tokio::sync::Notify;

/// The smallest limits honoured, whatever the settings say: a queue must hold a keyframe.
const MIN_TAGS: usize = 8;
const MIN_BYTES: usize = 256 * 1024;

/// What `push` did with a tag, so the caller can ask for a keyframe outside the lock.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Discarded: not publishing, or video while waiting for a keyframe.
    Dropped,
    /// The queue was full: video was dropped and a keyframe is needed.
    Overflowed,
}

/// A queued tag and, for video frames, when the datagram that completed it arrived (for the
/// relay latency histogram).
#[derive(Clone, Debug)]
pub struct Queued {
    pub tag: Tag,
    pub received: Option<Instant>,
}

impl std::ops::Deref for Queued {
    type Target = Tag;

    fn deref(&self) -> &Tag {
        &self.tag
    }
}

#[derive(Debug)]
struct Inner {
    tags: VecDeque<Queued>,
    bytes: usize,
    /// Video inter frames are refused until a keyframe arrives.
    waiting_keyframe: bool,
    /// Media is accepted only while a connection is publishing; otherwise it would be stale
    /// by the time it could be sent.
    open: bool,
    dropped_frames: u64,
    /// The newest media timestamp offered per kind (audio, video), open or not.
    last_timestamps: [Option<FlvTime>; 2],
}

impl Inner {
    fn full_for(&self, len: usize, max_tags: usize, max_bytes: usize) -> bool {
        self.tags.len() >= max_tags || self.bytes + len > max_bytes
    }

    /// Removes the first tag matching `pred`; returns whether there was one.
    fn remove_first(&mut self, pred: impl Fn(&Tag) -> bool) -> bool {
        let Some(pos) = self.tags.iter().position(|q| pred(&q.tag)) else {
            return false;
        };
        if let Some(tag) = self.tags.remove(pos) {
            self.bytes -= tag.body.len();
            self.dropped_frames += 1;
        }
        true
    }
}

#[derive(Debug)]
pub struct TagQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    max_tags: usize,
    max_bytes: usize,
}

fn is_frame(tag: &Tag) -> bool {
    tag.kind == TagKind::Video && tag.role != Role::Header
}

impl TagQueue {
    pub fn new(max_tags: usize, max_bytes: usize) -> Self {
        let max_tags = max_tags.max(MIN_TAGS);
        Self {
            inner: Mutex::new(Inner {
                tags: VecDeque::with_capacity(max_tags.min(1024)),
                bytes: 0,
                waiting_keyframe: true,
                open: false,
                dropped_frames: 0,
                last_timestamps: [None; 2],
            }),
            notify: Notify::new(),
            max_tags,
            max_bytes: max_bytes.max(MIN_BYTES),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain data; a panic elsewhere cannot leave it inconsistent in a harmful way.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// [`Self::push_received`] without an arrival time (the tests' shorthand).
    #[cfg(test)]
    pub fn push(&self, tag: &Tag) -> Pushed {
        self.push_received(tag, None)
    }

    /// Offers a tag, with the arrival time of the datagram that completed it for video
    /// frames; never waits for anything but the (briefly held) lock.
    pub fn push_received(&self, tag: &Tag, received: Option<Instant>) -> Pushed {
        let mut q = self.lock();
        match tag.kind {
            TagKind::Audio => q.last_timestamps[0] = Some(tag.timestamp),
            TagKind::Video => q.last_timestamps[1] = Some(tag.timestamp),
            TagKind::Script => {}
        }
        if !q.open {
            return Pushed::Dropped;
        }
        match tag.role {
            Role::Inter if q.waiting_keyframe => {
                q.dropped_frames += 1;
                return Pushed::Dropped;
            }
            Role::Keyframe => q.waiting_keyframe = false,
            _ => {}
        }
        let len = tag.body.len();
        let mut result = Pushed::Queued;
        if tag.role != Role::Header && q.full_for(len, self.max_tags, self.max_bytes) {
            // Behind: drop the queued video; unless this tag is a keyframe, video waits for
            // one and the caller asks for it.
            let mut purged = false;
            while q.remove_first(is_frame) {
                purged = true;
            }
            if tag.role == Role::Inter {
                q.waiting_keyframe = true;
                q.dropped_frames += 1;
                return Pushed::Overflowed;
            }
            if purged && tag.role == Role::Audio {
                q.waiting_keyframe = true;
                result = Pushed::Overflowed;
            }
            // Still full with headers and audio alone (a dead-slow connection): drop the
            // oldest audio; if nothing but headers is left, this tag goes anyway.
            while q.full_for(len, self.max_tags, self.max_bytes)
                && q.remove_first(|t| t.kind == TagKind::Audio)
            {}
        }
        q.bytes += len;
        q.tags.push_back(Queued {
            tag: tag.clone(),
            received,
        });
        drop(q);
        self.notify.notify_one();
        result
    }

    /// Moves tags into `out`, oldest first, until about `max_bytes` are taken (at least one
    /// tag if any is queued). Taking little at a time keeps the backlog here, where the drop
    /// policy applies, rather than in the connection's output buffer.
    pub fn pop_batch(&self, max_bytes: usize, out: &mut Vec<Queued>) {
        let mut q = self.lock();
        let mut taken = 0;
        while taken < max_bytes.max(1) {
            let Some(tag) = q.tags.pop_front() else { break };
            q.bytes -= tag.body.len();
            taken += tag.body.len().max(1);
            out.push(tag);
        }
    }

    /// Resolves when tags may be available (at once if some are queued).
    pub async fn ready(&self) {
        if !self.lock().tags.is_empty() {
            return;
        }
        // `notify_one` stores a permit when nobody waits, so a push between the check above
        // and this await is not lost.
        self.notify.notified().await;
    }

    /// Starts accepting media for a fresh connection: headers and audio at once, video from
    /// the next keyframe.
    pub fn open(&self) {
        let mut q = self.lock();
        q.tags.clear();
        q.bytes = 0;
        q.waiting_keyframe = true;
        q.open = true;
    }

    /// Stops accepting media (the connection ended) and forgets what was queued.
    pub fn close(&self) {
        let mut q = self.lock();
        q.open = false;
        q.tags.clear();
        q.bytes = 0;
    }

    pub fn dropped_frames(&self) -> u64 {
        self.lock().dropped_frames
    }

    /// The time for the sequence headers sent on a (re)connect: the older of the newest audio
    /// and video timestamps offered so far. Every tag that follows on any chunk stream is
    /// at least as new, so no stream sees time go back after its header — the newest time of
    /// any kind would put the audio header after the next audio frame. Compared across the
    /// 32-bit wrap.
    pub fn header_timestamp(&self) -> FlvTime {
        self.lock()
            .last_timestamps
            .iter()
            .flatten()
            .copied()
            .reduce(FlvTime::earliest)
            .unwrap_or(FlvTime::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn tag(kind: TagKind, role: Role, ts: u32, len: usize) -> Tag {
        Tag {
            kind,
            role,
            timestamp: FlvTime::from_ms(ts),
            body: Bytes::from(vec![0u8; len]),
        }
    }
    fn key(ts: u32) -> Tag {
        tag(TagKind::Video, Role::Keyframe, ts, 100)
    }
    fn inter(ts: u32) -> Tag {
        tag(TagKind::Video, Role::Inter, ts, 100)
    }
    fn audio(ts: u32) -> Tag {
        tag(TagKind::Audio, Role::Audio, ts, 100)
    }
    fn header(ts: u32) -> Tag {
        tag(TagKind::Video, Role::Header, ts, 100)
    }
    fn drained(q: &TagQueue) -> Vec<(Role, u32)> {
        let mut out = Vec::new();
        q.pop_batch(usize::MAX, &mut out);
        out.iter().map(|t| (t.role, t.timestamp.ms())).collect()
    }

    #[test]
    fn a_closed_queue_takes_nothing_and_an_opened_one_starts_video_at_a_keyframe() {
        let q = TagQueue::new(100, 1 << 20);
        assert_eq!(q.push(&key(0)), Pushed::Dropped);
        q.open();
        assert_eq!(q.push(&inter(33)), Pushed::Dropped);
        assert_eq!(q.push(&audio(40)), Pushed::Queued);
        assert_eq!(q.push(&key(66)), Pushed::Queued);
        assert_eq!(q.push(&inter(99)), Pushed::Queued);
        let want = [(Role::Audio, 40), (Role::Keyframe, 66), (Role::Inter, 99)];
        assert_eq!(drained(&q), want);
        assert_eq!(q.dropped_frames(), 1, "the inter frame before the keyframe");
        assert_eq!(
            q.header_timestamp(),
            FlvTime::from_ms(40),
            "the audio is the older of the two"
        );
    }

    #[test]
    fn overflow_drops_video_to_the_next_keyframe_but_keeps_headers_and_audio() {
        let q = TagQueue::new(8, 1 << 20);
        q.open();
        q.push(&key(0));
        q.push(&header(1));
        for i in 1..4 {
            q.push(&inter(i * 33));
            q.push(&audio(i * 33));
        }
        // Eight queued: the next inter frame finds the queue full.
        assert_eq!(q.push(&inter(132)), Pushed::Overflowed);
        assert_eq!(q.push(&audio(132)), Pushed::Queued);
        assert_eq!(
            q.push(&inter(165)),
            Pushed::Dropped,
            "still waiting for a keyframe"
        );
        assert_eq!(q.push(&key(198)), Pushed::Queued);
        assert_eq!(q.push(&inter(231)), Pushed::Queued);
        let want = [
            (Role::Header, 1),
            (Role::Audio, 33),
            (Role::Audio, 66),
            (Role::Audio, 99),
            (Role::Audio, 132),
            (Role::Keyframe, 198),
            (Role::Inter, 231),
        ];
        assert_eq!(drained(&q), want);
        assert_eq!(
            q.dropped_frames(),
            6,
            "key 0, inter 33/66/99 purged; 132/165 refused"
        );
    }

    #[test]
    fn a_keyframe_that_finds_the_queue_full_replaces_the_queued_video() {
        let q = TagQueue::new(8, 1 << 20);
        q.open();
        q.push(&key(0));
        for i in 1..8 {
            q.push(&inter(i * 33));
        }
        assert_eq!(
            q.push(&key(264)),
            Pushed::Queued,
            "no keyframe to ask for: this is one"
        );
        assert_eq!(
            q.push(&inter(297)),
            Pushed::Queued,
            "the new keyframe starts a run"
        );
        assert_eq!(drained(&q), [(Role::Keyframe, 264), (Role::Inter, 297)]);
        assert_eq!(q.dropped_frames(), 8);
    }

    #[test]
    fn audio_that_overflows_queued_video_asks_for_a_keyframe() {
        let q = TagQueue::new(8, 1 << 20);
        q.open();
        q.push(&key(0));
        for i in 1..8 {
            q.push(&inter(i * 33));
        }
        assert_eq!(q.push(&audio(264)), Pushed::Overflowed);
        assert_eq!(q.push(&inter(297)), Pushed::Dropped);
        assert_eq!(drained(&q), [(Role::Audio, 264)]);
        assert_eq!(q.dropped_frames(), 9);
    }

    #[test]
    fn headers_are_queued_even_when_full() {
        let q = TagQueue::new(8, 1 << 20);
        q.open();
        for i in 0..8 {
            q.push(&audio(i));
        }
        assert_eq!(q.push(&header(8)), Pushed::Queued);
        assert_eq!(drained(&q).last(), Some(&(Role::Header, 8)));
        assert_eq!(q.dropped_frames(), 0);
    }

    #[test]
    fn the_byte_limit_bounds_memory_even_with_audio_only() {
        let q = TagQueue::new(10_000, MIN_BYTES);
        q.open();
        for i in 0..5_000 {
            assert_ne!(
                q.push(&audio(i)),
                Pushed::Overflowed,
                "no video lost, no keyframe needed"
            );
        }
        let mut out = Vec::new();
        q.pop_batch(usize::MAX, &mut out);
        assert!(out.len() * 100 <= MIN_BYTES, "{} tags queued", out.len());
        assert_eq!(
            out.last().map(|t| t.timestamp.ms()),
            Some(4_999),
            "the newest audio is kept"
        );
        assert_eq!(q.dropped_frames() as usize, 5_000 - out.len());
    }

    #[test]
    fn pops_in_batches_of_about_the_asked_size() {
        let q = TagQueue::new(100, 1 << 20);
        q.open();
        for i in 0..10 {
            q.push(&audio(i));
        }
        let mut out = Vec::new();
        q.pop_batch(250, &mut out);
        assert_eq!(out.len(), 3);
        q.pop_batch(0, &mut out);
        assert_eq!(out.len(), 4, "at least one tag per batch");
        let rest = drained(&q);
        assert_eq!(rest.first(), Some(&(Role::Audio, 4)));
    }

    #[test]
    fn closing_forgets_the_backlog_and_refuses_media() {
        let q = TagQueue::new(100, 1 << 20);
        q.open();
        q.push(&audio(1));
        q.close();
        assert_eq!(q.push(&audio(2)), Pushed::Dropped);
        assert!(drained(&q).is_empty());
    }

    #[tokio::test]
    async fn ready_wakes_on_a_push_made_before_waiting() {
        let q = TagQueue::new(100, 1 << 20);
        q.open();
        q.push(&audio(1));
        let mut out = Vec::new();
        q.pop_batch(usize::MAX, &mut out);
        q.push(&audio(2));
        tokio::time::timeout(std::time::Duration::from_secs(1), q.ready())
            .await
            .expect("ready resolves");
    }
}
