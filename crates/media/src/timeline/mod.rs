//! One millisecond timeline for the audio and video RTP clocks of a WebRTC publisher.
//!
//! The two RTP clocks (48 kHz audio, 90 kHz video) start at random values and say nothing
//! about each other; FLV needs both on one clock, in sync within 40 ms of what the browser
//! captured, never going backwards. Times are inputs: the runtime passes each frame's arrival
//! time (µs on its monotonic clock) and the sender reports it receives.
//!
//! # How a track is placed
//! A track's RTP time `R` maps to the local clock as
//! `first_arrival + media(R) + correction(media(R))`, where `media(R)` is the RTP time since
//! the track's first frame in µs. Output is that local time minus the first frame of either
//! track, so the broadcast starts at 0. Hence:
//! - **Before any sender report** the correction is 0: each track is where its first frame
//!   arrived, so A/V are as close as the network delivered them. Audio is never held back
//!   waiting for a report (Chrome sends its first audio report about 2 s in).
//! - **Packet loss shifts nothing**: the mapping depends on RTP time, not on frame counts.
//! - **A pause** (a tab in the background) advances time by the RTP clock, which kept running.
//! - **Mapping is a pure function** of (track, RTP time, current state), so the audio path can
//!   place AAC frames at RTP times no packet had.
//!
//! # How sender reports correct it
//! A report says which sender wall time an RTP time was captured at. Both tracks' reports use
//! the same sender clock, so once both have one, their relative placement is known exactly.
//! Sender wall time becomes local time through one offset shared by both tracks. Only the
//! tracks' relative placement is fixed by the reports; the offset is free, and is chosen so
//! that **audio never moves and video carries every correction**:
//! - The broadcast's first report leaves its track where it is.
//! - Every accepted audio report (its first, when the A/V error becomes known, and every later
//!   one, refining its drift against the sender's clock) re-chooses the offset so that audio
//!   stays exactly where it is, and steers video to its place relative to audio.
//! - Video reports steer video alone, to where the offset puts it.
//!
//! # Why video carries the correction
//! Audio and video tolerate retiming very differently. AAC frames are played back to back by
//! their sample count, so audio timestamps must stay smooth: audio may only ever slew at 0.5 %,
//! under the ~0.6 % pitch shift a listener notices, which takes 20 s to undo a 100 ms skew.
//! Video frames are shown when their own timestamps say, and a 5 % change of frame interval
//! (33 ms becoming 31.7 to 35 ms) is invisible to viewers and platforms, so video undoes the
//! same skew in 2 s. Keeping audio still also keeps its timestamps exactly at its RTP clock's
//! pace, which is the pace its samples play at.
//!
//! # Why corrections never jump
//! A new placement only sets a target; the correction ramps there at the track's rate (see
//! `slew.rs`): 50 ms per second of media for video, 5 ms for audio (which, by the policy above,
//! reports never move), starting at the track's newest frame. Output time therefore never goes
//! back for frames after the newest one, never leaps forward, and stays within 5 % (video) or
//! 0.5 % (audio) of the RTP clock's pace from one frame to the next.
//!
//! # Why a hostile publisher cannot wreck it
//! - A report whose RTP time is over 10 s from the stream, or whose placement disagrees with
//!   the current one by over 1 s, is refused. Three refused reports in a row that agree with
//!   each other mean the sender's wall clock stepped: the track is rebased on them without
//!   moving, so drift tracking resumes.
//! - A frame whose RTP time is over 10 s from what its arrival predicts is refused (the
//!   runtime drops it); three such frames in a row that agree with each other mean the RTP
//!   clock restarted, and the track is re-anchored there, continuing from where it was.
//!
//! # Limits
//! - Without sender reports, each track runs at its nominal clock rate from its first arrival:
//!   a sender whose audio clock drifts against its video clock drifts out of sync.
//! - Audio runs at its nominal RTP clock rate from its first arrival, reports or not, and video
//!   follows it: output runs at the pace of the sender's audio clock, which may be some ppm off
//!   the local one. Destinations only need it consistent, and it is the pace the audio plays at.

