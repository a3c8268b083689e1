//! Which session a datagram on the shared UDP port belongs to, in O(1).
//!
//! A session is registered by its ICE ufrag before its answer leaves the server (a browser's
//! first STUN request can arrive before the HTTP response is read). A STUN request from a new
//! address is routed by the ufrag in its USERNAME, and that alone pins nothing: anyone who saw
//! the ufrag can send those. The session pins the address ([`Routes::pin`]) when str0m answers
//! the request with a success response, which it does only once MESSAGE-INTEGRITY checked out
//! against the session's password. Every later datagram from a pinned address (DTLS, SRTP,
//! SRTCP, STUN) is routed by address alone; from an unpinned one only STUN gets through.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::ids::SessionId;

use super::stun;

/// One datagram for a session, with the time it was read from the socket.
#[derive(Debug)]
pub struct Datagram {
    pub source: SocketAddr,
    /// The local address it was sent to (None where the platform cannot tell).
    pub local: Option<std::net::IpAddr>,
    pub received: Instant,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Route {
    session: SessionId,
    tx: mpsc::Sender<Datagram>,
}

/// Why a datagram was not delivered (counted for /metrics, never logged per packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// No session knows this address and it is not a STUN request naming one.
    UnknownPeer,
    /// The session's queue is full: it is not keeping up, the datagram is dropped.
    SessionBusy,
    /// The session ended.
    SessionGone,
}

/// Bounds the addresses one session can pin (its publisher's verified paths: a few per
/// network it moved through).
const MAX_ADDRS_PER_SESSION: usize = 8;

#[derive(Default, Debug)]
pub struct Routes {
    inner: Mutex<Inner>,
}

#[derive(Default, Debug)]
struct Inner {
    by_ufrag: HashMap<String, Route>,
    by_addr: HashMap<SocketAddr, Route>,
    addrs_of: HashMap<SessionId, Vec<SocketAddr>>,
    /// Each session's route, to pin addresses to.
    route_of: HashMap<SessionId, Route>,
}

impl Routes {
    pub fn register(&self, ufrag: String, session: SessionId, tx: mpsc::Sender<Datagram>) {
        let mut inner = self.lock();
        inner.addrs_of.entry(session.clone()).or_default();
        let route = Route { session, tx };
        inner.route_of.insert(route.session.clone(), route.clone());
        inner.by_ufrag.insert(ufrag, route);
    }

    /// Routes `addr` to `session` from now on: called when the session answered a STUN request
    /// from it that str0m verified. An address another session already holds stays with it,
    /// and a session holds at most [`MAX_ADDRS_PER_SESSION`]. Returns whether `addr` is now
    /// routed to `session`.
    pub fn pin(&self, session: &SessionId, addr: SocketAddr) -> bool {
        let mut inner = self.lock();
        if let Some(route) = inner.by_addr.get(&addr) {
            return &route.session == session;
        }
        let Some(route) = inner.route_of.get(session).cloned() else {
            return false;
        };
        let addrs = inner.addrs_of.entry(session.clone()).or_default();
        if addrs.len() >= MAX_ADDRS_PER_SESSION {
            return false;
        }
        addrs.push(addr);
        inner.by_addr.insert(addr, route);
        true
    }

    /// Forgets one ufrag: the old credentials after an ICE restart. Addresses the session
    /// pinned stay routed, so media on the old pair flows until the new one takes over.
    pub fn forget_ufrag(&self, ufrag: &str) {
        self.lock().by_ufrag.remove(ufrag);
    }

    pub fn unregister(&self, session: &SessionId) {
        let mut inner = self.lock();
        inner.by_ufrag.retain(|_, r| &r.session != session);
        inner.route_of.remove(session);
        for addr in inner.addrs_of.remove(session).unwrap_or_default() {
            inner.by_addr.remove(&addr);
        }
    }

