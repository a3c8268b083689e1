//! The HTTP server cannot be held open: slow request heads are closed within the header
//! timeout, one client address gets a bounded number of connections, and SIGTERM finishes
//! within the drain time even with an event stream and a half-sent request open, after every
//! destination was unpublished.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

fn addr(server: &Server) -> String {
    server.http.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; how long that took (None: still open after
/// `limit`).
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue, // e.g. a 408 before the close
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return None;
            }
            Err(_) => return Some(started.elapsed()), // reset
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_are_closed_within_the_header_timeout_while_healthz_answers() {
    let server = Server::start(&["--header-timeout-seconds", "2"], &[]);
    let target = addr(&server);
    let slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&target).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // One more trickles its head a byte at a time: progress must not reset the clock.
    let mut trickle = TcpStream::connect(&target).unwrap();
    let trickler = std::thread::spawn(move || {
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if trickle.write_all(&[*byte]).is_err() {
                return Some(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    });
    // Meanwhile the server answers everyone else.
    let health = reqwest::get(format!("{}/healthz", server.http))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let started = Instant::now();
    let mut latest = Duration::ZERO;
    for mut stream in slow {
        let took = closed_within(&mut stream, Duration::from_secs(6))
            .expect("a slow request head was still open after 6 s");
        latest = latest.max(started.elapsed().max(took));
    }
    println!("20 slow heads closed within {latest:?} (timeout 2 s)");
    assert!(latest < Duration::from_secs(5), "{latest:?}");
    assert_eq!(
        trickler.join().unwrap(),
        Some(()),
        "the trickling connection was closed before its head was done"
    );
    let health = reqwest::get(format!("{}/healthz", server.http))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_address_gets_a_bounded_number_of_connections() {
    let server = Server::start(&["--max-connections-per-client", "5"], &[]);
    let target = addr(&server);
    let held: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(&target).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(&target).unwrap();
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    extra
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let _ = extra.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "the sixth connection was served: {}",
        String::from_utf8_lossy(&answer)
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let health = reqwest::get(format!("{}/healthz", server.http))
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        200,
        "slots come back when connections close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly_within_the_drain_time_with_an_event_stream_and_a_half_sent_request_open()
 {
    // The destination is an RTMP server of our own (the benchmark's sink: the sans-IO server
    // session), which tells a clean unpublish (FCUnpublish/deleteStream) from a dropped
    // connection.
    let sink = streamhard_bench::sink::Sinks::start().await.unwrap();
    let mut server = Server::start(&["--drain-seconds", "2"], &[]);
    let (id, _whip, token) = server
        .create_broadcast(&[("one", sink.url("live", "KEY"))])
        .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.stats("KEY").connections == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        sink.stats("KEY").connections,
        1,
        "the destination never published"
    );
    let mut events = reqwest::Client::new()
        .get(format!("{}/api/broadcasts/{id}/events", server.http))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    // Everything the event stream sends, to its end.
    let stream = tokio::spawn(async move {
        let mut text = String::new();
        while let Ok(Some(chunk)) = events.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    });
    let mut half = TcpStream::connect(addr(&server)).unwrap();
    half.write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = server
        .terminate(Duration::from_secs(6))
        .expect("the server was still running 6 s after SIGTERM");
    println!("exited {status} in {:?} (drain 2 s)", started.elapsed());
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let sent = tokio::time::timeout(Duration::from_secs(2), stream)
        .await
        .expect("the event stream ended")
        .unwrap();
    assert!(
        sent.contains("event: shutdown"),
        "no final event in: {sent}"
    );
    // The destination was unpublished before the process exited, not cut off. The sink counts
    // a failure when the connection closes without an unpublish; the process is gone, so the
    // close reached the sink's task within moments.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = sink.stats("KEY");
    assert_eq!(
        (stats.connections, stats.failures),
        (1, 0),
        "the destination saw no deleteStream at shutdown: {stats:?}"
    );
}
