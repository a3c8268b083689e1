//! RTP time arithmetic: 32-bit timestamps extended to 64 bits, and ticks ⇄ microseconds.
//!
//! Everything here is total: hostile timestamps give large numbers, never an overflow panic.

use std::num::NonZeroU32;

const MICROS_PER_SECOND: i128 = 1_000_000;

/// The 64-bit RTP time nearest to `reference` whose low 32 bits are `rtp`.
///
/// "Nearest" is what makes both wrap-around and reordering work: a timestamp a little before
/// the reference is a late frame (not a wrap 13 hours ahead), and a small value after a large
/// one is the counter wrapping (not a jump 13 hours back). Only distances under 2^31 ticks
/// (6.6 hours at 90 kHz, 12.4 at 48 kHz) are unambiguous; callers that know the elapsed time
/// pass a reference predicted from it, so longer pauses still extend correctly.
pub(super) fn extend_near(reference: i64, rtp: u32) -> i64 {
    // Truncation to the low 32 bits is the point: both values are compared modulo 2^32.
    reference.saturating_add(ticks_between(reference as u32, rtp))
}

/// Signed distance from `from` to `to` on the 32-bit RTP circle, in ticks.
pub(super) fn ticks_between(from: u32, to: u32) -> i64 {
    // Reinterpreting the wrapped difference as i32 picks the shorter way round the circle.
    i64::from(to.wrapping_sub(from) as i32)
}

/// Microseconds spanned by `ticks` of a `clock` Hz RTP clock, rounded down so that the
/// conversion is monotonic (more ticks never give fewer microseconds).
pub(super) fn ticks_to_us(ticks: i64, clock: NonZeroU32) -> i64 {
    let us = (i128::from(ticks) * MICROS_PER_SECOND).div_euclid(i128::from(clock.get()));
    saturate(us)
}

/// Ticks of a `clock` Hz RTP clock in `us` microseconds, rounded down.
pub(super) fn us_to_ticks(us: i64, clock: NonZeroU32) -> i64 {
    let ticks = (i128::from(us) * i128::from(clock.get())).div_euclid(MICROS_PER_SECOND);
    saturate(ticks)
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIDEO: NonZeroU32 = NonZeroU32::new(90_000).unwrap();
    const AUDIO: NonZeroU32 = NonZeroU32::new(48_000).unwrap();

    #[test]
    fn extends_a_timestamp_after_the_32_bit_wrap_past_the_reference() {
        let before_wrap = i64::from(u32::MAX - 1_499);
        assert_eq!(extend_near(before_wrap, 1_500), before_wrap + 3_000);
    }

    #[test]
    fn takes_a_slightly_earlier_timestamp_as_reordering_not_as_a_wrap() {
        assert_eq!(extend_near(1_000_000, 997_000), 997_000);
    }

    #[test]
    fn takes_a_frame_from_before_the_wrap_as_late_when_the_reference_is_after_it() {
        let after_wrap = (1_i64 << 32) + 1_000;
        assert_eq!(
            extend_near(after_wrap, u32::MAX - 1_999),
            after_wrap - 3_000
        );
    }

    #[test]
    fn keeps_extending_across_several_wraps() {
        let mut extended = 0_i64;
        for _ in 0..5 * 4 {
            // Quarter-circle steps: each is unambiguous, together they wrap five times.
            extended = extend_near(extended, (extended + (1 << 30)) as u32);
        }
        assert_eq!(extended, 5 << 32);
    }

    #[test]
    fn converts_one_second_of_ticks_to_one_million_microseconds() {
        assert_eq!(ticks_to_us(90_000, VIDEO), 1_000_000);
        assert_eq!(ticks_to_us(48_000, AUDIO), 1_000_000);
        assert_eq!(us_to_ticks(1_000_000, VIDEO), 90_000);
    }

    #[test]
    fn rounds_tick_conversions_down_even_for_negative_spans() {
        assert_eq!(ticks_to_us(1, VIDEO), 11);
        assert_eq!(ticks_to_us(-1, VIDEO), -12);
        assert_eq!(us_to_ticks(-1, AUDIO), -1);
    }

    #[test]
    fn saturates_instead_of_overflowing_on_extreme_values() {
        assert_eq!(ticks_to_us(i64::MAX, NonZeroU32::MIN), i64::MAX);
        assert_eq!(us_to_ticks(i64::MIN, NonZeroU32::MAX), i64::MIN);
        assert_eq!(extend_near(i64::MAX, 5), i64::MAX);
    }
}
