//! Opus packets from a publisher into the Opus → AAC transcoder, stamped as the pipeline
//! stamps them (the unwrapped RTP clock), with the gaps, reordering, duplicates, jumps and
//! silence fills that a network and a muted microphone produce.
//!
//! Input: records `[op] [delta: i16] [length] packet`:
//! - `op % 4 == 0`: the packet at the end of the audio so far + `delta` samples;
//! - `1`: the packet `delta * 960` samples (20 ms steps) from the first packet's time;
//! - `2`: silence up to the end so far + `delta * 48` samples (the pipeline's fill);
//! - `3`: the packet at a time read from the next 8 bytes (hostile RTP clocks).
//!
//! Invariants: no panic and no encoder error; every push counts exactly one of decoded, late
//! or invalid; AAC frames come out in strictly increasing time, 1024 samples apart except
//! across a resync, non-empty and no larger than AAC allows; the cursor never goes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamhard_transcode::{AacSettings, MAX_ABS_PTS, OpusToAac, SAMPLES_PER_FRAME};

/// AAC-LC: at most 6144 bits per channel per frame.
const MAX_AAC_FRAME: usize = 2 * 6144 / 8;

fuzz_target!(|data: &[u8]| {
    let mut aac = OpusToAac::new(AacSettings::default()).expect("the encoder starts");
    let mut rest = data;
    let mut origin: Option<i64> = None;
    let mut pushes = 0u64;
    let mut last_pts: Option<i64> = None;
    let mut last_cursor: Option<i64> = None;
    // Jumps in AAC time explained so far, one per resync: the encoder's lookahead makes the
    // frames before and after a resync come out in the same or a later push than the resync,
    // so each jump is matched to a resync not yet spent rather than to the push it came in.
    let mut resyncs_spent = 0;
    while let [op, d0, d1, len, tail @ ..] = rest {
        let delta = i64::from(i16::from_be_bytes([*d0, *d1]));
        let end = aac.next_pts();
        let (pts, tail) = match op % 4 {
            0 => (end.unwrap_or(0) + delta, tail),
            1 => (origin.unwrap_or(0) + delta * 960, tail),
            2 => {
                rest = tail;
                if let Some(end) = end {
                    aac.push_silence_until(end + delta * 48)
                        .expect("silence is always accepted");
                }
                continue;
            }
            _ => {
                let Some((time, tail)) = tail.split_first_chunk::<8>() else {
                    return;
                };
                (i64::from_be_bytes(*time), tail)
            }
        };
        let len = usize::from(*len).min(tail.len());
        let (packet, tail) = tail.split_at(len);
        rest = tail;
        if origin.is_none() && pts.abs() <= MAX_ABS_PTS {
            origin = Some(pts);
        }
        aac.push_opus(pts, packet).expect("the encoder never fails");
        pushes += 1;
        let stats = aac.stats();
        assert_eq!(
            stats.decoded_packets + stats.late_packets + stats.invalid_packets,
            pushes,
            "each push is counted once"
        );
        if let (Some(before), Some(now)) = (last_cursor, aac.next_pts()) {
            assert!(now >= before, "the cursor went back from {before} to {now}");
        }
        last_cursor = aac.next_pts().or(last_cursor);
        while let Some(frame) = aac.pop() {
            assert!(!frame.data.is_empty() && frame.data.len() <= MAX_AAC_FRAME);
            if let Some(last) = last_pts {
                assert!(
                    frame.pts > last,
                    "AAC time went from {last} to {}",
                    frame.pts
                );
                if frame.pts - last != i64::from(SAMPLES_PER_FRAME) {
                    assert!(
                        resyncs_spent < stats.resyncs,
                        "a hole of {} samples without a resync",
                        frame.pts - last
                    );
                    resyncs_spent += 1;
                }
            }
            last_pts = Some(frame.pts);
        }
    }
});
