//! Debian's Chromium publishes to `streamhard serve` as a streamer's browser would: fake
//! camera and microphone fed from a y4m/wav file, WHIP from a page of the server's origin,
//! ICE against whatever the server advertises, and nginx-rtmp recording what is relayed.
//!
//! Chromium never gathers loopback candidates: on this machine it checks from the LAN address.
//! These tests are what proves a browser connects with the default settings (same host), and
//! with `--listen 0.0.0.0` from another host (a network namespace the test makes).

mod common;

use std::time::Duration;

use common::Server;
use serde_json::Value;
use streamhard_testkit::browser::{Browser, BrowserBuilder, Page};
use streamhard_testkit::capture::capture_720p;
use streamhard_testkit::ffprobe::{self, Recording};
use streamhard_testkit::netns::LanHost;
use streamhard_testkit::nginx::NginxRtmp;

const PUBLISHER_JS: &str = include_str!("browser/whip_publisher.js");
/// Long enough for several keyframe intervals and a meaningful frame count.
const SECONDS: u64 = 8;

/// What Chromium said about the session it published.
#[derive(Debug)]
struct Published {
    ice_ms: f64,
    frames_sent: u64,
    width: u64,
    height: u64,
    encoder: String,
    local: String,
    remote: String,
}

/// Publishes from `page` (already on a page of the server's origin) to `whip_url` for
/// [`SECONDS`], then ends the session with DELETE.
async fn publish_from(page: &Page, whip_url: &str, token: &str) -> Published {
    let publishing = start_publishing(page, whip_url, token).await;
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    publishing.stop().await
}

/// A WHIP session Chromium is publishing on, until [`Publishing::stop`].
struct Publishing<'a> {
    page: &'a Page,
    ice_ms: f64,
    /// The session URL (the `Location` of the 201).
    location: String,
    etag: String,
}

/// What Chromium reported of an ICE restart on the session.
#[derive(Debug)]
struct Restarted {
    status: u64,
    etag_before: String,
    etag_after: String,
    /// From the restarted answer set to the selected pair being one of the new ICE session.
    reconnect_ms: f64,
    /// From `restartIce()` to reconnected, the PATCH included.
    total_ms: f64,
}

/// Loads the publisher into `page` and publishes to `whip_url` until ICE connects.
async fn start_publishing<'a>(page: &'a Page, whip_url: &str, token: &str) -> Publishing<'a> {
    page.eval(PUBLISHER_JS).await.expect("load the publisher");
    let path = url_path(whip_url);
    let started = page
        .eval(&format!(
            "window.streamhardTest.publish({}, {})",
            Value::from(path),
            Value::from(token)
        ))
        .await
        .unwrap_or_else(|e| panic!("Chromium could not publish: {e:#}"));
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Publishing {
        page,
        ice_ms: started["iceMs"].as_f64().expect("iceMs"),
        location: text(&started["location"]),
        etag: text(&started["etag"]),
    }
}

impl Publishing<'_> {
    /// Restarts ICE on the live session (WHIP PATCH with `If-Match: *`) and waits until
    /// Chromium sends on a pair of the new ICE session.
    async fn restart_ice(&mut self) -> Restarted {
        let r = self
            .page
            .eval("window.streamhardTest.restartIce()")
            .await
            .unwrap_or_else(|e| panic!("Chromium could not restart ICE: {e:#}"));
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let restarted = Restarted {
            status: r["status"].as_u64().unwrap_or(0),
            etag_before: text(&r["etagBefore"]),
            etag_after: text(&r["etagAfter"]),
            reconnect_ms: r["reconnectMs"].as_f64().expect("reconnectMs"),
            total_ms: r["totalMs"].as_f64().unwrap_or(f64::NAN),
        };
        self.etag.clone_from(&restarted.etag_after);
        restarted
    }

    /// Ends the session with DELETE and returns what Chromium reported sending on it.
    async fn stop(self) -> Published {
        let end = self
            .page
            .eval("window.streamhardTest.stop()")
            .await
            .expect("stop");
        assert_eq!(end["deleteStatus"], 200, "WHIP DELETE: {end}");
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Published {
            ice_ms: self.ice_ms,
            frames_sent: end["framesSent"].as_u64().unwrap_or(0),
            width: end["width"].as_u64().unwrap_or(0),
            height: end["height"].as_u64().unwrap_or(0),
            encoder: text(&end["encoder"]),
            local: text(&end["localCandidate"]),
            remote: text(&end["remoteCandidate"]),
        }
    }
}

