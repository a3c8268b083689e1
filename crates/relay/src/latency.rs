//! Relay latency: from the arrival of the datagram that completed a video frame on the ingest
//! socket to the last byte of that frame's FLV tag written to a destination's socket.
//!
//! This is the delay the relay itself adds (depacketizing, converting, fan-out, queueing,
//! RTMP chunking, the socket write) and the figure `streamhard bench` reports. It is kept in
//! one process-wide histogram of fixed buckets, updated with a few relaxed atomic additions
//! per frame and destination so the media path never takes a lock for it, and exported on
//! `/metrics` as `streamhard_relay_latency_seconds`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds: fine where a healthy relay is (under a few
/// ms), coarse where only the order of magnitude matters.
pub const BUCKETS_MS: [f64; 24] = [
    0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0,
    40.0, 50.0, 75.0, 100.0, 250.0, 500.0, 1000.0,
];

/// A histogram of durations with the buckets above plus an overflow bucket.
#[derive(Debug)]
pub struct LatencyHistogram {
    counts: [AtomicU64; BUCKETS_MS.len() + 1],
    sum_us: AtomicU64,
}

/// The relay latency of video frames, for every destination of this process.
pub static RELAY_LATENCY: LatencyHistogram = LatencyHistogram::new();

impl LatencyHistogram {
    pub const fn new() -> Self {
        Self {
            counts: [const { AtomicU64::new(0) }; BUCKETS_MS.len() + 1],
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, latency: Duration) {
        let ms = latency.as_secs_f64() * 1000.0;
        let bucket = BUCKETS_MS.partition_point(|&upper| upper < ms);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// The counts so far: per bucket (upper bound in seconds, `f64::INFINITY` last; not
    /// cumulative), the sum in seconds and the total count.
    pub fn snapshot(&self) -> LatencySnapshot {
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, count) in self.counts.iter().enumerate() {
            let upper = BUCKETS_MS.get(i).map_or(f64::INFINITY, |ms| ms / 1000.0);
            buckets.push((upper, count.load(Ordering::Relaxed)));
        }
        LatencySnapshot {
            count: buckets.iter().map(|(_, c)| c).sum(),
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            buckets,
        }
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LatencySnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

/// The `q` quantile (0..=1), in milliseconds, of a histogram given as cumulative counts per
/// upper bound in seconds (the Prometheus form), interpolating linearly inside the bucket as
/// Prometheus's `histogram_quantile` does. `None` without observations; a quantile in the
/// overflow bucket is reported as the last finite bound.
pub fn quantile_ms(cumulative: &[(f64, u64)], q: f64) -> Option<f64> {
    let total = cumulative.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut lower = (0.0, 0u64);
    for &(upper, count) in cumulative {
        if count as f64 >= rank && count > lower.1 {
            if upper.is_infinite() {
                return Some(lower.0 * 1000.0);
            }
            let within = (rank - lower.1 as f64) / (count - lower.1) as f64;
            return Some((lower.0 + (upper - lower.0) * within.clamp(0.0, 1.0)) * 1000.0);
        }
        lower = (upper, count);
    }
    Some(lower.0 * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cumulative(snapshot: &LatencySnapshot) -> Vec<(f64, u64)> {
        let mut total = 0;
        snapshot
            .buckets
            .iter()
            .map(|&(upper, count)| {
                total += count;
                (upper, total)
            })
            .collect()
    }

    #[test]
    fn observations_land_in_the_bucket_whose_bound_is_not_below_them() {
        let h = LatencyHistogram::new();
        h.observe(Duration::from_micros(250)); // exactly on the first bound
        h.observe(Duration::from_micros(251));
        h.observe(Duration::from_secs(5)); // overflow
        let s = h.snapshot();
        assert_eq!(s.buckets[0], (0.00025, 1));
        assert_eq!(s.buckets[1], (0.0005, 1));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(s.count, 3);
        assert!((s.sum_seconds - 5.000501).abs() < 1e-9, "{}", s.sum_seconds);
    }

    #[test]
    fn quantiles_interpolate_inside_a_bucket() {
        let h = LatencyHistogram::new();
        // 100 observations spread over the 1..1.5 ms bucket, 1 slow one.
        for _ in 0..99 {
            h.observe(Duration::from_micros(1200));
        }
        h.observe(Duration::from_millis(45));
        let c = cumulative(&h.snapshot());
        let p50 = quantile_ms(&c, 0.5).unwrap();
        assert!((1.0..=1.5).contains(&p50), "{p50}");
        // Rank 50 of the 99 in the bucket, linearly between its bounds.
        assert!((p50 - (1.0 + 0.5 * 50.0 / 99.0)).abs() < 1e-9, "{p50}");
        let p99 = quantile_ms(&c, 0.99).unwrap();
        assert!(
            (p99 - 1.5).abs() < 1e-9,
            "the 99th is the last fast one: {p99}"
        );
        let max = quantile_ms(&c, 1.0).unwrap();
        assert!((40.0..=50.0).contains(&max), "{max}");
    }

    #[test]
    fn no_observations_no_quantile_and_overflow_reports_the_last_bound() {
        assert_eq!(quantile_ms(&[], 0.5), None);
        assert_eq!(quantile_ms(&[(0.001, 0), (f64::INFINITY, 0)], 0.5), None);
        let h = LatencyHistogram::new();
        h.observe(Duration::from_secs(3));
        assert_eq!(quantile_ms(&cumulative(&h.snapshot()), 0.99), Some(1000.0));
    }
}
