//! Analysis of recordings (FLV from nginx-rtmp, or anything ffmpeg reads) with ffprobe and ffmpeg.
//!
//! The relay's correctness claims — keyframe at least every 2 s, monotonic timestamps, audio
//! always present, A/V in sync within 40 ms — are asserted on what a real demuxer and decoder
//! see, not on our own parsing of our own output.
//!
//! [`av_offset_ms`] measures sync with the fixtures' sync mark ([`crate::fixtures`]): it finds
//! the white flash frames (mean luma from ffmpeg's `signalstats`) and the onsets of the 1 kHz
//! beeps (envelope of the decoded PCM), pairs each flash with the nearest beep and returns the
//! median of audio − video. Positive means the audio is late.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// Analyse at most this much of a recording, which bounds every output we read.
const MAX_ANALYSED_SECONDS: u32 = 600;
/// Largest stdout accepted from one ffprobe/ffmpeg run: ten minutes of mono 48 kHz s16 PCM is
/// 55 MiB, and the JSON of ten minutes of packets is far less.
const MAX_TOOL_OUTPUT_BYTES: u64 = 64 * 1024 * 1024;
/// Rate the audio is decoded at for beep detection.
const PCM_RATE: usize = 48_000;
/// Beep envelope window: 1 ms, about one period of the 1 kHz tone.
const ENVELOPE_WINDOW: usize = PCM_RATE / 1000;
/// A beep onset must follow this much quiet (beeps are 100 ms long, one per second).
const QUIET_BEFORE_ONSET_MS: usize = 300;
/// Flashes and beeps further apart than this are not paired (the mark repeats every second).
const MAX_PAIR_DISTANCE_MS: f64 = 500.0;
/// Fewer pairs than this and a median says nothing.
const MIN_PAIRS: usize = 3;

/// Everything that can go wrong analysing a recording.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("could not run {program} (is it installed?): {source}")]
    Spawn {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed on {path} ({status}): {stderr}")]
    Failed {
        program: &'static str,
        path: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{program} wrote more than {max} bytes analysing {path}")]
    OutputTooLarge {
        program: &'static str,
        path: PathBuf,
        max: u64,
    },
    #[error("ffprobe JSON for {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {what} has no usable {field}")]
    MissingField {
        path: PathBuf,
        what: &'static str,
        field: &'static str,
    },
    #[error("reading {program}'s output: {source}")]
    Io {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Signal {
        path: PathBuf,
        /// What was looked for and not found.
        problem: SignalProblem,
    },
}

/// Why a sync mark could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum SignalProblem {
    #[error("no video frames")]
    NoVideo,
    #[error("no flash frames (mean luma spans {min:.0}..{max:.0})")]
    NoFlashes { min: f64, max: f64 },
    #[error("no audio beeps (loudest 1 ms window has RMS {peak:.4} of full scale)")]
    NoBeeps { peak: f64 },
    #[error("only {found} flash/beep pairs within 500 ms, need {needed}")]
    TooFewPairs { found: usize, needed: usize },
    #[error("unparsable ffmpeg metadata line: {0}")]
    Metadata(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Video,
    Audio,
    Other,
}

/// One stream as ffprobe describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub index: u32,
    pub kind: StreamKind,
    pub codec_name: String,
    /// E.g. "Constrained Baseline", "High", "LC".
    pub profile: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u32>,
}

/// One demuxed packet: times in milliseconds, key flag as the container marks it (for FLV: the
/// video tag's frame type, which is what RTMP ingest servers look at).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Packet {
    pub pts_ms: f64,
    pub dts_ms: f64,
    pub duration_ms: f64,
    pub key: bool,
    pub size: usize,
}

/// One decoded video frame: `key` is what the decoder found (an IDR), not the container flag.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedFrame {
    pub pts_ms: f64,
    pub key: bool,
    /// "I", "P", "B" …
    pub pict_type: String,
}

/// A recording as ffprobe sees it: streams, packets of the first video and first audio
/// stream, and the decoded frames of the first video stream.
#[derive(Clone, Debug)]
pub struct Recording {
    pub path: PathBuf,
    pub streams: Vec<StreamInfo>,
    pub video_packets: Vec<Packet>,
    pub audio_packets: Vec<Packet>,
    pub video_frames: Vec<DecodedFrame>,
}

/// A per-stream timestamp that went backwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonMonotonic {
    pub kind: StreamKind,
    /// Index of the offending packet within its stream.
    pub index: usize,
    pub previous_dts_ms: f64,
    pub dts_ms: f64,
}

/// ffprobe's options common to every run: JSON, and at most [`MAX_ANALYSED_SECONDS`].
fn common_options() -> String {
    format!("-v error -print_format json -read_intervals %+{MAX_ANALYSED_SECONDS}")
}

