//! `streamhard bench` works end to end on a small load: it prints the server's pid while the
//! server runs and one summary line whose figures are consistent. Performance itself is
//! measured by running the bench (BENCHMARKS.md), not asserted here.

use std::collections::HashMap;
use std::process::Command;

fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect()
}

#[test]
fn a_small_bench_delivers_every_frame_and_reports_every_figure() {
    let output = Command::new(env!("CARGO_BIN_EXE_streamhard"))
        .args([
            "bench",
            "--streams",
            "2",
            "--destinations",
            "2",
            "--seconds",
            "8",
        ])
        .output()
        .expect("run streamhard bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("bench: server_pid="),
        "the pid comes first: {stdout}"
    );
    let summary = lines.last().unwrap();
    let f = fields(summary);
    let number = |name: &str| -> f64 {
        f.get(name)
            .unwrap_or_else(|| panic!("{name} missing: {summary}"))
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: {summary}"))
    };
    assert_eq!((number("streams"), number("destinations")), (2.0, 2.0));
    // 8 s at 30 fps, from each of 2 publishers.
    let sent = number("frames_sent");
    assert!((470.0..=490.0).contains(&sent), "{summary}");
    assert_eq!(number("frames_received"), 2.0 * sent, "{summary}");
    assert_eq!(number("delivered_pct"), 100.0, "{summary}");
    assert_eq!(number("timestamp_errors"), 0.0, "{summary}");
    assert_eq!(number("failed_streams"), 0.0, "{summary}");
    assert!(number("server_cpu_pct") > 0.0, "{summary}");
    assert!(number("rss_mb") > 1.0, "{summary}");
    let (p50, p99) = (number("p50_relay_ms"), number("p99_relay_ms"));
    assert!(0.0 < p50 && p50 <= p99, "{summary}");
    assert!(number("first_keyframe_ms") > 0.0, "{summary}");
}
