//! Media time, one type per unit, so that a tick is never added to a millisecond and wrapping
//! happens in exactly one place.
//!
//! - [`RtpTime`]: a position on one track's RTP clock, in ticks, extended to 64 bits. str0m
//!   extends each packet's 32-bit timestamp as it arrives (`MediaData::time`); that value is
//!   used as is from the ingest to the timeline and the transcoder, never truncated to 32 bits
//!   and extended again.
//! - [`Millis`]: a position on a broadcast's timeline in milliseconds. 64 bits: it neither
//!   wraps nor saturates in any real stream (2^63 ms is 292 million years).
//! - [`FlvTime`]: FLV's and RTMP's 32-bit millisecond timestamp of a position. It wraps after
//!   2^32 ms (49.7 days) by design, and readers extend it, so a 24/7 stream keeps advancing;
//!   two of them are ordered with serial-number arithmetic (RFC 1982), never with `<`.
//! - [`Samples`]: a count of audio samples (per channel): audio is timed by how many samples
//!   were sent, which never drifts, and turned into milliseconds only for a timestamp.
//!
//! Every conversion is total: hostile values give large numbers, never an overflow panic.

use std::fmt;
use std::num::NonZeroU32;

/// A position on a track's RTP clock in ticks (48 kHz for Opus, 90 kHz for video), extended
/// to 64 bits, so it only ever wraps in the 32-bit form on the wire ([`RtpTime::wire`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RtpTime(i64);

impl RtpTime {
    pub const fn from_ticks(ticks: i64) -> Self {
        Self(ticks)
    }

    /// str0m's extended RTP time (`MediaTime::numer()`). str0m adds at most one wrap per
    /// packet, so real values stay far below `i64::MAX`; anything beyond saturates.
    pub fn from_extended(ticks: u64) -> Self {
        Self(i64::try_from(ticks).unwrap_or(i64::MAX))
    }

    pub const fn ticks(self) -> i64 {
        self.0
    }

    /// The 32-bit timestamp as carried on the wire: the low 32 bits.
    pub const fn wire(self) -> u32 {
        // Truncation is the point: RTP timestamps are the extended time modulo 2^32.
        self.0 as u32
    }

    pub const fn saturating_add(self, ticks: i64) -> Self {
        Self(self.0.saturating_add(ticks))
    }

    /// Ticks from `earlier` to `self` (negative when `self` is before it).
    pub const fn ticks_since(self, earlier: RtpTime) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A position on a broadcast's timeline in milliseconds; the timeline starts at 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(i64);

impl Millis {
    pub const ZERO: Millis = Millis(0);

    pub const fn new(ms: i64) -> Self {
        Self(ms)
    }