/// The streams and packets of `path`, as ffprobe's JSON.
fn packets_json(path: &Path) -> Result<Vec<u8>, ProbeError> {
    let common = common_options();
    run_tool(
        "ffprobe",
        path,
        &format!(
            "{common} -show_streams -show_packets -show_entries \
             stream=index,codec_type,codec_name,profile,width,height,sample_rate,channels:\
             packet=stream_index,pts_time,dts_time,duration_time,flags,size"
        ),
    )
}

/// Runs ffprobe twice on `path` (packets without decoding, then decoded video frames).
pub fn probe(path: &Path) -> Result<Recording, ProbeError> {
    let common = common_options();
    let packets_json = packets_json(path)?;
    let frames_json = run_tool(
        "ffprobe",
        path,
        &format!(
            "{common} -select_streams v:0 -show_frames -show_entries \
             frame=key_frame,pict_type,pts_time,best_effort_timestamp_time"
        ),
    )?;
    Recording::from_json(path, &packets_json, &frames_json)
}

/// Streams and packets only, without decoding (`video_frames` stays empty): quick enough to
/// call on a recording that is still growing, e.g. to read how far it has got.
pub fn probe_packets(path: &Path) -> Result<Recording, ProbeError> {
    Recording::from_json(path, &packets_json(path)?, b"{}")
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<JsonStream>,
    #[serde(default)]
    packets: Vec<JsonPacket>,
    #[serde(default)]
    frames: Vec<JsonFrame>,
}

#[derive(Deserialize)]
struct JsonStream {
    index: u32,
    codec_type: Option<String>,
    codec_name: Option<String>,
    profile: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    sample_rate: Option<String>,
    channels: Option<u32>,
}

#[derive(Deserialize)]
struct JsonPacket {
    stream_index: u32,
    pts_time: Option<String>,
    dts_time: Option<String>,
    duration_time: Option<String>,
    flags: Option<String>,
    size: Option<String>,
}

#[derive(Deserialize)]
struct JsonFrame {
    key_frame: Option<u8>,
    pict_type: Option<String>,
    pts_time: Option<String>,
    best_effort_timestamp_time: Option<String>,
}

/// ffprobe prints times as decimal strings (and omits or writes "N/A" for unknown ones).
fn seconds_to_ms(value: Option<&str>) -> Option<f64> {
    value?.parse::<f64>().ok().map(|s| s * 1000.0)
}

impl Recording {
    fn from_json(path: &Path, packets_json: &[u8], frames_json: &[u8]) -> Result<Self, ProbeError> {
        let parse = |json: &[u8]| {
            serde_json::from_slice::<ProbeJson>(json).map_err(|source| ProbeError::Json {
                path: path.to_path_buf(),
                source,
            })
        };
        let missing = |what, field| ProbeError::MissingField {
            path: path.to_path_buf(),
            what,
            field,
        };
        let probed = parse(packets_json)?;
        let streams: Vec<StreamInfo> = probed
            .streams
            .into_iter()
            .map(|s| StreamInfo {
                index: s.index,
                kind: match s.codec_type.as_deref() {
                    Some("video") => StreamKind::Video,
                    Some("audio") => StreamKind::Audio,
                    _ => StreamKind::Other,
                },
                codec_name: s.codec_name.unwrap_or_default(),
                profile: s.profile,
                width: s.width,
                height: s.height,
                sample_rate: s.sample_rate.and_then(|r| r.parse().ok()),
                channels: s.channels,
            })
            .collect();
        let first_of = |kind| streams.iter().find(|s| s.kind == kind).map(|s| s.index);
        let (video_index, audio_index) = (first_of(StreamKind::Video), first_of(StreamKind::Audio));
        let mut video_packets = Vec::new();
        let mut audio_packets = Vec::new();
        for p in probed.packets {
            let target = if Some(p.stream_index) == video_index {
                &mut video_packets
            } else if Some(p.stream_index) == audio_index {
                &mut audio_packets
            } else {
                continue;
            };
            let dts_ms = seconds_to_ms(p.dts_time.as_deref())
                .or_else(|| seconds_to_ms(p.pts_time.as_deref()))
                .ok_or_else(|| missing("a packet", "dts_time or pts_time"))?;
            target.push(Packet {
                pts_ms: seconds_to_ms(p.pts_time.as_deref()).unwrap_or(dts_ms),
                dts_ms,
                duration_ms: seconds_to_ms(p.duration_time.as_deref()).unwrap_or(0.0),
                key: p.flags.as_deref().is_some_and(|f| f.starts_with('K')),
                size: p.size.and_then(|s| s.parse().ok()).unwrap_or(0),
            });
        }
        let video_frames = parse(frames_json)?
            .frames
            .into_iter()
            .map(|f| {
                let pts_ms = seconds_to_ms(f.pts_time.as_deref())
                    .or_else(|| seconds_to_ms(f.best_effort_timestamp_time.as_deref()))
                    .ok_or_else(|| missing("a video frame", "pts_time"))?;
                Ok(DecodedFrame {
                    pts_ms,
                    key: f.key_frame == Some(1),
                    pict_type: f.pict_type.unwrap_or_default(),
                })
            })
            .collect::<Result<_, ProbeError>>()?;
        Ok(Self {
            path: path.to_path_buf(),
            streams,
            video_packets,
            audio_packets,
            video_frames,
        })
    }

