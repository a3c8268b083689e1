//! One track's clock: its anchor on the local clock, its correction, its sender reports.

use std::num::NonZeroU32;

use super::rtp_time::{extend_near, ticks_to_us, us_to_ticks};
use super::slew::{Slew, SlewRate};
use crate::time::RtpTime;

/// Where a track's RTP clock sits on the local clock, once its first frame has arrived.
///
/// The local time of RTP time `R` is `first_arrival + media(R) + correction(media(R))`, with
/// `media(R)` the microseconds of RTP time since the first frame. Only the correction ever
/// changes, and only through a [`Slew`] at the track's own [`SlewRate`].
#[derive(Clone, Debug)]
pub(super) struct Anchor {
    clock: NonZeroU32,
    first_rtp: i64,
    first_arrival_us: i64,
    /// The newest observed frame (extended RTP time, arrival): predicts the next RTP time.
    newest: (i64, i64),
    pub(super) correction: Slew,
    /// The sender's wall clock for this track, from its latest accepted report.
    pub(super) report: Option<ReportBasis>,
    /// Added to this track's reported wall times: non-zero only after a rebase.
    pub(super) wall_step_us: i64,
    /// The last report seen, accepted or not: the runtime repeats it with every frame.
    pub(super) last_seen_report: Option<(u32, i64)>,
    /// Consecutive rejected reports that agree with each other.
    pub(super) rejected: Option<Candidate>,
    /// Consecutive frames whose RTP time left the clock, and agree with each other.
    discontinuity: Option<Candidate>,
}

/// A sender report in this track's terms: extended RTP time `rtp` was captured at sender wall
/// time `wall_us` (with the track's wall step applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ReportBasis {
    pub(super) rtp: i64,
    pub(super) wall_us: i64,
}

impl ReportBasis {
    /// The sender's wall time of extended RTP time `rtp`, at the nominal clock rate.
    pub(super) fn wall_at(&self, rtp: i64, clock: NonZeroU32) -> i64 {
        self.wall_us
            .saturating_add(ticks_to_us(rtp.saturating_sub(self.rtp), clock))
    }
}

/// A run of rejected inputs (extended RTP time, paired time in µs) that agree with each
/// other: when it is long enough, the inputs are the new truth rather than noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Candidate {
    rtp: i64,
    time_us: i64,
    count: u32,
}

impl Candidate {
    /// Extends the run with (rtp, time_us) if it agrees with the previous one within
    /// `tolerance_us`, otherwise starts a new run; returns the run's length.
    pub(super) fn push(
        slot: &mut Option<Candidate>,
        rtp: i64,
        time_us: i64,
        clock: NonZeroU32,
        tolerance_us: i64,
    ) -> u32 {
        let count = match *slot {
            Some(previous) => {
                let rtp_span = ticks_to_us(rtp.saturating_sub(previous.rtp), clock);
                let time_span = time_us.saturating_sub(previous.time_us);
                if rtp_span.abs_diff(time_span) <= tolerance_us.unsigned_abs() {
                    previous.count.saturating_add(1)
                } else {
                    1
                }
            }
            None => 1,
        };
        *slot = Some(Candidate {
            rtp,
            time_us,
            count,
        });
        count
    }
}

/// What [`Anchor::observe`] concluded about a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Observed {
    /// On the clock: its RTP time is about where its arrival time predicts.
    OnClock,
    /// Off the clock by `jump_us`; `run` such frames in a row agree with each other.
    Discontinuous { jump_us: i64, run: u32 },
}

impl Anchor {
    pub(super) fn new(clock: NonZeroU32, rate: SlewRate, rtp: RtpTime, arrival_us: i64) -> Self {
        let first_rtp = rtp.ticks();
        Self {
            clock,
            first_rtp,
            first_arrival_us: arrival_us,
            newest: (first_rtp, arrival_us),
            correction: Slew::fixed(0, rate),
            report: None,
            wall_step_us: 0,
            last_seen_report: None,
            rejected: None,
            discontinuity: None,
        }
    }

    pub(super) fn clock(&self) -> NonZeroU32 {
        self.clock
    }

