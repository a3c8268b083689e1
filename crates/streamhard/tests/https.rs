//! HTTPS served by `streamhard serve` itself: a certificate from the test's own CA
//! (`--tls-cert`/`--tls-key`) and one the server makes (`--tls-self-signed`). Every client
//! here trusts only that CA or that certificate, so a request that works proves the server
//! presented it.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Server, send_then_leave};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::json;
use streamhard_testkit::ffprobe;
use streamhard_testkit::fixtures::{Fixture, FixtureSpec};
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_whip_client::{Publisher, PublisherOptions};

/// A CA made for this test, and a server certificate it signed for 127.0.0.1 and localhost.
struct TestCa {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
}

impl TestCa {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "streamhard https test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).unwrap();

        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        Self {
            dir,
            ca: ca.der().clone(),
        }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    fn start_server(&self) -> Server {
        let (cert, key) = (self.cert(), self.key());
        let args = [
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ];
        Server::start(&args, &[]).with_client(client_trusting(&self.ca, Alpn::H2AndHttp1))
    }
}

enum Alpn {
    H2AndHttp1,
    Http1Only,
}

/// A client whose only trusted root is `root` (rustls with aws-lc-rs, as the server).
fn client_trusting(root: &CertificateDer<'static>, alpn: Alpn) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    let builder = match alpn {
        Alpn::H2AndHttp1 => {
            tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            builder
        }
        Alpn::Http1Only => {
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            builder.http1_only()
        }
    };
    builder.use_preconfigured_tls(tls).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listen_port_speaks_https_with_h2_and_http1_and_tells_plain_http_to_use_https() {
    let ca = TestCa::new();
    let server = ca.start_server();
    assert!(
        server.http.starts_with("https://127.0.0.1:"),
        "{}",
        server.http
    );

    let res = reqwest_get(
        &client_trusting(&ca.ca, Alpn::H2AndHttp1),
        &server,
        "/healthz",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    let res = reqwest_get(
        &client_trusting(&ca.ca, Alpn::Http1Only),
        &server,
        "/healthz",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), reqwest::Version::HTTP_11);

    let plain = server.http.replacen("https://", "http://", 1);
    let res = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .send()
        .await
        .expect("a plain HTTP answer");
    assert_eq!(res.status(), 400, "plain HTTP is not served");
    let body = res.text().await.unwrap();
    assert!(
        body.contains("https://"),
        "the answer says what to do: {body:?}"
    );

    // A client that trusts another CA refuses the server.
    let stranger = TestCa::new();
    let refused = client_trusting(&stranger.ca, Alpn::H2AndHttp1)
        .get(format!("{}/healthz", server.http))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "the server's certificate is from our CA only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_does_not_hold_up_other_clients() {
    let ca = TestCa::new();
    let server = ca.start_server();
    let addr = server.http.trim_start_matches("https://").to_owned();
    // One connection that never says a word, one that stops in the middle of a ClientHello.
    let _silent = std::net::TcpStream::connect(&addr).unwrap();
    let mut partial = std::net::TcpStream::connect(&addr).unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let started = Instant::now();
    let res = reqwest_get(
        &client_trusting(&ca.ca, Alpn::Http1Only),
        &server,
        "/healthz",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "served in {:?} while two handshakes hang (their timeout is 10 s)",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_session_cookie_is_secure() {
    let ca = TestCa::new();
    let server = ca.start_server();
    let client = client_trusting(&ca.ca, Alpn::H2AndHttp1);
    let account =
        json!({"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"});
    let res = client
        .post(format!("{}/api/auth/signup", server.http))
        .header("origin", &server.http)
        .json(&account)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "signup");
    let res = client
        .post(format!("{}/api/auth/login", server.http))
        .header("origin", &server.http)
        .json(&json!({"email": "ada@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("streamhard_session="), "{cookie}");
    assert!(
        cookie
            .split(';')
            .any(|a| a.trim().eq_ignore_ascii_case("secure")),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whip_publisher_goes_live_through_https() {
    let media = Fixture::generate(FixtureSpec::browser_720p(4))
        .expect("fixture")
        .load()
        .expect("load fixture");
    let nginx = NginxRtmp::start().expect("nginx");
    let ca = TestCa::new();
    let server = ca.start_server();
    let (id, whip_url, token) = server.live_broadcast(&[("A", nginx.url("overtls"))]).await;
    assert!(
        whip_url.starts_with(&format!("{}/whip/", server.http)),
        "the WHIP URL handed out is the HTTPS one: {whip_url}"
    );

    let options = PublisherOptions {
        http_client: Some(client_trusting(&ca.ca, Alpn::H2AndHttp1)),
        ..PublisherOptions::default()
    };
    let publisher = Publisher::connect(&whip_url, Some(&token), options)
        .await
        .expect("WHIP over HTTPS");
    let report = send_then_leave(publisher, &media, Duration::from_secs(4)).await;
    server.stop_broadcast(&id, &token).await;

    let files = nginx.recordings("overtls");
    assert_eq!(files.len(), 1, "one recording: {files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    let video = rec.video().expect("video");
    assert_eq!(video.codec_name, "h264");
    assert_eq!((video.width, video.height), (Some(1280), Some(720)));
    assert_eq!(rec.audio().expect("audio").codec_name, "aac");
    let frames = rec.video_frame_count();
    assert!(
        frames as f64 >= 0.9 * report.video_frames as f64,
        "{frames} of {} frames arrived",
        report.video_frames
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_page_is_served_over_https() {
    let ca = TestCa::new();
    let server = ca.start_server();
    let res = reqwest_get(&client_trusting(&ca.ca, Alpn::H2AndHttp1), &server, "/").await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let index = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/studio/index.html");
    assert_eq!(
        res.bytes().await.unwrap(),
        std::fs::read(index).unwrap(),
        "the studio's index.html"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_made_once_in_the_data_dir_and_reused() {
    let first = Server::start(&["--tls-self-signed"], &[]);
    let dir = first.data_dir().join("tls");
    let (cert_path, key_path) = (dir.join("self-signed.crt"), dir.join("self-signed.key"));
    let cert = CertificateDer::from_pem_file(&cert_path).expect("the certificate file");
    let key = std::fs::read(&key_path).expect("the key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the key");
    }
    // The certificate in the file is the one served (the client trusts nothing else).
    let client = client_trusting(&cert, Alpn::H2AndHttp1);
    assert_eq!(reqwest_get(&client, &first, "/healthz").await.status(), 200);
    let fingerprint = logged_fingerprint(&first.log());
    let stopped = first.stop_keeping_data();

    let second = Server::start_in(stopped.dir, "127.0.0.1:0", &["--tls-self-signed"], &[]);
    assert_eq!(
        reqwest_get(&client, &second, "/healthz").await.status(),
        200
    );
    assert_eq!(
        CertificateDer::from_pem_file(&cert_path).unwrap(),
        cert,
        "the same certificate"
    );
    assert_eq!(std::fs::read(&key_path).unwrap(), key, "the same key");
    assert_eq!(logged_fingerprint(&second.log()), fingerprint);
    assert!(
        without_colours(&second.log()).contains("reused=true"),
        "{}",
        second.log()
    );
}

/// The SHA-256 fingerprint the server logged at start.
fn logged_fingerprint(log: &str) -> String {
    let fingerprint = without_colours(log)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sha256="))
        .unwrap_or_else(|| panic!("no fingerprint logged: {log}"))
        .to_owned();
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{fingerprint}");
    fingerprint
}

/// The log with its ANSI colour sequences (`ESC [ … m`) removed.
fn without_colours(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

async fn reqwest_get(client: &reqwest::Client, server: &Server, path: &str) -> reqwest::Response {
    client
        .get(format!("{}{path}", server.http))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:?}"))
}