mod rtp_time;
mod slew;
mod track;

#[cfg(test)]
mod tests;

use std::fmt;
use std::num::NonZeroU32;

use thiserror::Error;

use self::rtp_time::ticks_to_us;
use self::slew::SlewRate;
use self::track::{Anchor, Candidate, Observed, ReportBasis};
use crate::time::{Millis, RtpTime};

/// RTP clock rate of Opus (RFC 7587), whatever the real sample rate.
pub const AUDIO_CLOCK_HZ: NonZeroU32 = match NonZeroU32::new(48_000) {
    Some(hz) => hz,
    None => panic!("48 kHz is not zero"),
};
/// RTP clock rate of every video payload format WebRTC uses.
pub const VIDEO_CLOCK_HZ: NonZeroU32 = match NonZeroU32::new(90_000) {
    Some(hz) => hz,
    None => panic!("90 kHz is not zero"),
};

/// A frame may be this far from where its arrival puts it on the track's RTP clock: network
/// delay and bursts stay well under it, a garbage or restarted RTP time does not.
const MAX_RTP_JUMP_US: i64 = 10_000_000;
/// Off-clock frames in a row, agreeing with each other, that mean the RTP clock restarted.
const RESTART_AFTER: u32 = 3;
/// How well consecutive off-clock frames must agree (RTP time against arrival).
const RESTART_AGREEMENT_US: i64 = 1_000_000;
/// A report's RTP time may be this far from the newest frame: reports are sent continuously,
/// so a fresh one is within a few hundred ms of the media.
const MAX_REPORT_RTP_DISTANCE_US: i64 = 10_000_000;
/// A report may move a track's placement by at most this much: drift and network asymmetry
/// are tens of ms; more is a broken or hostile report.
const MAX_REPORT_DISAGREEMENT_US: i64 = 1_000_000;
/// Refused reports in a row, agreeing with each other, that mean the sender's clock stepped.
const REBASE_AFTER: u32 = 3;
/// How well consecutive refused reports must agree (RTP time against wall time).
const REBASE_AGREEMENT_US: i64 = 100_000;
/// NTP timestamps (any era up to 2^33 s after 1900) in µs since the UNIX epoch stay within
/// ±2^53 µs; beyond is not a clock. Bounding it keeps every sum far from overflow.
const MAX_WALL_US: u64 = 1 << 53;

/// Which of the publisher's two media tracks a time belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    Audio,
    Video,
}

impl Track {
    fn index(self) -> usize {
        match self {
            Track::Audio => 0,
            Track::Video => 1,
        }
    }

    /// How fast the track's placement may move: see `slew.rs` for why they differ.
    fn slew_rate(self) -> SlewRate {
        match self {
            Track::Audio => SlewRate::AUDIO,
            Track::Video => SlewRate::VIDEO,
        }
    }
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Track::Audio => "audio",
            Track::Video => "video",
        })
    }
}

/// Why an input was refused. The timeline is unchanged by a refused input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimelineError {
    #[error("{track} frame RTP time is {jump_ms} ms away from where its arrival puts it")]
    RtpDiscontinuity { track: Track, jump_ms: i64 },
    #[error("{track} sender report arrived before the track's first frame")]
    TrackNotStarted { track: Track },
    #[error("{track} sender report wall time {wall_us} µs is outside what NTP can express")]
    WallTimeOutOfRange { track: Track, wall_us: i64 },
    #[error("{track} sender report RTP time is {distance_ms} ms away from the newest frame")]
    ReportRtpOutOfRange { track: Track, distance_ms: i64 },
    #[error("{track} sender report would move the track by {disagreement_ms} ms")]
    ReportInconsistent { track: Track, disagreement_ms: i64 },
}

