//! The server under test: `streamhard serve` as a child process on free ports with a
//! temporary data directory, and the few API calls the bench makes to it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    pub http: String,
    http_client: reqwest::Client,
    cookie: String,
    _data: tempfile::TempDir,
}

/// A broadcast created for one synthetic publisher.
pub struct BenchBroadcast {
    pub id: String,
    pub whip_url: String,
    pub token: String,
}

impl ServerProcess {
    /// Starts `exe serve` sized for `streams` × `destinations`, waits for its ready line and
    /// signs up the account the broadcasts belong to.
    pub async fn start(exe: &Path, streams: usize, destinations: usize) -> anyhow::Result<Self> {
        let data = tempfile::tempdir().context("temporary data directory")?;
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--udp-port", "0"])
            .arg("--data-dir")
            .arg(data.path())
            // The sinks are on loopback.
            .arg("--allow-private-destinations")
            .args(["--max-broadcasts-per-user", &streams.to_string()])
            .args(["--max-destinations", &destinations.max(1).to_string()])
            .args([
                "--max-destinations-per-user",
                &(streams * destinations).max(1).to_string(),
            ])
            // Every publisher is on this host, one source address for the per-peer rate
            // limit (meant for distinct hosts); and the ramp may pass the default session cap.
            .args(["--max-peer-packets-per-second", "0"])
            .args(["--max-sessions", &streams.max(1).to_string()])
            .args(["--log", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await??;
        let Some(http) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http="))
        else {
            let _ = child.kill();
            bail!("the server did not start (its first line: {line:?})");
        };
        let http = format!("http://{http}");
        let pid = child.id();
        let http_client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let res = http_client
            .post(format!("{http}/api/auth/signup"))
            .header("origin", &http)
            .json(&json!({"name": "Bench", "email": "bench@example.com", "password": "bench password 1"}))
            .send()
            .await?;
        if res.status() != 201 {
            bail!("signup: {}", res.status());
        }
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        Ok(Self {
            child,
            pid,
            http,
            http_client,
            cookie,
            _data: data,
        })
    }

    pub async fn create_broadcast(&self, urls: &[String]) -> anyhow::Result<BenchBroadcast> {
        let destinations: Vec<Value> = urls
            .iter()
            .enumerate()
            .map(|(i, url)| json!({"name": format!("sink {i}"), "url": url}))
            .collect();
        let res = self
            .http_client
            .post(format!("{}/api/broadcasts", self.http))
            .header("cookie", &self.cookie)
            .header("origin", &self.http)
            .json(&json!({ "destinations": destinations }))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if status != 201 {
            bail!("create broadcast: {status} {body}");
        }
        let field = |name: &str| {
            body[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {name} in {body}"))
        };
        Ok(BenchBroadcast {
            id: field("id")?,
            whip_url: field("whip_url")?,
            token: field("token")?,
        })
    }

    pub async fn stop_broadcast(&self, broadcast: &BenchBroadcast) -> anyhow::Result<()> {
        self.http_client
            .delete(format!("{}/api/broadcasts/{}", self.http, broadcast.id))
            .bearer_auth(&broadcast.token)
            .send()
            .await?;
        Ok(())
    }

    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self
            .http_client
            .get(format!("{}/metrics", self.http))
            .send()
            .await?
            .text()
            .await?)
    }

    /// SIGTERM (graceful shutdown), then SIGKILL if it takes too long.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // `stop` already reaped it, or the bench failed: never leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