    /// The first video stream.
    pub fn video(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.kind == StreamKind::Video)
    }

    /// The first audio stream.
    pub fn audio(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.kind == StreamKind::Audio)
    }

    /// Frames the decoder produced (frames it could not decode are not counted).
    pub fn video_frame_count(&self) -> usize {
        self.video_frames.len()
    }

    /// Longest time from one keyframe (container flag) to the next, or from the last keyframe
    /// to the end of the stream: the wait a viewer joining at the worst moment has. `None`
    /// when no packet is a keyframe.
    pub fn max_keyframe_interval_ms(&self) -> Option<f64> {
        let mut keys = self
            .video_packets
            .iter()
            .filter(|p| p.key)
            .map(|p| p.pts_ms);
        let first = keys.next()?;
        let last_packet = self.video_packets.last()?;
        let end = last_packet.pts_ms + last_packet.duration_ms;
        let mut previous = first;
        let mut longest = 0.0f64;
        for key in keys.chain(std::iter::once(end)) {
            longest = longest.max(key - previous);
            previous = key;
        }
        Some(longest)
    }

    /// The first packet whose decode timestamp is earlier than its predecessor's in the same
    /// stream. Equal timestamps are allowed: FLV's millisecond clock can legitimately repeat.
    pub fn first_non_monotonic(&self) -> Option<NonMonotonic> {
        [
            (StreamKind::Video, &self.video_packets),
            (StreamKind::Audio, &self.audio_packets),
        ]
        .into_iter()
        .find_map(|(kind, packets)| {
            packets.windows(2).enumerate().find_map(|(i, pair)| {
                (pair[1].dts_ms < pair[0].dts_ms).then_some(NonMonotonic {
                    kind,
                    index: i + 1,
                    previous_dts_ms: pair[0].dts_ms,
                    dts_ms: pair[1].dts_ms,
                })
            })
        })
    }

    /// Timestamps never go backwards within the video stream nor within the audio stream.
    pub fn timestamps_monotonic(&self) -> bool {
        self.first_non_monotonic().is_none()
    }

    /// The recording starts on an IDR: the first packet is flagged key, and the decoder's first
    /// frame is that packet (ffmpeg silently skips undecodable frames before a keyframe, so a
    /// later first frame means the start was not decodable) and is a keyframe.
    pub fn first_video_frame_is_key(&self) -> bool {
        match (self.video_packets.first(), self.video_frames.first()) {
            (Some(packet), Some(frame)) => {
                packet.key && frame.key && (frame.pts_ms - packet.pts_ms).abs() < 0.5
            }
            _ => false,
        }
    }

    /// From the first video packet's start to the last one's end.
    pub fn video_duration_ms(&self) -> f64 {
        span_ms(&self.video_packets)
    }

    /// From the first audio packet's start to the last one's end.
    pub fn audio_duration_ms(&self) -> f64 {
        span_ms(&self.audio_packets)
    }
}

fn span_ms(packets: &[Packet]) -> f64 {
    match (packets.first(), packets.last()) {
        (Some(first), Some(last)) => last.pts_ms + last.duration_ms - first.pts_ms,
        _ => 0.0,
    }
}

/// The sync marks found in a recording, and how they pair up.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncMarks {
    /// Times (ms) of the first frame of each run of flash frames.
    pub flashes_ms: Vec<f64>,
    /// Times (ms) of each beep onset.
    pub beeps_ms: Vec<f64>,
    /// Each flash with its nearest beep within 500 ms: (video ms, audio ms).
    pub pairs: Vec<(f64, f64)>,
}

impl SyncMarks {
    /// Median of audio − video over the pairs, in ms (positive: audio late).
    pub fn median_offset_ms(&self) -> Option<f64> {
        let mut offsets: Vec<f64> = self.pairs.iter().map(|(v, a)| a - v).collect();
        if offsets.is_empty() {
            return None;
        }
        offsets.sort_by(f64::total_cmp);
        let mid = offsets.len() / 2;
        Some(if offsets.len() % 2 == 1 {
            offsets[mid]
        } else {
            (offsets[mid - 1] + offsets[mid]) / 2.0
        })
    }
}

