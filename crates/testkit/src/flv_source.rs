//! FLV tags to publish in tests that stop short of the WebRTC pipeline: H.264 from the
//! generated fixtures ([`crate::fixtures`]) converted with `streamhard_media`'s helpers, and
//! AAC-LC 48 kHz stereo encoded by ffmpeg at test time — what the pipeline would hand a
//! destination, without depending on it.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail, ensure};
use streamhard_media::aac::audio_specific_config;
use streamhard_media::flv::{self, FlvTime, Metadata, Tag};
use streamhard_media::h264::AvcConverter;

use crate::fixtures::{Fixture, FixtureSpec};

/// AAC sample rate and channels of the generated audio (what every platform wants).
pub const AUDIO_RATE: u32 = 48_000;
pub const AUDIO_CHANNELS: u8 = 2;
/// Largest ADTS file read (a minute of 128 kbit/s AAC is 1 MB).
const MAX_ADTS_BYTES: u64 = 64 << 20;

/// A short stream as FLV tags: sequence headers, then media interleaved by timestamp.
#[derive(Clone, Debug)]
pub struct FlvMedia {
    pub metadata: Tag,
    pub video_header: Tag,
    pub audio_header: Tag,
    /// Audio and video frames from timestamp 0, in timestamp order.
    pub frames: Vec<Tag>,
    pub video_frames: usize,
    pub audio_frames: usize,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl FlvMedia {
    /// `seconds` of 640x360 30 fps H.264 (an IDR every second) with AAC-LC 48 kHz stereo.
    pub fn generate(seconds: u32) -> anyhow::Result<Self> {
        let spec = FixtureSpec {
            seconds,
            width: 640,
            height: 360,
            fps: 30,
            video_kbps: 800,
            audio_kbps: 64,
        };
        let fixture = Fixture::generate(spec).context("H.264 fixture")?;
        let media = fixture.load().context("loading the H.264 fixture")?;

        let mut converter = AvcConverter::new();
        let mut video_header = None;
        let mut frames = Vec::new();
        for unit in &media.video {
            let timestamp = unit.index * 1000 / spec.fps;
            let converted = converter.convert(&unit.data).context("converting H.264")?;
            if let Some((record, _)) = &converted.new_config {
                video_header.get_or_insert_with(|| flv::avc_sequence_header(FlvTime::ZERO, record));
            }
            if !converted.avcc.is_empty() {
                frames.push(flv::avc_frame(
                    FlvTime::from_ms(timestamp),
                    converted.keyframe,
                    0,
                    converted.avcc,
                ));
            }
        }
        let video_header = video_header.context("the fixture has no SPS/PPS")?;
        let video_frames = frames.len();

        let dir = tempfile::tempdir().context("temp dir for AAC")?;
        let adts = dir.path().join("audio.aac");
        encode_aac(seconds, &adts)?;
        let adts = read_bounded(&adts)?;
        let raw_frames = adts_frames(&adts)?;
        let audio_frames = raw_frames.len();
        for (i, raw) in raw_frames.iter().enumerate() {
            // 1024 samples per frame at 48 kHz.
            let timestamp = u32::try_from(i as u64 * 1024 * 1000 / u64::from(AUDIO_RATE))?;
            frames.push(flv::aac_frame(FlvTime::from_ms(timestamp), raw));
        }
        // Stable: at equal times, video (pushed first) stays before audio.
        frames.sort_by_key(|tag| tag.timestamp.ms());

        let config = audio_specific_config(2, AUDIO_RATE, AUDIO_CHANNELS)?;
        let metadata = flv::metadata(
            FlvTime::ZERO,
            &Metadata {
                width: spec.width,
                height: spec.height,
                framerate: f64::from(spec.fps),
                video_data_rate_kbps: spec.video_kbps,
                audio_sample_rate: AUDIO_RATE,
                audio_channels: AUDIO_CHANNELS,
                audio_data_rate_kbps: 128,
                encoder: "streamhard-testkit".into(),
            },
        );
        Ok(Self {
            metadata,
            video_header,
            audio_header: flv::aac_sequence_header(FlvTime::ZERO, &config),
            frames,
            video_frames,
            audio_frames,
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
        })
    }

    /// The three sequence headers in the order OBS sends them.
    pub fn headers(&self) -> [&Tag; 3] {
        [&self.metadata, &self.video_header, &self.audio_header]
    }

    /// Length of the media in milliseconds (the last frame's timestamp).
    pub fn duration_ms(&self) -> u32 {
        self.frames.last().map_or(0, |tag| tag.timestamp.ms())
    }
}

/// A 440 Hz tone, AAC-LC 48 kHz stereo, as an ADTS file.
fn encode_aac(seconds: u32, out: &Path) -> anyhow::Result<()> {
    let output = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!(
            "sine=frequency=440:sample_rate={AUDIO_RATE}:duration={seconds}"
        ))
        .args(["-ac", "2", "-c:a", "aac", "-b:a", "128k", "-f", "adts"])
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .context("cannot run ffmpeg (apt-get install ffmpeg)")?;
    if !output.status.success() {
        bail!(
            "ffmpeg failed encoding AAC: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = path.metadata()?.len();
    ensure!(len <= MAX_ADTS_BYTES, "{} is {len} bytes", path.display());
    Ok(std::fs::read(path)?)
}

/// The raw AAC frames of an ADTS stream (headers stripped), checking each header says
/// AAC-LC 48 kHz stereo.
fn adts_frames(data: &[u8]) -> anyhow::Result<Vec<&[u8]>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let h = data.get(at..at + 7).context("truncated ADTS header")?;
        ensure!(
            h[0] == 0xFF && h[1] & 0xF0 == 0xF0,
            "no ADTS sync at byte {at}"
        );
        let header_len = if h[1] & 1 == 1 { 7 } else { 9 };
        let object_type = (h[2] >> 6) + 1;
        let rate_index = (h[2] >> 2) & 0x0F;
        let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
        ensure!(
            (object_type, rate_index, channels) == (2, 3, 2),
            "ADTS frame at byte {at} is not AAC-LC 48 kHz stereo"
        );
        let frame_len =
            (usize::from(h[3] & 0x03) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        ensure!(
            frame_len > header_len,
            "ADTS frame at byte {at} has length {frame_len}"
        );
        let frame = data
            .get(at + header_len..at + frame_len)
            .context("truncated ADTS frame")?;
        frames.push(frame);
        at += frame_len;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamhard_media::flv::{Role, TagKind};

    #[test]
    fn splits_adts_frames_and_checks_their_format() {
        // Two frames: 7-byte headers (no CRC), AAC-LC (profile 1), 48 kHz (index 3), stereo.
        let header = |len: usize| {
            let len = len + 7;
            [
                0xFF,
                0xF1,
                0x4C,
                0x80 | (len >> 11) as u8,
                (len >> 3) as u8,
                ((len & 7) << 5) as u8 | 0x1F,
                0xFC,
            ]
        };
        let mut data = header(2).to_vec();
        data.extend_from_slice(&[0xAA, 0xBB]);
        data.extend_from_slice(&header(1));
        data.push(0xCC);
        let frames = adts_frames(&data).unwrap();
        assert_eq!(frames, [&[0xAA, 0xBB][..], &[0xCC][..]]);
        data[2] = 0x50; // 44.1 kHz
        assert!(adts_frames(&data).is_err());
        assert!(adts_frames(&data[..5]).is_err());
    }

    #[test]
    fn generates_headers_and_interleaved_frames_starting_with_a_keyframe() {
        let media = FlvMedia::generate(2).expect("media");
        assert_eq!(media.video_header.role, Role::Header);
        assert_eq!(&media.audio_header.body[..], &[0xAF, 0, 0x11, 0x90]);
        let first_video = media
            .frames
            .iter()
            .find(|t| t.kind == TagKind::Video)
            .unwrap();
        assert_eq!(first_video.role, Role::Keyframe);
        assert!(
            media
                .frames
                .windows(2)
                .all(|w| w[0].timestamp.ms() <= w[1].timestamp.ms())
        );
        assert_eq!(media.video_frames, 60);
        // ~2 s of 1024-sample frames at 48 kHz (plus the encoder's priming frame).
        assert!(
            (94..=97).contains(&media.audio_frames),
            "{}",
            media.audio_frames
        );
        assert!(
            (1900..=2100).contains(&media.duration_ms()),
            "{}",
            media.duration_ms()
        );
    }
}