/// What an accepted sender report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The report refines the track's placement (gradually, see the module docs).
    Applied,
    /// The same report as last time: the runtime hands the latest one with every frame.
    Unchanged,
    /// The sender's wall clock stepped: the track now follows the new clock without moving.
    Rebased,
}

/// What the relative placement of audio and video rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncBasis {
    /// Arrival times: as in sync as the network delivered them.
    Arrival,
    /// Both tracks' sender reports: as in sync as the browser captured them.
    SenderReports,
}

/// The timeline's state for the API and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineStatus {
    pub basis: SyncBasis,
    /// How far video is currently moved relative to audio compared with their arrival times,
    /// in µs: −100 000 after the network delivered video 100 ms late and reports fixed it.
    pub av_offset_us: i64,
    /// How much later than captured video is currently placed relative to audio, in µs, per
    /// the sender's reports; heads for 0 after the switch-over. `None` without both reports.
    pub av_error_us: Option<i64>,
    pub reports_accepted: u64,
    pub reports_refused: u64,
    pub frames_refused: u64,
    /// Times a track's RTP clock restarted and the track was re-anchored.
    pub rtp_restarts: u64,
}

/// Maps audio and video RTP times onto one timeline; see the module docs for the policy.
#[derive(Clone, Debug)]
pub struct Timeline {
    clocks: [NonZeroU32; 2],
    /// Output time of the first frame, so a replacement timeline can continue an old one.
    start_us: i64,
    /// Local time of the first frame of either track.
    zero_us: Option<i64>,
    /// Local time minus sender wall time, shared by both tracks once a report has arrived;
    /// re-chosen by every audio report so that audio stays put (see the module docs).
    wall_offset_us: Option<i64>,
    anchors: [Option<Anchor>; 2],
    reports_accepted: u64,
    reports_refused: u64,
    frames_refused: u64,
    rtp_restarts: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    /// A timeline for Opus audio (48 kHz RTP clock) and video (90 kHz), starting at 0.
    pub fn new() -> Self {
        Self::with_clock_rates(AUDIO_CLOCK_HZ, VIDEO_CLOCK_HZ)
    }

    /// A timeline for other RTP clock rates.
    pub fn with_clock_rates(audio_hz: NonZeroU32, video_hz: NonZeroU32) -> Self {
        Self {
            clocks: [audio_hz, video_hz],
            start_us: 0,
            zero_us: None,
            wall_offset_us: None,
            anchors: [None, None],
            reports_accepted: 0,
            reports_refused: 0,
            frames_refused: 0,
            rtp_restarts: 0,
        }
    }

    /// Makes the first frame come out at `start_us` instead of 0, so that a new ingest session
    /// replacing a dropped one continues the timeline its destinations already have.
    pub fn starting_at(mut self, start_us: u64) -> Self {
        self.start_us = i64::try_from(start_us).unwrap_or(i64::MAX);
        self
    }

    /// Takes in a frame: its extended RTP time and the local arrival time (µs, any monotonic
    /// clock) of its first packet. Call it for every frame before mapping it; the first frame
    /// of a track anchors the track. A frame refused here is off the track's clock and should
    /// be dropped.
    pub fn observe(
        &mut self,
        track: Track,
        rtp: RtpTime,
        arrival_us: u64,
    ) -> Result<(), TimelineError> {
        let arrival_us = i64::try_from(arrival_us).unwrap_or(i64::MAX);
        self.zero_us.get_or_insert(arrival_us);
        let clock = self.clocks[track.index()];
        let Some(anchor) = &mut self.anchors[track.index()] else {
            self.anchors[track.index()] =
                Some(Anchor::new(clock, track.slew_rate(), rtp, arrival_us));
            return Ok(());
        };
        match anchor.observe(rtp, arrival_us, MAX_RTP_JUMP_US, RESTART_AGREEMENT_US) {
            Observed::OnClock => Ok(()),
            Observed::Discontinuous { run, .. } if run >= RESTART_AFTER => {
                anchor.restart(rtp, arrival_us);
                self.rtp_restarts += 1;
                Ok(())
            }
            Observed::Discontinuous { jump_us, .. } => {
                self.frames_refused += 1;
                Err(TimelineError::RtpDiscontinuity {
                    track,
                    jump_ms: jump_us / 1000,
                })
            }
        }
    }

