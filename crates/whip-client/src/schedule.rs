//! When each frame of the test media is due, and with which RTP time: pure arithmetic, so the
//! pacing of a publisher can be tested without a clock or a socket.
//!
//! The media loops for as long as the caller asks. The loop period is the video's length
//! (`frames / fps`), and timestamps keep increasing across loops exactly as if a camera kept
//! running, so a receiver sees one continuous stream. Audio packets that would spill past the
//! period (Opus files end a few ms late because of the encoder's pre-skip) are left out, so
//! audio never overlaps itself.

use std::time::Duration;

use streamhard_testkit::fixtures::{
    AccessUnit, OPUS_CLOCK_RATE, OpusPacket, TestMedia, VIDEO_CLOCK_RATE,
};

/// RTP timestamps of the first video frame and the first audio packet. RTP wants them random
/// (RFC 3550 §5.1); a fixed value lets a test start near the 32-bit wrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpOffsets {
    pub video: u32,
    pub audio: u32,
}

/// One frame to write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Due<'a> {
    /// Time from the start of sending at which it is due (its capture time).
    pub at: Duration,
    /// RTP time in the media's clock (90 kHz or 48 kHz), extended past 32 bits; str0m wraps it.
    pub rtp_time: u64,
    pub item: Item<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Item<'a> {
    Video(&'a AccessUnit),
    Audio(&'a OpusPacket),
}

/// Iterator over the frames due, in time order (video first on a tie), until `until`.
pub(crate) struct Schedule<'a> {
    media: &'a TestMedia,
    until: Duration,
    offsets: RtpOffsets,
    /// Audio packets used per loop: those that end within the loop period.
    audio_per_loop: usize,
    period_samples: u64,
    next_video: u64,
    next_audio: u64,
}

impl<'a> Schedule<'a> {
    /// `media.video` must not be empty and `media.fps` not zero (checked by the caller).
    pub(crate) fn new(
        media: &'a TestMedia,
        with_audio: bool,
        until: Duration,
        offsets: RtpOffsets,
    ) -> Self {
        let fps = u64::from(media.fps.max(1));
        let period_samples = media.video.len() as u64 * OPUS_CLOCK_RATE / fps;
        let audio_per_loop = if with_audio {
            media
                .audio
                .iter()
                .take_while(|p| p.sample_pos + u64::from(p.samples) <= period_samples)
                .count()
        } else {
            0
        };
        Self {
            media,
            until,
            offsets,
            audio_per_loop,
            period_samples,
            next_video: 0,
            next_audio: 0,
        }
    }

    fn video(&self) -> Option<Due<'a>> {
        let frames = self.media.video.len() as u64;
        let fps = u64::from(self.media.fps.max(1));
        let unit = self
            .media
            .video
            .get((self.next_video % frames.max(1)) as usize)?;
        let due = Due {
            at: Duration::from_nanos(self.next_video * 1_000_000_000 / fps),
            rtp_time: u64::from(self.offsets.video) + self.next_video * VIDEO_CLOCK_RATE / fps,
            item: Item::Video(unit),
        };
        (due.at < self.until).then_some(due)
    }

    fn audio(&self) -> Option<Due<'a>> {
        if self.audio_per_loop == 0 {
            return None;
        }
        let per_loop = self.audio_per_loop as u64;
        let packet = self
            .media
            .audio
            .get((self.next_audio % per_loop) as usize)?;
        let sample = (self.next_audio / per_loop) * self.period_samples + packet.sample_pos;
        let due = Due {
            at: Duration::from_nanos(sample * 1_000_000_000 / OPUS_CLOCK_RATE),
            rtp_time: u64::from(self.offsets.audio) + sample,
            item: Item::Audio(packet),
        };
        (due.at < self.until).then_some(due)
    }
}

impl<'a> Iterator for Schedule<'a> {
    type Item = Due<'a>;

