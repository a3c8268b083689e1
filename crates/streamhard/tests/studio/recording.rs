//! What nginx recorded of the studio's broadcast, read while it is still growing: how far it
//! has got, whether it still grows, and its frame rate between two moments.

use std::path::{Path, PathBuf};
use std::time::Duration;

use streamhard_testkit::ffprobe::{self, Recording};
use streamhard_testkit::nginx::NginxRtmp;

/// A recording must have this much before it counts as started (a few keyframes of 720p).
pub const STARTED_BYTES: u64 = 150_000;

/// The one recording of `stream` on `nginx`, once it has [`STARTED_BYTES`].
pub fn wait_started(nginx: &NginxRtmp, stream: &str) -> PathBuf {
    let files = nginx
        .wait_for_recordings(stream, 1, STARTED_BYTES, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e:#}\nnginx: {}", nginx.error_log()));
    files.last().expect("a recording").clone()
}

/// How far the recording has got: from its first video packet to its last, in milliseconds.
pub fn position_ms(path: &Path) -> f64 {
    let rec = ffprobe::probe_packets(path).unwrap_or_else(|e| panic!("{e}"));
    let first = rec.video_packets.first().map_or(0.0, |p| p.dts_ms);
    rec.video_packets.last().map_or(0.0, |p| p.dts_ms) - first
}

/// Video frames per second recorded between two positions (see [`position_ms`]).
pub fn fps_between(rec: &Recording, from_ms: f64, to_ms: f64) -> f64 {
    let first = rec.video_packets.first().map_or(0.0, |p| p.dts_ms);
    let frames = rec
        .video_packets
        .iter()
        .filter(|p| p.dts_ms - first > from_ms && p.dts_ms - first <= to_ms)
        .count();
    frames as f64 * 1000.0 / (to_ms - from_ms)
}

/// The video bitrate of the last `window` of the recording, in kbit/s, from its packet sizes.
pub fn recent_video_kbps(path: &Path, window: Duration) -> f64 {
    let rec = ffprobe::probe_packets(path).unwrap_or_else(|e| panic!("{e}"));
    let window_ms = window.as_secs_f64() * 1000.0;
    let last = rec.video_packets.last().map_or(0.0, |p| p.dts_ms);
    let bytes: usize = rec
        .video_packets
        .iter()
        .filter(|p| p.dts_ms > last - window_ms)
        .map(|p| p.size)
        .sum();
    bytes as f64 * 8.0 / window_ms
}

pub fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Waits (up to `timeout`) until `path` has not grown for a second: a destination that was
/// removed has been unpublished. Returns how long that took.
pub async fn wait_still(path: &Path, timeout: Duration) -> Duration {
    let started = tokio::time::Instant::now();
    let mut last = size(path);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = size(path);
        if now == last {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < timeout,
            "{} still grows after {timeout:?}",
            path.display()
        );
        last = now;
    }
}

/// The sizes of `files` now and `after` later.
pub async fn growth(files: &[&Path], after: Duration) -> Vec<(u64, u64)> {
    let before: Vec<u64> = files.iter().map(|f| size(f)).collect();
    tokio::time::sleep(after).await;
    files
        .iter()
        .zip(before)
        .map(|(f, was)| (was, size(f)))
        .collect()
}

/// H.264 and AAC at 1280x720, as every platform wants them.
pub fn assert_platform_ready(path: &Path, label: &str) -> Recording {
    let rec = ffprobe::probe_packets(path).unwrap_or_else(|e| panic!("{label}: {e}"));
    let video = rec.video().unwrap_or_else(|| panic!("{label}: no video"));
    assert_eq!(video.codec_name, "h264", "{label}");
    assert_eq!(
        (video.width, video.height),
        (Some(1280), Some(720)),
        "{label}: the 720p30 preset"
    );
    let audio = rec.audio().unwrap_or_else(|| panic!("{label}: no audio"));
    assert_eq!(audio.codec_name, "aac", "{label}");
    rec
}
