//! RTMPS: a destination publishes over TLS to nginx's stream module in front of nginx-rtmp,
//! trusting the test CA through `SSL_CERT_FILE` (honoured by rustls-native-certs), and refuses
//! a server whose certificate that CA did not sign.
//!
//! One test only in this binary: the roots are loaded once per process, from the environment
//! this test sets before anything else runs.

mod common;

use std::time::Duration;

use common::{Player, is, settings, spawn, wait_for};
use streamhard_relay::destination::{DestinationSettings, DestinationState, Headers};
use streamhard_testkit::ffprobe;
use streamhard_testkit::flv_source::FlvMedia;
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_testkit::tls_front::TlsFront;

#[test]
fn publishes_over_tls_to_a_server_signed_by_the_trusted_ca_and_refuses_another() {
    let nginx = NginxRtmp::start().expect("nginx");
    let front = TlsFront::start(nginx.port()).expect("TLS front");
    let stranger = TlsFront::start(nginx.port()).expect("TLS front with another CA");
    // SAFETY: set before the runtime starts, while this test (the only one in the binary) is
    // the only thread of ours; nothing reads the environment concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", front.ca_pem()) };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let media = FlvMedia::generate(2).expect("media");
        let secure = spawn(&front.url("secure"), settings(), common::headers(&media));
        wait_for(
            &secure.destination,
            Duration::from_secs(5),
            is(DestinationState::Live),
        )
        .await;
        let mut player = Player::new(&media);
        player
            .play(&secure.destination, Duration::from_secs(2))
            .await;
        assert_eq!(secure.destination.status().state, DestinationState::Live);
        secure.destination.stop().await;

        let settings = DestinationSettings {
            max_failures: 1,
            ..settings()
        };
        let refused = spawn(&stranger.url("nope"), settings, Headers::default());
        let status = wait_for(
            &refused.destination,
            Duration::from_secs(5),
            is(DestinationState::Failed),
        )
        .await;
        let error = status.last_error.expect("an error");
        assert!(
            error.starts_with("TLS failed") && error.contains("certificate"),
            "{error}"
        );
        refused.destination.stop().await;
    });

    let files = nginx.wait_for_recordings("secure", 1, 50_000, Duration::from_secs(5));
    let rec = ffprobe::probe(&files.expect("recording")[0]).expect("ffprobe");
    assert!(rec.first_video_frame_is_key());
    assert!(
        rec.video_frame_count() >= 55,
        "{} frames",
        rec.video_frame_count()
    );
    assert_eq!(rec.audio().map(|a| a.codec_name.as_str()), Some("aac"));
    assert!(nginx.recordings("nope").is_empty());
}
