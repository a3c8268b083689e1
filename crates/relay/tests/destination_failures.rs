//! Destinations that cannot publish: a server that never answers, nothing listening, a
//! refused publish, a server that stops reading. Each ends in a bounded time with a state and
//! an error that say what happened (and never the key), and `push` never waits.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Player, is, settings, spawn, wait_for};
use streamhard_media::flv::{Role, Tag, TagKind};
use streamhard_relay::destination::{DestinationSettings, DestinationState, Headers};
use streamhard_testkit::flv_source::FlvMedia;
use streamhard_testkit::nginx::NginxRtmp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_accepts_but_never_answers_times_out_and_retries() {
    // The kernel completes TCP handshakes for the listener's backlog; nobody ever reads.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let settings = DestinationSettings {
        connect_timeout: Duration::from_millis(300),
        max_failures: 100,
        ..settings()
    };
    let spawned = spawn(
        &format!("rtmp://127.0.0.1:{port}/live/SECRETKEY"),
        settings,
        Headers::default(),
    );
    let destination = &spawned.destination;
    let status = wait_for(destination, Duration::from_secs(3), |s| s.reconnects >= 1).await;
    assert_eq!(status.state, DestinationState::Retrying, "{status:?}");
    let error = status.last_error.expect("an error");
    assert!(error.contains("timed out"), "{error}");
    assert!(!error.contains("SECRETKEY"), "{error}");
    let started = Instant::now();
    spawned.destination.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_fails_after_max_failures() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = DestinationSettings {
        max_failures: 3,
        backoff_initial: Duration::from_millis(50),
        ..settings()
    };
    let spawned = spawn(
        &format!("rtmp://127.0.0.1:{port}/live/k"),
        settings,
        Headers::default(),
    );
    let status = wait_for(
        &spawned.destination,
        Duration::from_secs(3),
        is(DestinationState::Failed),
    )
    .await;
    assert_eq!(status.reconnects, 2, "three attempts: {status:?}");
    let error = status.last_error.expect("an error");
    assert!(error.contains("connection failed"), "{error}");
    // A failed destination stays failed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(spawned.destination.status().state, DestinationState::Failed);
    spawned.destination.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_publish_reports_the_status_code_without_the_key() {
    let nginx = NginxRtmp::start().expect("nginx");
    let url = nginx.url("SECRETKEY");
    let first = spawn(&url, settings(), Headers::default());
    wait_for(
        &first.destination,
        Duration::from_secs(5),
        is(DestinationState::Live),
    )
    .await;
    let settings = DestinationSettings {
        max_failures: 2,
        ..settings()
    };
    let second = spawn(&url, settings, Headers::default());
    let status = wait_for(
        &second.destination,
        Duration::from_secs(5),
        is(DestinationState::Failed),
    )
    .await;
    let error = status.last_error.expect("an error");
    assert_eq!(
        error,
        "RTMP: the server refused publish: NetStream.Publish.BadName; the platform rejected \
         the stream: check the stream key (not retrying)"
    );
    assert!(
        status.reconnects <= 2,
        "a refused key is retried at most twice"
    );
    second.destination.stop().await;
    first.destination.stop().await;
}

/// A big fake frame: nginx relays and records bytes without decoding them.
fn heavy(role: Role, timestamp: u32) -> Tag {
    let frame_type = if role == Role::Keyframe { 0x17 } else { 0x27 };
    let mut body = vec![frame_type, 1, 0, 0, 0];
    body.resize(200_000, 0x42);
    Tag {
        kind: TagKind::Video,
        role,
        timestamp: streamhard_media::flv::FlvTime::from_ms(timestamp),
        body: Bytes::from(body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_reading_costs_dropped_frames_never_a_blocked_push() {
    let media = FlvMedia::generate(1).expect("media");
    let nginx = NginxRtmp::start().expect("nginx");
    let settings = DestinationSettings {
        write_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        queue_bytes: 2 << 20,
        ..settings()
    };
    let spawned = spawn(&nginx.url("stuck"), settings, common::headers(&media));
    let destination = &spawned.destination;
    wait_for(
        destination,
        Duration::from_secs(5),
        is(DestinationState::Live),
    )
    .await;

    nginx.pause().expect("pause");
    // 6 MB/s of video: the socket buffers fill within a second or two, then the queue.
    let mut slowest = Duration::ZERO;
    let mut timestamp = 0;
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline && destination.status().state == DestinationState::Live {
        let role = if timestamp % 1000 == 0 {
            Role::Keyframe
        } else {
            Role::Inter
        };
        let tag = heavy(role, timestamp);
        let started = Instant::now();
        destination.push(&tag);
        slowest = slowest.max(started.elapsed());
        timestamp += 40;
        tokio::time::sleep(Duration::from_millis(33)).await;
    }
    let status = destination.status();
    assert_eq!(status.state, DestinationState::Retrying, "{status:?}");
    assert!(status.dropped_frames > 0, "{status:?}");
    assert!(
        spawned.keyframe_requests() >= 2,
        "dropping video asks for a keyframe"
    );
    let error = status.last_error.clone().expect("an error");
    assert!(error.contains("stopped reading"), "{error}");
    // A push that waited for the network would take at least the 1 s write timeout.
    assert!(
        slowest < Duration::from_millis(100),
        "a push took {slowest:?}"
    );

    nginx.resume().expect("resume");
    let mut player = Player::new(&media);
    let back = player
        .play_until(destination, Duration::from_secs(8), |s| {
            s.state == DestinationState::Live
        })
        .await;
    assert_eq!(back.state, DestinationState::Live, "{back:?}");
    spawned.destination.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retrying_destination_says_how_long_until_its_next_attempt() {
    // Nothing listens here: every attempt is refused at once, then waits its backoff.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = DestinationSettings {
        backoff_initial: Duration::from_secs(2),
        backoff_max: Duration::from_secs(4),
        max_failures: 100,
        ..settings()
    };
    let spawned = spawn(
        &format!("rtmp://127.0.0.1:{port}/live/KEY"),
        settings,
        Headers::default(),
    );
    let status = wait_for(&spawned.destination, Duration::from_secs(3), |s| {
        s.state == DestinationState::Retrying
    })
    .await;
    let first = status
        .retry_in
        .expect("a retrying destination has a next attempt");
    // The first wait is 2 s with jitter: between 1 and 2 s.
    assert!(first <= Duration::from_secs(2), "{first:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = spawned.destination.status();
    assert_eq!(later.state, DestinationState::Retrying, "{later:?}");
    assert_eq!(later.reconnects, status.reconnects, "{later:?}");
    let left = later.retry_in.expect("still retrying");
    assert!(left < first, "the countdown moves: {first:?} then {left:?}");
    spawned.destination.stop().await;
}
