//! Reads one histogram out of a Prometheus / OpenMetrics text exposition (what `/metrics`
//! serves), so the bench uses the server's own latency histogram rather than a second
//! measurement of its own.

/// The cumulative `(le, count)` buckets of histogram `name`, in the order served.
pub fn histogram(text: &str, name: &str) -> Vec<(f64, u64)> {
    let prefix = format!("{name}_bucket{{");
    text.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let le = rest.split("le=\"").nth(1)?.split('"').next()?;
            let le = match le {
                "+Inf" => f64::INFINITY,
                v => v.parse().ok()?,
            };
            let count = rest.rsplit_once("} ")?.1.split_whitespace().next()?;
            Some((le, count.parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// `after − before`, bucket by bucket: the observations made between two scrapes.
pub fn difference(after: &[(f64, u64)], before: &[(f64, u64)]) -> Vec<(f64, u64)> {
    after
        .iter()
        .map(|&(le, count)| {
            let earlier = before.iter().find(|(b, _)| *b == le).map_or(0, |(_, c)| *c);
            (le, count.saturating_sub(earlier))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE streamhard_relay_latency_seconds histogram\n\
        streamhard_relay_latency_seconds_sum 0.5\n\
        streamhard_relay_latency_seconds_count 10\n\
        streamhard_relay_latency_seconds_bucket{le=\"0.001\"} 4\n\
        streamhard_relay_latency_seconds_bucket{le=\"0.002\"} 9\n\
        streamhard_relay_latency_seconds_bucket{le=\"+Inf\"} 10\n\
        streamhard_other_bucket{le=\"1.0\"} 99\n";

    #[test]
    fn reads_the_named_histogram_only() {
        assert_eq!(
            histogram(TEXT, "streamhard_relay_latency_seconds"),
            vec![(0.001, 4), (0.002, 9), (f64::INFINITY, 10)]
        );
        assert!(histogram(TEXT, "missing").is_empty());
    }

    #[test]
    fn the_difference_is_what_happened_in_between() {
        let before = [(0.001, 1), (0.002, 2), (f64::INFINITY, 2)];
        let after = histogram(TEXT, "streamhard_relay_latency_seconds");
        assert_eq!(
            difference(&after, &before),
            vec![(0.001, 3), (0.002, 7), (f64::INFINITY, 8)]
        );
    }
}
