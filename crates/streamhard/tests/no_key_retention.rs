//! The no-key promise, end to end: a live broadcast with recognisable secrets — a key in the
//! path, a key in the query, a password in the userinfo — relayed to real RTMP servers with
//! logging at trace level. Afterwards none of the secrets is anywhere we keep or show: the
//! data directory (SQLite database, WAL and all), the log, `/metrics`, or any API answer,
//! error answers and the Server-Sent Events stream included.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Server, connect_publisher};
use serde_json::json;
use streamhard_testkit::fixtures::{Fixture, FixtureSpec};
use streamhard_testkit::nginx::NginxRtmp;
use streamhard_whip_client::PublisherOptions;

const PATH_KEY: &str = "live_pathkey_9f3c1a77e2";
const QUERY_KEY: &str = "querykey_41b8d0c5aa";
const USERINFO_PASSWORD: &str = "userinfopw_c0ffee5e11";
const LIVE_ADDED_KEY: &str = "liveadded_7d2e96b1f0";
const REFUSED_KEY: &str = "refusedkey_5a5a5a5a5a";
const SECRETS: [&str; 5] = [
    PATH_KEY,
    QUERY_KEY,
    USERINFO_PASSWORD,
    LIVE_ADDED_KEY,
    REFUSED_KEY,
];

/// Every answer the test received, to be searched at the end.
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, what: impl Into<String>, body: impl Into<String>) {
        self.0.push((what.into(), body.into()));
    }

    /// GET with the broadcast's bearer token, or the owner's cookie when `token` is None.
    async fn get(&mut self, server: &Server, path: &str, token: Option<&str>) -> String {
        let request = reqwest::Client::new().get(format!("{}{path}", server.http));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request.header("cookie", server.session_cookie().await),
        };
        let res = request.send().await.expect("GET");
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        self.add(format!("GET {path}"), body.clone());
        body
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} contains the secret {secret:?}"
        );
    }
}

/// Every file under `dir`, as bytes (database files are binary).
fn files_under(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read data dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            let bytes = std::fs::read(&path).expect("read file");
            out.push((path.display().to_string(), bytes));
        }
    }
}

fn assert_data_dir_clean(dir: &Path) -> usize {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    assert!(
        files
            .iter()
            .any(|(name, _)| name.ends_with("streamhard.db")),
        "the database is in the data dir: {:?}",
        files.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for (name, bytes) in &files {
        for secret in SECRETS {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{name} contains the secret {secret:?}"
            );
        }
    }
    files.len()
}

/// Reads the SSE stream for a while and returns what arrived.
async fn read_events(server: &Server, id: &str, token: &str, for_: Duration) -> String {
    let mut res = reqwest::Client::new()
        .get(format!("{}/api/broadcasts/{id}/events", server.http))
        .bearer_auth(token)
        .send()
        .await
        .expect("events");
    assert_eq!(res.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + for_;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, res.chunk()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reach_no_disk_log_metric_or_answer() {
    let media = Fixture::generate(FixtureSpec::browser_720p(4))
        .expect("fixture")
        .load()
        .expect("load");
    let nginx = NginxRtmp::start().expect("nginx");
    let port = nginx.port();
    let server = Server::start(&["--log", "trace"], &[]);
    let mut seen = Seen::default();

    let path_url = nginx.url(PATH_KEY);
    let query_url = format!("rtmp://127.0.0.1:{port}/live/querystream?key={QUERY_KEY}");
    let userinfo_url =
        format!("rtmp://streamer:{USERINFO_PASSWORD}@127.0.0.1:{port}/live/userstream");
    let (id, whip_url, token) = server
        .create_broadcast(&[
            ("Path", path_url),
            ("Query", query_url),
            ("Userinfo", userinfo_url),
        ])
        .await;
    let status = server
        .wait_destinations(&id, &token, "live", Duration::from_secs(10))
        .await;
    seen.add("status while connecting", status.to_string());
    for d in status["destinations"].as_array().unwrap() {
        assert_eq!(d["state"], "live", "all three publish for real: {d}");
    }

    let mut publisher = connect_publisher(&whip_url, &token, PublisherOptions::default()).await;
    publisher
        .send(&media, Duration::from_secs(2))
        .await
        .expect("send");

    // A destination added while live, and one refused with its key in the URL.
    let client = reqwest::Client::new();
    let added = client
        .post(format!("{}/api/broadcasts/{id}/destinations", server.http))
        .bearer_auth(&token)
        .json(&json!({"name": "Added", "url": nginx.url(LIVE_ADDED_KEY)}))
        .send()
        .await
        .expect("add destination");
    assert_eq!(added.status(), 201);
    let added: serde_json::Value = added.json().await.unwrap();
    seen.add("add destination", added.to_string());
    let refused = client
        .post(format!("{}/api/broadcasts/{id}/destinations", server.http))
        .bearer_auth(&token)
        .json(&json!({"name": "Bad", "url": format!("http://127.0.0.1:{port}/live/{REFUSED_KEY}")}))
        .send()
        .await
        .expect("add a bad destination");
    assert_eq!(refused.status(), 400);
    seen.add("refused destination", refused.text().await.unwrap());

    let (events, _) = tokio::join!(
        read_events(&server, &id, &token, Duration::from_millis(2500)),
        publisher.send(&media, Duration::from_secs(2)),
    );
    assert!(events.contains("data:"), "events arrived: {events}");
    seen.add("events", events);
    let live = seen
        .get(&server, &format!("/api/broadcasts/{id}"), Some(&token))
        .await;
    assert!(live.contains("\"live\""), "{live}");
    seen.get(&server, "/metrics", None).await;

    let remove = client
        .delete(format!(
            "{}/api/broadcasts/{id}/destinations/{}",
            server.http,
            added["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("remove destination");
    assert!(remove.status().is_success(), "{}", remove.status());
    seen.add("remove destination", remove.text().await.unwrap());
    publisher.delete().await.expect("WHIP DELETE");
    server.stop_broadcast(&id, &token).await;
    seen.get(&server, "/api/broadcasts", None).await;
    seen.get(&server, "/metrics", None).await;

    // The keys did reach the RTMP servers: the path and the live-added key as stream names.
    assert_eq!(
        nginx.recordings(PATH_KEY).len(),
        1,
        "published with the key"
    );
    assert_eq!(nginx.recordings(LIVE_ADDED_KEY).len(), 1);

    for (what, body) in &seen.0 {
        assert_no_secret(what, body);
    }
    let log = server.log();
    assert!(
        log.contains("TRACE"),
        "the log is at trace level: {} bytes",
        log.len()
    );
    assert_no_secret("the server log", &log);
    let files_while_running = assert_data_dir_clean(server.data_dir());

    // And after the process is gone (whatever SQLite flushes on exit included).
    let data = server.stop_keeping_data();
    assert_no_secret("the server log", &data.log);
    let files_after = assert_data_dir_clean(data.dir.path());
    println!(
        "no_key_retention: {} answers, {} log bytes, {files_while_running}/{files_after} files checked",
        seen.0.len(),
        data.log.len()
    );
}
