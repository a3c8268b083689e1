//! A hostile destination cannot grow our memory: a server that accepts the publish, then
//! floods pings (each asks for a reply) while it reads back a trickle.
//!
//! Without backpressure on reading, every ping appended a reply to the connection's output
//! and the few bytes the server read kept resetting the stall timer, so memory grew without
//! bound. Now the driver stops reading while its output is backed up, the stall timer wants
//! real progress, and the destination says `stalled`, then gives the connection up.

mod common;

use std::time::{Duration, Instant};

use common::{settings, spawn, wait_for};
use streamhard_relay::destination::{DestinationSettings, DestinationState, Headers};
use streamhard_rtmp::{RANDOM_LEN, Session, SessionEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One RTMP ping request (User Control, event 6) on chunk stream 2: 12 header bytes and 6 of
/// payload, answered by an 18-byte ping response.
const PING: [u8; 18] = [
    0x02, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, // fmt 0, csid 2, ts 0, len 6, type 4, stream 0
    0, 6, 0, 0, 0, 1, // PingRequest, timestamp 1
];

/// Completes the publish as nginx-rtmp would, then floods pings while reading `trickle`
/// bytes every 500 ms. Returns the bytes of pings it managed to send.
async fn hostile(mut socket: TcpStream, trickle: usize, flood_for: Duration) -> u64 {
    let mut session = Session::new(&[7; RANDOM_LEN]);
    let mut buf = vec![0u8; 64 * 1024];
    'publish: loop {
        while let Some(bytes) = session.poll_transmit() {
            socket.write_all(&bytes).await.unwrap();
        }
        while let Some(event) = session.poll_event() {
            if matches!(event, SessionEvent::Publishing { .. }) {
                break 'publish;
            }
        }
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the relay hung up before publishing");
        session.handle_input(&buf[..n]);
    }
    while let Some(bytes) = session.poll_transmit() {
        socket.write_all(&bytes).await.unwrap();
    }
    let (mut reader, mut writer) = socket.into_split();
    let flood: Vec<u8> = PING
        .iter()
        .copied()
        .cycle()
        .take(PING.len() * 4096)
        .collect();
    let deadline = Instant::now() + flood_for;
    let reading = tokio::spawn(async move {
        let mut small = vec![0u8; trickle.max(1)];
        while Instant::now() < deadline {
            if trickle > 0 && reader.read(&mut small).await.unwrap_or(0) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let mut sent = 0u64;
    // Where in the flood the next write starts: a write cut short must not split a ping.
    let mut at = 0;
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), writer.write(&flood[at..])).await {
            Ok(Ok(0) | Err(_)) => break, // The relay gave up on us: the point of the test.
            Ok(Ok(n)) => {
                sent += n as u64;
                at = (at + n) % flood.len();
            }
            Err(_) => {} // The relay stopped reading: keep trying until the deadline.
        }
    }
    reading.abort();
    sent
}

/// The process's peak resident memory: the connection's buffers are freed when it fails, so
/// only the peak shows what it cost.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_flooding_pings_while_trickle_reading_cannot_grow_our_memory() {
    // A small receive window, as a server that reads little would advertise: loopback's
    // autotuned buffers would otherwise absorb megabytes before our writes ever block.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener: TcpListener = socket.listen(8).unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = DestinationSettings {
        write_timeout: Duration::from_secs(3),
        max_failures: 100,
        backoff_initial: Duration::from_secs(30),
        ..settings()
    };
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        hostile(socket, 512, Duration::from_secs(8)).await
    });
    let before = peak_rss_kib();
    let spawned = spawn(
        &format!("rtmp://127.0.0.1:{port}/live/SECRETKEY"),
        settings,
        Headers::default(),
    );
    let destination = &spawned.destination;
    // The trickle is far below real progress: the card says stalled within 5 s of the flood...
    let stalled = wait_for(destination, Duration::from_secs(6), |s| {
        s.state == DestinationState::Stalled || s.state == DestinationState::Retrying
    })
    .await;
    assert!(
        matches!(
            stalled.state,
            DestinationState::Stalled | DestinationState::Retrying
        ),
        "{stalled:?}"
    );
    // ...and the connection is given up once the write timeout passes without progress.
    let given_up = wait_for(destination, Duration::from_secs(8), |s| {
        s.state == DestinationState::Retrying
    })
    .await;
    assert_eq!(given_up.state, DestinationState::Retrying, "{given_up:?}");
    let error = given_up.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("stopped reading") || error.contains("more than it read"),
        "{error}"
    );
    assert!(
        !error.contains("SECRETKEY") && !error.contains("127.0.0.1"),
        "{error}"
    );
    let flooded = server.await.unwrap();
    let grown_mib = peak_rss_kib().saturating_sub(before) as f64 / 1024.0;
    println!(
        "hostile destination: {:.1} MiB of pings offered, our peak RSS grew {grown_mib:.1} MiB",
        flooded as f64 / (1 << 20) as f64
    );
    // Each ping asks for a reply as big as itself. Reading on regardless, the relay's peak
    // grew 8.3 MiB in this test (31 MiB of pings offered before the stall timeout); with
    // backpressure it is the output's high-water mark plus buffers: 1.4 MiB.
    assert!(
        grown_mib < 5.0,
        "RSS grew {grown_mib:.1} MiB while the server offered {flooded} bytes of pings"
    );
    spawned.destination.stop().await;
}
