//! Opus → AAC-LC, and silence when the publisher sends no audio.
//!
//! The transcoder's clock is the extended Opus RTP time as str0m hands it on (48 kHz, never
//! truncated); each AAC frame it produces is then placed on the shared timeline. When no Opus arrives for a
//! while (no audio track, a muted or dead microphone, loss), a pre-encoded silent AAC frame is
//! repeated up to the video's time — costing no encoding at all — so the audio track never
//! has a hole. Real audio that overlaps silence already sent is dropped, never sent twice.

use std::num::NonZeroU32;

use bytes::Bytes;
use streamhard_media::flv::{self, FlvTime, Tag};
use streamhard_media::time::{Millis, RtpTime, Samples};
use streamhard_media::timeline::{AUDIO_CLOCK_HZ, Timeline, Track};
use streamhard_transcode::{AacSettings, OpusToAac, SAMPLE_RATE, SAMPLES_PER_FRAME};
use tracing::debug;

use crate::PipelineError;

/// Without Opus for this long, silence takes over so destinations keep a continuous track.
pub const SILENCE_AFTER_US: u64 = 500_000;
const RATE: NonZeroU32 = match NonZeroU32::new(SAMPLE_RATE) {
    Some(rate) => rate,
    None => panic!("the AAC sample rate is not zero"),
};
const FRAME: Samples = Samples::new(SAMPLES_PER_FRAME as i64);
// The transcoder is fed extended Opus RTP time as its sample clock: that holds only because
// Opus RTP time counts 48 kHz samples, the AAC rate. Checked once, at compile time.
const _: () = assert!(AUDIO_CLOCK_HZ.get() == RATE.get());

/// A place on the timeline: a frame's mapped time plus the samples sent since. Silence sent
/// back to back is timed by its sample count, so it never drifts: 1024 samples are 21.33 ms,
/// and rounding each frame to 21 ms would lose 28 s a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    origin_us: i64,
    after: Samples,
}

impl Cursor {
    fn at(origin_us: i64) -> Self {
        Self {
            origin_us,
            after: Samples::ZERO,
        }
    }

    fn us(self) -> i64 {
        self.origin_us.saturating_add(self.after.to_us(RATE))
    }

    fn plus(self, samples: Samples) -> Self {
        Self {
            after: self.after.saturating_add(samples.get()),
            ..self
        }
    }

    /// The FLV timestamp of this place: to the nearest millisecond.
    fn millis(self) -> Millis {
        Millis::from_us_floor(self.us().saturating_add(500))
    }
}

pub struct AudioPath {
    settings: AacSettings,
    transcoder: Option<OpusToAac>,
    asc: [u8; 2],
    silent_frame: Bytes,
    header_sent: bool,
    /// Where the next audio frame starts on the timeline: the end of the last one sent.
    next: Option<Cursor>,
    /// Where the last frame sent is on the timeline (64-bit: only its FLV time wraps).
    last: Option<Millis>,
    last_opus_us: Option<u64>,
}

impl AudioPath {
    pub fn new(settings: AacSettings) -> Result<Self, PipelineError> {
        let (asc, silent_frame) = silent_aac_frame(settings)?;
        Ok(Self {
            settings,
            transcoder: None,
            asc,
            silent_frame,
            header_sent: false,
            next: None,
            last: None,
            last_opus_us: None,
        })
    }

    pub fn ensure_header(&mut self, ts: FlvTime, out: &mut Vec<Tag>) {
        if !self.header_sent {
            out.push(flv::aac_sequence_header(ts, &self.asc));
            self.header_sent = true;
        }
    }

    pub fn receiving_opus(&self) -> bool {
        self.last_opus_us.is_some()
    }