    /// Whole milliseconds in `us` microseconds, rounded down (so a mapping that never
    /// decreases in µs never decreases in ms either).
    pub const fn from_us_floor(us: i64) -> Self {
        Self(us.div_euclid(1000))
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub const fn saturating_add(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// The FLV/RTMP timestamp of this position: modulo 2^32. A (never expected) negative
    /// position is taken as the start.
    pub const fn flv(self) -> FlvTime {
        let ms = if self.0 < 0 { 0 } else { self.0 };
        // Truncation is the wrap: the low 32 bits of a non-negative position.
        FlvTime(ms as u64 as u32)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

/// FLV's and RTMP's 32-bit millisecond timestamp, which wraps after 2^32 ms (49.7 days).
///
/// Deliberately not `Ord`: across the wrap, 5 comes after `u32::MAX`. [`FlvTime::before`]
/// orders two timestamps correctly while they are less than 2^31 ms (24.8 days) apart, which
/// every two timestamps a relay compares are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlvTime(u32);

impl FlvTime {
    pub const ZERO: FlvTime = FlvTime(0);

    /// A timestamp as read from (or written to) an FLV tag or RTMP message header.
    pub const fn from_ms(ms: u32) -> Self {
        Self(ms)
    }

    /// The 32-bit value for the FLV tag or RTMP message header.
    pub const fn ms(self) -> u32 {
        self.0
    }

    /// Whether `self` comes before `other`, across a wrap (serial-number arithmetic).
    pub const fn before(self, other: FlvTime) -> bool {
        (self.0.wrapping_sub(other.0) as i32) < 0
    }

    /// The later of two timestamps, across a wrap.
    pub const fn latest(self, other: FlvTime) -> FlvTime {
        if self.before(other) { other } else { self }
    }

    /// The earlier of two timestamps, across a wrap.
    pub const fn earliest(self, other: FlvTime) -> FlvTime {
        if self.before(other) { self } else { other }
    }

    /// `ms` later, wrapping as RTMP time does.
    pub const fn wrapping_add(self, ms: u32) -> FlvTime {
        FlvTime(self.0.wrapping_add(ms))
    }

    /// Milliseconds from `earlier` forward to `self`, modulo 2^32: what to add to `earlier`
    /// to reach `self`.
    pub const fn wrapping_since(self, earlier: FlvTime) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
}

impl fmt::Display for FlvTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

/// A count of audio samples per channel, at the track's sample rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Samples(i64);

impl Samples {
    pub const ZERO: Samples = Samples(0);

    pub const fn new(count: i64) -> Self {
        Self(count)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub const fn saturating_add(self, count: i64) -> Self {
        Self(self.0.saturating_add(count))
    }

    /// The duration of this many samples at `rate` Hz in milliseconds, rounded to the nearest
    /// (an FLV timestamp is whole milliseconds; rounding each position rather than summing
    /// rounded frame lengths keeps the error under half a millisecond forever).
    pub fn to_ms(self, rate: NonZeroU32) -> i64 {
        let rate = i128::from(rate.get());
        let ms = (i128::from(self.0) * 1000 + rate / 2).div_euclid(rate);
        i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
    }

    /// The duration of this many samples at `rate` Hz in microseconds, rounded down.
    pub fn to_us(self, rate: NonZeroU32) -> i64 {
        let us = (i128::from(self.0) * 1_000_000).div_euclid(i128::from(rate.get()));
        i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ_48K: NonZeroU32 = NonZeroU32::new(48_000).unwrap();

    #[test]
    fn an_rtp_time_keeps_its_extension_and_shows_the_wire_value_modulo_2_32() {
        let after_one_wrap = RtpTime::from_extended((1 << 32) + 1_500);
        assert_eq!(after_one_wrap.ticks(), (1 << 32) + 1_500);
        assert_eq!(after_one_wrap.wire(), 1_500);
        assert_eq!(
            after_one_wrap.ticks_since(RtpTime::from_ticks(u32::MAX.into())),
            1_501
        );
        assert_eq!(RtpTime::from_extended(u64::MAX).ticks(), i64::MAX);
    }

    #[test]
    fn a_timeline_position_past_49_7_days_wraps_its_flv_time_instead_of_freezing() {
        let wrap = 1_i64 << 32;
        assert_eq!(Millis::new(wrap - 1).flv(), FlvTime::from_ms(u32::MAX));
        assert_eq!(Millis::new(wrap + 40).flv(), FlvTime::from_ms(40));
        assert_eq!(Millis::new(-5).flv(), FlvTime::ZERO);
    }

    #[test]
    fn flv_times_are_ordered_across_the_wrap() {
        let before = FlvTime::from_ms(u32::MAX - 10);
        let after = before.wrapping_add(20);
        assert_eq!(after, FlvTime::from_ms(9));
        assert!(before.before(after));
        assert!(!after.before(before));
        assert!(!after.before(after));
        assert_eq!(before.latest(after), after);
        assert_eq!(after.latest(before), after);
        assert_eq!(before.earliest(after), before);
        assert_eq!(after.wrapping_since(before), 20);
    }

    #[test]
    fn samples_become_the_nearest_millisecond_without_drift() {
        assert_eq!(Samples::new(1024).to_ms(HZ_48K), 21); // 21.33 ms
        assert_eq!(Samples::new(3 * 1024).to_ms(HZ_48K), 64); // 64.0 ms
        // A day of AAC frames: the position is exact, where summing 21 ms frames would be
        // 28 s short.
        let frames_per_day = 24 * 3_600 * 48_000 / 1024;
        assert_eq!(
            Samples::new(frames_per_day * 1024).to_ms(HZ_48K),
            86_400_000
        );
        assert_eq!(Samples::new(i64::MAX).to_ms(NonZeroU32::MIN), i64::MAX);
        assert_eq!(Samples::new(1024).to_us(HZ_48K), 21_333);
        assert_eq!(Samples::new(48_000).to_us(HZ_48K), 1_000_000);
    }
}