    /// Takes in a frame's RTP time and arrival; `max_jump_us` is how far the RTP time may be
    /// from the one the arrival predicts before the frame counts as off the clock. A time that
    /// str0m extended into the wrong 2^32 era (after a pause of hours) is such a jump, and
    /// three of them re-anchor the track, as any restarted clock does.
    pub(super) fn observe(
        &mut self,
        rtp: RtpTime,
        arrival_us: i64,
        max_jump_us: i64,
        run_tolerance_us: i64,
    ) -> Observed {
        let (newest_rtp, newest_arrival) = self.newest;
        let predicted = newest_rtp.saturating_add(us_to_ticks(
            arrival_us.saturating_sub(newest_arrival),
            self.clock,
        ));
        let extended = rtp.ticks();
        let jump_us = ticks_to_us(extended.saturating_sub(predicted), self.clock);
        if jump_us.abs() <= max_jump_us {
            self.discontinuity = None;
            if extended >= newest_rtp {
                self.newest = (extended, arrival_us);
            }
            return Observed::OnClock;
        }
        let run = Candidate::push(
            &mut self.discontinuity,
            extended,
            arrival_us,
            self.clock,
            run_tolerance_us,
        );
        Observed::Discontinuous { jump_us, run }
    }

    /// Starts the track's RTP clock afresh at a frame, keeping the current correction so the
    /// track's placement relative to the other one stays what it was. Reports about the old
    /// clock mean nothing for the new one and are forgotten.
    pub(super) fn restart(&mut self, rtp: RtpTime, arrival_us: i64) {
        let correction = self.current_correction();
        let rate = self.correction.rate();
        *self = Self::new(self.clock, rate, rtp, arrival_us);
        self.correction = Slew::fixed(correction, rate);
    }

    /// The 64-bit RTP time nearest the newest frame with low bits `rtp`: only for sender
    /// reports, whose 32-bit time str0m extends on a count of wraps of its own.
    pub(super) fn extend(&self, rtp: u32) -> i64 {
        extend_near(self.newest.0, rtp)
    }

    /// The newest observed frame's extended RTP time.
    pub(super) fn newest_rtp(&self) -> i64 {
        self.newest.0
    }

    /// Microseconds of media from the first frame to extended RTP time `rtp`.
    pub(super) fn media_us(&self, rtp: i64) -> i64 {
        ticks_to_us(rtp.saturating_sub(self.first_rtp), self.clock)
    }

    /// Local time of `rtp` from the arrival anchor alone, before any correction.
    pub(super) fn base_us(&self, rtp: i64) -> i64 {
        self.first_arrival_us.saturating_add(self.media_us(rtp))
    }

    /// Local time of extended RTP time `rtp`: the mapping itself.
    pub(super) fn local_us(&self, rtp: i64) -> i64 {
        self.base_us(rtp)
            .saturating_add(self.correction.at(self.media_us(rtp)))
    }

    /// The correction applied to the newest frame.
    pub(super) fn current_correction(&self) -> i64 {
        self.correction.at(self.media_us(self.newest.0))
    }

    /// The correction that puts this track at sender wall time + `wall_offset_us` according
    /// to `report`: constant in RTP time because both run at the nominal clock rate.
    pub(super) fn correction_for(&self, report: ReportBasis, wall_offset_us: i64) -> i64 {
        report
            .wall_us
            .saturating_add(wall_offset_us)
            .saturating_sub(self.base_us(report.rtp))
    }

    /// The wall offset at which `report` puts this track at correction `correction_us`: the
    /// inverse of [`Self::correction_for`], exactly, so a track held by it does not move.
    pub(super) fn wall_offset_for(&self, report: ReportBasis, correction_us: i64) -> i64 {
        self.base_us(report.rtp)
            .saturating_add(correction_us)
            .saturating_sub(report.wall_us)
    }

    /// Local minus sender wall time for this track at extended RTP time `rtp`: how the track
    /// is placed against the sender's clock (None before its first accepted report).
    pub(super) fn wall_offset_at(&self, rtp: i64) -> Option<i64> {
        let report = self.report?;
        Some(
            self.local_us(rtp)
                .saturating_sub(report.wall_at(rtp, self.clock)),
        )
    }

    /// Heads the correction for `target_us`, starting at the newest frame: the mapping stays
    /// continuous there, so frames after it never come out earlier than it did.
    /// Steering again for the same target keeps the ramp as it is.
    pub(super) fn steer(&mut self, target_us: i64) {
        if target_us == self.correction.target() {
            return;
        }
        let start = self.media_us(self.newest.0);
        self.correction = self.correction.towards(start, target_us);
    }
}
