//! Opus → AAC-LC, and silence when the publisher sends no audio.
//!
//! The transcoder keeps its own continuous 48 kHz clock (the unwrapped Opus RTP clock); each
//! AAC frame it produces is then placed on the shared timeline. When no Opus arrives for a
//! while (no audio track, a muted or dead microphone, loss), a pre-encoded silent AAC frame is
//! repeated up to the video's time — costing no encoding at all — so the audio track never
//! has a hole. Real audio that overlaps silence already sent is dropped, never sent twice.

use bytes::Bytes;
use streamhard_media::flv::{self, Tag};
use streamhard_media::timeline::{Timeline, Track};
use streamhard_transcode::{AacSettings, OpusToAac, SAMPLE_RATE, SAMPLES_PER_FRAME};
use tracing::debug;

use crate::{PipelineError, flv_time};

/// Without Opus for this long, silence takes over so destinations keep a continuous track.
pub const SILENCE_AFTER_US: u64 = 500_000;
const FRAME_MS: f64 = SAMPLES_PER_FRAME as f64 * 1000.0 / SAMPLE_RATE as f64;

pub struct AudioPath {
    settings: AacSettings,
    transcoder: Option<OpusToAac>,
    asc: [u8; 2],
    silent_frame: Bytes,
    header_sent: bool,
    rtp: RtpUnwrap,
    /// Where the next audio frame starts on the timeline (ms): the end of the last one sent.
    next_ms: Option<f64>,
    /// Timeline milliseconds of the last frame sent (64-bit: FLV's 32-bit time wraps).
    last_ms: Option<i64>,
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
            rtp: RtpUnwrap::default(),
            next_ms: None,
            last_ms: None,
            last_opus_us: None,
        })
    }

    pub fn ensure_header(&mut self, ts: u32, out: &mut Vec<Tag>) {
        if !self.header_sent {
            out.push(flv::aac_sequence_header(ts, &self.asc));
            self.header_sent = true;
        }
    }

    pub fn receiving_opus(&self) -> bool {
        self.last_opus_us.is_some()
    }

    pub fn push_opus(
        &mut self,
        timeline: &Timeline,
        rtp: u32,
        arrival_us: u64,
        opus: &[u8],
        out: &mut Vec<Tag>,
    ) {
        self.last_opus_us = Some(arrival_us);
        let pts = self.rtp.unwrap(rtp);
        let transcoder = match &mut self.transcoder {
            Some(t) => t,
            None => match OpusToAac::new(self.settings) {
                Ok(t) => self.transcoder.insert(t),
                Err(e) => {
                    debug!(error = %e, "audio transcoder unavailable; sending silence");
                    return;
                }
            },
        };
        if let Err(e) = transcoder.push_opus(pts, opus) {
            debug!(error = %e, "AAC encoder failed on a packet");
            return;
        }
        while let Some(frame) = self.transcoder.as_mut().and_then(OpusToAac::pop) {
            // The transcoder's clock is the unwrapped RTP clock: its low 32 bits are RTP time.
            let Some(ms) = timeline.map_ms(Track::Audio, frame.pts as u32) else {
                continue;
            };
            if !self.header_sent {
                self.ensure_header(flv_time(ms), out);
            }
            self.emit(ms as f64, frame.data, out);
        }
    }

    /// Sends silence up to `until_ms` when no Opus has arrived for [`SILENCE_AFTER_US`].
    pub fn fill_silence(&mut self, until_ms: i64, now_us: u64, out: &mut Vec<Tag>) {
        if self
            .last_opus_us
            .is_some_and(|at| now_us.saturating_sub(at) < SILENCE_AFTER_US)
        {
            return;
        }
        let until = until_ms as f64;
        let mut next = self.next_ms.unwrap_or(until);
        if next + FRAME_MS > until {
            self.next_ms = Some(next);
            return;
        }
        self.ensure_header(flv_time(next as i64), out);
        while next + FRAME_MS <= until {
            self.emit(next, self.silent_frame.clone(), out);
            next = self.next_ms.unwrap_or(until);
        }
    }

    fn emit(&mut self, ms: f64, data: Bytes, out: &mut Vec<Tag>) {
        if let Some(next) = self.next_ms
            && ms + FRAME_MS / 2.0 < next
        {
            return; // Time already covered (by silence, or a duplicate): never send it twice.
        }
        let ms_sent = (ms.round() as i64).max(self.last_ms.unwrap_or(0));
        out.push(flv::aac_frame(flv_time(ms_sent), &data));
        self.last_ms = Some(ms_sent);
        self.next_ms = Some(ms + FRAME_MS);
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

/// Extends 32-bit RTP timestamps to a continuous i64 clock (wrap-around, mild reordering).
#[derive(Debug, Default)]
struct RtpUnwrap {
    last: Option<(u32, i64)>,
}

impl RtpUnwrap {
    fn unwrap(&mut self, rtp: u32) -> i64 {
        let value = match self.last {
            None => i64::from(rtp),
            // The signed 32-bit difference is right for steps of less than half the range.
            Some((last_rtp, last)) => last + i64::from(rtp.wrapping_sub(last_rtp) as i32),
        };
        if self.last.is_none_or(|(_, last)| value > last) {
            self.last = Some((rtp, value));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_crosses_the_32_bit_boundary_and_tolerates_reordering() {
        let mut u = RtpUnwrap::default();
        assert_eq!(u.unwrap(u32::MAX - 959), i64::from(u32::MAX - 959));
        assert_eq!(u.unwrap(0), i64::from(u32::MAX) + 1);
        assert_eq!(u.unwrap(u32::MAX - 959), i64::from(u32::MAX - 959));
        assert_eq!(u.unwrap(960), i64::from(u32::MAX) + 961);
    }
}
