//! `streamhard bench`: the relay measured as deployed.
//!
//! The server is the real binary in its own process (so its CPU and memory are its own), fed
//! by N synthetic WHIP publishers — full WebRTC sessions (ICE, DTLS, SRTP) sending a
//! pre-encoded 720p30 H.264 stream with a 1 s GOP plus Opus, paced in real time — each
//! relayed to M RTMP sinks in this process that parse and check what arrives. It ends with
//! one summary line. Relay latency comes from the histogram the server keeps (and exports on
//! `/metrics`): arrival of a video frame's last datagram to its FLV tag written to the
//! destination socket.

pub mod baseline;
pub mod proc_stats;
pub mod prometheus_text;
pub mod server;
pub mod sink;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use streamhard_relay::latency::quantile_ms;
use streamhard_testkit::fixtures::{Fixture, FixtureSpec, TestMedia};
use streamhard_whip_client::{Publisher, PublisherOptions};
use tokio::task::JoinSet;

use server::ServerProcess;
use sink::Sinks;
use summary::{RunFigures, percentile};

/// The histogram `/metrics` exports; see `streamhard_relay::latency`.
const LATENCY_METRIC: &str = "streamhard_relay_latency_seconds";
/// Seconds of test media generated and looped by every publisher.
const MEDIA_SECONDS: u32 = 10;
/// Left out at the start of the measurement (sessions settling) and at its end.
const SETTLE: Duration = Duration::from_secs(2);
/// How many WHIP sessions are set up at the same time.
const CONNECT_CONCURRENCY: usize = 10;

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Concurrent streams (WHIP publishers, one broadcast each).
    #[arg(long, default_value_t = 10)]
    pub streams: usize,
    /// RTMP destinations per broadcast.
    #[arg(long, default_value_t = 1)]
    pub destinations: usize,
    /// Seconds each publisher sends.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Raise the number of streams (×1.5 from --streams) until delivery drops below 99.9%
    /// or p99 relay latency passes 50 ms; report the largest that held.
    #[arg(long)]
    pub ramp: bool,
    /// Also run the original pipeline (one ffmpeg re-encoding each stream) on the same media
    /// and machine and report its CPU per stream.
    #[arg(long)]
    pub baseline: bool,
}

/// Runs the benchmark as the arguments ask, printing `bench:` lines on stdout.
pub async fn run(args: BenchArgs, server_exe: PathBuf) -> anyhow::Result<()> {
    anyhow::ensure!(args.streams >= 1, "--streams must be at least 1");
    anyhow::ensure!(
        (1..=10).contains(&args.destinations),
        "--destinations must be 1..=10"
    );
    anyhow::ensure!(
        args.seconds >= 8,
        "--seconds must be at least 8 (2 s settle at each end)"
    );
    let fixture = Fixture::generate(FixtureSpec::browser_720p(MEDIA_SECONDS))
        .context("generating the test media with ffmpeg")?;
    let media = Arc::new(fixture.load()?);
    let baseline = if args.baseline {
        Some(baseline::measure(&fixture, args.streams.min(2), args.seconds).await?)
    } else {
        None
    };
    if !args.ramp {
        let figures = run_once(&server_exe, &media, args.streams, &args).await?;
        println!("{}", figures.line(baseline.as_ref()));
        return Ok(());
    }
    let mut streams = args.streams;
    let mut held = None;
    loop {
        let figures = run_once(&server_exe, &media, streams, &args).await?;
        println!("{}", figures.line(baseline.as_ref()));
        if !figures.holds() {
            break;
        }
        held = Some(streams);
        streams = (streams * 3).div_ceil(2).max(streams + 1);
    }
    println!(
        "bench: ramp destinations={} seconds={} max_streams={}",
        args.destinations,
        args.seconds,
        held.map_or_else(|| "none".to_owned(), |n| n.to_string())
    );
    Ok(())
}

/// What one publisher did.
struct PublisherRun {
    index: usize,
    answered_at: Instant,
    frames_sent: u64,
    error: Option<String>,
}

