//! A destination publishes to a real nginx-rtmp: the recording starts with the sequence
//! headers and a keyframe, holds every frame pushed, and ends with a clean unpublish.

mod common;

use std::time::{Duration, Instant};

use common::{Player, is, settings, spawn, wait_for};
use streamhard_relay::destination::DestinationState;
use streamhard_testkit::ffprobe;
use streamhard_testkit::flv_source::FlvMedia;
use streamhard_testkit::nginx::NginxRtmp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_headers_and_media_that_nginx_records() {
    let media = FlvMedia::generate(2).expect("media");
    let nginx = NginxRtmp::start().expect("nginx");
    let spawned = spawn(&nginx.url("SECRETKEY"), settings(), common::headers(&media));
    let destination = &spawned.destination;
    wait_for(
        destination,
        Duration::from_secs(5),
        is(DestinationState::Live),
    )
    .await;
    assert!(
        spawned.keyframe_requests() >= 1,
        "a new connection asks for a keyframe"
    );

    let mut player = Player::new(&media);
    player.play(destination, Duration::from_secs(3)).await;
    let status = destination.status();
    assert_eq!(status.state, DestinationState::Live);
    assert_eq!(status.dropped_frames, 0);
    assert_eq!(status.reconnects, 0);
    assert!(status.bytes_sent > 100_000, "{status:?}");
    assert!(status.bitrate_bps > 100_000, "about 1 Mbit/s: {status:?}");
    assert_eq!(
        status.url_redacted,
        format!("rtmp://127.0.0.1:{}/live/…", nginx.port())
    );
    assert!(!format!("{status:?} {destination:?}").contains("SECRETKEY"));

    let started = Instant::now();
    spawned.destination.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        started.elapsed()
    );

    let files = nginx.wait_for_recordings("SECRETKEY", 1, 100_000, Duration::from_secs(5));
    let files = files.expect("recording");
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    let video = rec.video().expect("video");
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", Some(640), Some(360))
    );
    let audio = rec.audio().expect("audio");
    assert_eq!(
        (audio.codec_name.as_str(), audio.sample_rate, audio.channels),
        ("aac", Some(48_000), Some(2))
    );
    assert!(rec.first_video_frame_is_key());
    assert!(
        rec.timestamps_monotonic(),
        "{:?}",
        rec.first_non_monotonic()
    );
    // Publishing started before the first push, so every frame pushed arrived and decodes.
    assert_eq!(rec.video_frame_count(), player.pushed_video);
    // deleteStream reached the server before the connection closed (nginx also logs one
    // of its own after any disconnect).
    let log = nginx.error_log();
    let after_publish = log
        .split("publish: name='SECRETKEY'")
        .nth(1)
        .expect("published");
    let first_end = after_publish
        .lines()
        .find(|line| line.contains("deleteStream") || line.contains("disconnect"));
    assert!(
        first_end.is_some_and(|line| line.contains("deleteStream")),
        "{log}"
    );
}
