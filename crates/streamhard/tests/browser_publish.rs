//! Debian's Chromium publishes to `streamhard serve` as a streamer's browser would: fake
//! camera and microphone fed from a y4m/wav file, WHIP from a page of the server's origin,
//! ICE against whatever the server advertises, and nginx-rtmp recording what is relayed.
//!
//! Chromium never gathers loopback candidates: on this machine it checks from the LAN address.
//! These tests are what proves a browser connects with the default settings (same host), and
//! with `--listen 0.0.0.0` from another host (a network namespace the test makes).

mod common;

use std::process::Command;
use std::time::Duration;

use common::Server;
use serde_json::Value;
use streamhard_testkit::browser::{Browser, BrowserBuilder, Page};
use streamhard_testkit::capture::capture_720p;
use streamhard_testkit::ffprobe::{self, Recording};
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
    let ice_ms = started["iceMs"].as_f64().expect("iceMs");
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    let end = page
        .eval("window.streamhardTest.stop()")
        .await
        .expect("stop");
    assert_eq!(end["deleteStatus"], 200, "WHIP DELETE: {end}");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Published {
        ice_ms,
        frames_sent: end["framesSent"].as_u64().unwrap_or(0),
        width: end["width"].as_u64().unwrap_or(0),
        height: end["height"].as_u64().unwrap_or(0),
        encoder: text(&end["encoder"]),
        local: text(&end["localCandidate"]),
        remote: text(&end["remoteCandidate"]),
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
fn assert_relayed(rec: &Recording, published: &Published, label: &str) {
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
         max_keyframe_interval_ms={gop:.0} encoder={} pair={} -> {}",
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
    assert_relayed(&rec, &published, "same host");
}

/// A network namespace joined to this host by a veth pair: another machine on the LAN.
/// Made and removed by the test; nothing in it can reach anything but this host.
struct LanHost {
    name: String,
    host_link: String,
    host_ip: String,
}

impl LanHost {
    fn create() -> anyhow::Result<Self> {
        let id = std::process::id() % 100_000;
        let octet = 1 + (id % 250);
        let lan = LanHost {
            name: format!("sh-lan-{id}"),
            host_link: format!("shh{id}"),
            host_ip: format!("10.231.{octet}.1"),
        };
        let peer_link = format!("shp{id}");
        let guest_ip = format!("10.231.{octet}.2/24");
        let host_cidr = format!("{}/24", lan.host_ip);
        // Leftovers of a killed run of the same pid would make `add` fail.
        let _ = run(&["ip", "netns", "del", &lan.name]);
        let _ = run(&["ip", "link", "del", &lan.host_link]);
        run(&["ip", "netns", "add", &lan.name])?;
        run(&[
            "ip",
            "link",
            "add",
            &lan.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &peer_link,
        ])?;
        run(&["ip", "link", "set", &peer_link, "netns", &lan.name])?;
        run(&["ip", "addr", "add", &host_cidr, "dev", &lan.host_link])?;
        run(&["ip", "link", "set", &lan.host_link, "up"])?;
        let ns = |args: &[&str]| {
            let mut full = vec!["ip", "netns", "exec", lan.name.as_str()];
            full.extend_from_slice(args);
            run(&full)
        };
        ns(&["ip", "addr", "add", &guest_ip, "dev", &peer_link])?;
        ns(&["ip", "link", "set", &peer_link, "up"])?;
        ns(&["ip", "link", "set", "lo", "up"])?;
        Ok(lan)
    }
}

impl Drop for LanHost {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.name]);
        let _ = run(&["ip", "link", "del", &self.host_link]);
    }
}

fn run(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "`{}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
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
        .wrap_command(["ip", "netns", "exec", lan.name.as_str()])
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
    assert_relayed(&rec, &published, "LAN host");
}
