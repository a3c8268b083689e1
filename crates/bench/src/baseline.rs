//! The original project's pipeline, run on the same media and machine for comparison: one
//! ffmpeg per stream decoding the browser's VP8 and re-encoding it with libx264 (its exact
//! settings), audio to AAC 44.1 kHz, published as FLV to an RTMP sink.
//!
//! It runs at most a couple of streams: each costs about half a core, and a 2-core machine
//! running more would measure contention instead of cost. The WebRTC receive the original
//! also did (in Go) is not counted, which flatters the baseline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use streamhard_testkit::fixtures::Fixture;

use crate::proc_stats;
use crate::sink::Sinks;

#[derive(Clone, Debug, PartialEq)]
pub struct BaselineFigures {
    pub streams: usize,
    /// CPU of one ffmpeg, in % of one core.
    pub cpu_per_stream_pct: f64,
}

/// The fixture as a browser sending VP8 would have sent it: VP8 + Opus in WebM, made once
/// next to the fixture.
fn vp8_input(fixture: &Fixture) -> anyhow::Result<PathBuf> {
    let path = fixture.h264_path.with_extension("vp8.webm");
    if path.exists() {
        return Ok(path);
    }
    let tmp = path.with_extension("tmp.webm");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "h264", "-r"])
        .arg(fixture.spec.fps.to_string())
        .arg("-i")
        .arg(&fixture.h264_path)
        .arg("-i")
        .arg(&fixture.ogg_path)
        .args([
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "2500k",
            "-g",
        ])
        .arg(fixture.spec.fps.to_string())
        .args(["-c:a", "copy"])
        .arg(&tmp)
        .status()
        .context("running ffmpeg (is it installed?)")?;
    if !status.success() {
        bail!("ffmpeg could not make the VP8 input: {status}");
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

fn spawn(input: &Path, url: &str, seconds: u64) -> std::io::Result<Child> {
    Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-stream_loop",
            "-1",
            "-i",
        ])
        .arg(input)
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-maxrate", "3000k", "-bufsize", "6000k",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "44100", "-f", "flv",
        ])
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
}

/// Runs `streams` ffmpeg processes for `seconds` and measures their CPU between 2 s after
/// the start and 2 s before the end.
pub async fn measure(
    fixture: &Fixture,
    streams: usize,
    seconds: u64,
) -> anyhow::Result<BaselineFigures> {
    let input = vp8_input(fixture)?;
    let sinks = Sinks::start().await?;
    let mut children = Vec::with_capacity(streams);
    for i in 0..streams {
        let url = sinks.url("baseline", &format!("b{i}"));
        children.push(spawn(&input, &url, seconds).context("starting ffmpeg")?);
    }
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let total_cpu = || -> anyhow::Result<Duration> {
        pids.iter()
            .map(|&pid| proc_stats::cpu_time(pid).context("ffmpeg exited early"))
            .sum()
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = total_cpu()?;
    let from = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds.saturating_sub(4).max(1))).await;
    let after = total_cpu()?;
    let wall = from.elapsed();
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    let frames: u64 = (0..streams)
        .map(|i| sinks.stats(&format!("b{i}")).video_frames)
        .sum();
    if frames == 0 {
        bail!("the baseline ffmpeg delivered nothing to its sink");
    }
    let cpu_pct = (after - before).as_secs_f64() / wall.as_secs_f64() * 100.0;
    Ok(BaselineFigures {
        streams,
        cpu_per_stream_pct: cpu_pct / streams as f64,
    })
}