/// Median audio − video offset of the sync marks in `path`, in ms; positive when audio is late.
/// Offsets beyond ±500 ms cannot be measured (the mark repeats every second).
pub fn av_offset_ms(path: &Path) -> Result<f64, ProbeError> {
    let marks = sync_marks(path)?;
    let signal = |problem| ProbeError::Signal {
        path: path.to_path_buf(),
        problem,
    };
    if marks.pairs.len() < MIN_PAIRS {
        return Err(signal(SignalProblem::TooFewPairs {
            found: marks.pairs.len(),
            needed: MIN_PAIRS,
        }));
    }
    marks
        .median_offset_ms()
        .ok_or(signal(SignalProblem::TooFewPairs {
            found: 0,
            needed: MIN_PAIRS,
        }))
}

/// Finds the flashes and beeps in `path` and pairs them.
pub fn sync_marks(path: &Path) -> Result<SyncMarks, ProbeError> {
    let signal = |problem| ProbeError::Signal {
        path: path.to_path_buf(),
        problem,
    };
    let flashes_ms = flash_onsets(&luma_per_frame(path)?).map_err(signal)?;
    let beeps_ms = beep_onsets(&decode_mono_pcm(path)?).map_err(signal)?;
    Ok(SyncMarks {
        pairs: pair_marks(&flashes_ms, &beeps_ms),
        flashes_ms,
        beeps_ms,
    })
}

/// (pts ms, mean luma) of every decoded video frame of the first video stream. Frames are
/// scaled down first: the mean barely changes and decoding dominates less.
fn luma_per_frame(path: &Path) -> Result<Vec<(f64, f64)>, ProbeError> {
    let printed = run_tool(
        "ffmpeg",
        path,
        &format!(
            "-map 0:v:0 -t {MAX_ANALYSED_SECONDS} -vf \
             scale=160:90,signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG:file=- \
             -f null -"
        ),
    )?;
    parse_luma_metadata(&String::from_utf8_lossy(&printed)).map_err(|problem| ProbeError::Signal {
        path: path.to_path_buf(),
        problem,
    })
}

/// Parses ffmpeg's `metadata=mode=print` output: a `frame:N pts:P pts_time:T` line followed by
/// `lavfi.signalstats.YAVG=V`.
fn parse_luma_metadata(text: &str) -> Result<Vec<(f64, f64)>, SignalProblem> {
    let mut frames = Vec::new();
    let mut pts_ms = None;
    for line in text.lines() {
        let bad = || SignalProblem::Metadata(line.chars().take(120).collect());
        if line.starts_with("frame:") {
            let time = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("pts_time:"))
                .ok_or_else(bad)?;
            pts_ms = Some(time.parse::<f64>().map_err(|_| bad())? * 1000.0);
        } else if let Some(value) = line.strip_prefix("lavfi.signalstats.YAVG=") {
            let luma = value.trim().parse::<f64>().map_err(|_| bad())?;
            frames.push((pts_ms.take().ok_or_else(bad)?, luma));
        }
    }
    Ok(frames)
}

/// Times of frames that start a run of flash frames. The threshold sits halfway between the
/// median frame (dark: flashes are one frame in a second) and the brightest one.
fn flash_onsets(frames: &[(f64, f64)]) -> Result<Vec<f64>, SignalProblem> {
    if frames.is_empty() {
        return Err(SignalProblem::NoVideo);
    }
    let mut lumas: Vec<f64> = frames.iter().map(|&(_, l)| l).collect();
    lumas.sort_by(f64::total_cmp);
    let (min, median, max) = (lumas[0], lumas[lumas.len() / 2], lumas[lumas.len() - 1]);
    // White is 235 in limited range, the fixture's dark picture ≈ 65: demand a clear gap.
    if max - median < 50.0 {
        return Err(SignalProblem::NoFlashes { min, max });
    }
    let threshold = (median + max) / 2.0;
    let mut onsets = Vec::new();
    let mut previous_bright = false;
    for &(pts_ms, luma) in frames {
        let bright = luma > threshold;
        if bright && !previous_bright {
            onsets.push(pts_ms);
        }
        previous_bright = bright;
    }
    Ok(onsets)
}

/// Decodes the first audio stream to mono 48 kHz s16 PCM whose first sample is at time 0 of
/// the recording's timeline (the same origin ffmpeg gives the video frames), with gaps over
/// 20 ms filled with silence so sample index stays faithful to timestamps.
fn decode_mono_pcm(path: &Path) -> Result<Vec<i16>, ProbeError> {
    let raw = run_tool(
        "ffmpeg",
        path,
        &format!(
            "-map 0:a:0 -t {MAX_ANALYSED_SECONDS} \
             -af aresample=async=1:min_hard_comp=0.020:first_pts=0 \
             -ac 1 -ar {PCM_RATE} -f s16le -"
        ),
    )?;
    Ok(raw
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect())
}