/// `/whip/…` of a whip_url, so the page posts to its own origin whatever host name the server
/// put in the URL.
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
}

fn chromium() -> BrowserBuilder {
    let capture = capture_720p().expect("capture files");
    Browser::builder()
        .fake_video(&capture.video)
        .fake_audio(&capture.audio)
}

/// The recording as a platform would judge it, against what Chromium reported sending.
/// `extra` goes at the end of the line of figures it prints.
fn assert_relayed(rec: &Recording, published: &Published, label: &str, extra: &str) {
    let video = rec.video().unwrap_or_else(|| panic!("{label}: no video"));
    assert_eq!(video.codec_name, "h264", "{label}");
    assert_eq!(
        (video.width, video.height),
        (Some(1280), Some(720)),
        "{label}: the sent 1280x720"
    );
    let audio = rec.audio().unwrap_or_else(|| panic!("{label}: no audio"));
    assert_eq!(audio.codec_name, "aac", "{label}");
    let frames = rec.video_frame_count() as u64;
    assert!(
        frames * 10 >= published.frames_sent * 9,
        "{label}: {frames} frames recorded of {} Chromium sent",
        published.frames_sent
    );
    let gop = rec.max_keyframe_interval_ms().expect("keyframes");
    assert!(gop <= 2100.0, "{label}: keyframes {gop} ms apart");
    assert!(
        rec.first_video_frame_is_key(),
        "{label}: starts on a keyframe"
    );
    assert!(
        rec.timestamps_monotonic(),
        "{label}: {:?}",
        rec.first_non_monotonic()
    );
    println!(
        "{label}: ice_ms={:.0} chromium_frames_sent={} recorded_frames={frames} \
         max_keyframe_interval_ms={gop:.0} encoder={} pair={} -> {}{extra}",
        published.ice_ms,
        published.frames_sent,
        published.encoder,
        published.local,
        published.remote
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_on_this_machine_publishes_to_the_server_started_as_the_readme_says() {
    let nginx = NginxRtmp::start().expect("nginx");
    // No --public-ip, the default listen address (its port free for the test).
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server
        .live_broadcast(&[("nginx", nginx.url("chromium"))])
        .await;
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser
        .new_page(&format!("{}/healthz", server.http))
        .await
        .expect("page");
    let published = publish_from(&page, &whip_url, &token).await;
    assert!(
        published.ice_ms <= 5000.0,
        "ICE took {} ms",
        published.ice_ms
    );
    assert_eq!(
        (published.width, published.height),
        (1280, 720),
        "{published:?}"
    );
    // The pair Chromium chose is not loopback on its side: that is the case this is about.
    assert!(!published.local.starts_with("127."), "{published:?}");
    server.stop_broadcast(&id, &token).await;
    browser.close().await.expect("close Chromium");

    let files = nginx.recordings("chromium");
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert_relayed(&rec, &published, "same host", "");
}

/// The destinations of a broadcast status by id: (state, reconnects, bytes_sent).
fn destinations(status: &Value) -> Vec<(String, String, u64, u64)> {
    status["destinations"]
        .as_array()
        .expect("destinations")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap_or_default().to_owned(),
                d["state"].as_str().unwrap_or_default().to_owned(),
                d["reconnects"].as_u64().expect("reconnects"),
                d["bytes_sent"].as_u64().expect("bytes_sent"),
            )
        })
        .collect()
}

