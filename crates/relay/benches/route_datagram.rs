//! Per datagram on the shared UDP port, the reader task's work: find the session it belongs to
//! and queue it there (`Routes::deliver`), among 100 and 1000 live sessions.
//!
//! - `by_address`: a datagram (1200 bytes, SRTP-sized) from a peer address already pinned to
//!   its session: every media packet takes this path;
//! - `first_stun`: a STUN binding request from an address not pinned yet, routed by the ufrag
//!   in its USERNAME (a request pins nothing; the session pins once str0m verified it): this
//!   is also the cost of each datagram of a spoofed-STUN flood;
//! - `unknown_peer`: a non-STUN datagram from an address no session knows, dropped;
//! - `local_ufrag`: the STUN USERNAME parse alone.
//!
//! The datagrams are built before the clock starts and the session queues are emptied after it
//! stops, so only routing is timed. No session task is parked on its queue here, so queueing
//! costs no wake-up, unlike in the relay. Routes are private to the crate; the bench reaches
//! them through `ingest::bench_support`.
//!
//! ```text
//! cargo bench -p streamhard-relay --bench route_datagram
//! ```

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use str0m::IceCreds;
use streamhard_relay::SessionId;
use streamhard_relay::ingest::bench_support::{Datagram, Routes, Undelivered, local_ufrag};
use tokio::sync::mpsc;

const SESSION_COUNTS: [usize; 2] = [100, 1000];
/// The relay's per-session queue (`SESSION_QUEUE` in `ingest`).
const SESSION_QUEUE: usize = 512;
/// Addresses a session may pin (`MAX_ADDRS_PER_SESSION` in `routes`).
const MAX_ADDRS_PER_SESSION: usize = 8;
/// Datagrams timed between two emptyings of the queues; below `SESSION_QUEUE`, so no queue
/// ever fills even if a whole batch went to one session.
const BATCH: usize = 256;
/// An SRTP packet of a browser's video: the payload is ~1200 bytes.
const SRTP_LEN: usize = 1200;
/// Visits the sessions in a scattered order (coprime with both session counts).
const STRIDE: usize = 7919;

/// Peer address number `n` of kind `kind` (0: pinned media peers, else unpinned addresses).
fn peer(kind: u8, n: usize) -> SocketAddr {
    let [_, a, b, c] = (n as u32).to_be_bytes();
    SocketAddr::from(([10 + kind, a, b, c], 50_000 + (n % 10_000) as u16))
}

/// A STUN binding request shaped like Chrome's: USERNAME first, then GOOG-NETWORK-INFO,
/// ICE-CONTROLLING, USE-CANDIDATE, PRIORITY, MESSAGE-INTEGRITY and FINGERPRINT. The integrity
/// and fingerprint values are dummies: str0m checks them, the router does not.
fn binding_request(local_ufrag: &str) -> Vec<u8> {
    let mut attrs = Vec::new();
    let mut attr = |kind: u16, value: &[u8]| {
        attrs.extend_from_slice(&kind.to_be_bytes());
        attrs.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attrs.extend_from_slice(value);
        attrs.resize(attrs.len().next_multiple_of(4), 0);
    };
    attr(0x0006, format!("{local_ufrag}:Br0w").as_bytes());
    attr(0xC057, &[0, 1, 0, 10]);
    attr(0x802A, &[0x5A; 8]);
    attr(0x0025, &[]);
    attr(0x0024, &[0x6E, 0x7F, 0x1E, 0xFF]);
    attr(0x0008, &[0xA5; 20]);
    attr(0x8028, &[0x3C; 4]);
    let mut message = vec![0x00, 0x01];
    message.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    message.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    message.extend_from_slice(&[0x42; 12]);
    message.extend_from_slice(&attrs);
    message
}

fn datagram(source: SocketAddr, data: Vec<u8>) -> Datagram {
    Datagram {
        source,
        local: None,
        received: Instant::now(),
        data,
    }
}

/// Registered sessions (with ufrags as str0m makes them), each with its first peer address
/// `peer(0, 8 i)` pinned, or, `saturated`, as many addresses as it may pin.
struct Relay {
    routes: Routes,
    ufrags: Vec<String>,
    queues: Vec<mpsc::Receiver<Datagram>>,
}

