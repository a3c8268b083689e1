//! No way to knock the server over: every limit of `streamhard serve` answered with its status
//! and reason, while the server keeps serving everyone else. Against the real binary, with a
//! real publisher (str0m) relaying to nginx-rtmp.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Server, connect_publisher};
use serde_json::Value;
use streamhard_testkit::fixtures::{Fixture, FixtureSpec, TestMedia};
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_whip_client::PublisherOptions;

const CHROME_OFFER: &str = include_str!("../../relay/fixtures/offers/chrome.sdp");

fn media(seconds: u32) -> TestMedia {
    Fixture::generate(FixtureSpec::browser_720p(seconds))
        .expect("fixture")
        .load()
        .expect("load fixture")
}

/// A sample of `/metrics` (without labels), 0 when absent.
async fn metric(server: &Server, name: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.http))
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// Frames written to destination sockets so far (the relay latency histogram's count).
async fn frames_relayed(server: &Server) -> f64 {
    metric(server, "streamhard_relay_latency_seconds_count").await
}

/// A WHIP offer (Chrome's, from the fixtures) posted to `whip_url`: (status, headers, body).
async fn post_offer(whip_url: &str, token: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let res = reqwest::Client::new()
        .post(whip_url)
        .bearer_auth(token)
        .header("content-type", "application/sdp")
        .body(CHROME_OFFER)
        .send()
        .await
        .expect("WHIP POST");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// The `error` code of a JSON error body; asserts it has a message for a person too.
fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    v["error"].as_str().expect("error code").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_sessions_a_new_whip_session_gets_503_and_the_live_one_carries_on() {
    let media = media(4);
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start(&["--max-sessions", "1"], &[]);
    let (_, a_whip, a_token) = server.live_broadcast(&[("A", nginx.url("streamA"))]).await;
    let (b_id, b_whip, b_token) = server
        .create_broadcast(&[("B", nginx.url("streamB"))])
        .await;
    let mut publisher = connect_publisher(&a_whip, &a_token, PublisherOptions::default()).await;

    let (status, headers, body) = post_offer(&b_whip, &b_token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_code(&body), "node_full");
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(metric(&server, "streamhard_ingest_sessions").await, 1.0);
    assert_eq!(
        metric(&server, "streamhard_whip_sessions_refused_node_full_total").await,
        1.0
    );
    assert_eq!(
        server.broadcast(&b_id, &b_token).await["ingest"],
        Value::Null
    );

    // The session already carried is untouched by the refusal.
    let report = publisher
        .send(&media, Duration::from_secs(3))
        .await
        .expect("send");
    publisher
        .idle(Duration::from_millis(500))
        .await
        .expect("idle");
    let relayed = frames_relayed(&server).await;
    println!(
        "max_sessions: {relayed} of {} frames relayed with an offer refused",
        report.video_frames
    );
    assert!(
        relayed >= 0.95 * report.video_frames as f64,
        "{relayed} frames relayed of {}",
        report.video_frames
    );

    // Replacing a broadcast's own session (a publisher reconnecting) is allowed at the cap.
    let (status, headers, body) = post_offer(&a_whip, &a_token).await;
    assert_eq!(status, 201, "{body}");
    let location = headers["location"].to_str().unwrap().to_owned();
    // Once that session ends, its place is free for B.
    let res = reqwest::Client::new()
        .delete(format!("{}{location}", server.http))
        .bearer_auth(&a_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = post_offer(&b_whip, &b_token).await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "the ended session still counted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends junk datagrams from `from` to `to` at about `per_second` until `until`; how many.
fn flood(from: &str, to: (std::net::Ipv4Addr, u16), per_second: u32, until: Instant) -> u64 {
    let socket = UdpSocket::bind(from).expect("bind the flooder");
    // Not STUN (first byte ≥ 4), so nothing a session would take.
    let junk = [0xabu8; 200];
    let started = Instant::now();
    let mut sent = 0u64;
    while Instant::now() < until {
        let due = (started.elapsed().as_secs_f64() * f64::from(per_second)) as u64;
        while sent < due {
            if socket.send_to(&junk, to).is_ok() {
                sent += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_source_is_held_to_its_rate_and_a_publisher_elsewhere_loses_nothing() {
    const RATE: u32 = 1000;
    let media = media(4);
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start(&["--max-peer-packets-per-second", &RATE.to_string()], &[]);
    let (_, whip, token) = server.live_broadcast(&[("A", nginx.url("streamA"))]).await;
    // The publisher on 127.0.0.1, the flooder on 127.0.0.2: two sources.
    let mut publisher = connect_publisher(&whip, &token, PublisherOptions::default()).await;
    let unknown_before = metric(&server, "streamhard_ingest_unknown_peer_datagrams_total").await;

    let seconds = 4;
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let port = server.udp_port;
    let flooder = std::thread::spawn(move || {
        flood(
            "127.0.0.2:0",
            (std::net::Ipv4Addr::LOCALHOST, port),
            10 * RATE,
            until,
        )
    });
    let report = publisher
        .send(&media, Duration::from_secs(seconds))
        .await
        .expect("send");
    let sent = flooder.join().unwrap();
    let flood_seconds = started.elapsed().as_secs_f64();
    publisher
        .idle(Duration::from_millis(500))
        .await
        .expect("idle");

    let limited = metric(&server, "streamhard_udp_datagrams_rate_limited_total").await;
    let passed =
        metric(&server, "streamhard_ingest_unknown_peer_datagrams_total").await - unknown_before;
    let relayed = frames_relayed(&server).await;
    println!(
        "peer rate: flooded {sent} datagrams in {flood_seconds:.1} s, {limited} dropped by the \
         limit, {passed} reached routing; {relayed} of {} frames relayed",
        report.video_frames
    );
    // The flooder got its burst and its rate, no more (a little slack for the publisher's own
    // stray datagrams counted as unknown).
    let allowed = f64::from(RATE) * (1.0 + flood_seconds);
    assert!(
        passed <= allowed + 50.0,
        "{passed} passed, {allowed} allowed"
    );
    assert!(
        limited >= sent as f64 / 2.0,
        "{limited} dropped of {sent} sent"
    );
    assert!(limited + passed <= sent as f64 + 50.0);
    assert!(
        relayed >= 0.95 * report.video_frames as f64,
        "{relayed} frames relayed of {}",
        report.video_frames
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_past_the_per_user_cap_get_429_and_a_disconnect_frees_the_place() {
    let server = Server::start(&["--max-event-streams-per-user", "1"], &[]);
    let (id, _, token) = server
        .create_broadcast(&[("A", "rtmp://127.0.0.1:1/live/key".into())])
        .await;
    let events = format!("{}/api/broadcasts/{id}/events", server.http);
    let open = || {
        reqwest::Client::new()
            .get(&events)
            .bearer_auth(&token)
            .send()
    };
    let mut first = open().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.chunk().await.unwrap().is_some(), "the first event");

    let second = open().await.unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "5");
    assert_eq!(
        error_code(&second.text().await.unwrap()),
        "event_stream_limit"
    );
    // Everything else answers meanwhile.
    assert_eq!(server.broadcast(&id, &token).await["id"], id.as_str());

    // The client goes away (its connection closes); the server notices at its next event
    // (≤ 2 s) and the place is free again.
    drop(first);
    let dropped = Instant::now();
    loop {
        let res = open().await.unwrap();
        if res.status() == 200 {
            break;
        }
        assert_eq!(res.status(), 429);
        assert!(
            dropped.elapsed() < Duration::from_secs(6),
            "the closed stream still counted after 6 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "event streams: a closed stream's place was free after {:?}",
        dropped.elapsed()
    );
}
