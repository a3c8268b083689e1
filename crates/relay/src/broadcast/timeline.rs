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

use streamhard_media::flv::{FlvTime, Role, TagKind};

#[derive(Debug, Default)]
pub(crate) struct Timeline {
    /// The last timestamp sent, per kind: audio, video, script.
    last: [Option<FlvTime>; 3],
    /// Added to the current session's timestamps (modulo 2^32, as FLV time wraps).
    offset: u32,
    /// The next session tag starts a new session (sets `offset`).
    rebase: bool,
    /// Standby is (or was last) on air for the current session: how it may come back.
    resume: Option<Resume>,
}

/// The current session coming back from standby (see [`Timeline::standby_started`]).
#[derive(Debug)]
struct Resume {
    /// The session's offset before standby, on which "before the outage" is judged.
    offset: u32,
    /// Takeovers placed before this on that offset are from before the outage.
    fresh_from: FlvTime,
    /// The first takeover has moved the session to right after standby.
    rebased: bool,
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
        self.resume = None;
    }

    /// Standby went on air. If the current session comes back (an ICE restart, a stall), its
    /// clock ran on through the outage while standby, which started only once the loss was
    /// noticed, covered less: so its first takeover moves the session back to land right
    /// after everything sent, instead of leaving a hole as long as the detection took. And a
    /// takeover within `stale_within_ms` of the last tag sent before standby (on the
    /// session's old offset) is media from before the outage: refused, or it would put the
    /// session a whole outage ahead.
    pub fn standby_started(&mut self, stale_within_ms: u32) {
        // A session that has not placed anything yet rebases on its first tag anyway.
        self.resume = (!self.rebase).then(|| Resume {
            offset: self.offset,
            fresh_from: self.next().wrapping_add(stale_within_ms),
            rebased: false,
        });
    }

    /// Where a session's tag goes on the broadcast's timeline, or None to drop it.
    pub fn place_session(
        &mut self,
        kind: TagKind,
        role: Role,
        session_ts: FlvTime,
    ) -> Option<FlvTime> {
        self.rebase_at(session_ts);
        self.place(kind, role, session_ts.wrapping_add(self.offset))
    }

    /// Places the session's tag that takes a kind over from standby (its first audio frame,
    /// its video sequence header or keyframe), or None for media from before the outage (see
    /// [`Self::standby_started`]). Otherwise it is never dropped: if standby's clock ran ahead
    /// of the session's, the session moves forward (all its kinds, so its own A/V sync holds)
    /// until the tag lands just after standby's last one.
    pub fn place_takeover(
        &mut self,
        kind: TagKind,
        role: Role,
        session_ts: FlvTime,
    ) -> Option<FlvTime> {
        self.rebase_at(session_ts);
        if let Some(resume) = &mut self.resume {
            if session_ts
                .wrapping_add(resume.offset)
                .before(resume.fresh_from)
            {
                return None;
            }
            if !resume.rebased {
                resume.rebased = true;
                self.offset = self.next().wrapping_since(session_ts);
            }
        }
        let ts = session_ts.wrapping_add(self.offset);
        if let Some(last) = self.last[slot(kind)]
            && ts.before(last)
        {
            self.offset = self.offset.wrapping_add(last.wrapping_since(ts));
        }
        let ts = session_ts.wrapping_add(self.offset);
        Some(self.place(kind, role, ts).unwrap_or(ts))
    }

    /// Places a tag already on the broadcast's timeline (standby), or None to drop it.
    pub fn place(&mut self, kind: TagKind, role: Role, ts: FlvTime) -> Option<FlvTime> {
        let last = &mut self.last[slot(kind)];
        match *last {
            Some(previous) if ts.before(previous) => (role == Role::Header).then_some(previous),
            _ => {
                *last = Some(ts);
                Some(ts)
            }
        }
    }

    /// A new session's first tag (at `session_ts` on its clock) goes just after everything
    /// sent: that fixes the session's offset for its life.
    fn rebase_at(&mut self, session_ts: FlvTime) {
        if self.rebase {
            self.offset = self.next().wrapping_since(session_ts);
            self.rebase = false;
        }
    }

    /// Just after the newest timestamp sent; 0 before anything was.
    pub fn next(&self) -> FlvTime {
        self.newest()
            .map_or(FlvTime::ZERO, |newest| newest.wrapping_add(1))
    }

    /// The newest media time. Script data (metadata) is left out: it is sent only when the
    /// stream's configuration changes, so its time can be weeks old, and across the 32-bit wrap
    /// a time 2^31 ms old reads as newer than the present.
    fn newest(&self) -> Option<FlvTime> {
        self.last[..2]
            .iter()
            .flatten()
            .copied()
            .reduce(FlvTime::latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(ms: u32) -> FlvTime {
        FlvTime::from_ms(ms)
    }

    #[test]
    fn the_first_session_starts_at_zero_and_keeps_its_spacing() {
        let mut t = Timeline::default();
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Video, Role::Keyframe, ms(1_200)),
            Some(ms(0))
        );
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(1_210)),
            Some(ms(10))
        );
        assert_eq!(
            t.place_session(TagKind::Video, Role::Inter, ms(1_233)),
            Some(ms(33))
        );
    }

    #[test]
    fn a_new_session_continues_after_the_newest_tag_of_any_kind() {
        let mut t = Timeline::default();
        t.new_session();
        t.place_session(TagKind::Video, Role::Keyframe, ms(0));
        t.place_session(TagKind::Audio, Role::Audio, ms(5_000));
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(20)),
            Some(ms(5_001))
        );
        assert_eq!(
            t.place_session(TagKind::Video, Role::Keyframe, ms(40)),
            Some(ms(5_021))
        );
    }

    #[test]
    fn media_that_would_go_back_on_its_kind_is_dropped_and_headers_are_moved_up() {
        let mut t = Timeline::default();
        assert_eq!(
            t.place(TagKind::Audio, Role::Audio, ms(1_000)),
            Some(ms(1_000))
        );
        assert_eq!(t.place(TagKind::Audio, Role::Audio, ms(990)), None);
        assert_eq!(
            t.place(TagKind::Audio, Role::Header, ms(900)),
            Some(ms(1_000))
        );
        assert_eq!(
            t.place(TagKind::Audio, Role::Audio, ms(1_000)),
            Some(ms(1_000))
        );
        // Other kinds have their own order.
        assert_eq!(
            t.place(TagKind::Video, Role::Keyframe, ms(980)),
            Some(ms(980))
        );
    }

    #[test]
    fn a_takeover_behind_standby_moves_the_session_forward_instead_of_being_dropped() {
        let mut t = Timeline::default();
        // Not behind standby's last picture: placed as it is.
        assert_eq!(
            t.place(TagKind::Video, Role::Keyframe, ms(10_000)),
            Some(ms(10_000))
        );
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(0)),
            Some(ms(10_001))
        );
        assert_eq!(
            t.place_takeover(TagKind::Video, Role::Keyframe, ms(20)),
            Some(ms(10_021))
        );
        // Behind it: the session moves forward so the keyframe lands right after it.
        let mut t = Timeline::default();
        t.place(TagKind::Video, Role::Keyframe, ms(10_000));
        t.place(TagKind::Audio, Role::Audio, ms(9_000));
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(0)),
            Some(ms(10_001))
        );
        // The session's video is 60 ms behind its audio: its keyframe would land at 9_941.
        let behind = 0u32.wrapping_sub(60);
        assert_eq!(
            t.place_takeover(TagKind::Video, Role::Keyframe, ms(behind)),
            Some(ms(10_000))
        );
        // Everything after it follows, audio included (moved forward by the same 59 ms).
        let next = 0u32.wrapping_sub(27);
        assert_eq!(
            t.place_session(TagKind::Video, Role::Inter, ms(next)),
            Some(ms(10_033))
        );
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(21)),
            Some(ms(10_081))
        );
    }

    #[test]
    fn the_same_session_back_from_standby_continues_right_after_it_and_its_old_media_is_refused() {
        let mut t = Timeline::default();
        t.new_session();
        t.place_session(TagKind::Video, Role::Keyframe, ms(0));
        t.place_session(TagKind::Audio, Role::Audio, ms(1_000));
        t.standby_started(300);
        // Standby covers 10 s of the outage.
        t.place(TagKind::Audio, Role::Audio, ms(11_000));
        t.place(TagKind::Video, Role::Keyframe, ms(10_501));
        // A frame the encoder held from before the outage: refused, standby stays on air.
        assert_eq!(
            t.place_takeover(TagKind::Audio, Role::Audio, ms(1_021)),
            None
        );
        // The session's clock ran 10.7 s through the outage: its media continues right after
        // standby's, not 0.7 s later.
        assert_eq!(
            t.place_takeover(TagKind::Audio, Role::Audio, ms(11_700)),
            Some(ms(11_001))
        );
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(11_721)),
            Some(ms(11_022))
        );
        // Video follows on the same offset, in sync with the audio.
        assert_eq!(
            t.place_takeover(TagKind::Video, Role::Keyframe, ms(11_740)),
            Some(ms(11_041))
        );
        // A new session has a clock of its own: nothing of it is judged on the old offset.
        t.standby_started(300);
        t.new_session();
        assert_eq!(
            t.place_takeover(TagKind::Audio, Role::Audio, ms(5)),
            Some(ms(11_042))
        );
    }

    #[test]
    fn stale_metadata_does_not_count_as_the_newest_time() {
        let mut t = Timeline::default();
        t.place(TagKind::Script, Role::Header, ms(u32::MAX - 5));
        t.place(TagKind::Audio, Role::Audio, ms(100));
        assert_eq!(t.next(), ms(101));
    }

    #[test]
    fn time_keeps_advancing_across_the_32_bit_wrap() {
        let mut t = Timeline::default();
        t.new_session();
        assert_eq!(
            t.place_session(TagKind::Audio, Role::Audio, ms(u32::MAX - 20)),
            Some(ms(0))
        );
        // A stream already 49.7 days in: the session's own clock wraps.
        let mut t = Timeline::default();
        assert_eq!(
            t.place(TagKind::Audio, Role::Audio, ms(u32::MAX - 20)),
            Some(ms(u32::MAX - 20))
        );
        assert_eq!(t.place(TagKind::Audio, Role::Audio, ms(1)), Some(ms(1)));
        assert_eq!(t.place(TagKind::Audio, Role::Audio, ms(u32::MAX - 5)), None);
        assert_eq!(t.next(), ms(2));
    }
}