/// Chromium restarts ICE halfway through (as a browser whose network changed does, RFC 9725
/// §4.3): the WHIP session, the broadcast and its one RTMP session carry on, and the
/// destination records one uninterrupted stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_restarts_ice_on_a_live_session_and_the_relay_carries_on() {
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start(&[], &[]);
    let (id, whip_url, token) = server
        .live_broadcast(&[("nginx", nginx.url("restart"))])
        .await;
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser
        .new_page(&format!("{}/healthz", server.http))
        .await
        .expect("page");
    let mut publishing = start_publishing(&page, &whip_url, &token).await;
    let etag_of_post = publishing.etag.clone();
    let location = publishing.location.clone();
    let session = location.rsplit('/').next().unwrap_or_default();
    assert!(
        location.contains(&format!("/sessions/{session}")) && !session.is_empty(),
        "{location}"
    );
    tokio::time::sleep(Duration::from_secs(SECONDS / 2)).await;
    let before = server.broadcast(&id, &token).await;

    let restarted = publishing.restart_ice().await;
    assert_eq!(restarted.status, 200, "{restarted:?}");
    assert_eq!(restarted.etag_before, etag_of_post, "{restarted:?}");
    assert!(!restarted.etag_after.is_empty(), "{restarted:?}");
    assert_ne!(
        restarted.etag_after, restarted.etag_before,
        "a restart is a new ICE session: {restarted:?}"
    );
    assert!(
        restarted.reconnect_ms <= 5000.0,
        "ICE took {} ms to reconnect",
        restarted.reconnect_ms
    );

    tokio::time::sleep(Duration::from_secs(SECONDS / 2)).await;
    let after = server.broadcast(&id, &token).await;
    // The session URL of the POST still names the broadcast's session: DELETE on it is 200.
    let published = publishing.stop().await;
    server.stop_broadcast(&id, &token).await;
    browser.close().await.expect("close Chromium");

    for (when, status) in [("before", &before), ("after", &after)] {
        assert_eq!(status["state"], "live", "{when} the restart: {status}");
        assert_eq!(
            (&status["ingest"]["width"], &status["ingest"]["height"]),
            (&Value::from(1280), &Value::from(720)),
            "{when} the restart: {status}"
        );
    }
    let (was, is) = (destinations(&before), destinations(&after));
    assert_eq!(was.len(), 1, "{before}");
    assert_eq!(is.len(), 1, "{after}");
    let (
        (id_before, state_before, reconnects_before, bytes_before),
        (id_after, state_after, reconnects_after, bytes_after),
    ) = (&was[0], &is[0]);
    assert_eq!(id_after, id_before, "the same destination: {after}");
    assert_eq!(
        (state_before.as_str(), state_after.as_str()),
        ("live", "live"),
        "{before} -> {after}"
    );
    assert_eq!(
        (*reconnects_before, *reconnects_after),
        (0, 0),
        "the RTMP session was never redone: {after}"
    );
    assert!(
        bytes_after > bytes_before,
        "media kept flowing to the destination: {before} -> {after}"
    );
    // One WHIP session from start to end: the server never made another one, and the one the
    // publisher restarted is the session of the POST's Location.
    let log = server.log();
    assert_eq!(log.matches("new session").count(), 1, "{log}");
    let restart_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ICE restarted by the publisher"))
        .collect();
    assert_eq!(restart_lines.len(), 1, "{log}");
    assert!(
        restart_lines[0].contains(session),
        "restarted session {session}: {}",
        restart_lines[0]
    );

    let files = nginx.recordings("restart");
    assert_eq!(files.len(), 1, "one RTMP session, one recording: {files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert_relayed(
        &rec,
        &published,
        "ICE restart",
        &format!(
            " reconnect_ms={:.0} restart_total_ms={:.0} etag {} -> {}",
            restarted.reconnect_ms, restarted.total_ms, restarted.etag_before, restarted.etag_after
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_on_another_host_of_the_lan_publishes_to_a_server_on_all_interfaces() {
    let lan = LanHost::create().unwrap_or_else(|e| {
        panic!(
            "cannot make a network namespace for the LAN host ({e:#}); this test needs root \
             and `ip netns` (iproute2) and does not pass without them"
        )
    });
    let nginx = NginxRtmp::start().expect("nginx");
    let server = Server::start_on("0.0.0.0:0", &[], &[]);
    let (id, whip_url, token) = server.live_broadcast(&[("nginx", nginx.url("lan"))]).await;
    let port = server.http.rsplit(':').next().expect("port").to_owned();
    let origin = format!("http://{}:{port}", lan.host_ip);
    // Over plain HTTP from another host a page is not a secure context, so getUserMedia would
    // be refused; a real deployment uses HTTPS, the test marks this one origin as secure.
    let browser = chromium()
        .wrap_command(lan.exec_prefix())
        .insecure_origin_as_secure(&origin)
        .launch()
        .await
        .expect("launch Chromium in the LAN host");
    let page = browser
        .new_page(&format!("{origin}/healthz"))
        .await
        .expect("the server answers on its LAN address");
    let published = publish_from(&page, &whip_url, &token).await;
    assert!(
        published.ice_ms <= 5000.0,
        "ICE took {} ms",
        published.ice_ms
    );
    assert!(
        published.remote.starts_with(&lan.host_ip),
        "the pair uses the server's LAN address: {published:?}"
    );
    server.stop_broadcast(&id, &token).await;
    browser.close().await.expect("close Chromium");

    let files = nginx.recordings("lan");
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert_relayed(&rec, &published, "LAN host", "");
}