async fn run_once(
    exe: &Path,
    media: &Arc<TestMedia>,
    streams: usize,
    args: &BenchArgs,
) -> anyhow::Result<RunFigures> {
    let m = args.destinations;
    let sinks = Arc::new(Sinks::start().await?);
    let server = ServerProcess::start(exe, streams, m).await?;
    println!("bench: server_pid={}", server.pid);
    let idle_rss = proc_stats::rss_bytes(server.pid)?;

    let mut broadcasts = Vec::with_capacity(streams);
    for i in 0..streams {
        let urls: Vec<String> = (0..m)
            .map(|j| sinks.url("bench", &stream_name(i, j)))
            .collect();
        broadcasts.push(server.create_broadcast(&urls).await?);
    }
    // Destinations connect as soon as the broadcast exists: wait for every sink.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sinks.streams_seen() < streams * m {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {} destinations reached the sinks",
            sinks.streams_seen(),
            streams * m
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Publishers: each sends as soon as it is connected, for `seconds`.
    let send_for = Duration::from_secs(args.seconds);
    let (connected_tx, mut connected_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (index, b) in broadcasts.iter().enumerate() {
        let (whip_url, token) = (b.whip_url.clone(), b.token.clone());
        let (media, gate, connected_tx) =
            (Arc::clone(media), Arc::clone(&gate), connected_tx.clone());
        tasks.spawn(async move {
            let permit = gate.acquire_owned().await.expect("semaphore");
            let mut publisher = match Publisher::connect(
                &whip_url,
                Some(&token),
                PublisherOptions::default(),
            )
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    let _ = connected_tx.send(Instant::now());
                    return PublisherRun {
                        index,
                        answered_at: Instant::now(),
                        frames_sent: 0,
                        error: Some(format!("connect: {e}")),
                    };
                }
            };
            drop(permit);
            let _ = connected_tx.send(Instant::now());
            let answered_at = publisher.answered_at();
            let result = publisher.send(&media, send_for).await;
            // Let the last frames cross the relay before leaving.
            let _ = publisher.idle(Duration::from_millis(500)).await;
            let _ = publisher.delete().await;
            match result {
                Ok(report) => PublisherRun {
                    index,
                    answered_at,
                    frames_sent: report.video_frames,
                    error: None,
                },
                Err(e) => PublisherRun {
                    index,
                    answered_at,
                    frames_sent: 0,
                    error: Some(format!("send: {e}")),
                },
            }
        });
    }
    drop(connected_tx);
    let first_connected = connected_rx.recv().await.context("no publisher")?;
    let mut all_connected = first_connected;
    // Counted, not read to the end: every task holds a sender until it finishes.
    for _ in 1..streams {
        all_connected = connected_rx.recv().await.context("a publisher vanished")?;
    }

    // The measurement window: every publisher sending, none finished.
    let window_start = all_connected + SETTLE;
    let window_end = first_connected + send_for - SETTLE;
    anyhow::ensure!(
        window_end > window_start + Duration::from_secs(1),
        "connecting {streams} publishers took {:?}: raise --seconds",
        all_connected - first_connected
    );
    tokio::time::sleep_until(window_start.into()).await;
    let cpu_before = proc_stats::cpu_time(server.pid)?;
    let latency_before = prometheus_text::histogram(&server.metrics().await?, LATENCY_METRIC);
    let measured_from = Instant::now();
    tokio::time::sleep_until(window_end.into()).await;
    let cpu_after = proc_stats::cpu_time(server.pid)?;
    let wall = measured_from.elapsed();
    let latency_after = prometheus_text::histogram(&server.metrics().await?, LATENCY_METRIC);
    let rss = proc_stats::rss_bytes(server.pid)?;

    let mut runs = Vec::with_capacity(streams);
    while let Some(run) = tasks.join_next().await {
        runs.push(run.context("publisher task")?);
    }
    for b in &broadcasts {
        server.stop_broadcast(b).await?;
    }
    server.stop().await;

    let mut errors = Vec::new();
    let mut first_keyframe_ms = Vec::new();
    let (mut sent, mut received, mut timestamp_errors) = (0u64, 0u64, 0u64);
    for run in &runs {
        if let Some(e) = &run.error {
            errors.push(format!("stream {}: {e}", run.index));
        }
        sent += run.frames_sent;
        // A broadcast's first keyframe has arrived when every one of its sinks has it.
        let mut all_have_it = Some(run.answered_at);
        for j in 0..m {
            let stats = sinks.stats(&stream_name(run.index, j));
            received += stats.video_frames;
            timestamp_errors += stats.timestamp_errors;
            all_have_it = match (all_have_it, stats.first_keyframe_at) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        if let Some(at) = all_have_it {
            first_keyframe_ms
                .push(at.saturating_duration_since(run.answered_at).as_secs_f64() * 1000.0);
        }
    }
    for e in errors.iter().take(5) {
        eprintln!("bench: {e}");
    }
    let latency = prometheus_text::difference(&latency_after, &latency_before);
    let cpu_pct = (cpu_after - cpu_before).as_secs_f64() / wall.as_secs_f64() * 100.0;
    Ok(RunFigures {
        streams,
        destinations: m,
        seconds: args.seconds,
        server_cpu_pct: cpu_pct,
        rss_bytes: rss,
        idle_rss_bytes: idle_rss,
        frames_sent: sent,
        frames_received: received,
        p50_relay_ms: quantile_ms(&latency, 0.50),
        p99_relay_ms: quantile_ms(&latency, 0.99),
        first_keyframe_ms: percentile(&mut first_keyframe_ms, 0.5),
        first_keyframe_max_ms: percentile(&mut first_keyframe_ms, 1.0),
        timestamp_errors,
        failed_streams: errors.len(),
    })
}

/// The sink stream name of broadcast `i`'s destination `j`.
fn stream_name(i: usize, j: usize) -> String {
    format!("s{i}-d{j}")
}