/// Onsets (ms) of beeps in 48 kHz mono PCM: 1 ms windows whose RMS crosses a third of the
/// loudest window's after at least 300 ms below it.
fn beep_onsets(pcm: &[i16]) -> Result<Vec<f64>, SignalProblem> {
    let envelope: Vec<f64> = pcm
        .chunks(ENVELOPE_WINDOW)
        .map(|window| {
            let energy: f64 = window
                .iter()
                .map(|&s| {
                    let s = f64::from(s) / 32768.0;
                    s * s
                })
                .sum();
            (energy / window.len() as f64).sqrt()
        })
        .collect();
    let peak = envelope.iter().copied().fold(0.0f64, f64::max);
    // The fixture's beep has amplitude 0.5 (RMS ≈ 0.35); anything under 0.01 is not a beep.
    if peak < 0.01 {
        return Err(SignalProblem::NoBeeps { peak });
    }
    let threshold = peak / 3.0;
    let windows_ms = ENVELOPE_WINDOW as f64 * 1000.0 / PCM_RATE as f64;
    let quiet_needed = QUIET_BEFORE_ONSET_MS / (ENVELOPE_WINDOW * 1000 / PCM_RATE);
    let mut onsets = Vec::new();
    // Start "quiet" so that a beep at the very first sample counts.
    let mut quiet_run = quiet_needed;
    for (i, &rms) in envelope.iter().enumerate() {
        if rms > threshold {
            if quiet_run >= quiet_needed {
                onsets.push(i as f64 * windows_ms);
            }
            quiet_run = 0;
        } else {
            quiet_run += 1;
        }
    }
    Ok(onsets)
}

/// Pairs each flash with the nearest beep, if one is within [`MAX_PAIR_DISTANCE_MS`].
fn pair_marks(flashes_ms: &[f64], beeps_ms: &[f64]) -> Vec<(f64, f64)> {
    flashes_ms
        .iter()
        .filter_map(|&video| {
            beeps_ms
                .iter()
                .copied()
                .min_by(|a, b| (a - video).abs().total_cmp(&(b - video).abs()))
                .filter(|audio| (audio - video).abs() < MAX_PAIR_DISTANCE_MS)
                .map(|audio| (video, audio))
        })
        .collect()
}

