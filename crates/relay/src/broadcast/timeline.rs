//! One timeline for everything a broadcast sends, across ingest sessions and standby.
//!
//! Each ingest session's pipeline starts its own clock near 0. The broadcast places a new
//! session's first tag just after the newest timestamp already sent and keeps that offset for
//! the session's life, so a publisher that reconnects continues the same RTMP publish with
//! time moving forward. Standby (the publisher is away) sends on the same timeline.
//!
//! Destinations must never see time go back on a chunk stream: per kind (audio, video,
//! script), a media tag older than the last one sent is dropped — which happens only at the
//! seam where standby hands back to the publisher — and a sequence header is moved up to the
//! last time of its kind (headers are not media: their time only has to be in order).
//!
//! Time is FLV's 32-bit milliseconds, compared across its wrap (serial arithmetic), so a
//! broadcast that runs past 49.7 days keeps going.

use streamhard_media::flv::{Role, TagKind, timestamp_before, timestamp_max};

#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// The last timestamp sent, per kind: audio, video, script.
    last: [Option<u32>; 3],
    /// Added to the current session's timestamps.
    offset: u32,
    /// The next session tag starts a new session (sets `offset`).
    rebase: bool,
}

fn slot(kind: TagKind) -> usize {
    match kind {
        TagKind::Audio => 0,
        TagKind::Video => 1,
        TagKind::Script => 2,
    }
}

impl Timeline {
    /// A new ingest session will publish: its first tag goes just after everything sent.
    pub fn new_session(&mut self) {
        self.rebase = true;
    }

    /// Where a session's tag goes on the broadcast's timeline, or None to drop it.
    pub fn place_session(&mut self, kind: TagKind, role: Role, session_ts: u32) -> Option<u32> {
        if self.rebase {
            self.offset = self.next().wrapping_sub(session_ts);
            self.rebase = false;
        }
        self.place(kind, role, session_ts.wrapping_add(self.offset))
    }

    /// Places a tag already on the broadcast's timeline (standby), or None to drop it.
    pub fn place(&mut self, kind: TagKind, role: Role, ts: u32) -> Option<u32> {
        let last = &mut self.last[slot(kind)];
        match *last {
            Some(previous) if timestamp_before(ts, previous) => {
                (role == Role::Header).then_some(previous)
            }
            _ => {
                *last = Some(ts);
                Some(ts)
            }
        }
    }

    /// Just after the newest timestamp sent; 0 before anything was.
    pub fn next(&self) -> u32 {
        self.newest().map_or(0, |newest| newest.wrapping_add(1))
    }

    fn newest(&self) -> Option<u32> {
        self.last.iter().flatten().copied().reduce(timestamp_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_session_starts_at_zero_and_keeps_its_spacing() {
        let mut t = Timeline::default();
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Video, Role::Keyframe, 1_200),
            Some(0)
        );
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, 1_210),
            Some(10)
        );
        assert_eq!(
            t.place_session(TagKind::Video, Role::Inter, 1_233),
            Some(33)
        );
    }

    #[test]
    fn a_new_session_continues_after_the_newest_tag_of_any_kind() {
        let mut t = Timeline::default();
        t.new_session();
        t.place_session(TagKind::Video, Role::Keyframe, 0);
        t.place_session(TagKind::Audio, Role::Audio, 5_000);
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, 20),
            Some(5_001)
        );
        assert_eq!(
            t.place_session(TagKind::Video, Role::Keyframe, 40),
            Some(5_021)
        );
    }

    #[test]
    fn media_that_would_go_back_on_its_kind_is_dropped_and_headers_are_moved_up() {
        let mut t = Timeline::default();
        assert_eq!(t.place(TagKind::Audio, Role::Audio, 1_000), Some(1_000));
        assert_eq!(t.place(TagKind::Audio, Role::Audio, 990), None);
        assert_eq!(t.place(TagKind::Audio, Role::Header, 900), Some(1_000));
        assert_eq!(t.place(TagKind::Audio, Role::Audio, 1_000), Some(1_000));
        // Other kinds have their own order.
        assert_eq!(t.place(TagKind::Video, Role::Keyframe, 980), Some(980));
    }

    #[test]
    fn time_keeps_advancing_across_the_32_bit_wrap() {
        let mut t = Timeline::default();
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, u32::MAX - 20),
            Some(0)
        );
        // A stream already 49.7 days in: the session's own clock wraps.
        let mut t = Timeline::default();
        assert_eq!(
            t.place(TagKind::Audio, Role::Audio, u32::MAX - 20),
            Some(u32::MAX - 20)
        );
        assert_eq!(t.place(TagKind::Audio, Role::Audio, 1), Some(1));
        assert_eq!(t.place(TagKind::Audio, Role::Audio, u32::MAX - 5), None);
        assert_eq!(t.next(), 2);
    }
}