    /// Routes one datagram. Never blocks: a full session queue drops the datagram, which
    /// WebRTC tolerates (NACK/PLI recover) far better than a stalled socket reader would.
    pub fn deliver(&self, datagram: Datagram) -> Result<(), Undelivered> {
        // Only the sender leaves the lock: cloning the whole route would copy the session id
        // (a heap string) for every packet.
        let tx = {
            let inner = self.lock();
            match inner.by_addr.get(&datagram.source) {
                Some(route) => route.tx.clone(),
                None => {
                    // Not pinned: only a STUN request naming a session gets through, to be
                    // verified by that session.
                    let ufrag =
                        stun::local_ufrag(&datagram.data).ok_or(Undelivered::UnknownPeer)?;
                    inner
                        .by_ufrag
                        .get(ufrag)
                        .map(|route| route.tx.clone())
                        .ok_or(Undelivered::UnknownPeer)?
                }
            }
        };
        tx.try_send(datagram).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Undelivered::SessionBusy,
            mpsc::error::TrySendError::Closed(_) => Undelivered::SessionGone,
        })
    }

    pub fn sessions(&self) -> usize {
        self.lock().addrs_of.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps stay consistent even if a holder panicked mid-way (each insert is atomic).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_from(ufrag: &str) -> Vec<u8> {
        let username = format!("{ufrag}:remote");
        let mut attrs = vec![0x00, 0x06];
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        msg.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
        msg.extend_from_slice(&[0; 12]);
        msg.extend_from_slice(&attrs);
        msg
    }

    fn datagram(source: &str, data: Vec<u8>) -> Datagram {
        Datagram {
            source: source.parse().unwrap(),
            local: None,
            received: Instant::now(),
            data,
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn stun_reaches_the_session_but_only_a_pin_routes_other_datagrams() {
        let routes = Routes::default();
        let (tx, mut rx) = mpsc::channel(4);
        let session = SessionId::random();
        routes.register("ufragA".into(), session.clone(), tx);

        assert_eq!(
            routes.deliver(datagram("10.0.0.1:5000", vec![0x80, 1, 2])),
            Err(Undelivered::UnknownPeer)
        );
        routes
            .deliver(datagram("10.0.0.1:5000", stun_from("ufragA")))
            .unwrap();
        assert!(rx.try_recv().unwrap().data.starts_with(&[0x00, 0x01]));
        // The STUN request alone pinned nothing.
        assert_eq!(
            routes.deliver(datagram("10.0.0.1:5000", vec![0x80, 1, 2])),
            Err(Undelivered::UnknownPeer)
        );
        // The session verified it and answered: now the address is the session's.
        assert!(routes.pin(&session, addr("10.0.0.1:5000")));
        routes
            .deliver(datagram("10.0.0.1:5000", vec![0x80, 1, 2]))
            .unwrap();
        assert_eq!(rx.try_recv().unwrap().data, vec![0x80, 1, 2]);
    }

    #[test]
    fn spoofed_stun_with_a_seen_ufrag_pins_nothing_and_cannot_lock_out_the_browser() {
        let routes = Routes::default();
        let (tx, mut rx) = mpsc::channel(64);
        let session = SessionId::random();
        routes.register("u".into(), session.clone(), tx);
        for port in 1..40 {
            let _ = routes.deliver(datagram(&format!("198.51.100.7:{port}"), stun_from("u")));
        }
        assert!(
            routes.lock().by_addr.is_empty(),
            "unverified STUN pinned addresses"
        );
        // The real browser's verified address still gets its slot.
        assert!(routes.pin(&session, addr("192.0.2.10:5000")));
        while rx.try_recv().is_ok() {}
        routes
            .deliver(datagram("192.0.2.10:5000", vec![0x16]))
            .unwrap();
        assert_eq!(rx.try_recv().unwrap().data, vec![0x16]);
    }

    #[test]
    fn an_address_pinned_by_one_session_cannot_be_taken_by_another() {
        let routes = Routes::default();
        let (tx_a, mut rx_a) = mpsc::channel(4);
        let (tx_b, _rx_b) = mpsc::channel(4);
        let (a, b) = (SessionId::random(), SessionId::random());
        routes.register("aaaa".into(), a.clone(), tx_a);
        routes.register("bbbb".into(), b.clone(), tx_b);
        assert!(routes.pin(&a, addr("192.0.2.1:1")));
        assert!(!routes.pin(&b, addr("192.0.2.1:1")));
        routes.deliver(datagram("192.0.2.1:1", vec![0x80])).unwrap();
        assert_eq!(rx_a.try_recv().unwrap().data, vec![0x80]);
    }

    #[test]
    fn after_an_ice_restart_only_the_new_ufrag_routes_new_addresses_and_pinned_ones_stay() {
        let routes = Routes::default();
        let (tx, mut rx) = mpsc::channel(8);
        let session = SessionId::random();
        routes.register("old1".into(), session.clone(), tx.clone());
        routes
            .deliver(datagram("10.0.0.1:5000", stun_from("old1")))
            .unwrap();
        assert!(routes.pin(&session, addr("10.0.0.1:5000")));
        routes.register("new1".into(), session.clone(), tx);
        routes.forget_ufrag("old1");
        assert_eq!(
            routes.deliver(datagram("10.0.0.2:5000", stun_from("old1"))),
            Err(Undelivered::UnknownPeer)
        );
        routes
            .deliver(datagram("10.0.0.2:5000", stun_from("new1")))
            .unwrap();
        routes
            .deliver(datagram("10.0.0.1:5000", vec![0x80]))
            .unwrap();
        assert_eq!(rx.try_recv().unwrap().source.port(), 5000);
        assert_eq!(rx.try_recv().unwrap().source.ip().to_string(), "10.0.0.2");
        assert_eq!(rx.try_recv().unwrap().data, vec![0x80]);
    }

    #[test]
    fn two_sessions_are_told_apart_by_ufrag() {
        let routes = Routes::default();
        let (tx_a, mut rx_a) = mpsc::channel(4);
        let (tx_b, mut rx_b) = mpsc::channel(4);
        routes.register("aaaa".into(), SessionId::random(), tx_a);
        routes.register("bbbb".into(), SessionId::random(), tx_b);
        routes
            .deliver(datagram("127.0.0.1:1", stun_from("bbbb")))
            .unwrap();
        routes
            .deliver(datagram("127.0.0.1:2", stun_from("aaaa")))
            .unwrap();
        assert_eq!(rx_a.try_recv().unwrap().source.port(), 2);
        assert_eq!(rx_b.try_recv().unwrap().source.port(), 1);
    }

    #[test]
    fn a_full_session_queue_drops_instead_of_blocking() {
        let routes = Routes::default();
        let (tx, _rx) = mpsc::channel(1);
        let id = SessionId::random();
        routes.register("u".into(), id.clone(), tx);
        routes
            .deliver(datagram("127.0.0.1:1", stun_from("u")))
            .unwrap();
        assert!(routes.pin(&id, addr("127.0.0.1:1")));
        assert_eq!(
            routes.deliver(datagram("127.0.0.1:1", vec![1])),
            Err(Undelivered::SessionBusy)
        );
    }

    #[test]
    fn unregistering_forgets_ufrag_and_addresses() {
        let routes = Routes::default();
        let (tx, _rx) = mpsc::channel(4);
        let id = SessionId::random();
        routes.register("u".into(), id.clone(), tx);
        routes
            .deliver(datagram("127.0.0.1:1", stun_from("u")))
            .unwrap();
        assert!(routes.pin(&id, addr("127.0.0.1:1")));
        routes.unregister(&id);
        assert_eq!(
            routes.deliver(datagram("127.0.0.1:1", vec![1])),
            Err(Undelivered::UnknownPeer)
        );
        assert_eq!(
            routes.deliver(datagram("127.0.0.1:2", stun_from("u"))),
            Err(Undelivered::UnknownPeer)
        );
        assert_eq!(routes.sessions(), 0);
    }

    #[test]
    fn a_session_pins_a_bounded_number_of_addresses() {
        let routes = Routes::default();
        let (tx, _rx) = mpsc::channel(64);
        let id = SessionId::random();
        routes.register("u".into(), id.clone(), tx);
        let pinned = (1..40)
            .filter(|port| routes.pin(&id, addr(&format!("127.0.0.1:{port}"))))
            .count();
        assert_eq!(pinned, MAX_ADDRS_PER_SESSION);
        assert_eq!(routes.lock().by_addr.len(), MAX_ADDRS_PER_SESSION);
    }
}