    fn next(&mut self) -> Option<Due<'a>> {
        match (self.video(), self.audio()) {
            (Some(video), Some(audio)) if audio.at < video.at => {
                self.next_audio += 1;
                Some(audio)
            }
            (Some(video), _) => {
                self.next_video += 1;
                Some(video)
            }
            (None, Some(audio)) => {
                self.next_audio += 1;
                Some(audio)
            }
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// Three frames at 30 fps (100 ms per loop) and six 20 ms Opus packets (120 ms: the last
    /// one spills past the loop, as pre-skip makes real files do).
    fn media() -> TestMedia {
        TestMedia {
            fps: 30,
            video: (0..3)
                .map(|i| AccessUnit {
                    index: i,
                    pts_90k: u64::from(i) * 3000,
                    keyframe: i == 0,
                    data: Bytes::from(vec![0, 0, 0, 1, if i == 0 { 0x65 } else { 0x41 }]),
                })
                .collect(),
            audio: (0..6)
                .map(|i| OpusPacket {
                    sample_pos: i * 960,
                    samples: 960,
                    data: Bytes::from(vec![0xfc, i as u8]),
                })
                .collect(),
            opus_pre_skip: 312,
        }
    }

    const ZERO: RtpOffsets = RtpOffsets { video: 0, audio: 0 };

    fn video_times(schedule: Schedule<'_>) -> Vec<(u128, u64)> {
        schedule
            .filter(|d| matches!(d.item, Item::Video(_)))
            .map(|d| (d.at.as_millis(), d.rtp_time))
            .collect()
    }

    #[test]
    fn video_frames_are_due_at_their_pts_and_carry_90khz_rtp_times() {
        let media = media();
        let times = video_times(Schedule::new(
            &media,
            false,
            Duration::from_millis(100),
            ZERO,
        ));
        assert_eq!(times, vec![(0, 0), (33, 3000), (66, 6000)]);
    }

    #[test]
    fn looping_keeps_timestamps_increasing_as_one_continuous_stream() {
        let media = media();
        let times = video_times(Schedule::new(
            &media,
            false,
            Duration::from_millis(200),
            ZERO,
        ));
        let rtp: Vec<u64> = times.iter().map(|&(_, rtp)| rtp).collect();
        assert_eq!(rtp, vec![0, 3000, 6000, 9000, 12000, 15000]);
        let keyframes: Vec<bool> = Schedule::new(&media, false, Duration::from_millis(200), ZERO)
            .filter_map(|d| match d.item {
                Item::Video(unit) => Some(unit.keyframe),
                Item::Audio(_) => None,
            })
            .collect();
        assert_eq!(keyframes, vec![true, false, false, true, false, false]);
    }

    #[test]
    fn audio_that_would_spill_past_the_loop_period_is_left_out() {
        let media = media();
        let audio: Vec<(u128, u64, u8)> =
            Schedule::new(&media, true, Duration::from_millis(200), ZERO)
                .filter_map(|d| match d.item {
                    Item::Audio(p) => Some((d.at.as_millis(), d.rtp_time, p.data[1])),
                    Item::Video(_) => None,
                })
                .collect();
        // 100 ms per loop holds packets 0..=4; packet 5 (100..120 ms) is never sent, and the
        // second loop's packet 0 follows packet 4 exactly 20 ms later.
        assert_eq!(
            audio,
            vec![
                (0, 0, 0),
                (20, 960, 1),
                (40, 1920, 2),
                (60, 2880, 3),
                (80, 3840, 4),
                (100, 4800, 0),
                (120, 5760, 1),
                (140, 6720, 2),
                (160, 7680, 3),
                (180, 8640, 4),
            ]
        );
    }

    #[test]
    fn frames_come_out_in_time_order_with_video_first_on_a_tie() {
        let media = media();
        let order: Vec<(u128, char)> = Schedule::new(&media, true, Duration::from_millis(70), ZERO)
            .map(|d| {
                let kind = if matches!(d.item, Item::Video(_)) {
                    'v'
                } else {
                    'a'
                };
                (d.at.as_millis(), kind)
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (0, 'v'),
                (0, 'a'),
                (20, 'a'),
                (33, 'v'),
                (40, 'a'),
                (60, 'a'),
                (66, 'v')
            ]
        );
    }

    #[test]
    fn without_audio_only_video_is_scheduled() {
        let media = media();
        assert!(
            Schedule::new(&media, false, Duration::from_secs(1), ZERO)
                .all(|d| matches!(d.item, Item::Video(_)))
        );
        assert_eq!(
            Schedule::new(&media, false, Duration::from_secs(1), ZERO).count(),
            30
        );
    }

    #[test]
    fn rtp_offsets_are_added_and_may_exceed_32_bits() {
        let media = media();
        let offsets = RtpOffsets {
            video: u32::MAX - 2999,
            audio: u32::MAX,
        };
        let due: Vec<u64> = Schedule::new(&media, true, Duration::from_millis(34), offsets)
            .map(|d| d.rtp_time)
            .collect();
        let max = u64::from(u32::MAX);
        assert_eq!(due, vec![max - 2999, max, max + 960, max + 1]);
    }
}
