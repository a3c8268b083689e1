//! Where an incoming Opus packet goes on the audio timeline, given where the audio so far ends.
//!
//! This is the policy that keeps the AAC track continuous and monotonic whatever the network
//! does: losses are concealed, long gaps become silence, absurd jumps resynchronise, and
//! duplicates or late arrivals never move time backwards. Pure arithmetic, tested by table.

use crate::opus_decoder::CONCEAL_STEP;

/// Offsets smaller than one concealment step (2.5 ms) are jitter in the caller's clock, not
/// loss: the packet is placed right at the cursor. This also bounds the drift a misaligned
/// sender can cause, since every gap is concealed in whole steps.
pub(crate) const JITTER_TOLERANCE: i64 = CONCEAL_STEP as i64;

/// Gaps up to 120 ms (a few lost packets) are bridged by Opus concealment, which sounds far
/// better than a hole; beyond that concealment only repeats a fading tail, so silence it is.
pub(crate) const MAX_CONCEALED_GAP: i64 = 120 * 48;

/// The most silence one call may insert: 10 s. A publisher that paused for longer, or a hostile
/// timestamp, resynchronises instead, so no input can make us encode for long or queue much.
pub(crate) const MAX_SILENCE_GAP: i64 = 10 * 48_000;

/// What to do with a packet of `duration` samples stamped `pts` when the audio so far ends at
/// `cursor` (all on the caller's 48 kHz clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Entirely in time already consumed (duplicate, reordered or too late): drop it.
    Late,
    /// Continues the audio: decode and append, after dropping `skip` leading samples per
    /// channel that overlap what is already there.
    Contiguous { skip: u32 },
    /// A few packets were lost: conceal `samples` (a whole number of concealment steps), then
    /// append the packet.
    Conceal { samples: u32 },
    /// The publisher went quiet: insert `samples` of silence, then append the packet.
    Silence { samples: u32 },
    /// Too far ahead to fill: restart the timeline at the packet.
    Resync,
}

/// Decides the placement. Never overflows, whatever the inputs.
pub(crate) fn place(cursor: i64, pts: i64, duration: u32) -> Placement {
    // i128: two hostile i64 values cannot overflow their difference.
    let ahead = i128::from(pts) - i128::from(cursor);
    if ahead.abs() < i128::from(JITTER_TOLERANCE) {
        return Placement::Contiguous { skip: 0 };
    }
    if ahead < 0 {
        let overlap = -ahead;
        return if overlap >= i128::from(duration) {
            Placement::Late
        } else {
            // overlap < duration <= u32::MAX.
            Placement::Contiguous {
                skip: overlap as u32,
            }
        };
    }
    if ahead <= i128::from(MAX_CONCEALED_GAP) {
        // ahead <= MAX_CONCEALED_GAP fits u32; the sub-step remainder is absorbed as drift.
        let steps = ahead as u32 / CONCEAL_STEP;
        Placement::Conceal {
            samples: steps * CONCEAL_STEP,
        }
    } else if ahead <= i128::from(MAX_SILENCE_GAP) {
        // ahead <= MAX_SILENCE_GAP fits u32.
        Placement::Silence {
            samples: ahead as u32,
        }
    } else {
        Placement::Resync
    }
}

#[cfg(test)]
mod tests {
    use super::Placement::*;
    use super::*;

    #[test]
    fn places_packets_by_their_offset_from_the_cursor() {
        let cursor = 96_000;
        let cases = [
            // (pts, duration, expected)
            (96_000, 960, Contiguous { skip: 0 }),
            (96_119, 960, Contiguous { skip: 0 }),
            (95_881, 960, Contiguous { skip: 0 }),
            // Half of the packet was already covered.
            (95_520, 960, Contiguous { skip: 480 }),
            // The previous packet again, and one from long ago.
            (95_040, 960, Late),
            (0, 960, Late),
            // One, three and five lost 20 ms packets.
            (96_960, 960, Conceal { samples: 960 }),
            (98_880, 960, Conceal { samples: 2880 }),
            (100_800, 960, Conceal { samples: 4800 }),
            // A misaligned gap is concealed in whole 2.5 ms steps.
            (96_000 + 1000, 960, Conceal { samples: 960 }),
            (96_000 + 5760, 960, Conceal { samples: 5760 }),
            (96_000 + 5761, 960, Silence { samples: 5761 }),
            // Three seconds of pause.
            (96_000 + 144_000, 960, Silence { samples: 144_000 }),
            (96_000 + 480_000, 960, Silence { samples: 480_000 }),
            (96_000 + 480_001, 960, Resync),
        ];
        for (pts, duration, expected) in cases {
            assert_eq!(place(cursor, pts, duration), expected, "pts {pts}");
        }
    }

    #[test]
    fn extreme_timestamps_neither_overflow_nor_fill() {
        assert_eq!(place(i64::MIN, i64::MAX, 960), Resync);
        assert_eq!(place(i64::MAX, i64::MIN, 960), Late);
        assert_eq!(place(0, i64::MAX, u32::MAX), Resync);
        assert_eq!(place(i64::MAX, i64::MAX - 10, 960), Contiguous { skip: 0 });
    }
}
