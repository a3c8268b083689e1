//! End-to-end proof that the helpers produce what real players read: a real H.264 stream and a
//! real AAC stream from ffmpeg go through `nal_units` → `AvcConverter` → FLV builders →
//! `write_tag`, and ffprobe must report the codecs, size and every frame.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use streamhard_media::aac::{AAC_LC, SAMPLES_PER_FRAME, audio_specific_config};
use streamhard_media::flv::{self, FLV_HEADER, FlvTime, Metadata};
use streamhard_media::h264::{AvcConverter, NalType, nal_units};

const FRAMES: u32 = 30;
const FPS: u32 = 30;
const SAMPLE_RATE: u32 = 48_000;

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg is installed");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One second of 320x240 at 30 fps, as a browser sends it: Annex-B, no B-frames, an AUD
/// opening every access unit (which is how this test finds the access unit boundaries).
fn h264_access_units() -> Vec<Vec<u8>> {
    let stream = ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-frames:v",
        &FRAMES.to_string(),
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-bf",
        "0",
        "-x264-params",
        "aud=1",
        "-bsf:v",
        "h264_mp4toannexb",
        "-f",
        "h264",
        "-",
    ]);
    let mut units: Vec<Vec<u8>> = Vec::new();
    for nal in nal_units(&stream) {
        if NalType::of(nal) == Some(NalType::AUD) || units.is_empty() {
            units.push(Vec::new());
        }
        let current = units.last_mut().expect("pushed above");
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
    }
    units
}

/// Raw AAC-LC frames (ADTS headers removed), 48 kHz stereo.
fn aac_frames() -> Vec<Vec<u8>> {
    let adts = ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=1",
        "-ac",
        "2",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-f",
        "adts",
        "-",
    ]);
    let mut frames = Vec::new();
    let mut rest = &adts[..];
    while rest.len() >= 7 {
        assert_eq!((rest[0], rest[1] & 0xF6), (0xFF, 0xF0), "ADTS sync word");
        let header_len = if rest[1] & 1 == 1 { 7 } else { 9 };
        let frame_len = (usize::from(rest[3] & 3) << 11)
            | (usize::from(rest[4]) << 3)
            | usize::from(rest[5] >> 5);
        frames.push(rest[header_len..frame_len].to_vec());
        rest = &rest[frame_len..];
    }
    frames
}

fn ffprobe(path: &PathBuf, stream: &str, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", stream])
        .args([
            "-show_entries",
            entries,
            "-of",
            "default=noprint_wrappers=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed");
    // ffprobe reports decoding errors on stderr but still exits 0: both must be clean.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("ffprobe prints UTF-8")
}

#[test]
fn ffprobe_reads_h264_and_aac_from_an_flv_built_by_our_helpers() {
    let mut tags = vec![flv::metadata(
        FlvTime::from_ms(0),
        &Metadata {
            width: 320,
            height: 240,
            framerate: f64::from(FPS),
            video_data_rate_kbps: 500,
            audio_sample_rate: SAMPLE_RATE,
            audio_channels: 2,
            audio_data_rate_kbps: 128,
            encoder: "streamhard-test".into(),
        },
    )];
    let asc = audio_specific_config(AAC_LC, SAMPLE_RATE, 2).unwrap();
    tags.push(flv::aac_sequence_header(FlvTime::from_ms(0), &asc));

    let mut converter = AvcConverter::new();
    let mut video = Vec::new();
    let mut keyframes = 0;
    for (i, au) in h264_access_units().iter().enumerate() {
        let timestamp = i as u32 * 1000 / FPS;
        let converted = converter.convert(au).unwrap();
        if let Some((record, sps)) = &converted.new_config {
            assert_eq!((sps.width, sps.height, sps.fps), (320, 240, Some(30.0)));
            video.push(flv::avc_sequence_header(
                FlvTime::from_ms(timestamp),
                record,
            ));
        }
        if !converted.avcc.is_empty() {
            keyframes += usize::from(converted.keyframe);
            video.push(flv::avc_frame(
                FlvTime::from_ms(timestamp),
                converted.keyframe,
                0,
                converted.avcc,
            ));
        }
    }
    assert_eq!(
        keyframes, 1,
        "one second of x264 output opens with its only IDR"
    );
    let audio: Vec<_> = aac_frames()
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            flv::aac_frame(
                FlvTime::from_ms(i as u32 * SAMPLES_PER_FRAME * 1000 / SAMPLE_RATE),
                raw,
            )
        })
        .collect();
    assert!(audio.len() >= 46, "one second is about 47 AAC frames");
    let audio_frames = audio.len();

    // Interleave by timestamp, as the pipeline does.
    tags.extend(video);
    tags.extend(audio);
    tags.sort_by_key(|tag| tag.timestamp.ms());

    let mut file = FLV_HEADER.to_vec();
    for tag in &tags {
        flv::write_tag(tag, &mut file).unwrap();
    }
    let path = std::env::temp_dir().join(format!("streamhard-media-{}.flv", std::process::id()));
    std::fs::write(&path, &file).unwrap();

    let video_info = ffprobe(&path, "v", "stream=codec_name,width,height,nb_read_frames");
    let audio_info = ffprobe(
        &path,
        "a",
        "stream=codec_name,profile,sample_rate,channels,nb_read_frames",
    );
    let format_info = ffprobe(&path, "v", "format_tags=encoder");
    std::fs::remove_file(&path).unwrap();

    let video_frames = format!("nb_read_frames={FRAMES}");
    for line in ["codec_name=h264", "width=320", "height=240", &video_frames] {
        assert!(
            video_info.lines().any(|l| l == line),
            "{line} missing in:\n{video_info}"
        );
    }
    let audio_frames = format!("nb_read_frames={audio_frames}");
    for line in [
        "codec_name=aac",
        "profile=LC",
        "sample_rate=48000",
        "channels=2",
        &audio_frames,
    ] {
        assert!(
            audio_info.lines().any(|l| l == line),
            "{line} missing in:\n{audio_info}"
        );
    }
    assert!(
        format_info.contains("encoder=streamhard-test"),
        "onMetaData not read:\n{format_info}"
    );
}