impl Relay {
    fn new(sessions: usize, saturated: bool) -> Self {
        let routes = Routes::default();
        let mut ufrags = Vec::with_capacity(sessions);
        let mut queues = Vec::with_capacity(sessions);
        for i in 0..sessions {
            let ufrag = IceCreds::new().ufrag;
            let (tx, rx) = mpsc::channel(SESSION_QUEUE);
            let session = SessionId::random();
            routes.register(ufrag.clone(), session.clone(), tx);
            let pins = if saturated { MAX_ADDRS_PER_SESSION } else { 1 };
            for pin in 0..pins {
                // As the session does once str0m answered the peer's request (verified).
                let source = peer(0, i * MAX_ADDRS_PER_SESSION + pin);
                routes
                    .deliver(datagram(source, binding_request(&ufrag)))
                    .expect("a registered ufrag routes");
                assert!(routes.pin(&session, source), "a session pins its peer");
            }
            ufrags.push(ufrag);
            queues.push(rx);
        }
        let mut relay = Self {
            routes,
            ufrags,
            queues,
        };
        relay.drain();
        relay
    }

    fn drain(&mut self) {
        for queue in &mut self.queues {
            while queue.try_recv().is_ok() {}
        }
    }

    /// Times `deliver` for `iters` datagrams made by `make(n)`, in batches; returns the time
    /// and how many were delivered.
    fn time_deliveries(&mut self, iters: u64, make: impl Fn(usize) -> Datagram) -> (Duration, u64) {
        let mut elapsed = Duration::ZERO;
        let mut delivered = 0;
        let mut done = 0u64;
        while done < iters {
            let batch = (iters - done).min(BATCH as u64) as usize;
            let datagrams: Vec<Datagram> = (0..batch).map(|k| make(done as usize + k)).collect();
            let start = Instant::now();
            for datagram in datagrams {
                delivered += u64::from(black_box(self.routes.deliver(datagram)).is_ok());
            }
            elapsed += start.elapsed();
            self.drain();
            done += batch as u64;
        }
        (elapsed, delivered)
    }
}

fn route_datagram(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_datagram");
    group.throughput(Throughput::Elements(1));
    let srtp: Vec<u8> = (0..SRTP_LEN).map(|i| 0x80 ^ (i as u8)).collect();
    for sessions in SESSION_COUNTS {
        let mut relay = Relay::new(sessions, false);
        group.bench_function(BenchmarkId::new("by_address", sessions), |b| {
            b.iter_custom(|iters| {
                let source = |n: usize| peer(0, n * STRIDE % sessions * MAX_ADDRS_PER_SESSION);
                let (time, delivered) =
                    relay.time_deliveries(iters, |n| datagram(source(n), srtp.clone()));
                assert_eq!(delivered, iters);
                time
            });
        });

        let mut relay = Relay::new(sessions, true);
        let requests: Vec<Vec<u8>> = relay.ufrags.iter().map(|u| binding_request(u)).collect();
        group.bench_function(BenchmarkId::new("first_stun", sessions), |b| {
            b.iter_custom(|iters| {
                let (time, delivered) = relay.time_deliveries(iters, |n| {
                    let session = n * STRIDE % sessions;
                    datagram(peer(1, n), requests[session].clone())
                });
                assert_eq!(delivered, iters);
                time
            });
        });
        let after = relay.routes.deliver(datagram(peer(1, 0), srtp.clone()));
        assert_eq!(
            after,
            Err(Undelivered::UnknownPeer),
            "first_stun must not have pinned its addresses"
        );

        group.bench_function(BenchmarkId::new("unknown_peer", sessions), |b| {
            b.iter_custom(|iters| {
                let (time, delivered) =
                    relay.time_deliveries(iters, |n| datagram(peer(2, n), srtp.clone()));
                assert_eq!(delivered, 0);
                time
            });
        });
    }

    let request = binding_request(&IceCreds::new().ufrag);
    group.throughput(Throughput::Bytes(request.len() as u64));
    group.bench_function("local_ufrag", |b| {
        b.iter(|| local_ufrag(black_box(&request)).map(str::len));
    });
    group.finish();
}

criterion_group!(benches, route_datagram);
criterion_main!(benches);
