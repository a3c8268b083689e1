//! Gradual corrections: how a track's offset moves to a new value without a jump.
//!
//! A correction is a ramp over *media* time (the track's RTP time in microseconds), not over
//! calls or wall time, so the mapping stays a pure function of the RTP time: the same frame
//! gets the same timestamp however often, and in whatever order, it is asked for. How fast a
//! correction may move is the track's [`SlewRate`]: video moves ten times faster than audio.

/// How fast a correction may move: one µs of correction per this many µs of media. Each track
/// has its own (see [`SlewRate::AUDIO`] and [`SlewRate::VIDEO`]), because what a listener and a
/// viewer notice differs by an order of magnitude.
///
/// Every rate is well under 100 %, so a correction towards earlier times can never make output
/// time run backwards: it runs at 95 % speed at worst. Steps are never taken at once, however
/// small: even audio finishes a 1 ms correction in 200 ms of media.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlewRate {
    media_us_per_correction_us: i64,
}

impl SlewRate {
    /// Audio: 5 ms per second of media (0.5 %). AAC frames are played back to back by their
    /// sample count, so audio timestamps must stay smooth; a player that resamples audio to its
    /// timestamps shifts pitch by 0.5 % at most, under the ~0.6 % a listener notices. The
    /// timeline avoids moving audio at all (see the module docs); this rate bounds it if it must.
    pub(super) const AUDIO: SlewRate = SlewRate {
        media_us_per_correction_us: 200,
    };

    /// Video: 50 ms per second of media (5 %). Video frames carry their own timestamps and are
    /// shown when those say: a 33 ms frame interval becomes 31.7 to 35 ms, which no viewer or
    /// platform notices, and a 100 ms A/V skew is gone in 2 s.
    pub(super) const VIDEO: SlewRate = SlewRate {
        media_us_per_correction_us: 20,
    };

    /// The largest correction this rate allows over `media_us` of media (rounded down).
    pub(super) fn budget_us(self, media_us: i64) -> i64 {
        media_us / self.media_us_per_correction_us
    }
}

/// A correction ramping from `from_us` towards `to_us` at `rate`, starting at media time
/// `start_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slew {
    rate: SlewRate,
    start_us: i64,
    from_us: i64,
    to_us: i64,
}

impl Slew {
    /// A correction that stays at `value_us`, and later moves at `rate`.
    pub(super) fn fixed(value_us: i64, rate: SlewRate) -> Self {
        Self {
            rate,
            start_us: 0,
            from_us: value_us,
            to_us: value_us,
        }
    }

    /// The correction at media time `media_us`: the start value before the ramp begins, then
    /// moving at the track's rate until it reaches the target.
    pub(super) fn at(&self, media_us: i64) -> i64 {
        let run = media_us.saturating_sub(self.start_us).max(0);
        let budget = self.rate.budget_us(run);
        let wanted = self.to_us.saturating_sub(self.from_us);
        self.from_us.saturating_add(wanted.clamp(-budget, budget))
    }

    /// The value this correction is heading for.
    pub(super) fn target(&self) -> i64 {
        self.to_us
    }

    /// How fast this correction moves.
    pub(super) fn rate(&self) -> SlewRate {
        self.rate
    }

    /// A new ramp towards `to_us` that starts, at media time `start_us`, from where this one is
    /// then: the mapping is continuous at `start_us`, so nothing jumps.
    pub(super) fn towards(&self, start_us: i64, to_us: i64) -> Self {
        Self {
            rate: self.rate,
            start_us,
            from_us: self.at(start_us),
            to_us,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_start_value_before_the_ramp_begins() {
        let slew = Slew::fixed(7_000, SlewRate::VIDEO).towards(1_000_000, -50_000);
        assert_eq!(slew.at(0), 7_000);
        assert_eq!(slew.at(1_000_000), 7_000);
    }

    #[test]
    fn moves_audio_five_ms_per_second_of_media_in_either_direction() {
        let down = Slew::fixed(0, SlewRate::AUDIO).towards(0, -100_000);
        assert_eq!(down.at(1_000_000), -5_000);
        assert_eq!(down.at(2_000_000), -10_000);
        let up = Slew::fixed(0, SlewRate::AUDIO).towards(0, 100_000);
        assert_eq!(up.at(1_000_000), 5_000);
    }

    #[test]
    fn moves_video_fifty_ms_per_second_of_media_in_either_direction() {
        let down = Slew::fixed(0, SlewRate::VIDEO).towards(0, -100_000);
        assert_eq!(down.at(1_000_000), -50_000);
        assert_eq!(down.at(2_000_000), -100_000);
        let up = Slew::fixed(0, SlewRate::VIDEO).towards(0, 100_000);
        // One 30 fps frame interval: 33 333 µs of media, 1 666 µs of correction.
        assert_eq!(up.at(33_333), 1_666);
    }

    #[test]
    fn stops_at_the_target() {
        for rate in [SlewRate::AUDIO, SlewRate::VIDEO] {
            let slew = Slew::fixed(0, rate).towards(0, -1_000);
            assert_eq!(slew.at(200_000), -1_000);
            assert_eq!(slew.at(60_000_000), -1_000);
            assert_eq!(slew.target(), -1_000);
        }
    }

    #[test]
    fn a_new_target_continues_from_the_current_value_without_a_jump() {
        let first = Slew::fixed(0, SlewRate::AUDIO).towards(0, -100_000);
        let second = first.towards(2_000_000, 100_000);
        assert_eq!(second.at(2_000_000), first.at(2_000_000));
        assert_eq!(second.at(3_000_000), -10_000 + 5_000);
        assert_eq!(second.rate(), SlewRate::AUDIO);
    }

    #[test]
    fn never_lets_output_time_run_backwards_at_either_rate() {
        for rate in [SlewRate::AUDIO, SlewRate::VIDEO] {
            // Audio needs 20 s of media for this, video 2 s.
            let slew = Slew::fixed(0, rate).towards(0, -100_000);
            let mut last = i64::MIN;
            for media_us in (0..30_000_000).step_by(997) {
                let output = media_us + slew.at(media_us);
                assert!(output > last, "{rate:?}: output stalled at {media_us} µs");
                last = output;
            }
            assert_eq!(slew.at(30_000_000), -100_000, "{rate:?} reached its target");
        }
    }

    #[test]
    fn survives_extreme_values_without_overflow() {
        for rate in [SlewRate::AUDIO, SlewRate::VIDEO] {
            let slew = Slew::fixed(i64::MIN, rate).towards(i64::MIN, i64::MAX);
            assert_eq!(slew.at(i64::MAX), i64::MIN + rate.budget_us(i64::MAX));
        }
    }
}
