//! The AAC track: a continuous PCM timeline in, timestamped AAC access units out.
//!
//! This is where timestamps are owned. PCM is appended at the track's cursor and cut into
//! 1024-sample frames for the encoder; each access unit the encoder returns gets the timestamp
//! of its first *presented* sample, which is 2048 samples (FDK's delay) earlier than the input
//! frame that completed it. The track aligns things so that delay is a whole number of frames,
//! then drops exactly those priming units, so the first unit out starts at the origin and
//! every unit is 1024 samples after the previous one, across resynchronisations too.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::TranscodeError;
use crate::aac_encoder::{AacEncoder, FRAME_LEN, SAMPLES_PER_FRAME};
use crate::opus_decoder::CHANNELS;

const FRAME: u64 = SAMPLES_PER_FRAME as u64;

/// One AAC-LC access unit, ready to become an FLV audio tag body (after the 2-byte FLV AAC
/// header) for every destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AacFrame {
    /// Time of the unit's first presented sample on the caller's 48 kHz clock. Consecutive
    /// frames are exactly [`SAMPLES_PER_FRAME`] apart, except after a resynchronisation.
    pub pts: i64,
    /// The raw access unit (no ADTS header): what FLV and RTMP carry.
    pub data: Bytes,
}

/// Where the timeline restarts after a resynchronisation.
#[derive(Clone, Copy, Debug)]
struct Jump {
    /// Index (counting every unit the encoder produced) of the first unit after the jump.
    unit: u64,
    /// Its timestamp.
    pts: i64,
}

/// The clock of a started track.
#[derive(Debug)]
struct Clock {
    /// Timestamp of the next appended sample.
    cursor: i64,
    /// Samples per channel appended since the origin, not counting jumps.
    appended: u64,
    /// Timestamp of the next access unit to come out, unless a jump takes over.
    next_unit_pts: i64,
    /// Jumps whose first unit the encoder has not produced yet (at most a few: a jump is taken
    /// only at a frame boundary and the encoder lags by two frames).
    jumps: VecDeque<Jump>,
}

/// PCM timeline → AAC frames. Fed interleaved stereo i16 at 48 kHz.
pub(crate) struct AacTrack {
    encoder: AacEncoder,
    /// The frame being filled for the encoder.
    frame: Box<[i16; FRAME_LEN]>,
    filled: usize,
    /// Units the encoder has produced so far, including priming ones.
    units: u64,
    /// Leading units that only carry the encoder's priming and are dropped.
    priming_units: u64,
    clock: Option<Clock>,
    out: VecDeque<AacFrame>,
}

impl AacTrack {
    pub(crate) fn new(encoder: AacEncoder) -> Self {
        Self {
            encoder,
            frame: Box::new([0; FRAME_LEN]),
            filled: 0,
            units: 0,
            priming_units: 0,
            clock: None,
            out: VecDeque::new(),
        }
    }

    /// Timestamp of the next appended sample, once started.
    pub(crate) fn cursor(&self) -> Option<i64> {
        self.clock.as_ref().map(|c| c.cursor)
    }

    /// Fixes the origin if there is none yet (the first appended sample will be presented at
    /// `origin`) and returns the cursor.
    pub(crate) fn start(&mut self, origin: i64) -> Result<i64, TranscodeError> {
        if let Some(clock) = &self.clock {
            return Ok(clock.cursor);
        }
        // Lead in with silence so the encoder delay plus the lead-in is a whole number of
        // frames: then unit boundaries fall on multiples of 1024 samples from the origin, and
        // the priming is exactly the first `priming_units` units.
        let delay = u64::from(self.encoder.delay());
        let lead_in = (FRAME - delay % FRAME) % FRAME;
        self.priming_units = (delay + lead_in) / FRAME;
        self.clock = Some(Clock {
            cursor: origin,
            appended: 0,
            next_unit_pts: origin,
            jumps: VecDeque::new(),
        });
        self.feed_zeros(lead_in)?;
        Ok(origin)
    }

    /// Appends interleaved stereo PCM at the cursor.
    pub(crate) fn append(&mut self, pcm: &[i16]) -> Result<(), TranscodeError> {
        let samples = (pcm.len() / CHANNELS) as u64;
        self.advance(samples);
        let mut rest = &pcm[..samples as usize * CHANNELS];
        while !rest.is_empty() {
            let take = rest.len().min(FRAME_LEN - self.filled);
            self.frame[self.filled..self.filled + take].copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            self.flush_full_frame()?;
        }
        Ok(())
    }

    /// Appends `samples` per channel of digital silence at the cursor.
    pub(crate) fn append_silence(&mut self, samples: u64) -> Result<(), TranscodeError> {
        self.advance(samples);
        self.feed_zeros(samples)
    }

    /// Restarts the timeline at `pts` (which must be later than the cursor): the current unit
    /// is completed with silence, and the next one starts at `pts`.
    pub(crate) fn jump_to(&mut self, pts: i64) -> Result<(), TranscodeError> {
        let Some(appended) = self.clock.as_ref().map(|c| c.appended) else {
            return Ok(());
        };
        self.append_silence((FRAME - appended % FRAME) % FRAME)?;
        let priming_units = self.priming_units;
        if let Some(clock) = self.clock.as_mut() {
            debug_assert!(pts > clock.cursor, "jumps only go forward");
            clock.cursor = pts.max(clock.cursor);
            clock.jumps.push_back(Jump {
                unit: priming_units + clock.appended / FRAME,
                pts: clock.cursor,
            });
        }
        Ok(())
    }

    pub(crate) fn pop(&mut self) -> Option<AacFrame> {
        self.out.pop_front()
    }

    pub(crate) fn queued(&self) -> usize {
        self.out.len()
    }

    fn advance(&mut self, samples: u64) {
        debug_assert!(self.clock.is_some(), "track used before start");
        if let Some(clock) = self.clock.as_mut() {
            clock.appended += samples;
            // Callers bound timestamps far below i64::MAX; saturate rather than wrap anyway.
            clock.cursor = clock
                .cursor
                .saturating_add(i64::try_from(samples).unwrap_or(i64::MAX));
        }
    }

    fn feed_zeros(&mut self, samples: u64) -> Result<(), TranscodeError> {
        // Bounded by the callers (at most a silence gap); usize holds it on every target we build.
        let mut rest = usize::try_from(samples).unwrap_or(usize::MAX) * CHANNELS;
        while rest > 0 {
            let take = rest.min(FRAME_LEN - self.filled);
            self.frame[self.filled..self.filled + take].fill(0);
            self.filled += take;
            rest -= take;
            self.flush_full_frame()?;
        }
        Ok(())
    }

    fn flush_full_frame(&mut self) -> Result<(), TranscodeError> {
        if self.filled < FRAME_LEN {
            return Ok(());
        }
        self.filled = 0;
        let Some(data) = self.encoder.encode_frame(&self.frame)? else {
            return Ok(());
        };
        let unit = self.units;
        self.units += 1;
        if unit < self.priming_units {
            return Ok(());
        }
        let Some(clock) = self.clock.as_mut() else {
            return Ok(());
        };
        if let Some(jump) = clock.jumps.pop_front_if(|j| j.unit == unit) {
            clock.next_unit_pts = jump.pts;
        }
        let pts = clock.next_unit_pts;
        clock.next_unit_pts = pts.saturating_add(i64::from(SAMPLES_PER_FRAME));
        self.out.push_back(AacFrame { pts, data });
        Ok(())
    }
}
