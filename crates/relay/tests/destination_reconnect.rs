//! A destination survives its server going away: it retries with backoff, publishes again when
//! the server is back, and the new recording starts like a fresh stream — sequence headers and
//! a keyframe first.

mod common;

use std::time::Duration;

use common::{Player, is, settings, spawn, wait_for};
use streamhard_relay::destination::{DestinationSettings, DestinationState};
use streamhard_testkit::ffprobe;
use streamhard_testkit::flv_source::FlvMedia;
use streamhard_testkit::nginx::NginxRtmp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart_and_the_new_recording_starts_with_headers_and_a_keyframe() {
    let media = FlvMedia::generate(2).expect("media");
    let mut nginx = NginxRtmp::start().expect("nginx");
    let spawned = spawn(&nginx.url("flaky"), settings(), common::headers(&media));
    let destination = &spawned.destination;
    wait_for(
        destination,
        Duration::from_secs(5),
        is(DestinationState::Live),
    )
    .await;
    let mut player = Player::new(&media);
    player.play(destination, Duration::from_millis(1500)).await;

    nginx.stop();
    let down = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Retrying
        })
        .await;
    assert_eq!(down.state, DestinationState::Retrying, "{down:?}");
    assert!(down.last_error.is_some(), "{down:?}");
    // Keep the stream going while the server is down, mid-GOP when it comes back.
    player.play(destination, Duration::from_millis(700)).await;
    nginx.restart().expect("restart");
    let back = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Live
        })
        .await;
    assert_eq!(back.state, DestinationState::Live, "{back:?}");
    assert!(back.reconnects >= 1, "{back:?}");
    assert!(
        spawned.keyframe_requests() >= 2,
        "each connection asks for a keyframe"
    );
    player.play(destination, Duration::from_millis(2500)).await;
    spawned.destination.stop().await;

    let files = nginx.wait_for_recordings("flaky", 2, 50_000, Duration::from_secs(5));
    let files = files.expect("a recording per run");
    assert_eq!(files.len(), 2, "{files:?}");
    let after = ffprobe::probe(&files[1]).expect("ffprobe");
    let video = after
        .video()
        .expect("the AVC sequence header was sent again");
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", Some(640), Some(360))
    );
    let audio = after
        .audio()
        .expect("the AAC sequence header was sent again");
    assert_eq!(
        (audio.codec_name.as_str(), audio.sample_rate),
        ("aac", Some(48_000))
    );
    assert!(
        after.first_video_frame_is_key(),
        "the new recording starts on a keyframe"
    );
    assert!(
        after.timestamps_monotonic(),
        "{:?}",
        after.first_non_monotonic()
    );
    let decoded = after.video_frame_count();
    assert!(
        decoded >= 30,
        "at least a second of video decodes: {decoded} frames"
    );
    // nginx starts each recording's clock at its headers (sent at the current time); video
    // resumed at the next keyframe, at most one GOP (a second) later.
    let first_after = after.video_packets.first().expect("video after").pts_ms;
    assert!(
        first_after <= 1050.0,
        "video resumed {first_after} ms after the headers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_stayed_live_resets_the_failure_count() {
    let media = FlvMedia::generate(1).expect("media");
    let mut nginx = NginxRtmp::start().expect("nginx");
    // Two consecutive failures would be fatal; two separate drops of a healthy stream are not.
    let settings = DestinationSettings {
        max_failures: 2,
        healthy_after: Duration::from_millis(500),
        ..settings()
    };
    let spawned = spawn(&nginx.url("drops"), settings, common::headers(&media));
    let destination = &spawned.destination;
    let mut player = Player::new(&media);
    for drop in 1..=2 {
        let live = player
            .play_until(destination, Duration::from_secs(5), |s| {
                s.state == DestinationState::Live
            })
            .await;
        assert_eq!(
            live.state,
            DestinationState::Live,
            "before drop {drop}: {live:?}"
        );
        player.play(destination, Duration::from_millis(800)).await;
        nginx.restart().expect("restart");
    }
    let live = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Live
        })
        .await;
    assert_eq!(live.state, DestinationState::Live, "{live:?}");
    assert_eq!(live.reconnects, 2, "{live:?}");
    spawned.destination.stop().await;
}
