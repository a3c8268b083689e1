//! Starts the real `streamhard` binary for integration tests and talks to its API.

#![allow(dead_code)] // Each test file uses a different part of this module.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use streamhard_testkit::fixtures::TestMedia;
use streamhard_whip_client::{Publisher, PublisherOptions, SendReport};

/// How long SIGTERM may take: the default drain (10 s) and unpublishing with time to spare.
const SHUTDOWN_WITHIN: Duration = Duration::from_secs(13);

/// A running `streamhard serve` on free ports with its own data directory.
pub struct Server {
    child: Child,
    /// Base URL: `http://…`, or `https://…` when the server was started with TLS.
    pub http: String,
    /// The WebRTC (UDP) port, from the ready line.
    pub udp_port: u16,
    /// Used for the API calls below ([`Server::with_client`] sets one that trusts a test CA).
    client: reqwest::Client,
    /// Everything the server logged (stderr), for assertions that keys never appear.
    pub log: Arc<Mutex<String>>,
    /// The session cookie of the account that owns the broadcasts created here.
    session: tokio::sync::Mutex<Option<String>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
    data: Option<tempfile::TempDir>,
}

/// What is left of a server after [`Server::stop_keeping_data`].
pub struct Stopped {
    pub dir: tempfile::TempDir,
    /// Everything it logged, to its last line.
    pub log: String,
}

impl Server {
    /// Starts the server; `env` adds variables (e.g. SSL_CERT_FILE) and `args` flags.
    pub fn start(args: &[&str], env: &[(&str, &Path)]) -> Server {
        Self::start_on("127.0.0.1:0", args, env)
    }

    /// Starts the server with `--listen listen` (e.g. `0.0.0.0:0` for the LAN).
    pub fn start_on(listen: &str, args: &[&str], env: &[(&str, &Path)]) -> Server {
        let data = tempfile::tempdir().expect("data dir");
        Self::start_in(data, listen, args, env)
    }

