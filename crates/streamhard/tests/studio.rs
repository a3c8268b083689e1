//! The studio end to end, as a streamer uses it: Debian's Chromium (headless, fake camera
//! and microphone playing a known pattern) drives the page the `streamhard` binary serves at
//! `/`, finding every control by its role and accessible name; nginx-rtmp servers stand in
//! for the platforms and record what they receive, and the recordings are decoded to check
//! what the viewers see.
//!
//! Screenshots of every step go to `target/studio-screenshots/`.
//!
//! The tests take turns (one lock): each has Chromium encode 720p30, which is most of two
//! cores, and a frame-rate test sharing the machine with another would measure the sharing.

mod common;
#[path = "studio/picture.rs"]
mod picture;
#[path = "studio/recording.rs"]
mod recording;
#[path = "studio/user.rs"]
mod user;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;
use recording::{assert_platform_ready, growth, position_ms, wait_started};
use streamhard_testkit::browser::{Browser, BrowserBuilder, Control};
use streamhard_testkit::capture::capture_720p;
use streamhard_testkit::ffprobe;
use streamhard_testkit::netns::LanHost;
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_testkit::pixels::Rgb;
use user::{
    LIVE_TIMEOUT, Screenshots, Studio, assert_all_named, tab_cycle, visibility_over,
    wait_for_message,
};

/// One test at a time (see the module docs).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The bar colour: saturated, and none of the fake camera's colours.
const BAR_COLOUR: &str = "#ff8000";
/// The logo: a white square; the fake camera has no white.
const LOGO_COLOUR: Rgb = Rgb(255, 255, 255);
/// How long each frame-rate window of the background test lasts.
const FPS_WINDOW: Duration = Duration::from_secs(20);
/// How long the fallback compositor's frame-rate window lasts.
const FALLBACK_FPS_WINDOW: Duration = Duration::from_secs(10);

/// Chromium with the fake camera (ffmpeg's testsrc2 at 1280x720, 30 fps) and microphone
/// (a 440 Hz tone), in a laptop-sized window.
fn chromium() -> BrowserBuilder {
    let capture = capture_720p().expect("capture files");
    Browser::builder()
        .fake_video(&capture.video)
        .fake_audio(&capture.audio)
        .window_size(1440, 1000)
}

/// A small PNG logo in `dir`, made by ffmpeg.
fn make_logo(dir: &Path) -> PathBuf {
    let logo = dir.join("logo.png");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "color=c=white:s=128x128", "-frames:v", "1"])
        .arg(&logo)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg could not make the logo");
    logo
}

