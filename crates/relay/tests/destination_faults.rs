//! Destination faults beyond those of destination_failures.rs: a host name that does not
//! resolve, TLS that cannot be trusted (an unknown CA, a certificate for another name), a
//! connection closed or reset while live — and, while one destination fails in each of these
//! ways and the older ones at once, another fed the same tags records a clean stream.
//!
//! Every error is read as a person would read it: it says what happened in words, and never
//! carries the stream key or the host. Tests that resolve names or trust a CA of their own run
//! in a child process inside a namespace with only loopback ([`common::isolated`]), so no DNS
//! query can leave the machine and the TLS roots are theirs alone.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::isolated::in_child;
use common::reset_proxy::ResetProxy;
use common::{Player, is, settings, spawn, wait_for};
use streamhard_media::flv::TagKind;
use streamhard_relay::destination::{DestinationSettings, DestinationState, DestinationStatus};
use streamhard_testkit::ffprobe;
use streamhard_testkit::flv_source::FlvMedia;
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_testkit::tls_front::TlsFront;

/// Every host a URL in this file names: none of them may appear in an error.
const HOSTS: [&str; 4] = [
    "127.0.0.1",
    "localhost",
    "stream.invalid",
    "elsewhere.example",
];

/// The destination's error, checked to name neither `key` nor any host.
fn error_of(status: &DestinationStatus, key: &str) -> String {
    let error = status
        .last_error
        .clone()
        .unwrap_or_else(|| panic!("{}: no error in {status:?}", status.name));
    assert!(!error.contains(key), "the key in an error: {error}");
    for host in HOSTS {
        assert!(
            !error.contains(host),
            "the host {host} in an error: {error}"
        );
    }
    error
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_host_that_does_not_resolve_fails_saying_so() {
    if !in_child("a_host_that_does_not_resolve_fails_saying_so") {
        return;
    }
    runtime().block_on(async {
        // RFC 6761: `.invalid` never resolves; in this namespace no query leaves either.
        let settings = DestinationSettings {
            max_failures: 2,
            backoff_initial: Duration::from_millis(50),
            ..settings()
        };
        let spawned = spawn(
            "rtmp://stream.invalid/live/SECRETKEY",
            settings,
            Default::default(),
        );
        let status = wait_for(
            &spawned.destination,
            Duration::from_secs(10),
            is(DestinationState::Failed),
        )
        .await;
        let error = error_of(&status, "SECRETKEY");
        println!("unresolvable host: {error}");
        assert!(error.starts_with("cannot resolve the host"), "{error}");
        spawned.destination.stop().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_a_certificate_of_an_unknown_ca_fails_saying_why() {
    // For the right name, signed by a fresh CA that nothing trusts (this process uses the
    // system's roots).
    let nginx = NginxRtmp::start().expect("nginx");
    let untrusted = TlsFront::start(nginx.port()).expect("front");
    let settings = DestinationSettings {
        max_failures: 1,
        ..settings()
    };
    let spawned = spawn(&untrusted.url("SECRETKEY"), settings, Default::default());
    let status = wait_for(
        &spawned.destination,
        Duration::from_secs(5),
        is(DestinationState::Failed),
    )
    .await;
    let error = error_of(&status, "SECRETKEY");
    println!("untrusted certificate: {error}");
    assert!(error.starts_with("TLS failed"), "{error}");
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "{error}"
    );
    spawned.destination.stop().await;
    assert!(nginx.recordings("SECRETKEY").is_empty());
}

#[test]
fn tls_to_a_certificate_for_another_name_fails_saying_why() {
    if !in_child("tls_to_a_certificate_for_another_name_fails_saying_why") {
        return;
    }
    let nginx = NginxRtmp::start().expect("nginx");
    // Signed by the CA this process trusts, but for another name than the URL's.
    let misnamed = TlsFront::start_named(nginx.port(), &["elsewhere.example"]).expect("front");
    // SAFETY: this child process runs this test alone (one test, one test thread) and starts
    // its runtime only below; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("SSL_CERT_FILE", misnamed.ca_pem()) };
    runtime().block_on(async {
        let settings = DestinationSettings {
            max_failures: 1,
            ..settings()
        };
        let spawned = spawn(&misnamed.url("SECRETKEY"), settings, Default::default());
        let status = wait_for(
            &spawned.destination,
            Duration::from_secs(5),
            is(DestinationState::Failed),
        )
        .await;
        let error = status.last_error.clone().unwrap_or_default();
        println!("certificate for another name: {error}");
        assert!(error.starts_with("TLS failed"), "{error}");
        assert!(
            error.contains("certificate") && error.contains("name"),
            "{error}"
        );
        error_of(&status, "SECRETKEY");
        spawned.destination.stop().await;
    });
    assert!(nginx.recordings("SECRETKEY").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_live_is_retried_in_words_until_it_is_back() {
    let media = FlvMedia::generate(1).expect("media");
    let mut nginx = NginxRtmp::start().expect("nginx");
    let spawned = spawn(&nginx.url("SECRETKEY"), settings(), common::headers(&media));
    let destination = &spawned.destination;
    wait_for(
        destination,
        Duration::from_secs(5),
        is(DestinationState::Live),
    )
    .await;
    let mut player = Player::new(&media);
    player.play(destination, Duration::from_secs(1)).await;

    nginx.stop();
    let down = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Retrying
        })
        .await;
    assert_eq!(down.state, DestinationState::Retrying, "{down:?}");
    let error = error_of(&down, "SECRETKEY");
    println!("server killed: {error}");
    assert!(
        error.contains("closed the connection") || error.contains("reset"),
        "{error}"
    );

    nginx.restart().expect("restart");
    let back = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Live
        })
        .await;
    assert_eq!(back.state, DestinationState::Live, "{back:?}");
    assert!(back.reconnects >= 1, "{back:?}");
    player.play(destination, Duration::from_secs(1)).await;
    spawned.destination.stop().await;
    let files = nginx.wait_for_recordings("SECRETKEY", 2, 10_000, Duration::from_secs(5));
    assert_eq!(files.expect("a recording before and after").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_while_live_is_retried_in_words_and_goes_live_again() {
    let media = FlvMedia::generate(1).expect("media");
    let nginx = NginxRtmp::start().expect("nginx");
    let proxy = ResetProxy::start(nginx.port()).await;
    let url = format!("rtmp://127.0.0.1:{}/live/SECRETKEY", proxy.port());
    let spawned = spawn(&url, settings(), common::headers(&media));
    let destination = &spawned.destination;
    wait_for(
        destination,
        Duration::from_secs(5),
        is(DestinationState::Live),
    )
    .await;
    let mut player = Player::new(&media);
    player.play(destination, Duration::from_secs(1)).await;

    proxy.reset();
    let down = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Retrying
        })
        .await;
    assert_eq!(down.state, DestinationState::Retrying, "{down:?}");
    let error = error_of(&down, "SECRETKEY");
    println!("connection reset: {error}");
    assert!(error.contains("reset"), "{error}");

    let back = player
        .play_until(destination, Duration::from_secs(5), |s| {
            s.state == DestinationState::Live
        })
        .await;
    assert_eq!(back.state, DestinationState::Live, "{back:?}");
    assert_eq!(back.reconnects, 1, "{back:?}");
    spawned.destination.stop().await;
}

const KILLED: &str = "killed while live";
const STUCK: &str = "stops reading";

/// One destination failing in its own way while the good one is fed the same tags.
struct Failing {
    kind: &'static str,
    key: String,
    spawned: common::Spawned,
    /// Words its error must contain (any of them).
    says: &'static [&'static str],
}

