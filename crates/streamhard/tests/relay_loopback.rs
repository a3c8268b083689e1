//! End to end on loopback: a WebRTC publisher (str0m, real H.264 + Opus with a flash and a
//! beep every second) → `streamhard` → TWO nginx-rtmp servers recording FLV → ffprobe.

mod common;

use std::time::Duration;

use common::{Server, connect_publisher, send_then_leave};
use streamhard_testkit::ffprobe::{self, Recording};
use streamhard_testkit::fixtures::{Fixture, FixtureSpec, TestMedia};
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_whip_client::PublisherOptions;

const SECONDS: u32 = 8;

fn media() -> TestMedia {
    Fixture::generate(FixtureSpec::browser_720p(SECONDS))
        .expect("fixture")
        .load()
        .expect("load fixture")
}

/// The checks every platform's ingest would make, plus ours.
fn assert_platform_ready(rec: &Recording, sent_frames: usize, label: &str) {
    let video = rec
        .video()
        .unwrap_or_else(|| panic!("{label}: no video stream"));
    assert_eq!(video.codec_name, "h264", "{label}");
    assert_eq!(
        (video.width, video.height),
        (Some(1280), Some(720)),
        "{label}: the sent resolution"
    );
    let audio = rec
        .audio()
        .unwrap_or_else(|| panic!("{label}: no audio stream"));
    assert_eq!(audio.codec_name, "aac", "{label}");
    assert_eq!(
        (audio.sample_rate, audio.channels),
        (Some(48_000), Some(2)),
        "{label}"
    );
    let frames = rec.video_frame_count();
    assert!(
        frames as f64 >= 0.95 * sent_frames as f64,
        "{label}: {frames} of {sent_frames} video frames arrived"
    );
    assert!(
        rec.first_video_frame_is_key(),
        "{label}: the recording starts with a keyframe"
    );
    let gop = rec.max_keyframe_interval_ms().expect("keyframes");
    assert!(gop <= 2100.0, "{label}: keyframes {gop} ms apart");
    assert!(
        rec.timestamps_monotonic(),
        "{label}: {:?}",
        rec.first_non_monotonic()
    );
    let (v, a) = (rec.video_duration_ms(), rec.audio_duration_ms());
    assert!(
        (v - a).abs() <= 100.0,
        "{label}: video {v} ms vs audio {a} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_one_webrtc_publisher_to_two_rtmp_servers_in_sync() {
    let media = media();
    let (a, b) = (
        NginxRtmp::start().expect("nginx a"),
        NginxRtmp::start().expect("nginx b"),
    );
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server
        .live_broadcast(&[("A", a.url("streamA")), ("B", b.url("streamB"))])
        .await;
    let mut publisher = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    let report = publisher
        .send(&media, media.duration())
        .await
        .expect("send media");
    // Let the last frames cross the relay before unpublishing.
    publisher
        .idle(Duration::from_millis(500))
        .await
        .expect("idle");
    // Every frame written to each destination was timed, arrival to socket.
    let metrics = reqwest::get(format!("{}/metrics", server.http))
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap();
    let timed: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("streamhard_relay_latency_seconds_count "))
        .unwrap_or_else(|| panic!("no latency histogram: {metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert!(
        timed >= 0.95 * 2.0 * report.video_frames as f64,
        "{timed} frames timed for {} sent to 2 destinations",
        report.video_frames
    );
    let status = server.broadcast(&id, &token).await;
    assert_eq!(status["ingest"]["width"], 1280, "{status}");
    assert_eq!(status["ingest"]["video_codec"], "h264");
    for d in status["destinations"].as_array().unwrap() {
        assert_eq!(d["state"], "live", "{d}");
        assert!(d["bytes_sent"].as_u64().unwrap() > 1_000_000, "{d}");
        assert!(
            !d["url"].as_str().unwrap().contains("stream"),
            "redacted: {d}"
        );
    }
    publisher.delete().await.expect("WHIP DELETE");
    server.stop_broadcast(&id, &token).await;

    for (nginx, stream) in [(&a, "streamA"), (&b, "streamB")] {
        let files = nginx.recordings(stream);
        assert_eq!(files.len(), 1, "one recording for {stream}: {files:?}");
        let rec = ffprobe::probe(&files[0]).expect("ffprobe");
        assert_platform_ready(&rec, report.video_frames as usize, stream);
        let offset = ffprobe::av_offset_ms(&files[0]).expect("sync marks");
        // Figures for the record (`cargo test -p streamhard --test relay_loopback -- --nocapture`).
        println!(
            "relay_loopback {stream}: video_frames={}/{} max_keyframe_interval_ms={:.0} \
             video_ms={:.0} audio_ms={:.0} av_offset_ms={offset:.1}",
            rec.video_frame_count(),
            report.video_frames,
            rec.max_keyframe_interval_ms().unwrap_or(f64::NAN),
            rec.video_duration_ms(),
            rec.audio_duration_ms(),
        );
        assert!(offset.abs() <= 40.0, "{stream}: A/V offset {offset} ms");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_without_audio_still_gives_destinations_an_aac_track() {
    let media = media();
    let a = NginxRtmp::start().expect("nginx");
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server.live_broadcast(&[("A", a.url("silent"))]).await;
    let options = PublisherOptions {
        audio: false,
        ..Default::default()
    };
    let publisher = connect_publisher(&whip_url, &token, options).await;
    let report = send_then_leave(publisher, &media, Duration::from_secs(5)).await;
    server.stop_broadcast(&id, &token).await;

    let files = a.recordings("silent");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert_platform_ready(&rec, report.video_frames as usize, "silent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_destination_does_not_disturb_the_other_and_reconnects_with_a_keyframe() {
    let media = media();
    let (mut a, b) = (
        NginxRtmp::start().expect("nginx a"),
        NginxRtmp::start().expect("nginx b"),
    );
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server
        .live_broadcast(&[("A", a.url("flaky")), ("B", b.url("steady"))])
        .await;
    let mut publisher = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;

    let mut sent = publisher
        .send(&media, Duration::from_secs(3))
        .await
        .expect("send")
        .video_frames;
    a.stop();
    sent += publisher
        .send(&media, Duration::from_secs(3))
        .await
        .expect("send")
        .video_frames;
    a.restart().expect("restart nginx a");
    sent += publisher
        .send(&media, Duration::from_secs(5))
        .await
        .expect("send")
        .video_frames;
    publisher
        .idle(Duration::from_millis(500))
        .await
        .expect("idle");
    // The restarted destination needed a keyframe at once and the relay asked the publisher
    // (the fixture's own IDRs, 1 s apart, keep the 2 s timer from ever needing to).
    let requests = publisher.keyframe_requests();
    assert!(
        requests.pli + requests.fir >= 1,
        "no keyframe request after the reconnect: {requests:?}"
    );
    let status = server.broadcast(&id, &token).await;
    let flaky = &status["destinations"][0];
    assert_eq!(flaky["state"], "live", "reconnected: {flaky}");
    assert!(flaky["reconnects"].as_u64().unwrap() >= 1, "{flaky}");
    publisher.delete().await.expect("delete");
    server.stop_broadcast(&id, &token).await;

    // The steady destination saw everything, without a gap.
    let steady = b.recordings("steady");
    assert_eq!(steady.len(), 1);
    let rec = ffprobe::probe(&steady[0]).expect("ffprobe");
    assert_platform_ready(&rec, sent as usize, "steady");
    let worst_gap = rec
        .video_packets
        .windows(2)
        .map(|w| w[1].dts_ms - w[0].dts_ms)
        .fold(0.0, f64::max);
    assert!(worst_gap < 200.0, "steady: a {worst_gap} ms gap in video");

    // The flaky one has a second recording that starts with headers and a keyframe.
    let flaky_files = a.recordings("flaky");
    assert_eq!(flaky_files.len(), 2, "{flaky_files:?}");
    let after = ffprobe::probe(&flaky_files[1]).expect("ffprobe");
    assert!(
        after.first_video_frame_is_key(),
        "the new recording starts on a keyframe"
    );
    assert!(
        after.video().is_some_and(|v| v.width == Some(1280)),
        "with the AVC sequence header"
    );
    assert!(
        after.audio().is_some_and(|a| a.codec_name == "aac"),
        "and the AAC sequence header"
    );
}
