//! Standby: what the destinations receive while the publisher is away, so that every platform
//! sees one uninterrupted publish instead of an ended broadcast and a new video.
//!
//! Audio is the pre-encoded silent AAC frame, back to back (1024 samples at 48 kHz each, timed
//! by sample count so it never drifts). Video is the publisher's last keyframe repeated twice a
//! second: it decodes on its own with the sequence header the destinations already have, so
//! nothing is renegotiated, and it is a keyframe every 500 ms, well inside every platform's
//! keyframe interval. Its timestamps keep advancing from where the publisher stopped.
//!
//! Each half ends when the publisher's own stream takes it over: audio at its first audio
//! frame, video at its first sequence header or keyframe (inter frames after the repeated
//! picture would not decode). Pure: the caller says how much time has passed.

use std::num::NonZeroU32;

use streamhard_media::flv::{FlvTime, Role, Tag, TagKind};
use streamhard_media::time::Samples;

/// How often the still picture is repeated.
pub(crate) const STILL_EVERY_MS: u64 = 500;
/// Standby's audio clock: the silent frame's AAC-LC 48 kHz, 1024 samples a frame.
const SAMPLE_RATE: NonZeroU32 = match NonZeroU32::new(48_000) {
    Some(rate) => rate,
    None => panic!("48 kHz is not zero"),
};
const SAMPLES_PER_FRAME: i64 = 1024;

#[derive(Debug)]
pub(crate) struct Standby {
    /// Broadcast time at which standby started.
    start: FlvTime,
    still: Option<Tag>,
    silence: Tag,
    /// Audio sent so far.
    audio_sent: Samples,
    stills_sent: u64,
    /// Whether each half is still on air.
    pub audio: bool,
    pub video: bool,
}

impl Standby {
    /// Standby from broadcast time `start`, repeating `still` (the last keyframe, if any) and
    /// the silent AAC frame `silence`.
    pub fn new(start: FlvTime, still: Option<Tag>, silence: Tag) -> Self {
        Self {
            start,
            video: still.is_some(),
            still,
            silence,
            audio_sent: Samples::ZERO,
            stills_sent: 0,
            audio: true,
        }
    }

    /// Whether standby still stands in for this kind of the publisher's media.
    pub fn covers(&self, kind: TagKind) -> bool {
        match kind {
            TagKind::Audio => self.audio,
            TagKind::Video => self.video,
            TagKind::Script => false,
        }
    }

    /// The publisher's own media of this kind took its half over.
    pub fn hand_over(&mut self, kind: TagKind) {
        match kind {
            TagKind::Audio => self.audio = false,
            TagKind::Video => self.video = false,
            TagKind::Script => {}
        }
    }

    pub fn finished(&self) -> bool {
        !self.audio && !self.video
    }

    /// Appends the tags due by `elapsed_ms` after standby started, in timestamp order.
    pub fn due(&mut self, elapsed_ms: u64, out: &mut Vec<Tag>) {
        loop {
            let audio_at = self
                .audio
                .then(|| self.audio_sent.to_ms(SAMPLE_RATE).max(0) as u64);
            let video_at = self
                .video
                .then(|| self.stills_sent * STILL_EVERY_MS)
                .filter(|_| self.still.is_some());
            let (at, template) = match (audio_at, video_at) {
                (Some(a), Some(v)) if v <= a => (v, self.still.as_ref()),
                (Some(a), _) => (a, Some(&self.silence)),
                (None, Some(v)) => (v, self.still.as_ref()),
                (None, None) => return,
            };
            let Some(template) = template.filter(|_| at <= elapsed_ms) else {
                return;
            };
            out.push(Tag {
                // Broadcast time wraps with FLV time: truncating the offset is the wrap.
                timestamp: self.start.wrapping_add(at as u32),
                ..template.clone()
            });
            if template.role == Role::Audio {
                self.audio_sent = self.audio_sent.saturating_add(SAMPLES_PER_FRAME);
            } else {
                self.stills_sent += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamhard_media::flv::{TagKind, aac_frame};

    const fn ms(ms: u32) -> FlvTime {
        FlvTime::from_ms(ms)
    }

    fn still() -> Tag {
        Tag {
            kind: TagKind::Video,
            role: Role::Keyframe,
            timestamp: FlvTime::from_ms(7),
            body: bytes::Bytes::from_static(&[0x17, 1, 0, 0, 0, 9, 9]),
        }
    }

    #[test]
    fn silence_back_to_back_and_a_still_twice_a_second_from_the_start_time() {
        let mut standby = Standby::new(ms(10_000), Some(still()), aac_frame(ms(0), &[1, 2]));
        let mut out = Vec::new();
        standby.due(1_000, &mut out);
        let video: Vec<u32> = out
            .iter()
            .filter(|t| t.kind == TagKind::Video)
            .map(|t| t.timestamp.ms())
            .collect();
        assert_eq!(video, [10_000, 10_500, 11_000]);
        let audio: Vec<u32> = out
            .iter()
            .filter(|t| t.kind == TagKind::Audio)
            .map(|t| t.timestamp.ms())
            .collect();
        // 1024 samples are 21.33 ms: 47 frames start within the first second.
        assert_eq!(audio.len(), 47);
        assert_eq!(&audio[..4], [10_000, 10_021, 10_043, 10_064]);
        assert!(
            out.windows(2)
                .all(|w| !w[1].timestamp.before(w[0].timestamp))
        );
        // The still is the publisher's picture, unchanged.
        assert_eq!(out[0].body, still().body);
    }

    #[test]
    fn audio_never_drifts_from_its_sample_clock() {
        let mut standby = Standby::new(ms(0), None, aac_frame(ms(0), &[1]));
        let mut out = Vec::new();
        let hour = 3_600_000;
        for ms in (0..=hour).step_by(100) {
            standby.due(ms, &mut out);
        }
        // 48000 * 3600 / 1024 = 168750 frames start at or before one hour exactly.
        assert_eq!(out.len(), 168_751);
        assert_eq!(out.last().map(|t| t.timestamp), Some(ms(hour as u32)));
    }

    #[test]
    fn each_half_stops_when_the_publisher_takes_it_over() {
        let mut standby = Standby::new(ms(0), Some(still()), aac_frame(ms(0), &[1]));
        standby.audio = false;
        let mut out = Vec::new();
        standby.due(1_000, &mut out);
        assert!(out.iter().all(|t| t.kind == TagKind::Video));
        standby.video = false;
        assert!(standby.finished());
        out.clear();
        standby.due(5_000, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn without_a_picture_yet_only_silence_goes_out() {
        let mut standby = Standby::new(ms(0), None, aac_frame(ms(0), &[1]));
        let mut out = Vec::new();
        standby.due(100, &mut out);
        assert!(!out.is_empty() && out.iter().all(|t| t.kind == TagKind::Audio));
    }
}