/// The bitrate the stream stats show is the encoder's, near the 720p30 preset's 2500 kb/s
/// (a busy camera fills it; a mostly dark PiP scene may use less, never a hundredth), and so
/// is what `recording` received over the last two seconds.
async fn assert_bitrate_near_the_preset(studio: &Studio<'_>, recording: &Path) {
    let shown = studio.stat("Bitrate").await;
    let recorded_kbps = recording::recent_video_kbps(recording, Duration::from_secs(2));
    let shown_kbps = match shown.split_once(' ') {
        Some((n, "Mb/s")) => n.parse::<f64>().ok().map(|m| m * 1000.0),
        Some((n, "kb/s")) => n.parse::<f64>().ok(),
        _ => None,
    };
    println!("bitrate: the studio shows {shown}, the platform received {recorded_kbps:.0} kb/s");
    let near = |kbps: f64| (300.0..=4000.0).contains(&kbps);
    assert!(
        shown_kbps.is_some_and(near) && near(recorded_kbps),
        "the studio shows a bitrate of {shown:?}, the platform received {recorded_kbps:.0} kb/s \
         of video, at the 2500 kb/s preset (studio_findings.md #6)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamer_signs_up_goes_live_to_two_destinations_and_finds_it_in_history() {
    let _turn = SERIAL.lock().await;
    let shots = Screenshots::new("");
    let temp = tempfile::tempdir().expect("temp dir");
    let (platform_a, platform_b) = (
        NginxRtmp::start().expect("nginx"),
        NginxRtmp::start().expect("nginx"),
    );
    let server = Server::start(&[], &[]);
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser.new_page("about:blank").await.expect("page");
    let studio = Studio::sign_up_and_log_in(&page, &server.http, &shots, "ada@example.com").await;
    shots.take(&page, "studio").await;

    // 2. The lower third's text and colour, and a logo.
    page.set_checked_by_name("checkbox", "Show lower-third bar", true)
        .await
        .expect("show the bar");
    page.fill_by_name("textbox", "Bar text", "Ada live")
        .await
        .expect("bar text");
    page.fill_by_name("ColorWell", "Bar colour", BAR_COLOUR)
        .await
        .expect("bar colour");
    let logo = make_logo(temp.path());
    page.set_files_by_name("button", "Logo image", &[logo.as_path()])
        .await
        .expect("logo");
    wait_for_message(&page, "status", "Overlay settings saved").await;
    shots.take(&page, "overlays").await;

    // 3. Two destinations → Go live.
    studio
        .add_custom_destination("Custom", &platform_a.url("first"))
        .await;
    studio
        .add_custom_destination("Custom 2", &platform_b.url("second"))
        .await;
    shots.take(&page, "destinations").await;
    studio.go_live(&["Custom", "Custom 2"]).await;
    let first = wait_started(&platform_a, "first");
    let second = wait_started(&platform_b, "second");
    let stats = page
        .with_timeout(LIVE_TIMEOUT)
        .wait_for_text("region", "Stream stats", "1280x720", |t| {
            t.contains("1280x720")
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    println!("stream stats: {}", stats.replace('\n', " | "));
    assert_all_named(&page, "the studio, live").await;
    shots.take(&page, "live").await;

    // 4. Both recordings: H.264 + AAC at 1280x720, the bar's colour in the bottom band.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let bar = Rgb::from_hex(BAR_COLOUR).expect("colour");
    for (file, label) in [(&first, "first"), (&second, "second")] {
        assert_platform_ready(file, label);
        let at = position_ms(file) - 1000.0;
        let frame = picture::decode(file, at);
        picture::save_png(file, at, &shots.next_path(&format!("recorded-{label}")));
        picture::assert_bar(&frame, bar, label);
        picture::assert_logo_top_right(&frame, LOGO_COLOUR, label);
        picture::assert_camera_full(&frame, label);
        picture::assert_moving(file, at, picture::WHOLE, label);
    }

    assert_bitrate_near_the_preset(&studio, &first).await;

    // 5. Picture-in-picture, in the recording.
    page.click_by_name("radio", "Picture-in-picture")
        .await
        .expect("PiP layout");
    assert!(
        page.is_checked_by_name("radio", "Picture-in-picture")
            .await
            .expect("PiP state"),
        "the chosen layout is the checked one"
    );
    let switched_at = position_ms(&first);
    tokio::time::sleep(Duration::from_secs(4)).await;
    shots.take(&page, "picture-in-picture").await;
    assert_bitrate_near_the_preset(&studio, &first).await;
    let at = switched_at + 2500.0;
    assert!(position_ms(&first) > at, "the recording goes on");
    picture::save_png(&first, at, &shots.next_path("recorded-picture-in-picture"));
    picture::assert_picture_in_picture(&picture::decode(&first, at), "first");
    picture::assert_moving(&first, at, picture::PIP, "first, in the PiP box");

    // 6. A third destination while live; the first removed.
    studio
        .add_custom_destination("Custom 3", &platform_a.url("third"))
        .await;
    page.click_by_name("button", "Add Custom 3 to the live stream")
        .await
        .expect("add the third while live");
    studio.wait_status("Custom 3 status", "Live").await;
    let third = wait_started(&platform_a, "third");
    page.click_by_name("button", "Remove Custom")
        .await
        .expect("remove the first");
    let deadline = Instant::now() + Duration::from_secs(10);
    while page
        .count_by_name("status", "Custom status")
        .await
        .expect("cards")
        > 0
    {
        assert!(Instant::now() < deadline, "the Custom card is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The relay unpublishes the first; then it stays still while the others grow.
    let unpublished = recording::wait_still(&first, Duration::from_secs(10)).await;
    let grew = growth(
        &[first.as_path(), second.as_path(), third.as_path()],
        Duration::from_secs(3),
    )
    .await;
    println!("the removed destination's recording stopped within {unpublished:.1?}");
    println!("recording sizes over 3 s (first, second, third): {grew:?}");
    assert_eq!(grew[0].0, grew[0].1, "the removed destination stopped");
    assert!(grew[1].1 > grew[1].0, "the second goes on: {grew:?}");
    assert!(grew[2].1 > grew[2].0, "the third goes on: {grew:?}");
    for label in ["Custom 2", "Custom 3"] {
        assert_eq!(
            page.text_by_name("status", &format!("{label} status"))
                .await
                .expect("status"),
            "Live",
            "{label}"
        );
    }
    shots.take(&page, "third-added-first-removed").await;

    // 7. Stop → the history lists the broadcast.
    studio.stop().await;
    shots.take(&page, "stopped").await;
    page.click_by_name("link", "History")
        .await
        .expect("History");
    page.wait_for_element("table", "Broadcast history")
        .await
        .expect("the history table");
    let rows = page.texts_of_role("row").await.expect("rows");
    println!("history rows: {rows:?}");
    assert_eq!(rows.len(), 2, "a header and one broadcast: {rows:?}");
    let row = rows[1].to_lowercase();
    assert!(
        row.contains("custom") && row.contains('3'),
        "the row names its platform and three destinations: {row:?}"
    );
    assert_all_named(&page, "/history with a broadcast").await;
    shots.take(&page, "history").await;
    let broadcasts = studio.broadcasts().await;
    assert_eq!(broadcasts.len(), 1, "{broadcasts:?}");
    assert_eq!(broadcasts[0]["state"], "ended", "{:?}", broadcasts[0]);
    assert_eq!(broadcasts[0]["destination_count"], 3, "{:?}", broadcasts[0]);
    browser.close().await.expect("close Chromium");
    for (file, label) in [(&second, "second"), (&third, "third")] {
        let rec = assert_platform_ready(file, label);
        assert!(
            rec.timestamps_monotonic(),
            "{label}: {:?}",
            rec.first_non_monotonic()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_keeps_full_frame_rate_while_its_tab_is_hidden() {
    let _turn = SERIAL.lock().await;
    let shots = Screenshots::new("hidden-");
    let platform = NginxRtmp::start().expect("nginx");
    let server = Server::start(&[], &[]);
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser.new_page("about:blank").await.expect("page");
    let studio = Studio::sign_up_and_log_in(&page, &server.http, &shots, "bo@example.com").await;
    studio
        .add_custom_destination("Custom", &platform.url("hidden"))
        .await;
    studio.go_live(&["Custom"]).await;
    let file = wait_started(&platform, "hidden");
    // The encoder settles on its rate within the first seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    shots.take(&page, "visible").await;

    let (visible_from, cpu_from) = (position_ms(&file), browser.cpu_sample().expect("cpu"));
    let visible = visibility_over(&page, FPS_WINDOW).await;
    let (visible_to, cpu_to) = (position_ms(&file), browser.cpu_sample().expect("cpu"));

    let tab = page.open_tab("about:blank").await.expect("a tab in front");
    let (hidden_from, hidden_cpu_from) = (position_ms(&file), browser.cpu_sample().expect("cpu"));
    let hidden = visibility_over(&page, FPS_WINDOW).await;
    let (hidden_to, hidden_cpu_to) = (position_ms(&file), browser.cpu_sample().expect("cpu"));
    shots.take(&page, "hidden").await;
    page.bring_to_front().await.expect("back to the studio");
    tab.close().await.expect("close the tab");
    studio.stop().await;
    browser.close().await.expect("close Chromium");

    assert!(
        visible.len() >= 40 && visible.iter().all(|s| s == "visible"),
        "{visible:?}"
    );
    assert!(
        hidden.len() >= 40 && hidden.iter().all(|s| s == "hidden"),
        "the studio was hidden the whole window: {hidden:?}"
    );
    let rec = ffprobe::probe_packets(&file).expect("ffprobe");
    let visible_fps = recording::fps_between(&rec, visible_from, visible_to);
    let hidden_fps = recording::fps_between(&rec, hidden_from, hidden_to);
    let cpu = cpu_to.percent_since(&cpu_from);
    let hidden_cpu = hidden_cpu_to.percent_since(&hidden_cpu_from);
    println!(
        "frame rate recorded: visible {visible_fps:.1} fps over {:.1} s, hidden {hidden_fps:.1} fps \
         over {:.1} s ({} and {} visibility readings)",
        (visible_to - visible_from) / 1000.0,
        (hidden_to - hidden_from) / 1000.0,
        visible.len(),
        hidden.len()
    );
    for (what, cpu) in [("visible", &cpu), ("hidden", &hidden_cpu)] {
        println!(
            "Chromium CPU at 720p30 while {what}, % of one core: renderer {:.0}, gpu-process {:.0}; \
             by process kind: {cpu:.0?}",
            cpu.get("renderer").copied().unwrap_or(0.0),
            cpu.get("gpu-process").copied().unwrap_or(0.0),
        );
    }
    for (span, what) in [
        (visible_to - visible_from, "visible"),
        (hidden_to - hidden_from, "hidden"),
    ] {
        let wall = FPS_WINDOW.as_secs_f64() * 1000.0;
        assert!(
            (span - wall).abs() < 3000.0,
            "{what}: the recording advanced {span:.0} ms in a {wall:.0} ms window"
        );
    }
    assert!(
        visible_fps >= 20.0,
        "the 720p30 preset at a real frame rate: {visible_fps:.1} fps"
    );
    assert!(
        hidden_fps >= 0.9 * visible_fps,
        "hidden {hidden_fps:.1} fps < 90 % of visible {visible_fps:.1} fps"
    );
}

/// Firefox's compositor path, in Chromium: with the insertable-streams API taken away
/// before the page's scripts run, the worker draws on a transferred canvas that the page
/// captures, fed with camera pictures the page posts when the worker's clock asks. What the
/// platform receives must not tell the two paths apart: 720p, full frame rate, the bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_compositor_without_insertable_streams_still_sends_full_frames() {
    let _turn = SERIAL.lock().await;
    let shots = Screenshots::new("fallback-");
    let platform = NginxRtmp::start().expect("nginx");
    let server = Server::start(&[], &[]);
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser.new_page("about:blank").await.expect("page");
    page.add_init_script(
        "delete window.MediaStreamTrackProcessor; delete window.MediaStreamTrackGenerator;",
    )
    .await
    .expect("hide the insertable streams");
    let studio = Studio::sign_up_and_log_in(&page, &server.http, &shots, "fi@example.com").await;
    // The page has no insertable streams, and its program track is the captured canvas.
    let without = page
        .eval(
            "[typeof MediaStreamTrackProcessor, typeof MediaStreamTrackGenerator, \
             document.querySelector('video[aria-label=\"Program preview\"]')?.srcObject\
             ?.getVideoTracks()[0]?.constructor.name ?? null]",
        )
        .await
        .expect("eval");
    assert_eq!(
        without,
        serde_json::json!(["undefined", "undefined", "CanvasCaptureMediaStreamTrack"]),
        "the page runs the canvas fallback"
    );

    page.set_checked_by_name("checkbox", "Show lower-third bar", true)
        .await
        .expect("show the bar");
    page.fill_by_name("ColorWell", "Bar colour", BAR_COLOUR)
        .await
        .expect("bar colour");
    wait_for_message(&page, "status", "Overlay settings saved").await;
    studio
        .add_custom_destination("Custom", &platform.url("fallback"))
        .await;
    studio.go_live(&["Custom"]).await;
    let file = wait_started(&platform, "fallback");
    shots.take(&page, "live").await;

    // The encoder settles within the first seconds; then a window of frame rate.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let from = position_ms(&file);
    tokio::time::sleep(FALLBACK_FPS_WINDOW).await;
    let to = position_ms(&file);
    let rec = assert_platform_ready(&file, "fallback");
    let fps = recording::fps_between(&rec, from, to);
    println!(
        "fallback compositor: {fps:.1} fps recorded over {:.1} s",
        (to - from) / 1000.0
    );
    let at = to - 1000.0;
    picture::save_png(&file, at, &shots.next_path("recorded"));
    let frame = picture::decode(&file, at);
    picture::assert_bar(
        &frame,
        Rgb::from_hex(BAR_COLOUR).expect("colour"),
        "fallback",
    );
    picture::assert_camera_full(&frame, "fallback");
    picture::assert_moving(&file, at, picture::WHOLE, "fallback");
    studio.stop().await;
    browser.close().await.expect("close Chromium");

    let wall = FALLBACK_FPS_WINDOW.as_secs_f64() * 1000.0;
    assert!(
        (to - from - wall).abs() < 2000.0,
        "the recording advanced {:.0} ms in a {wall:.0} ms window",
        to - from
    );
    // OpenH264 in Debian's Chromium makes 24–29 fps of 720p on these 2 cores, less while the
    // rest of the suite builds or runs beside it (24.5 fps in one CI run): 22 fps still means
    // the fallback sends a live picture, which a broken one (a stalled canvas capture) does not.
    assert!(
        fps >= 22.0,
        "the 720p30 preset through the canvas fallback: {fps:.1} fps"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_reconnects_by_itself_on_the_same_broadcast_when_the_path_breaks() {
    let _turn = SERIAL.lock().await;
    let lan = LanHost::create().unwrap_or_else(|e| {
        panic!(
            "cannot make a network namespace for the streamer's laptop ({e:#}); this test needs \
             root and `ip netns` (iproute2)"
        )
    });
    let shots = Screenshots::new("reconnect-");
    let platform = NginxRtmp::start().expect("nginx");
    let server = Server::start_on("0.0.0.0:0", &[], &[]);
    let port = server.http.rsplit(':').next().expect("port").to_owned();
    let origin = format!("http://{}:{port}", lan.host_ip);
    // Plain HTTP from another host is not a secure context; a real one would use HTTPS.
    let browser = chromium()
        .wrap_command(lan.exec_prefix())
        .insecure_origin_as_secure(&origin)
        .launch()
        .await
        .expect("launch Chromium on the laptop");
    let page = browser.new_page("about:blank").await.expect("page");
    let studio = Studio::sign_up_and_log_in(&page, &origin, &shots, "cy@example.com").await;
    studio
        .add_custom_destination("Custom", &platform.url("reconnect"))
        .await;
    studio.go_live(&["Custom"]).await;
    wait_started(&platform, "reconnect");
    let before = studio.broadcasts().await;
    assert_eq!(before.len(), 1, "{before:?}");
    let id = before[0]["id"].clone();
    shots.take(&page, "live").await;

    // The laptop's network goes away, long enough for ICE to give up.
    lan.disconnect().expect("take the link down");
    let cut = Instant::now();
    let lost = page
        .with_timeout(Duration::from_secs(45))
        .wait_for_text("status", "Connection", "connection lost", |t| {
            t == "Connection lost — reconnecting…"
        })
        .await;
    let noticed = cut.elapsed();
    shots.take(&page, "lost").await;
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(cut.elapsed())).await;
    let blocked = cut.elapsed();
    lan.reconnect().expect("bring the link back");
    lost.unwrap_or_else(|e| panic!("{e:#}"));
    let restored = Instant::now();
    let resumed = page
        .with_timeout(Duration::from_secs(60))
        .wait_for_text("status", "Connection", "live again", |t| {
            t == "Live" || t == "Reconnected"
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let took = restored.elapsed();
    studio.wait_status("Custom status", "Live").await;
    shots.take(&page, "reconnected").await;
    println!(
        "reconnect: lost noticed after {noticed:.1?}, path blocked {blocked:.1?}, \
         {resumed:?} {took:.1?} after it came back"
    );

    // The broadcast is `live` again once the publisher's media arrives, which follows the
    // ICE restart by as long as Chromium's pacer takes to resume; until then it is truly
    // `reconnecting` (standby still on air).
    let mut after = studio.broadcasts().await;
    while after.len() == 1
        && after[0]["state"] == "reconnecting"
        && restored.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = studio.broadcasts().await;
    }
    assert_eq!(after.len(), 1, "no second broadcast: {after:?}");
    println!(
        "reconnect: broadcast {} {:.1?} after the path came back",
        after[0]["state"],
        restored.elapsed()
    );
    assert_eq!(after[0]["id"], id, "the same broadcast");
    assert_eq!(after[0]["state"], "live", "{:?}", after[0]);
    let files = platform.recordings("reconnect");
    let latest = files.last().expect("a recording").clone();
    let grew = growth(&[latest.as_path()], Duration::from_secs(3)).await;
    println!("recordings: {files:?}, the latest grew {grew:?} over 3 s");
    assert!(grew[0].1 > grew[0].0, "the recording continues: {grew:?}");
    studio.stop().await;
    browser.close().await.expect("close Chromium");
    let rec = assert_platform_ready(&latest, "after the reconnect");
    assert!(
        rec.timestamps_monotonic(),
        "the platform sees time go back: {:?}",
        rec.first_non_monotonic()
    );
    // The studio restarted ICE on its session (a PATCH), and standby bridged the outage:
    // the platform saw one publish, without a hole, and the real picture after it.
    let log = server.log();
    assert!(
        log.contains("ICE restarted by the publisher"),
        "the studio did not resume by an ICE restart:\n{log}"
    );
    assert!(log.contains("on standby"), "standby never started:\n{log}");
    assert_eq!(
        files.len(),
        1,
        "the platform saw more than one publish: {files:?}"
    );
    assert_eq!(
        after[0]["destinations"][0]["reconnects"], 0,
        "{:?}",
        after[0]
    );
    let worst_gap = |packets: &[ffprobe::Packet]| {
        packets
            .windows(2)
            .map(|w| w[1].dts_ms - w[0].dts_ms)
            .fold(0.0, f64::max)
    };
    let (video_gap, audio_gap) = (worst_gap(&rec.video_packets), worst_gap(&rec.audio_packets));
    let end = rec.video_packets.last().map_or(0.0, |p| p.dts_ms);
    let recent = rec
        .video_packets
        .iter()
        .filter(|p| p.dts_ms >= end - 2_000.0)
        .count() as f64
        / 2.0;
    println!(
        "reconnect recording: {:.1} s, worst gap video {video_gap:.0} ms, audio {audio_gap:.0} \
         ms, {recent:.1} fps over its last 2 s",
        end / 1000.0
    );
    // Standby's still (2 a second) and silence bridged the outage on the platform's
    // timeline, and the studio's media took over right after them.
    assert!(
        video_gap <= 1_000.0 && audio_gap <= 1_000.0,
        "a hole in what the platform recorded: video {video_gap} ms, audio {audio_gap} ms"
    );
    // Standby's still is 2 fps; the studio's own picture is far above it.
    assert!(
        recent >= 8.0,
        "{recent} fps at the end: not the real picture"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_in_the_studio_has_an_accessible_name() {
    let _turn = SERIAL.lock().await;
    let shots = Screenshots::new("a11y-");
    let server = Server::start(&[], &[]);
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser.new_page("about:blank").await.expect("page");
    let origin = &server.http;

    page.goto(&format!("{origin}/signup"))
        .await
        .expect("/signup");
    page.wait_for_element("button", "Create account")
        .await
        .expect("the sign-up form");
    assert_all_named(&page, "/signup").await;
    let studio = Studio::sign_up_and_log_in(&page, origin, &shots, "di@example.com").await;
    page.goto(&format!("{origin}/login")).await.expect("/login");
    page.wait_for_element("button", "Log in")
        .await
        .expect("the login form");
    assert_all_named(&page, "/login").await;

    // A freshly loaded studio, from the keyboard: Tab reaches Go live, and a whole round of
    // Tab visits every kind of control, each with a name.
    page.goto(&format!("{origin}/")).await.expect("/");
    page.wait_for_element("button", "Go live")
        .await
        .expect("the studio");
    let presses = page
        .tab_to("button", "Go live", 200)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let round = tab_cycle(&page, 300).await;
    println!(
        "Tab reaches Go live after {presses} press(es); a round of Tab visits {} controls: {}",
        round.len(),
        round
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (role, name) in [
        ("link", "History"),
        ("button", "Log out"),
        ("combobox", "Camera"),
        ("combobox", "Microphone"),
        ("button", "Mute microphone"),
        ("slider", "Microphone volume"),
        ("button", "Share screen"),
        ("combobox", "Quality"),
        ("spinbutton", "Bitrate (kbps)"),
        ("radio", "Camera full"),
        ("checkbox", "Show lower-third bar"),
        ("textbox", "Bar text"),
        ("ColorWell", "Bar colour"),
        ("combobox", "Platform to add"),
        ("button", "Add destination"),
        ("button", "Go live"),
        ("DisclosureTriangle", "Stream from OBS instead"),
    ] {
        assert!(
            round.iter().any(|c| c.role == role && c.name == name),
            "Tab never reaches {role} {name:?}"
        );
    }
    let unnamed: Vec<&Control> = round.iter().filter(|c| c.name.is_empty()).collect();
    assert!(unnamed.is_empty(), "focused without a name: {unnamed:?}");
    assert_all_named(&page, "the studio").await;
    let meters = page.names_of_role("meter").await.expect("meters");
    for meter in ["Microphone level", "Screen audio level", "Program level"] {
        assert!(
            meters.iter().any(|m| m == meter),
            "meter {meter:?} before going live: {meters:?}"
        );
    }

    // With a destination card.
    studio
        .add_custom_destination("Custom", "rtmp://127.0.0.1:1/live/key")
        .await;
    assert_all_named(&page, "the studio with a destination card").await;

    // The history before any broadcast, and back.
    page.click_by_name("link", "History")
        .await
        .expect("History");
    page.wait_for_element("heading", "History")
        .await
        .expect("the history page");
    assert_all_named(&page, "/history").await;
    page.click_by_name("link", "Studio").await.expect("Studio");
    page.wait_for_element("button", "Go live")
        .await
        .expect("the studio again");
    page.wait_for_element("button", "Remove Custom")
        .await
        .expect("the destination card survives a look at the history");

    // The OBS panel, open, with a broadcast made for OBS.
    page.click_by_name("DisclosureTriangle", "Stream from OBS instead")
        .await
        .expect("the OBS panel");
    shots.take(&page, "obs-panel").await;
    page.click_by_name("button", "Create a broadcast for OBS")
        .await
        .expect("a broadcast for OBS (studio_findings.md #1)");
    let whip_url = page
        .wait_for_text("textbox", "WHIP URL", "a WHIP URL", |t| {
            t.contains("/whip/")
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let token = page
        .text_by_name("textbox", "Bearer token")
        .await
        .expect("token");
    assert!(
        whip_url.starts_with(origin.as_str()) && token.len() >= 16,
        "{whip_url} {token}"
    );
    assert_all_named(&page, "the studio with the OBS panel open").await;
    shots.take(&page, "obs-broadcast").await;
    page.click_by_name("button", "Log out")
        .await
        .expect("log out");
    page.wait_for_element("button", "Log in")
        .await
        .expect("logged out to /login");
    browser.close().await.expect("close Chromium");
}

/// A platform that refuses the connection: the studio stays live, and the card says what is
/// happening in words, with the countdown to the next try, not the operating system's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_that_refuses_the_connection_says_so_in_words() {
    let _turn = SERIAL.lock().await;
    let shots = Screenshots::new("refused-");
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server = Server::start(&[], &[]);
    let browser = chromium().launch().await.expect("launch Chromium");
    let page = browser.new_page("about:blank").await.expect("page");
    let studio = Studio::sign_up_and_log_in(&page, &server.http, &shots, "ed@example.com").await;
    studio
        .add_custom_destination(
            "Custom",
            &format!("rtmp://127.0.0.1:{closed_port}/live/key"),
        )
        .await;
    page.click_by_name("button", "Go live")
        .await
        .expect("go live");
    studio.wait_status("Connection", "Live").await;
    let status = page
        .with_timeout(LIVE_TIMEOUT)
        .wait_for_text("status", "Custom status", "a retry countdown", |t| {
            t.starts_with("Retrying in ")
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    shots.take(&page, "retrying").await;
    println!("a refused destination reads: {status:?}");
    let lower = status.to_lowercase();
    assert!(
        !lower.contains("os error") && !lower.contains("errno"),
        "the reason in words, not the system's error (studio_findings.md #3): {status:?}"
    );
    studio.stop().await;
    browser.close().await.expect("close Chromium");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_studio_opened_over_plain_http_from_another_machine_says_to_use_https() {
    let _turn = SERIAL.lock().await;
    let lan = LanHost::create().unwrap_or_else(|e| {
        panic!("cannot make a network namespace for the laptop ({e:#}); needs root and iproute2")
    });
    let shots = Screenshots::new("insecure-");
    let server = Server::start_on("0.0.0.0:0", &[], &[]);
    let port = server.http.rsplit(':').next().expect("port").to_owned();
    let origin = format!("http://{}:{port}", lan.host_ip);
    let browser = chromium()
        .wrap_command(lan.exec_prefix())
        .launch()
        .await
        .expect("launch Chromium on the laptop");
    let page = browser
        .new_page(&format!("{origin}/"))
        .await
        .expect("the studio over the LAN");
    assert_eq!(
        page.eval("window.isSecureContext").await.expect("eval"),
        false
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let alerts = loop {
        let alerts = page.texts_of_role("alert").await.expect("alerts");
        if alerts.iter().any(|a| a.contains("HTTPS")) || Instant::now() > deadline {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    shots.take(&page, "explained").await;
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("HTTPS") && a.contains("camera")),
        "the page explains why the camera cannot work and says to use HTTPS: {alerts:?}"
    );
    browser.close().await.expect("close Chromium");
}
