//! Support for the transcoder's integration tests: real media made by ffmpeg at test time,
//! read back by a small Ogg reader, and checked with ffprobe and ffmpeg's own decoders.
#![allow(dead_code)] // each test binary uses its own subset

pub mod adts;
pub mod ogg;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory for one test's files under Cargo's per-target scratch space.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("transcode")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a program to completion, panicking with its stderr if it fails; returns stdout.
pub fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Makes an Ogg Opus file with libopus: `lavfi` source graph, channel count, 20 ms frames.
pub fn make_opus(dir: &Path, name: &str, source: &str, channels: u8) -> PathBuf {
    let path = dir.join(name);
    let channels = channels.to_string();
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-ac",
            &channels,
            "-c:a",
            "libopus",
            "-b:a",
            "96k",
            "-frame_duration",
            "20",
            "-f",
            "ogg",
            path.to_str().unwrap(),
        ],
    );
    path
}

/// Decodes any audio file ffmpeg reads to interleaved s16 at 48 kHz in the file's own channel
/// layout (ffmpeg's mono-to-stereo upmix would lower the level by 3 dB), with `decoder` forced
/// when given (e.g. `libopus`).
pub fn decode_to_pcm(path: &Path, decoder: Option<&str>) -> Vec<i16> {
    let mut args = vec!["-hide_banner", "-loglevel", "error"];
    if let Some(decoder) = decoder {
        args.extend(["-c:a", decoder]);
    }
    args.extend([
        "-i",
        path.to_str().unwrap(),
        "-f",
        "s16le",
        "-ar",
        "48000",
        "-",
    ]);
    let raw = run("ffmpeg", &args);
    raw.chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// `ffprobe -show_streams -count_frames` of the first audio stream, as key/value pairs.
pub fn probe(path: &Path) -> std::collections::HashMap<String, String> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "a:0",
            "-show_streams",
            "-of",
            "default=noprint_wrappers=1",
            path.to_str().unwrap(),
        ],
    );
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Root mean square of a span of samples, in dBFS.
pub fn rms_dbfs(pcm: &[i16]) -> f64 {
    let sum: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
    let rms = (sum / pcm.len().max(1) as f64).sqrt();
    20.0 * (rms.max(1e-9) / 32768.0).log10()
}

/// Fraction of the left channel's energy at `freq` Hz (Goertzel over the whole span).
pub fn tone_fraction(stereo: &[i16], freq: f64) -> f64 {
    let left: Vec<f64> = stereo.iter().step_by(2).map(|&s| f64::from(s)).collect();
    let w = std::f64::consts::TAU * freq / 48_000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in &left {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let total: f64 = left.iter().map(|x| x * x).sum();
    // A pure tone of N samples with energy E puts N * E / 2 in its Goertzel bin.
    2.0 * power / (left.len() as f64 * total.max(1e-9))
}

/// Index of the first sample (per channel) whose magnitude exceeds `threshold`.
pub fn onset(stereo: &[i16], threshold: i16) -> Option<usize> {
    stereo
        .chunks_exact(2)
        .position(|lr| lr[0].unsigned_abs() > threshold.unsigned_abs())
}
