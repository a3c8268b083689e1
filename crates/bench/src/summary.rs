//! The one summary line a run ends with, and what "held" means for `--ramp`.

use crate::baseline::BaselineFigures;

/// Delivery below this fails a ramp step.
pub const MIN_DELIVERED_PCT: f64 = 99.9;
/// p99 relay latency above this fails a ramp step.
pub const MAX_P99_MS: f64 = 50.0;

#[derive(Clone, Debug, PartialEq)]
pub struct RunFigures {
    pub streams: usize,
    pub destinations: usize,
    pub seconds: u64,
    /// Server CPU over the measurement window, in % of one core.
    pub server_cpu_pct: f64,
    pub rss_bytes: u64,
    /// RSS of the server before any broadcast: what per-stream memory is counted above.
    pub idle_rss_bytes: u64,
    pub frames_sent: u64,
    /// Video frames counted by all sinks together.
    pub frames_received: u64,
    pub p50_relay_ms: Option<f64>,
    pub p99_relay_ms: Option<f64>,
    /// Median over broadcasts of WHIP answer → first keyframe at every one of its sinks.
    pub first_keyframe_ms: Option<f64>,
    pub first_keyframe_max_ms: Option<f64>,
    pub timestamp_errors: u64,
    pub failed_streams: usize,
}

impl RunFigures {
    /// Frames received by all sinks over frames sent × destinations, in %.
    pub fn delivered_pct(&self) -> f64 {
        let expected = self.frames_sent * self.destinations as u64;
        if expected == 0 {
            return 0.0;
        }
        self.frames_received as f64 / expected as f64 * 100.0
    }

    pub fn cpu_per_stream_pct(&self) -> f64 {
        self.server_cpu_pct / self.streams as f64
    }

    /// Whether this load was carried: delivery, latency, no broken stream or timestamp.
    pub fn holds(&self) -> bool {
        self.delivered_pct() >= MIN_DELIVERED_PCT
            && self.p99_relay_ms.is_some_and(|p| p <= MAX_P99_MS)
            && self.failed_streams == 0
            && self.timestamp_errors == 0
    }

    pub fn line(&self, baseline: Option<&BaselineFigures>) -> String {
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        let per_stream_mb =
            mb(self.rss_bytes.saturating_sub(self.idle_rss_bytes)) / self.streams as f64;
        let mut line = format!(
            "bench: streams={} destinations={} seconds={} server_cpu_pct={:.1} \
             cpu_per_stream_pct={:.2} rss_mb={:.1} rss_per_stream_mb={:.2} delivered_pct={:.3} \
             p50_relay_ms={} p99_relay_ms={} first_keyframe_ms={} first_keyframe_max_ms={} \
             frames_sent={} frames_received={} timestamp_errors={} failed_streams={}",
            self.streams,
            self.destinations,
            self.seconds,
            self.server_cpu_pct,
            self.cpu_per_stream_pct(),
            mb(self.rss_bytes),
            per_stream_mb,
            self.delivered_pct(),
            figure(self.p50_relay_ms, 2),
            figure(self.p99_relay_ms, 2),
            figure(self.first_keyframe_ms, 0),
            figure(self.first_keyframe_max_ms, 0),
            self.frames_sent,
            self.frames_received,
            self.timestamp_errors,
            self.failed_streams,
        );
        if let Some(b) = baseline {
            let ratio = b.cpu_per_stream_pct / self.cpu_per_stream_pct().max(f64::EPSILON);
            line.push_str(&format!(
                " baseline_streams={} baseline_cpu_per_stream_pct={:.1} ratio={ratio:.1}",
                b.streams, b.cpu_per_stream_pct
            ));
        }
        line
    }
}

fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "none".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The `q` quantile (nearest rank) of `values`; sorts them.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q.clamp(0.0, 1.0) * values.len() as f64).ceil() as usize).max(1);
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> RunFigures {
        RunFigures {
            streams: 10,
            destinations: 2,
            seconds: 30,
            server_cpu_pct: 8.0,
            rss_bytes: 60 * 1024 * 1024,
            idle_rss_bytes: 40 * 1024 * 1024,
            frames_sent: 9000,
            frames_received: 17_991,
            p50_relay_ms: Some(0.8),
            p99_relay_ms: Some(3.25),
            first_keyframe_ms: Some(120.0),
            first_keyframe_max_ms: Some(180.0),
            timestamp_errors: 0,
            failed_streams: 0,
        }
    }

    #[test]
    fn the_line_carries_every_figure_the_issue_names() {
        let line = figures().line(Some(&BaselineFigures {
            streams: 2,
            cpu_per_stream_pct: 44.0,
        }));
        for field in [
            "bench: streams=10 destinations=2 seconds=30 ",
            "server_cpu_pct=8.0 ",
            "cpu_per_stream_pct=0.80 ",
            "rss_mb=60.0 ",
            "rss_per_stream_mb=2.00 ",
            "delivered_pct=99.950 ",
            "p50_relay_ms=0.80 ",
            "p99_relay_ms=3.25 ",
            "first_keyframe_ms=120 ",
            "baseline_cpu_per_stream_pct=44.0 ",
            "ratio=55.0",
        ] {
            assert!(line.contains(field), "{field:?} in {line}");
        }
    }

    #[test]
    fn a_step_holds_only_with_full_delivery_and_low_latency() {
        assert!(figures().holds());
        let lossy = RunFigures {
            frames_received: 17_900,
            ..figures()
        };
        assert!(!lossy.holds(), "{}", lossy.delivered_pct());
        let slow = RunFigures {
            p99_relay_ms: Some(51.0),
            ..figures()
        };
        assert!(!slow.holds());
        let unmeasured = RunFigures {
            p99_relay_ms: None,
            ..figures()
        };
        assert!(!unmeasured.holds());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut v, 0.5), Some(3.0));
        assert_eq!(percentile(&mut v, 1.0), Some(5.0));
        assert_eq!(percentile(&mut v, 0.0), Some(1.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }
}