    /// Takes in a track's RTCP sender report: RTP time `rtp` was captured at the sender's wall
    /// time `wall_us` (µs since the UNIX epoch, from the report's NTP timestamp). Passing the
    /// same report again is harmless.
    ///
    /// `rtp` is the report's 32-bit timestamp as on the wire, not an extended time: str0m
    /// extends a report's time on its own count of the reports' wraps, which starts at the
    /// first report and so disagrees with the media's extension once the clock wrapped before
    /// it. The report belongs to the media around it, so it is placed nearest the newest frame.
    pub fn sender_report(
        &mut self,
        track: Track,
        rtp: u32,
        wall_us: i64,
    ) -> Result<ReportOutcome, TimelineError> {
        let outcome = self.apply_report(track, rtp, wall_us);
        match outcome {
            Ok(ReportOutcome::Applied | ReportOutcome::Rebased) => self.reports_accepted += 1,
            Ok(ReportOutcome::Unchanged) => {}
            Err(_) => self.reports_refused += 1,
        }
        outcome
    }

    /// Output time (µs, ≥ the start) of RTP time `rtp` on `track`; `None` before the track's
    /// first frame. For a fixed state it strictly increases with RTP time; state changes
    /// never lower the output for RTP times at or after the track's newest frame.
    pub fn map_us(&self, track: Track, rtp: RtpTime) -> Option<i64> {
        let zero = self.zero_us?;
        let anchor = self.anchors[track.index()].as_ref()?;
        let local = anchor.local_us(rtp.ticks());
        Some(
            self.start_us
                .saturating_add(local.saturating_sub(zero))
                .max(self.start_us),
        )
    }

    /// [`Self::map_us`] in whole milliseconds (rounded down, so still never decreasing).
    pub fn map_ms(&self, track: Track, rtp: RtpTime) -> Option<Millis> {
        self.map_us(track, rtp).map(Millis::from_us_floor)
    }

    /// Where synchronisation stands, for the API and metrics.
    pub fn status(&self) -> TimelineStatus {
        let [audio, video] = &self.anchors;
        let av_offset_us = match (audio, video) {
            (Some(audio), Some(video)) => video
                .current_correction()
                .saturating_sub(audio.current_correction()),
            _ => 0,
        };
        let av_error_us = match (audio, video) {
            // Once both have a report, the offset has placed video relative to audio.
            (Some(audio), Some(video)) if audio.wall_step_us == video.wall_step_us => {
                let audio_offset = audio.wall_offset_at(audio.newest_rtp());
                let video_offset = video.wall_offset_at(video.newest_rtp());
                audio_offset
                    .zip(video_offset)
                    .map(|(audio, video)| video.saturating_sub(audio))
            }
            _ => None,
        };
        TimelineStatus {
            basis: if av_error_us.is_some() {
                SyncBasis::SenderReports
            } else {
                SyncBasis::Arrival
            },
            av_offset_us,
            av_error_us,
            reports_accepted: self.reports_accepted,
            reports_refused: self.reports_refused,
            frames_refused: self.frames_refused,
            rtp_restarts: self.rtp_restarts,
        }
    }

