//! The HTTP server loop: accept, limit, time out, serve, drain.
//!
//! `axum::serve` sets no timer on hyper, so a request head sent a byte a second held its
//! connection for ever, and it has no per-client cap: a few hundred idle connections used up
//! a default `nofile` limit and locked everyone out. This loop serves the same router with
//! hyper's header-read timeout and keep-alive pings, at most `per_client` connections per
//! client address, accept errors that back off, and a shutdown that waits for open requests
//! only as long as `drain` (an SSE stream or a stalled upload never holds it up).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt;
use tracing::{debug, info, warn};

/// What bounds each connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A request head must arrive in full within this (also between keep-alive requests).
    pub header_timeout: Duration,
    /// Most connections open at once from one client address (0: no limit).
    pub per_client: usize,
    /// How long shutdown waits for open requests before closing them.
    pub drain: Duration,
}

/// Connections open per client address; a slot is given back when its guard drops.
#[derive(Clone, Default)]
struct PerClient(Arc<Mutex<HashMap<IpAddr, usize>>>);

struct Slot {
    table: PerClient,
    ip: IpAddr,
}

impl PerClient {
    fn take(&self, ip: IpAddr, limit: usize) -> Option<Slot> {
        let mut table = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let open = table.entry(ip).or_default();
        if limit > 0 && *open >= limit {
            return None;
        }
        *open += 1;
        Some(Slot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = table.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most `limits.drain`.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    L: Listener<Addr = SocketAddr>,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let per_client = PerClient::default();
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Some(slot) = per_client.take(peer.ip(), limits.per_client) else {
            // Dropping the stream closes it: this client has enough connections open.
            debug!(%peer, "connection refused: too many from this address");
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%peer, %error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    info!(
        drain_seconds = limits.drain.as_secs(),
        "draining HTTP connections"
    );
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("HTTP connections still open after the drain time: closing them");
    }
}

/// Raises the soft limit on open files to the hard one: each client and destination holds a
/// descriptor, and distributions' soft default (1024, or 256 in some containers) is far below
/// what a relay needs. Returns the limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass, which lives here.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return Some(raised.rlim_cur);
            }
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_limit_of_slots_and_them_back_when_they_close() {
        let table = PerClient::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let slots: Vec<_> = (0..3).filter_map(|_| table.take(ip, 3)).collect();
        assert_eq!(slots.len(), 3);
        assert!(table.take(ip, 3).is_none());
        assert!(
            table.take("192.0.2.2".parse().unwrap(), 3).is_some(),
            "others unaffected"
        );
        drop(slots);
        assert!(table.take(ip, 3).is_some());
        assert!(
            table.0.lock().unwrap().len() <= 1,
            "closed clients are forgotten"
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let table = PerClient::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let slots: Vec<_> = (0..1000).filter_map(|_| table.take(ip, 0)).collect();
        assert_eq!(slots.len(), 1000);
    }
}