/// Runs ffprobe (`path` after the args) or ffmpeg (`-i path` before the args) and returns its
/// stdout, bounded by [`MAX_TOOL_OUTPUT_BYTES`]. `args` are separated by whitespace (none of
/// ours contains any; the path, which might, is passed on its own).
fn run_tool(program: &'static str, path: &Path, args: &str) -> Result<Vec<u8>, ProbeError> {
    let args = args.split_whitespace();
    let mut command = Command::new(program);
    command.arg("-hide_banner");
    if program == "ffmpeg" {
        command
            .args(["-nostdin", "-loglevel", "error", "-i"])
            .arg(path)
            .args(args);
    } else {
        command.args(args).arg(path);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ProbeError::Spawn { program, source })?;
    // Read stderr on a thread so a chatty tool cannot block on a full pipe while we read stdout.
    let mut stderr_pipe = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            let _ = pipe.take(64 * 1024).read_to_end(&mut text);
        }
        text
    });
    let mut stdout = Vec::new();
    let read = child.stdout.take().map(|pipe| {
        pipe.take(MAX_TOOL_OUTPUT_BYTES + 1)
            .read_to_end(&mut stdout)
    });
    let too_large = stdout.len() as u64 > MAX_TOOL_OUTPUT_BYTES;
    if too_large {
        // Stop the tool rather than wait for it to finish writing into a closed pipe.
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|source| ProbeError::Spawn { program, source })?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if too_large {
        return Err(ProbeError::OutputTooLarge {
            program,
            path: path.to_path_buf(),
            max: MAX_TOOL_OUTPUT_BYTES,
        });
    }
    if let Some(Err(source)) = read {
        return Err(ProbeError::Io { program, source });
    }
    if !status.success() {
        return Err(ProbeError::Failed {
            program,
            path: path.to_path_buf(),
            status,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        });
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::*;
    use crate::fixtures::{Fixture, FixtureSpec};

    // ---- Parsing and helpers, on ffprobe's JSON as it prints it -------------------------

    const STREAMS_AND_PACKETS: &str = r#"{
        "packets": [
            { "stream_index": 0, "pts_time": "0.000000", "dts_time": "0.000000",
              "duration_time": "0.033000", "size": "3476", "flags": "K_" },
            { "stream_index": 1, "pts_time": "0.000000", "dts_time": "0.000000",
              "duration_time": "0.021000", "size": "292", "flags": "K_" },
            { "stream_index": 0, "pts_time": "0.033000", "dts_time": "0.033000",
              "duration_time": "0.033000", "size": "900", "flags": "__" },
            { "stream_index": 1, "pts_time": "0.021000", "dts_time": "0.021000",
              "duration_time": "0.021000", "size": "300", "flags": "K_" },
            { "stream_index": 0, "pts_time": "2.500000", "dts_time": "2.500000",
              "duration_time": "0.033000", "size": "3000", "flags": "K_" },
            { "stream_index": 1, "pts_time": "0.010000", "dts_time": "0.010000",
              "duration_time": "0.021000", "size": "300", "flags": "K_" },
            { "stream_index": 2, "pts_time": "0.000000", "dts_time": "0.000000", "flags": "K_" }
        ],
        "programs": [],
        "streams": [
            { "index": 0, "codec_name": "h264", "profile": "Constrained Baseline",
              "codec_type": "video", "width": 1280, "height": 720 },
            { "index": 1, "codec_name": "aac", "profile": "LC", "codec_type": "audio",
              "sample_rate": "48000", "channels": 2 },
            { "index": 2, "codec_name": "bin_data", "codec_type": "data" }
        ]
    }"#;

    const FRAMES: &str = r#"{ "frames": [
        { "key_frame": 1, "pts_time": "0.000000", "pict_type": "I",
          "side_data_list": [ { "side_data_type": "H.26[45] User Data Unregistered SEI message" } ] },
        { "key_frame": 0, "pts_time": "0.033000", "pict_type": "P" },
        { "key_frame": 1, "best_effort_timestamp_time": "2.500000", "pict_type": "I" }
    ] }"#;

    fn recording() -> Recording {
        Recording::from_json(
            Path::new("test.flv"),
            STREAMS_AND_PACKETS.as_bytes(),
            FRAMES.as_bytes(),
        )
        .expect("valid JSON")
    }

    #[test]
    fn reads_streams_packets_and_frames_from_ffprobe_json() {
        let r = recording();
        let video = r.video().expect("a video stream");
        assert_eq!(
            (video.codec_name.as_str(), video.profile.as_deref()),
            ("h264", Some("Constrained Baseline"))
        );
        assert_eq!((video.width, video.height), (Some(1280), Some(720)));
        let audio = r.audio().expect("an audio stream");
        assert_eq!(
            (audio.codec_name.as_str(), audio.sample_rate, audio.channels),
            ("aac", Some(48_000), Some(2))
        );
        assert_eq!(r.streams[2].kind, StreamKind::Other);
        assert_eq!(
            r.video_packets.len(),
            3,
            "the data stream's packet is ignored"
        );
        assert_eq!(r.audio_packets.len(), 3);
        assert_eq!(r.video_packets[0].size, 3476);
        assert!(r.video_packets[0].key && !r.video_packets[1].key);
        assert_eq!(r.video_frame_count(), 3);
        assert_eq!(r.video_frames[2].pts_ms, 2500.0);
    }

    #[test]
    fn keyframe_interval_counts_from_key_to_key_and_to_the_end() {
        let r = recording();
        assert_eq!(r.max_keyframe_interval_ms(), Some(2500.0));
        let mut one_gop = r.clone();
        one_gop.video_packets.truncate(2);
        // 0 → end of the frame at 33 ms.
        assert_eq!(one_gop.max_keyframe_interval_ms(), Some(66.0));
        one_gop.video_packets[0].key = false;
        assert_eq!(one_gop.max_keyframe_interval_ms(), None);
    }

    #[test]
    fn reports_the_first_timestamp_that_goes_backwards_per_stream() {
        let r = recording();
        assert!(!r.timestamps_monotonic());
        assert_eq!(
            r.first_non_monotonic(),
            Some(NonMonotonic {
                kind: StreamKind::Audio,
                index: 2,
                previous_dts_ms: 21.0,
                dts_ms: 10.0
            })
        );
        let mut fixed = r.clone();
        fixed.audio_packets.truncate(2);
        assert!(fixed.timestamps_monotonic());
        // Equal timestamps are legal in FLV.
        fixed.video_packets[1].dts_ms = 0.0;
        assert!(fixed.timestamps_monotonic());
    }

    #[test]
    fn first_frame_is_key_only_if_the_decoder_started_on_the_first_packet() {
        let r = recording();
        assert!(r.first_video_frame_is_key());
        let mut skipped = r.clone();
        skipped.video_frames.remove(0);
        skipped.video_frames.remove(0);
        assert!(!skipped.first_video_frame_is_key());
        let mut unflagged = r.clone();
        unflagged.video_packets[0].key = false;
        assert!(!unflagged.first_video_frame_is_key());
    }

    #[test]
    fn durations_run_from_first_start_to_last_end() {
        let r = recording();
        assert_eq!(r.video_duration_ms(), 2533.0);
        assert_eq!(r.audio_duration_ms(), 31.0);
    }

    #[test]
    fn refuses_json_that_is_not_ffprobe_output() {
        let result = Recording::from_json(Path::new("x.flv"), b"[1, 2]", FRAMES.as_bytes());
        assert!(matches!(result, Err(ProbeError::Json { .. })));
        let no_times = br#"{"packets": [{"stream_index": 0}], "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "h264"}]}"#;
        let result = Recording::from_json(Path::new("x.flv"), no_times, b"{}");
        assert!(matches!(result, Err(ProbeError::MissingField { .. })));
    }

    // ---- Sync mark detection on synthetic signals ---------------------------------------

    #[test]
    fn parses_signalstats_metadata_lines() {
        let text = "frame:0    pts:0       pts_time:0\n\
                    lavfi.signalstats.YAVG=235.011\n\
                    frame:1    pts:33      pts_time:0.033\n\
                    lavfi.signalstats.YAVG=65.044\n";
        assert_eq!(
            parse_luma_metadata(text).expect("valid"),
            [(0.0, 235.011), (33.0, 65.044)]
        );
        assert!(parse_luma_metadata("lavfi.signalstats.YAVG=1\n").is_err());
        assert!(parse_luma_metadata("frame:0 pts:0 pts_time:zz\n").is_err());
    }

    #[test]
    fn flash_onsets_are_the_first_bright_frame_of_each_run() {
        let frames: Vec<(f64, f64)> = (0..90)
            .map(|n| {
                let luma = if n % 30 == 0 || n == 32 { 235.0 } else { 65.0 };
                (f64::from(n) * 1000.0 / 30.0, luma)
            })
            .collect();
        let mut with_run = frames.clone();
        with_run[1].1 = 235.0;
        let onsets = flash_onsets(&with_run).expect("flashes");
        assert_eq!(onsets.len(), 4);
        assert_eq!(onsets[0], 0.0);
        assert!((onsets[1] - 1000.0).abs() < 1e-9);
        assert!((onsets[2] - 1066.667).abs() < 1e-3);
        assert!((onsets[3] - 2000.0).abs() < 1e-9);
        let flat: Vec<(f64, f64)> = frames.iter().map(|&(t, _)| (t, 65.0)).collect();
        assert!(matches!(
            flash_onsets(&flat),
            Err(SignalProblem::NoFlashes { .. })
        ));
        assert!(matches!(flash_onsets(&[]), Err(SignalProblem::NoVideo)));
    }

    /// `seconds` of 48 kHz PCM with a 1 kHz beep of 100 ms starting at each of `onsets_ms`.
    fn beeps(seconds: usize, onsets_ms: &[usize]) -> Vec<i16> {
        let mut pcm = vec![0i16; seconds * PCM_RATE];
        for &onset in onsets_ms {
            let start = onset * PCM_RATE / 1000;
            for i in 0..PCM_RATE / 10 {
                let t = i as f64 / PCM_RATE as f64;
                pcm[start + i] = (16384.0 * (2.0 * PI * 1000.0 * t).sin()) as i16;
            }
        }
        pcm
    }

    #[test]
    fn beep_onsets_are_found_to_the_millisecond() {
        let onsets = beep_onsets(&beeps(3, &[0, 1000, 2037])).expect("beeps");
        assert_eq!(onsets, [0.0, 1000.0, 2037.0]);
        assert!(matches!(
            beep_onsets(&beeps(1, &[])),
            Err(SignalProblem::NoBeeps { .. })
        ));
    }

    #[test]
    fn pairs_each_flash_with_the_nearest_beep_within_half_a_second() {
        let pairs = pair_marks(
            &[0.0, 1000.0, 2000.0, 3000.0],
            &[40.0, 1030.0, 1990.0, 3600.0],
        );
        assert_eq!(pairs, [(0.0, 40.0), (1000.0, 1030.0), (2000.0, 1990.0)]);
        let marks = SyncMarks {
            flashes_ms: vec![],
            beeps_ms: vec![],
            pairs,
        };
        assert_eq!(marks.median_offset_ms(), Some(30.0));
    }

    // ---- The analyser validated on real media -------------------------------------------

    /// Remuxes the fixture into FLV as a relay would (H.264 copied, Opus → AAC), with the
    /// audio delayed by `audio_delay` seconds.
    fn remux_to_flv(fixture: &Fixture, audio_delay: &str, name: &str) -> PathBuf {
        let out = fixture
            .h264_path
            .with_file_name(format!("ffprobe-test-{}-{name}.flv", std::process::id()));
        let status = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-framerate",
            ])
            .arg(fixture.spec.fps.to_string())
            .arg("-i")
            .arg(&fixture.h264_path)
            .args(["-itsoffset", audio_delay, "-i"])
            .arg(&fixture.ogg_path)
            .args([
                "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-f", "flv",
            ])
            .arg(&out)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success(), "ffmpeg remux failed: {status}");
        out
    }

    #[test]
    fn analyses_a_remuxed_fixture_like_a_relay_recording() {
        let fixture = Fixture::generate(FixtureSpec::browser_720p(6)).expect("fixture");
        let flv = remux_to_flv(&fixture, "0", "plain");
        let r = probe(&flv).expect("probe");
        let video = r.video().expect("video stream");
        assert_eq!(video.codec_name, "h264");
        assert_eq!(video.profile.as_deref(), Some("Constrained Baseline"));
        assert_eq!((video.width, video.height), (Some(1280), Some(720)));
        let audio = r.audio().expect("audio stream");
        assert_eq!(
            (audio.codec_name.as_str(), audio.sample_rate, audio.channels),
            ("aac", Some(48_000), Some(2))
        );
        assert_eq!(r.video_frame_count(), 180);
        let interval = r.max_keyframe_interval_ms().expect("keyframes");
        assert!((990.0..=1010.0).contains(&interval), "{interval}");
        assert!(r.timestamps_monotonic(), "{:?}", r.first_non_monotonic());
        assert!(r.first_video_frame_is_key());
        assert!((r.video_duration_ms() - 6000.0).abs() < 40.0);
        assert!((r.audio_duration_ms() - 6000.0).abs() < 40.0);
        let marks = sync_marks(&flv).expect("sync marks");
        assert_eq!(marks.flashes_ms.len(), 6, "{marks:?}");
        assert_eq!(marks.beeps_ms.len(), 6, "{marks:?}");
        let offset = av_offset_ms(&flv).expect("offset");
        assert!(offset.abs() <= 3.0, "in sync, measured {offset} ms");
        std::fs::remove_file(&flv).expect("cleanup");
    }

    #[test]
    fn measures_audio_delayed_by_100_ms_as_plus_100() {
        let fixture = Fixture::generate(FixtureSpec::browser_720p(6)).expect("fixture");
        let flv = remux_to_flv(&fixture, "0.1", "late-audio");
        let offset = av_offset_ms(&flv).expect("offset");
        assert!((offset - 100.0).abs() <= 3.0, "measured {offset} ms");
        std::fs::remove_file(&flv).expect("cleanup");
    }

    #[test]
    fn measures_audio_early_by_60_ms_as_minus_60() {
        let fixture = Fixture::generate(FixtureSpec::browser_720p(6)).expect("fixture");
        let flv = remux_to_flv(&fixture, "-0.06", "early-audio");
        let offset = av_offset_ms(&flv).expect("offset");
        assert!((offset + 60.0).abs() <= 3.0, "measured {offset} ms");
        std::fs::remove_file(&flv).expect("cleanup");
    }

    #[test]
    fn notices_a_recording_that_starts_on_an_inter_frame() {
        let fixture = Fixture::generate(FixtureSpec::browser_720p(2)).expect("fixture");
        let media = fixture.load().expect("media");
        // Frames 5.. with a delimiter before each, so ffmpeg sees the same stream shape.
        let mut stream = Vec::new();
        for unit in &media.video[5..] {
            stream.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xf0]);
            stream.extend_from_slice(&unit.data);
        }
        let dir = fixture.h264_path.with_file_name("");
        let h264 = dir.join(format!("ffprobe-test-{}-cut.h264", std::process::id()));
        let flv = h264.with_extension("flv");
        std::fs::write(&h264, stream).expect("write");
        let status = Command::new("ffmpeg")
            // The decoder's complaints about the missing parameter sets are the point here.
            .args(["-nostdin", "-hide_banner", "-loglevel", "fatal", "-y"])
            .args(["-framerate", "30", "-i"])
            .arg(&h264)
            // Without -copyinkf ffmpeg itself drops the leading inter frames.
            .args(["-c:v", "copy", "-copyinkf", "-f", "flv"])
            .arg(&flv)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success());
        let r = probe(&flv).expect("probe");
        assert!(!r.first_video_frame_is_key());
        assert!(r.video_frame_count() < 55, "{}", r.video_frame_count());
        assert!(r.audio().is_none());
        assert!(matches!(
            av_offset_ms(&flv),
            Err(ProbeError::Failed { .. } | ProbeError::Signal { .. })
        ));
        std::fs::remove_file(&h264).expect("cleanup");
        std::fs::remove_file(&flv).expect("cleanup");
    }
}
