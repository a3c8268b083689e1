//! The server session against an independent publisher: ffmpeg publishes real H.264 + AAC
//! with `-c copy` to a small tokio TCP driver that feeds a [`Session`], and what the session
//! reports must be exactly what ffprobe reads in the source file — every frame, its
//! timestamp, its size, its keyframe flag. ffmpeg has its own handshake (with a digest),
//! chunking, header compression and command sequence, so a bug the crate's client and server
//! share cannot hide here.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use streamhard_media::flv::{Role, Tag, TagKind};
use streamhard_rtmp::{RANDOM_LEN, Session, SessionEvent, SessionState};
use streamhard_testkit::ffprobe::{self, Packet, Recording};
use streamhard_testkit::fixtures::{Fixture, FixtureSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

const TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of an FLV video tag body before the H.264 data (frame type/codec, AVC packet type,
/// composition time), and of an AAC audio tag body (sound flags, AAC packet type): ffprobe
/// reports packet sizes without them.
const VIDEO_TAG_PREFIX: usize = 5;
const AUDIO_TAG_PREFIX: usize = 2;

/// The browser-like 720p fixture remuxed to FLV with its Opus transcoded to AAC (FLV has no
/// Opus): what a relay would send a platform, as a file ffmpeg can publish with `-c copy`.
fn source_flv(dir: &Path) -> PathBuf {
    let fixture = Fixture::generate(FixtureSpec::browser_720p(4)).expect("fixture");
    let out = dir.join("source.flv");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-framerate", &fixture.spec.fps.to_string()])
        .arg("-i")
        .arg(&fixture.h264_path)
        .arg("-i")
        .arg(&fixture.ogg_path)
        .args(["-map", "0:v", "-map", "1:a", "-c:v", "copy"])
        .args(["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"])
        .args(["-f", "flv"])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make the FLV source");
    out
}

/// The smallest driver: read, feed, write what the session says, collect its events, until
/// the session is closed. A read error counts as the end of the connection; a write error
/// (the publisher already gone after its last command) is not the session's business.
async fn receive(mut stream: TcpStream) -> Vec<SessionEvent> {
    let random: [u8; RANDOM_LEN] = std::array::from_fn(|i| (i * 7 % 251) as u8);
    let mut session = Session::new(&random);
    let mut events = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while session.state() != SessionState::Closed {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => session.handle_eof(),
            Ok(n) => session.handle_input(&buf[..n]),
        }
        while let Some(bytes) = session.poll_transmit() {
            let _ = stream.write_all(&bytes).await;
        }
        events.extend(std::iter::from_fn(|| session.poll_event()));
    }
    events
}

/// Publishes `source` with ffmpeg (`-c copy`, plus `output_args`) to a session on a fresh
/// port and returns the session's events.
async fn publish_with_ffmpeg(source: &Path, output_args: &[&str]) -> Vec<SessionEvent> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    let ffmpeg = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error"])
        .arg("-i")
        .arg(source)
        .args(["-c", "copy"])
        .args(output_args)
        .args([
            "-f",
            "flv",
            &format!("rtmp://127.0.0.1:{port}/live/SECRETKEY"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn ffmpeg");
    let run = async {
        let (stream, _) = listener.accept().await.expect("accept");
        tokio::join!(receive(stream), ffmpeg.wait_with_output())
    };
    let (events, output) = tokio::time::timeout(TIMEOUT, run)
        .await
        .expect("ffmpeg and the session finish in time");
    let output = output.expect("ffmpeg output");
    assert!(
        output.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    events
}

fn media(events: &[SessionEvent], kind: TagKind) -> Vec<&Tag> {
    let tags = events.iter().filter_map(|e| match e {
        SessionEvent::Media(tag) if tag.kind == kind => Some(tag),
        _ => None,
    });
    tags.collect()
}

/// Frames (not sequence headers) of one kind as (timestamp, payload size, keyframe).
fn frames(tags: &[&Tag], prefix: usize) -> Vec<(u32, usize, bool)> {
    let frames = tags.iter().filter(|t| t.role != Role::Header);
    let described = frames.map(|t| {
        let size = t.body.len().saturating_sub(prefix);
        (t.timestamp.ms(), size, t.role == Role::Keyframe)
    });
    described.collect()
}

/// The same for ffprobe's packets, shifted by `offset_ms`. Audio packets are all "key".
fn probed(packets: &[Packet], offset_ms: u32, audio: bool) -> Vec<(u32, usize, bool)> {
    let described = packets.iter().map(|p| {
        // FLV times are whole milliseconds; ffprobe prints them as decimal seconds.
        let dts = p.dts_ms.round() as u32;
        (dts + offset_ms, p.size, p.key && !audio)
    });
    described.collect()
}

#[track_caller]
fn assert_session_got_the_source(events: &[SessionEvent], source: &Recording, offset_ms: u32) {
    match &events[..2] {
        [
            SessionEvent::Connected { app },
            SessionEvent::Publishing { name },
        ] => {
            assert_eq!(app, "live");
            assert_eq!(name.expose(), "SECRETKEY");
        }
        other => panic!("the conversation went wrong: {other:?}"),
    }
    assert_eq!(
        events.last(),
        Some(&SessionEvent::Unpublished),
        "ffmpeg unpublishes at the end, and nothing failed"
    );
    assert!(!events.iter().any(|e| matches!(e, SessionEvent::Failed(_))));

    let video = media(events, TagKind::Video);
    let audio = media(events, TagKind::Audio);
    // Video: the AVC sequence header first, the end of sequence ffmpeg's FLV muxer appends
    // last, both "not frames"; audio: one AAC sequence header.
    let headers = |tags: &[&Tag]| tags.iter().filter(|t| t.role == Role::Header).count();
    assert_eq!((headers(&video), headers(&audio)), (2, 1));
    let packet_type = |tag: &Tag| (tag.role, tag.body.get(1).copied());
    assert_eq!(packet_type(video[0]), (Role::Header, Some(0)));
    assert_eq!(packet_type(video[video.len() - 1]), (Role::Header, Some(2)));
    assert_eq!(packet_type(audio[0]), (Role::Header, Some(0)));
    let metadata = media(events, TagKind::Script);
    assert_eq!(metadata.len(), 1);
    let name = streamhard_media::amf0::decode_one(&metadata[0].body)
        .unwrap()
        .0;
    assert_eq!(name.as_str(), Some("onMetaData"), "@setDataFrame is gone");

    let video_frames = frames(&video, VIDEO_TAG_PREFIX);
    let want_video = probed(&source.video_packets, offset_ms, false);
    assert_eq!(
        video_frames.len(),
        source.video_packets.len(),
        "video frame count"
    );
    assert_eq!(
        video_frames, want_video,
        "video frames: time, size, keyframe"
    );
    assert!(video_frames[0].2, "the first video frame is a keyframe");
    let audio_frames = frames(&audio, AUDIO_TAG_PREFIX);
    let want_audio = probed(&source.audio_packets, offset_ms, true);
    assert_eq!(audio_frames, want_audio, "audio frames: time and size");

    for (kind, frames) in [("video", &video_frames), ("audio", &audio_frames)] {
        let monotonic = frames.windows(2).all(|w| w[0].0 <= w[1].0);
        assert!(monotonic, "{kind} timestamps go back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_every_frame_ffmpeg_publishes_with_its_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let source = source_flv(dir.path());
    let probe = ffprobe::probe(&source).expect("ffprobe the source");
    // 4 s at 30 fps: the count is what the fixture is, not whatever the source happens to be.
    assert_eq!(probe.video_packets.len(), 120);
    let events = publish_with_ffmpeg(&source, &[]).await;
    assert_session_got_the_source(&events, &probe, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_ffmpeg_timestamps_past_24_bits() {
    // Shift the output to 1 s before 0xFFFFFF ms (4.66 h): the stream crosses into
    // timestamps that need RTMP's extended timestamp field or a wrapped 24-bit delta sum.
    let dir = tempfile::tempdir().unwrap();
    let source = source_flv(dir.path());
    let probe = ffprobe::probe(&source).expect("ffprobe the source");
    let offset_ms = 0xFF_FFFF - 1000;
    let offset = format!("{}.{:03}", offset_ms / 1000, offset_ms % 1000);
    let events = publish_with_ffmpeg(&source, &["-output_ts_offset", &offset]).await;
    assert_session_got_the_source(&events, &probe, offset_ms);
    let last = media(&events, TagKind::Video)
        .last()
        .unwrap()
        .timestamp
        .ms();
    assert!(last > 0xFF_FFFF, "{last:#x}");
}
