//! Frame rate from RTP timestamps: browsers rarely put timing info in the SPS.

use std::collections::VecDeque;

use streamhard_media::time::RtpTime;

const WINDOW: usize = 31;
const VIDEO_CLOCK: f64 = 90_000.0;

#[derive(Debug, Default)]
pub struct FpsEstimator {
    times: VecDeque<RtpTime>,
}

impl FpsEstimator {
    pub fn push(&mut self, rtp: RtpTime) {
        if self.times.back() == Some(&rtp) {
            return; // Same frame (e.g. a second access unit with the same time): not a new one.
        }
        if self.times.len() == WINDOW {
            self.times.pop_front();
        }
        self.times.push_back(rtp);
    }

    /// Frames per second over the last ~30 frames, rounded to 0.01.
    pub fn fps(&self) -> Option<f64> {
        let (first, last) = (self.times.front()?, self.times.back()?);
        let span = last.ticks_since(*first);
        // A span that is not forward is a reordering artefact, not real time.
        if self.times.len() < 2 || span <= 0 {
            return None;
        }
        let fps = (self.times.len() - 1) as f64 * VIDEO_CLOCK / span as f64;
        Some((fps * 100.0).round() / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_frames_per_second_across_the_wire_wrap() {
        let mut est = FpsEstimator::default();
        let start = RtpTime::from_ticks(i64::from(u32::MAX) - 3000 * 10);
        for i in 0..40 {
            est.push(start.saturating_add(i * 3000));
        }
        assert_eq!(est.fps(), Some(30.0));
    }

    #[test]
    fn no_rate_from_a_single_frame() {
        let mut est = FpsEstimator::default();
        est.push(RtpTime::from_ticks(1000));
        est.push(RtpTime::from_ticks(1000));
        assert_eq!(est.fps(), None);
    }
}
