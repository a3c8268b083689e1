//! RTMPS: the relay publishes over TLS, verifying the server against the CA given in
//! `SSL_CERT_FILE` — and refuses a server it cannot verify.

mod common;

use std::time::Duration;

use common::{Server, connect_publisher, send_then_leave};
use streamhard_testkit::ffprobe;
use streamhard_testkit::fixtures::{Fixture, FixtureSpec};
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_testkit::tls_front::TlsFront;
use streamhard_whip_client::PublisherOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_over_rtmps_to_a_server_signed_by_the_configured_ca() {
    let media = Fixture::generate(FixtureSpec::browser_720p(4))
        .expect("fixture")
        .load()
        .expect("load");
    let nginx = NginxRtmp::start().expect("nginx");
    let front = TlsFront::start(nginx.port()).expect("tls front");
    let server = Server::start(&[], &[("SSL_CERT_FILE", front.ca_pem().as_path())]);
    let (id, whip_url, token) = server.live_broadcast(&[("secure", front.url("tls"))]).await;
    let publisher = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    let report = send_then_leave(publisher, &media, Duration::from_secs(4)).await;
    server.stop_broadcast(&id, &token).await;

    let files = nginx.recordings("tls");
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    assert!(rec.video_frame_count() as f64 >= 0.95 * report.video_frames as f64);
    assert!(rec.audio().is_some_and(|a| a.codec_name == "aac"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_tls_server_it_cannot_verify() {
    let nginx = NginxRtmp::start().expect("nginx");
    let front = TlsFront::start(nginx.port()).expect("tls front");
    let other_ca = TlsFront::start(nginx.port()).expect("another CA");
    // Trust a different CA than the one that signed the front's certificate.
    let server = Server::start(
        &["--destination-max-failures", "1"],
        &[("SSL_CERT_FILE", other_ca.ca_pem().as_path())],
    );
    let (id, _, token) = server
        .create_broadcast(&[("secure", front.url("tls"))])
        .await;
    let status = server
        .wait_destinations(&id, &token, "failed", Duration::from_secs(10))
        .await;
    let d = &status["destinations"][0];
    assert_eq!(d["state"], "failed", "{status}");
    let error = d["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("TLS"), "{error}");
    assert!(
        !error.contains("tls") || !error.contains("/live/"),
        "no URL in errors: {error}"
    );
}