    /// Starts the server on the data directory of an earlier one ([`Stopped::dir`]).
    pub fn start_in(
        data: tempfile::TempDir,
        listen: &str,
        args: &[&str],
        env: &[(&str, &Path)],
    ) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_streamhard"));
        cmd.args([
            "serve",
            "--listen",
            listen,
            "--udp-port",
            "0",
            "--allow-private-destinations",
        ])
        .arg("--data-dir")
        .arg(data.path());
        // A test that cares about the log level (no_key_retention: trace) passes its own.
        if !args.contains(&"--log") {
            cmd.args(["--log", "info,streamhard_relay=debug"]);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn streamhard");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the ready line");
        // "streamhard: listening http=127.0.0.1:PORT udp=127.0.0.1:PORT" (https= with TLS)
        let (scheme, http) = line
            .split_whitespace()
            .find_map(|w| {
                (w.strip_prefix("http=").map(|a| ("http", a)))
                    .or_else(|| w.strip_prefix("https=").map(|a| ("https", a)))
            })
            .unwrap_or_else(|| panic!("no ready line, got {line:?}; log: {}", log.lock().unwrap()));
        let udp_port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("udp="))
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no udp= in the ready line {line:?}"));
        // A wildcard listen address is reachable on loopback, as a browser on this host would.
        let http = http
            .replace("0.0.0.0:", "127.0.0.1:")
            .replace("[::]:", "[::1]:");
        Server {
            child,
            http: format!("{scheme}://{http}"),
            udp_port,
            client: reqwest::Client::new(),
            log,
            session: Default::default(),
            log_reader: Some(log_reader),
            data: Some(data),
        }
    }

    /// Makes the API calls with `client` (e.g. one that trusts the CA of an HTTPS server).
    pub fn with_client(mut self, client: reqwest::Client) -> Server {
        self.client = client;
        self
    }

    /// The server's --data-dir (the SQLite database is in it).
    pub fn data_dir(&self) -> &Path {
        self.data.as_ref().expect("data dir").path()
    }

    /// Shuts the server down as an operator would (SIGTERM, so SQLite closes cleanly) and
    /// keeps its data directory and complete log for inspection. The server must exit 0
    /// within its drain time (10 s by default) plus the relay's unpublishing: a shutdown that
    /// needs SIGKILL fails the test.
    pub fn stop_keeping_data(mut self) -> Stopped {
        let status = self.terminate(SHUTDOWN_WITHIN);
        let _ = self.child.kill();
        let _ = self.child.wait();
        match status {
            Some(status) => assert!(status.success(), "the server exited with {status}"),
            None => panic!("the server was still running {SHUTDOWN_WITHIN:?} after SIGTERM"),
        }
        if let Some(reader) = self.log_reader.take() {
            let _ = reader.join();
        }
        Stopped {
            dir: self.data.take().expect("data dir"),
            log: self.log(),
        }
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; its exit status, or
    /// None if it was still running (then it is killed).
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The server's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A session cookie (`name=value`), signing up an account on first use.
    pub async fn session_cookie(&self) -> String {
        let mut session = self.session.lock().await;
        if let Some(cookie) = &*session {
            return cookie.clone();
        }
        let res = self
            .client
            .post(format!("{}/api/auth/signup", self.http))
            .header("origin", &self.http)
            .json(&json!({"name": "Test", "email": "owner@example.com", "password": "correct horse battery"}))
            .send()
            .await
            .expect("signup");
        assert_eq!(res.status(), 201, "signup");
        let cookie = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        *session = Some(cookie.clone());
        cookie
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `POST /api/broadcasts` → (id, whip_url, token).
    pub async fn create_broadcast(
        &self,
        destinations: &[(&str, String)],
    ) -> (String, String, String) {
        let body = json!({
            "destinations": destinations.iter().map(|(n, u)| json!({"name": n, "url": u})).collect::<Vec<_>>()
        });
        // Broadcasts belong to accounts; cookie requests must say they come from our origin.
        let cookie = self.session_cookie().await;
        let res = self
            .client
            .post(format!("{}/api/broadcasts", self.http))
            .header("cookie", cookie)
            .header("origin", &self.http)
            .json(&body)
            .send()
            .await
            .expect("create broadcast");
        assert_eq!(res.status(), 201, "create broadcast");
        let v: Value = res.json().await.unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["whip_url"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn broadcast(&self, id: &str, token: &str) -> Value {
        let res = self
            .client
            .get(format!("{}/api/broadcasts/{id}", self.http))
            .bearer_auth(token)
            .send()
            .await
            .expect("get broadcast");
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn stop_broadcast(&self, id: &str, token: &str) {
        let res = self
            .client
            .delete(format!("{}/api/broadcasts/{id}", self.http))
            .bearer_auth(token)
            .send()
            .await
            .expect("stop broadcast");
        assert_eq!(res.status(), 204);
    }

    /// Creates a broadcast and waits until every destination publishes: media sent before a
    /// destination is live is not for it, so tests that count frames start after this.
    pub async fn live_broadcast(
        &self,
        destinations: &[(&str, String)],
    ) -> (String, String, String) {
        let (id, whip_url, token) = self.create_broadcast(destinations).await;
        let status = self
            .wait_destinations(&id, &token, "live", Duration::from_secs(10))
            .await;
        for d in status["destinations"].as_array().expect("destinations") {
            assert_eq!(d["state"], "live", "{d}");
        }
        (id, whip_url, token)
    }

    /// Waits until every destination of the broadcast reports `state`.
    pub async fn wait_destinations(
        &self,
        id: &str,
        token: &str,
        state: &str,
        timeout: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.broadcast(id, token).await;
            let all = v["destinations"]
                .as_array()
                .is_some_and(|d| d.iter().all(|d| d["state"] == state));
            if all || tokio::time::Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WHIP publisher connected (ICE and DTLS done) to a broadcast, with its bearer token.
pub async fn connect_publisher(
    whip_url: &str,
    token: &str,
    options: PublisherOptions,
) -> Publisher {
    Publisher::connect(whip_url, Some(token), options)
        .await
        .expect("WHIP publish")
}

/// Sends `media` for `duration`, lets the last frames cross the relay, then unpublishes.
pub async fn send_then_leave(
    mut publisher: Publisher,
    media: &TestMedia,
    duration: Duration,
) -> SendReport {
    let report = publisher.send(media, duration).await.expect("send");
    publisher
        .idle(Duration::from_millis(500))
        .await
        .expect("idle");
    publisher.delete().await.expect("WHIP DELETE");
    report
}