#[test]
fn one_destination_failing_in_any_way_costs_the_others_nothing() {
    if !in_child("one_destination_failing_in_any_way_costs_the_others_nothing") {
        return;
    }
    let good_server = NginxRtmp::start().expect("nginx");
    let taken_server = NginxRtmp::start().expect("nginx");
    let mut killed_server = NginxRtmp::start().expect("nginx");
    let stuck_server = NginxRtmp::start().expect("nginx");
    let untrusted = TlsFront::start(taken_server.port()).expect("TLS front");
    // Accepts TCP (the kernel's backlog) and never reads.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let refused_port = closed_port();

    runtime().block_on(async {
        let media = FlvMedia::generate(2).expect("media");
        let headers = common::headers(&media);
        let good = spawn(&good_server.url("goodKEY"), settings(), headers.clone());
        // Holds the stream name the refused publish asks for; it is fed like the good one.
        let holder = spawn(&taken_server.url("takenKEY"), settings(), headers.clone());
        for live in [&good, &holder] {
            wait_for(
                &live.destination,
                Duration::from_secs(5),
                is(DestinationState::Live),
            )
            .await;
        }
        // Each retries quickly for the whole test, so failures keep happening while media flows.
        let retrying = DestinationSettings {
            max_failures: 1000,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(300),
            connect_timeout: Duration::from_millis(500),
            write_timeout: Duration::from_secs(1),
            ..settings()
        };
        let failing = |kind, url: String, key: &str, says| Failing {
            kind,
            key: key.to_owned(),
            spawned: spawn(&url, retrying.clone(), headers.clone()),
            says,
        };
        let failing = [
            failing(
                "unresolvable",
                "rtmp://stream.invalid/live/dnsKEY".into(),
                "dnsKEY",
                &["cannot resolve"],
            ),
            failing(
                "untrusted TLS",
                untrusted.url("tlsKEY"),
                "tlsKEY",
                &["TLS failed"],
            ),
            failing(
                "refused",
                format!("rtmp://127.0.0.1:{refused_port}/live/refusedKEY"),
                "refusedKEY",
                &["connection failed"],
            ),
            failing(
                "never answers",
                format!("rtmp://127.0.0.1:{silent_port}/live/silentKEY"),
                "silentKEY",
                &["timed out"],
            ),
            failing(
                "publish refused",
                taken_server.url("takenKEY"),
                "takenKEY",
                &["refused publish"],
            ),
            failing(
                KILLED,
                killed_server.url("killedKEY"),
                "killedKEY",
                // Checked when it happens: it then retries a server that is not there.
                &[],
            ),
            failing(
                STUCK,
                stuck_server.url("stuckKEY"),
                "stuckKEY",
                &["stopped reading"],
            ),
        ];
        let of = |kind| &failing.iter().find(|f| f.kind == kind).unwrap().spawned.destination;
        let (killed, stuck) = (of(KILLED), of(STUCK));
        for live in [killed, stuck] {
            wait_for(live, Duration::from_secs(5), is(DestinationState::Live)).await;
        }

        // Paused from the start: its socket buffers take a few seconds of this media before
        // the write timeout can tell, so it may still count as live at the end.
        stuck_server.pause().expect("pause");

        let mut all = vec![&good.destination, &holder.destination];
        all.extend(failing.iter().map(|f| &f.spawned.destination));
        let at = 2 + failing.iter().position(|f| f.kind == KILLED).unwrap();
        let mut player = Player::new(&media);
        player
            .play_all_until(&all, Duration::from_secs(2), |_| false)
            .await;
        killed_server.stop();
        let down = player
            .play_all_until(&all, Duration::from_secs(3), |s| {
                s[at].state == DestinationState::Retrying
            })
            .await;
        let killed_error = error_of(&down[at], "killedKEY");
        println!("{KILLED}: {killed_error}");
        assert!(
            killed_error.contains("closed the connection") || killed_error.contains("reset"),
            "{killed_error}"
        );
        player
            .play_all_until(&all, Duration::from_secs(2), |_| false)
            .await;
        killed_server.restart().expect("restart");
        // Fed all along, the killed one publishes again once its server is back.
        let back = player
            .play_all_until(&all, Duration::from_secs(5), |s| {
                s[at].state == DestinationState::Live
            })
            .await;
        assert_eq!(back[at].state, DestinationState::Live, "{:?}", back[at]);
        player
            .play_all_until(&all, Duration::from_secs(2), |_| false)
            .await;

        let statuses: Vec<_> = failing
            .iter()
            .map(|f| f.spawned.destination.status())
            .collect();
        for (f, status) in failing.iter().zip(&statuses) {
            println!(
                "{}: {} after {} reconnects: {:?}",
                f.kind,
                status.state.as_str(),
                status.reconnects,
                status.last_error
            );
        }
        for (f, status) in failing.iter().zip(&statuses) {
            if f.kind == KILLED || (f.kind == STUCK && status.last_error.is_none()) {
                continue;
            }
            let error = error_of(status, &f.key);
            assert!(
                f.says.iter().any(|words| error.contains(words)),
                "{}: {error}",
                f.kind
            );
            if f.kind != STUCK {
                assert_ne!(status.state, DestinationState::Live, "{}", f.kind);
            }
        }
        let good_status = good.destination.status();
        assert_eq!(good_status.state, DestinationState::Live, "{good_status:?}");
        assert_eq!(good_status.reconnects, 0, "{good_status:?}");
        assert_eq!(good_status.dropped_frames, 0, "{good_status:?}");

        stuck_server.resume().expect("resume");
        good.destination.stop().await;
        holder.destination.stop().await;
        for f in failing {
            f.spawned.destination.stop().await;
        }

        let files = good_server.wait_for_recordings("goodKEY", 1, 100_000, Duration::from_secs(5));
        let files = files.expect("the good destination's recording");
        assert_eq!(files.len(), 1, "one connection all along: {files:?}");
        let rec = ffprobe::probe(&files[0]).expect("ffprobe");
        assert!(rec.first_video_frame_is_key());
        assert!(rec.timestamps_monotonic(), "{:?}", rec.first_non_monotonic());
        // Every frame pushed arrived and decodes: nothing was dropped.
        assert_eq!(rec.video_frame_count(), player.pushed_video);
        // The recording's clock is the pushed one: every video frame at the time it was pushed
        // with (relative to the first), so nothing was dropped, repeated or shifted.
        let pushed = looped(&media, TagKind::Video, player.pushed_video);
        let recorded: Vec<f64> = rec.video_packets.iter().map(|p| p.dts_ms).collect();
        let shifted = recorded.iter().zip(&pushed).find(|&(&got, &sent)| {
            ((got - recorded[0]) - f64::from(sent - pushed[0])).abs() > 1.0
        });
        assert!(shifted.is_none(), "a frame recorded off its time: {shifted:?}");
        let video_gap = largest_gap(&rec.video_packets);
        let audio_gap = largest_gap(&rec.audio_packets);
        let audio_sent = looped(&media, TagKind::Audio, 4 * media.audio_frames);
        let audio_sent_gap = audio_sent
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap_or_default();
        println!(
            "good destination: {} frames over {:.0} ms, largest gaps: video {video_gap} ms, audio {audio_gap} ms (as sent: {audio_sent_gap} ms)",
            rec.video_frame_count(),
            rec.video_duration_ms()
        );
        assert!(
            audio_gap <= f64::from(audio_sent_gap) + 1.0,
            "audio gap {audio_gap} ms"
        );
    });
}

/// The timestamps of the first `n` tags of `kind` the [`Player`] pushes: the media looped, each
/// loop one frame after the last.
fn looped(media: &FlvMedia, kind: TagKind, n: usize) -> Vec<u32> {
    let mut offset = 0;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let of_kind = media.frames.iter().filter(|t| t.kind == kind);
        out.extend(
            of_kind
                .map(|t| t.timestamp.ms() + offset)
                .take(n - out.len()),
        );
        offset += media.duration_ms() + 1000 / media.fps;
    }
    out
}

/// The longest time between consecutive packets' decode timestamps.
fn largest_gap(packets: &[ffprobe::Packet]) -> f64 {
    packets
        .windows(2)
        .map(|pair| pair[1].dts_ms - pair[0].dts_ms)
        .fold(0.0, f64::max)
}
