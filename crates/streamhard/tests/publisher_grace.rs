//! Staying on air when the publisher's connection vanishes: the real binary, our str0m
//! publisher, nginx-rtmp recording what a platform would receive, ffprobe on the recording.
//!
//! A publisher that disappears without a WHIP DELETE (the process dies, the network drops)
//! puts the broadcast on standby: every destination keeps one publish and gets the last
//! picture and silence with advancing timestamps, until a new WHIP session resumes it with the
//! real picture — or the grace period ends and the broadcast ends cleanly.

mod common;

use std::time::{Duration, Instant};

use common::{Server, connect_publisher};
use serde_json::Value;
use streamhard_testkit::ffprobe::{self, Packet};
use streamhard_testkit::fixtures::{Fixture, FixtureSpec, TestMedia};
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_whip_client::PublisherOptions;

fn media(seconds: u32) -> TestMedia {
    Fixture::generate(FixtureSpec::browser_720p(seconds))
        .expect("fixture")
        .load()
        .expect("load fixture")
}

/// The broadcast as its owner sees it (the session cookie: a broadcast's token ends with it).
async fn owner_view(server: &Server, id: &str) -> Value {
    let res = reqwest::Client::new()
        .get(format!("{}/api/broadcasts/{id}", server.http))
        .header("cookie", server.session_cookie().await)
        .send()
        .await
        .expect("get broadcast");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// Polls the broadcast until `done` holds or `timeout` passes; returns the last view.
async fn wait_broadcast(
    server: &Server,
    id: &str,
    _token: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let view = owner_view(server, id).await;
        if done(&view) || Instant::now() > deadline {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The longest step between consecutive packets' decoding times.
fn worst_gap_ms(packets: &[Packet]) -> f64 {
    packets
        .windows(2)
        .map(|w| w[1].dts_ms - w[0].dts_ms)
        .fold(0.0, f64::max)
}

/// Packets per second with a decoding time in `[from, to)` ms.
fn rate(packets: &[Packet], from: f64, to: f64) -> f64 {
    let n = packets
        .iter()
        .filter(|p| (from..to).contains(&p.dts_ms))
        .count();
    n as f64 * 1000.0 / (to - from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_gone_for_ten_seconds_then_back_is_one_uninterrupted_publish() {
    let media = media(5);
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server.live_broadcast(&[("A", nginx.url("show"))]).await;

    let mut first = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    first
        .send(&media, Duration::from_secs(4))
        .await
        .expect("send");
    // Vanishes: no DELETE, its socket simply goes away.
    drop(first);
    let dropped = Instant::now();

    let away = wait_broadcast(&server, &id, &token, Duration::from_secs(3), |v| {
        v["state"] == "reconnecting"
    })
    .await;
    assert_eq!(away["state"], "reconnecting", "{away}");
    let ends_in = away["ends_in_ms"]
        .as_u64()
        .expect("ends_in_ms while reconnecting");
    assert!((25_000..=30_000).contains(&ends_in), "{away}");
    // Standby keeps bytes flowing: the destination stays live, never stalled.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during = server.broadcast(&id, &token).await;
    assert_eq!(during["state"], "reconnecting", "{during}");
    assert_eq!(during["destinations"][0]["state"], "live", "{during}");
    assert_eq!(during["destinations"][0]["reconnects"], 0, "{during}");

    tokio::time::sleep(Duration::from_secs(10).saturating_sub(dropped.elapsed())).await;
    let mut second = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    second
        .send(&media, Duration::from_secs(4))
        .await
        .expect("send");
    let back = server.broadcast(&id, &token).await;
    assert_eq!(back["state"], "live", "{back}");
    assert_eq!(back["ends_in_ms"], Value::Null, "{back}");
    second.idle(Duration::from_millis(500)).await.expect("idle");
    second.delete().await.expect("delete");
    server.stop_broadcast(&id, &token).await;
    let log = server.log();
    assert!(log.contains("on standby"), "standby never started:\n{log}");

    // One publish: one recording, whose timestamps only move forward, without a hole.
    let files = nginx.recordings("show");
    assert_eq!(
        files.len(),
        1,
        "the destination saw more than one publish: {files:?}"
    );
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert!(
        rec.timestamps_monotonic(),
        "{:?}",
        rec.first_non_monotonic()
    );
    let video_gap = worst_gap_ms(&rec.video_packets);
    let audio_gap = worst_gap_ms(&rec.audio_packets);
    assert!(video_gap <= 1000.0, "a {video_gap} ms hole in the video");
    assert!(audio_gap <= 1000.0, "a {audio_gap} ms hole in the audio");
    let end = rec.video_packets.last().expect("video").dts_ms;
    assert!(end >= 16_000.0, "the recording covers only {end} ms");
    assert!(
        rec.max_keyframe_interval_ms().is_some_and(|k| k <= 2_100.0),
        "keyframes too far apart: {:?}",
        rec.max_keyframe_interval_ms()
    );

    // Standby's still picture goes out twice a second in the middle of the drop; the real
    // picture (30 fps) before it and after the publisher came back.
    let standby = rate(&rec.video_packets, 7_000.0, 12_000.0);
    assert!(
        (1.0..=4.0).contains(&standby),
        "{standby} fps during standby"
    );
    let before = rate(&rec.video_packets, 1_000.0, 3_500.0);
    let after = rate(&rec.video_packets, end - 3_000.0, end - 500.0);
    println!(
        "one recording of {:.1} s: worst gap video {video_gap:.0} ms, audio {audio_gap:.0} ms; \
         {before:.1} fps before the drop, {standby:.1} during standby, {after:.1} after",
        end / 1000.0
    );
    assert!(before >= 20.0, "{before} fps before the drop");
    assert!(
        after >= 20.0,
        "{after} fps after coming back: not the real picture"
    );
    // Every frame decodes: the stills are whole keyframes, and the stream after them starts
    // on a keyframe of its own.
    assert!(
        rec.video_frame_count() + 2 >= rec.video_packets.len(),
        "{} of {} frames decoded",
        rec.video_frame_count(),
        rec.video_packets.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_never_comes_back_ends_the_broadcast_after_the_grace_period() {
    let media = media(3);
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start(
        &[
            "--publisher-grace-seconds",
            "3",
            "--max-broadcasts-per-user",
            "1",
        ],
        &[],
    );
    let (id, whip_url, token) = server.live_broadcast(&[("A", nginx.url("gone"))]).await;
    let mut publisher = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    publisher
        .send(&media, Duration::from_secs(2))
        .await
        .expect("send");
    drop(publisher);
    let dropped = Instant::now();

    let ended = wait_broadcast(&server, &id, &token, Duration::from_secs(8), |v| {
        v["state"] == "ended"
    })
    .await;
    let took = dropped.elapsed();
    println!("ended {took:?} after the publisher vanished (grace 3 s)");
    assert_eq!(ended["state"], "ended", "{ended}");
    assert!(ended["ended_at"].is_i64(), "{ended}");
    assert!(
        took >= Duration::from_millis(2_500) && took <= Duration::from_secs(6),
        "ended {took:?} after the publisher vanished, with a 3 s grace period"
    );
    // The destination unpublished cleanly, and the user's one broadcast slot is free again.
    let log = server.log();
    assert!(log.contains("unpublished"), "no clean unpublish:\n{log}");
    assert!(log.contains("did not come back"), "{log}");
    let (next, _, _) = server.create_broadcast(&[("A", nginx.url("next"))]).await;
    assert_ne!(next, id);

    // What the platform recorded ends with standby and is whole.
    let files = nginx.recordings("gone");
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert!(
        rec.timestamps_monotonic(),
        "{:?}",
        rec.first_non_monotonic()
    );
    assert!(worst_gap_ms(&rec.video_packets) <= 1000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_goodbye_the_broadcast_waits_and_its_idle_destination_says_stalled() {
    let media = media(3);
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server.live_broadcast(&[("A", nginx.url("bye"))]).await;
    let mut publisher = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    publisher
        .send(&media, Duration::from_secs(2))
        .await
        .expect("send");
    publisher.delete().await.expect("WHIP DELETE");
    let left = Instant::now();

    // A deliberate goodbye gets no standby: nothing flows, and the card says so within 5 s.
    let view = wait_broadcast(&server, &id, &token, Duration::from_secs(6), |v| {
        v["destinations"][0]["state"] == "stalled"
    })
    .await;
    assert_eq!(view["destinations"][0]["state"], "stalled", "{view}");
    assert!(left.elapsed() <= Duration::from_secs(5) + Duration::from_millis(500));
    assert_eq!(view["state"], "waiting", "{view}");
    assert!(view["ingest"].is_null(), "{view}");
    assert!(
        view["ends_in_ms"].as_u64().is_some_and(|ms| ms <= 30_000),
        "{view}"
    );
    assert!(!server.log().contains("on standby"));

    // A new session within the grace period: live again, on the same publish.
    let mut again = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    again
        .send(&media, Duration::from_secs(2))
        .await
        .expect("send");
    let view = server.broadcast(&id, &token).await;
    assert_eq!(view["state"], "live", "{view}");
    assert_eq!(view["destinations"][0]["state"], "live", "{view}");
    again.delete().await.expect("delete");
    server.stop_broadcast(&id, &token).await;
    assert_eq!(nginx.recordings("bye").len(), 1);
}