    fn apply_report(
        &mut self,
        track: Track,
        rtp: u32,
        wall_us: i64,
    ) -> Result<ReportOutcome, TimelineError> {
        let Some(anchor) = &mut self.anchors[track.index()] else {
            return Err(TimelineError::TrackNotStarted { track });
        };
        if anchor.last_seen_report == Some((rtp, wall_us)) {
            return Ok(ReportOutcome::Unchanged);
        }
        anchor.last_seen_report = Some((rtp, wall_us));
        if wall_us.unsigned_abs() > MAX_WALL_US {
            return Err(TimelineError::WallTimeOutOfRange { track, wall_us });
        }
        let clock = anchor.clock();
        let extended = anchor.extend(rtp);
        let distance_us = ticks_to_us(extended - anchor.newest_rtp(), clock);
        if distance_us.abs() > MAX_REPORT_RTP_DISTANCE_US {
            return Err(TimelineError::ReportRtpOutOfRange {
                track,
                distance_ms: distance_us / 1000,
            });
        }
        let basis = ReportBasis {
            rtp: extended,
            wall_us: wall_us.saturating_add(anchor.wall_step_us),
        };
        let correction_now = anchor.correction.at(anchor.media_us(extended));

        // Reports never move audio: an accepted one keeps audio heading where it was, and the
        // shared offset follows audio instead (`hold_audio`), so video carries the correction.
        let audio_hold = anchor.correction.target();
        let steer_to = |wanted: i64| match track {
            Track::Audio => audio_hold,
            Track::Video => wanted,
        };

        let Some(wall_offset) = self.wall_offset_us else {
            // The broadcast's first report: pick the offset that leaves this track in place.
            self.wall_offset_us = Some(anchor.wall_offset_for(basis, correction_now));
            accept(anchor, basis, steer_to(correction_now));
            self.hold_audio_if(track);
            return Ok(ReportOutcome::Applied);
        };

        let target = anchor.correction_for(basis, wall_offset);
        let first_of_track = anchor.report.is_none();
        // A track's first report is judged against where the track is; later ones against
        // where the previous report put it, so slow drift never adds up to a refusal.
        let reference = if first_of_track {
            correction_now
        } else {
            anchor.correction.target()
        };
        let disagreement = target.saturating_sub(reference);
        let outcome = if disagreement.abs() > MAX_REPORT_DISAGREEMENT_US {
            let run = Candidate::push(
                &mut anchor.rejected,
                extended,
                wall_us,
                clock,
                REBASE_AGREEMENT_US,
            );
            if run < REBASE_AFTER {
                return Err(TimelineError::ReportInconsistent {
                    track,
                    disagreement_ms: disagreement / 1000,
                });
            }
            // Consistent reports on a different clock: the sender's wall clock stepped (or the
            // earlier reports were the wrong ones). Follow the new clock from where we are.
            anchor.wall_step_us = anchor.wall_step_us.saturating_sub(disagreement);
            let rebased = ReportBasis {
                rtp: extended,
                wall_us: wall_us.saturating_add(anchor.wall_step_us),
            };
            accept(anchor, rebased, steer_to(reference));
            ReportOutcome::Rebased
        } else {
            accept(anchor, basis, steer_to(target));
            ReportOutcome::Applied
        };
        self.hold_audio_if(track);
        Ok(outcome)
    }

    /// After an accepted `track` report: if it was audio's, re-chooses the shared wall offset so
    /// that audio's report puts audio exactly where it is heading, and steers video (if it has
    /// a report) to its place relative to audio. The first audio report once video has one
    /// thus hands video the whole A/V error; later ones hand it audio's drift.
    fn hold_audio_if(&mut self, track: Track) {
        if track != Track::Audio {
            return;
        }
        let [Some(audio), video] = &mut self.anchors else {
            return;
        };
        let Some(audio_report) = audio.report else {
            return;
        };
        let wall_offset = audio.wall_offset_for(audio_report, audio.correction.target());
        self.wall_offset_us = Some(wall_offset);
        if let Some(video) = video
            && let Some(video_report) = video.report
        {
            video.steer(video.correction_for(video_report, wall_offset));
        }
    }
}

/// Makes `basis` the track's report and steers its correction towards `target_us`.
fn accept(anchor: &mut Anchor, basis: ReportBasis, target_us: i64) {
    anchor.report = Some(basis);
    anchor.rejected = None;
    anchor.steer(target_us);
}
