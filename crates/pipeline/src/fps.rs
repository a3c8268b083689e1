//! Frame rate from RTP timestamps: browsers rarely put timing info in the SPS.

use std::collections::VecDeque;

const WINDOW: usize = 31;
const VIDEO_CLOCK: f64 = 90_000.0;

#[derive(Debug, Default)]
pub struct FpsEstimator {
    times: VecDeque<u32>,
}

impl FpsEstimator {
    pub fn push(&mut self, rtp: u32) {
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
        let span = last.wrapping_sub(*first);
        // A span over half the clock range is a reordering artefact, not real time.
        if self.times.len() < 2 || span == 0 || span > u32::MAX / 2 {
            return None;
        }
        let fps = (self.times.len() - 1) as f64 * VIDEO_CLOCK / f64::from(span);
        Some((fps * 100.0).round() / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_frames_per_second_across_a_wrap() {
        let mut est = FpsEstimator::default();
        let start = u32::MAX - 3000 * 10;
        for i in 0..40u32 {
            est.push(start.wrapping_add(i * 3000));
        }
        assert_eq!(est.fps(), Some(30.0));
    }

    #[test]
    fn no_rate_from_a_single_frame() {
        let mut est = FpsEstimator::default();
        est.push(1000);
        est.push(1000);
        assert_eq!(est.fps(), None);
    }
}
