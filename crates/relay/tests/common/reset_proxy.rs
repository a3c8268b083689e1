//! A TCP relay on loopback in front of a server that can reset every connection through it at
//! once (SO_LINGER 0, then close: an RST each way), as a NAT or a load balancer that drops its
//! state does. It keeps accepting, so a client that reconnects gets through again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct ResetProxy {
    port: u16,
    /// Cancelled to reset the connections open now; replaced by a fresh one each time.
    reset: Arc<Mutex<CancellationToken>>,
    stop: CancellationToken,
}

impl ResetProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:{upstream}`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let reset = Arc::new(Mutex::new(CancellationToken::new()));
        let stop = CancellationToken::new();
        let (resets, stopped) = (Arc::clone(&reset), stop.clone());
        tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    _ = stopped.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => continue,
                    },
                };
                let reset = resets.lock().unwrap().clone();
                tokio::spawn(forward(client, upstream, reset, stopped.clone()));
            }
        });
        Self { port, reset, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Resets every connection open now.
    pub fn reset(&self) {
        let mut current = self.reset.lock().unwrap();
        current.cancel();
        *current = CancellationToken::new();
    }
}

impl Drop for ResetProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: u16,
    reset: CancellationToken,
    stop: CancellationToken,
) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    let was_reset = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        _ = reset.cancelled() => true,
        _ = stop.cancelled() => false,
    };
    if was_reset {
        for stream in [&client, &server] {
            let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
        }
    }
}
