//! Soak: many publish/unpublish cycles (WHIP POST with media, then DELETE) on one live
//! broadcast, then many broadcasts created live to nginx-rtmp and stopped, against the real
//! binary. Afterwards the server's open files, its runtime's alive tasks and its resident
//! memory must come back to where they were before: whatever a session, a broadcast or a
//! destination holds is released when it ends.
//!
//! `STREAMHARD_SOAK_CYCLES` (default 30) sets the number of cycles of each kind, to run it
//! longer by hand: `STREAMHARD_SOAK_CYCLES=500 cargo test -p streamhard --test soak -- --nocapture`.

mod common;

use std::time::Duration;

use common::{Server, connect_publisher};
use streamhard_testkit::fixtures::{Fixture, FixtureSpec, TestMedia};
use streamhard_testkit::nginx::{NginxOptions, NginxRtmp};
use streamhard_whip_client::PublisherOptions;

/// Media sent by each publisher before it leaves: a GOP and a half, so every cycle carries
/// keyframes and audio through the transcoder to the destination.
const SEND: Duration = Duration::from_millis(1500);
/// Open files and tasks may differ from the baseline by this much when measured: the
/// `/metrics` request that reads the task count is itself a connection (one socket, one or two
/// tasks), and the kernel may not yet have reported a just-closed one to the server.
const FD_SLACK: i64 = 2;
const TASK_SLACK: i64 = 3;
/// Resident memory may grow this much over the whole soak and no more. The allocator keeps
/// freed pages of the busiest moment (glibc arenas per thread, not returned to the system), and
/// SQLite's page cache grows with the history table (30 + 30 cycles measured +1.2 MiB); a
/// leak of 140 KiB per cycle would exceed it within the default 60 cycles.
const RSS_SLACK_KIB: i64 = 8 * 1024;
/// How long released resources may take to be released.
const SETTLE: Duration = Duration::from_secs(15);

fn cycles() -> usize {
    std::env::var("STREAMHARD_SOAK_CYCLES")
        .ok()
        .map(|v| v.parse().expect("STREAMHARD_SOAK_CYCLES is a number"))
        .unwrap_or(30)
}

/// What the server holds at one moment.
#[derive(Clone, Copy, Debug)]
struct Usage {
    fds: i64,
    tasks: i64,
    rss_kib: i64,
}

impl Usage {
    async fn of(server: &Server) -> Usage {
        let pid = server.pid();
        // The task count first: its request's connection is then closed or idle when the files
        // are counted, as it is at every measurement.
        let tasks = alive_tasks(server).await;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("/proc/PID/fd")
            .count() as i64;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        Usage {
            fds,
            tasks,
            rss_kib,
        }
    }

    fn max(self, other: Usage) -> Usage {
        Usage {
            fds: self.fds.max(other.fds),
            tasks: self.tasks.max(other.tasks),
            rss_kib: self.rss_kib.max(other.rss_kib),
        }
    }

    fn within(self, baseline: Usage) -> bool {
        self.fds <= baseline.fds + FD_SLACK
            && self.tasks <= baseline.tasks + TASK_SLACK
            && self.rss_kib <= baseline.rss_kib + RSS_SLACK_KIB
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} fds, {} tasks, {:.1} MiB RSS",
            self.fds,
            self.tasks,
            self.rss_kib as f64 / 1024.0
        )
    }
}

/// `streamhard_runtime_alive_tasks` from `/metrics`, on a connection of its own that is closed
/// afterwards.
async fn alive_tasks(server: &Server) -> i64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let body = client
        .get(format!("{}/metrics", server.http))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("streamhard_runtime_alive_tasks "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no streamhard_runtime_alive_tasks in:\n{body}"))
}

fn media() -> TestMedia {
    Fixture::generate(FixtureSpec::browser_720p(2))
        .expect("fixture")
        .load()
        .expect("load fixture")
}

/// One publisher: connect (ICE + DTLS), send media, DELETE. Returns the server's usage while
/// the session was up.
async fn publish_once(server: &Server, whip_url: &str, token: &str, media: &TestMedia) -> Usage {
    let mut publisher = connect_publisher(whip_url, token, PublisherOptions::default()).await;
    let report = publisher.send(media, SEND).await.expect("send");
    assert!(report.video_frames > 0, "{report:?}");
    let during = Usage::of(server).await;
    publisher.delete().await.expect("WHIP DELETE");
    during
}

/// One broadcast: created, live to nginx, stopped. Returns the server's usage while it was
/// live.
async fn broadcast_once(server: &Server, nginx: &NginxRtmp, n: usize) -> Usage {
    let (id, _, token) = server
        .live_broadcast(&[("soak", nginx.url(&format!("soak{n}")))])
        .await;
    let during = Usage::of(server).await;
    server.stop_broadcast(&id, &token).await;
    during
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_broadcast_cycles_leave_no_files_tasks_or_memory_behind() {
    let cycles = cycles();
    let media = media();
    let nginx = NginxRtmp::start_with(NginxOptions {
        record: false,
        ..NginxOptions::default()
    })
    .expect("nginx");
    let server = Server::start(&[], &[]);
    let started = std::time::Instant::now();

    // Warm-up: the first session, transcoder, destination and account sign-in allocate what
    // the process keeps for its life (thread pools, caches, the database connection).
    let (id, whip_url, token) = server.live_broadcast(&[("warm", nginx.url("warm"))]).await;
    publish_once(&server, &whip_url, &token, &media).await;
    server.stop_broadcast(&id, &token).await;
    broadcast_once(&server, &nginx, 0).await;
    let baseline = settle(&server, None).await;
    println!("soak: baseline  {baseline}");

    let mut peak = baseline;
    let (id, whip_url, token) = server.live_broadcast(&[("main", nginx.url("main"))]).await;
    for _ in 0..cycles {
        peak = peak.max(publish_once(&server, &whip_url, &token, &media).await);
    }
    let status = server.broadcast(&id, &token).await;
    assert_eq!(
        status["destinations"][0]["state"], "live",
        "the destination stayed live through the publishers: {status}"
    );
    server.stop_broadcast(&id, &token).await;
    let after_publishing = settle(&server, Some(baseline)).await;
    println!("soak: after {cycles} publish cycles  {after_publishing}");

    for n in 1..=cycles {
        peak = peak.max(broadcast_once(&server, &nginx, n).await);
    }
    let after = settle(&server, Some(baseline)).await;
    println!("soak: after {cycles} broadcast cycles  {after}");
    println!(
        "soak: {cycles}+{cycles} cycles in {:.1} s; baseline {baseline}; peak {peak}; after {after}",
        started.elapsed().as_secs_f64()
    );
    for (label, usage) in [("publishing", after_publishing), ("broadcasts", after)] {
        assert!(
            usage.within(baseline),
            "after {label}: {usage}, baseline {baseline} (slack {FD_SLACK} fds, {TASK_SLACK} tasks, {} MiB)",
            RSS_SLACK_KIB / 1024
        );
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

/// Waits until the server's usage is back within the baseline's slack (or, with no baseline,
/// until two readings a second apart agree on files and tasks), and returns it.
async fn settle(server: &Server, baseline: Option<Usage>) -> Usage {
    let deadline = tokio::time::Instant::now() + SETTLE;
    let mut last = Usage::of(server).await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = Usage::of(server).await;
        let done = match baseline {
            Some(baseline) => now.within(baseline),
            None => now.fds == last.fds && now.tasks == last.tasks,
        };
        if done || tokio::time::Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}
