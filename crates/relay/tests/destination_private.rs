//! The connect-time private-address check: a destination whose host is (or has come to
//! resolve to) a loopback address is refused before any byte leaves, unless the operator
//! allows private destinations. The API checks URLs when they are added; this check is the one
//! DNS rebinding cannot get past, because it looks at the addresses actually connected to.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{settings, spawn, wait_for};
use streamhard_relay::destination::{DestinationSettings, DestinationState, Headers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_resolving_to_loopback_is_refused_without_connecting() {
    // Something is listening, so a connection would succeed if it were attempted.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = DestinationSettings {
        allow_private: false,
        max_failures: 1,
        ..settings()
    };
    // `localhost` is a name, as a rebinding attacker's would be; it resolves to loopback.
    let spawned = spawn(
        &format!("rtmp://localhost:{port}/live/PRIVATEKEY"),
        settings,
        Headers::default(),
    );
    let status = wait_for(&spawned.destination, Duration::from_secs(5), |s| {
        s.state == DestinationState::Failed
    })
    .await;
    assert_eq!(status.state, DestinationState::Failed, "{status:?}");
    let error = status.last_error.clone().expect("an error");
    assert!(error.contains("private"), "says why: {error}");
    assert!(!error.contains("PRIVATEKEY"), "{error}");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection was made"
    );
    spawned.destination.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_host_connects_when_private_destinations_are_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let spawned = spawn(
        &format!("rtmp://127.0.0.1:{port}/live/k"),
        DestinationSettings {
            allow_private: true,
            ..settings()
        },
        Headers::default(),
    );
    // The TCP connection arrives (the server then never answers the handshake).
    let accepted = tokio::task::spawn_blocking(move || listener.accept().map(|_| ()))
        .await
        .unwrap();
    assert!(accepted.is_ok(), "{accepted:?}");
    spawned.destination.stop().await;
}