    /// One Opus packet at extended RTP time `rtp`: the transcoder's clock is the Opus RTP
    /// clock itself (48 kHz), so each AAC frame's time maps straight onto the timeline.
    ///
    /// Returns how many of the tags appended first are the clock's, not the publisher's: after
    /// a gap in Opus ([`SILENCE_AFTER_US`] or more), the frames timed before this packet — the
    /// ones the encoder still held from before the gap, and the silence it bridges the gap
    /// with — were not sent by the publisher now.
    pub fn push_opus(
        &mut self,
        timeline: &Timeline,
        rtp: RtpTime,
        arrival_us: u64,
        opus: &[u8],
        out: &mut Vec<Tag>,
    ) -> usize {
        let start = out.len();
        let mut clock_made_end = start;
        let after_gap = self
            .last_opus_us
            .is_some_and(|at| arrival_us.saturating_sub(at) >= SILENCE_AFTER_US);
        self.last_opus_us = Some(arrival_us);
        let transcoder = match &mut self.transcoder {
            Some(t) => t,
            None => match OpusToAac::new(self.settings) {
                Ok(t) => self.transcoder.insert(t),
                Err(e) => {
                    debug!(error = %e, "audio transcoder unavailable; sending silence");
                    return 0;
                }
            },
        };
        if let Err(e) = transcoder.push_opus(rtp.ticks(), opus) {
            debug!(error = %e, "AAC encoder failed on a packet");
            return 0;
        }
        while let Some(frame) = self.transcoder.as_mut().and_then(OpusToAac::pop) {
            let Some(us) = timeline.map_us(Track::Audio, RtpTime::from_ticks(frame.pts)) else {
                continue;
            };
            let at = Cursor::at(us);
            if !self.header_sent {
                self.ensure_header(at.millis().flv(), out);
            }
            self.emit(at, frame.data, out);
            if after_gap && frame.pts < rtp.ticks() {
                clock_made_end = out.len();
            }
        }
        clock_made_end - start
    }

    /// Audio starts at `at` (the first video frame) unless it already has a place: silence
    /// for a publisher without audio then starts with the picture, not at the next tick.
    pub fn start_at(&mut self, at: Millis) {
        self.next
            .get_or_insert(Cursor::at(at.get().saturating_mul(1000)));
    }

    /// Sends silence up to `until` when no Opus has arrived for [`SILENCE_AFTER_US`].
    pub fn fill_silence(&mut self, until: Millis, now_us: u64, out: &mut Vec<Tag>) {
        if self
            .last_opus_us
            .is_some_and(|at| now_us.saturating_sub(at) < SILENCE_AFTER_US)
        {
            return;
        }
        let until_us = until.get().saturating_mul(1000);
        let mut next = self.next.unwrap_or(Cursor::at(until_us));
        if next.plus(FRAME).us() > until_us {
            self.next = Some(next);
            return;
        }
        self.ensure_header(next.millis().flv(), out);
        while next.plus(FRAME).us() <= until_us {
            self.emit(next, self.silent_frame.clone(), out);
            next = self.next.unwrap_or(Cursor::at(until_us));
        }
    }

    fn emit(&mut self, at: Cursor, data: Bytes, out: &mut Vec<Tag>) {
        if let Some(next) = self.next
            && at.plus(Samples::new(FRAME.get() / 2)).us() < next.us()
        {
            return; // Time already covered (by silence, or a duplicate): never send it twice.
        }
        let sent = self.last.map_or(at.millis(), |last| at.millis().max(last));
        out.push(flv::aac_frame(sent.flv(), &data));
        self.last = Some(sent);
        self.next = Some(at.plus(FRAME));
    }
}

/// Encodes silence once and keeps one steady-state frame: silence then costs nothing per frame.
pub(crate) fn silent_aac_frame(settings: AacSettings) -> Result<([u8; 2], Bytes), PipelineError> {
    let mut encoder = OpusToAac::starting_at(settings, 0)?;
    encoder.push_silence_until(SAMPLES_PER_FRAME as i64 * 8)?;
    let mut last = None;
    while let Some(frame) = encoder.pop() {
        last = Some(frame.data);
    }
    let frame = last.ok_or(PipelineError::NoSilence)?;
    Ok((encoder.audio_specific_config(), frame))
}
