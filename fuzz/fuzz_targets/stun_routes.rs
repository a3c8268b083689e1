//! Datagram routing on the shared UDP port: the STUN USERNAME parse and the routing table,
//! against a model of what it must do, on the datagrams anyone on the Internet can send.
//!
//! Three sessions are registered with ufrags as str0m makes them. Input: records
//! `[op] [address] [length] payload`, `op % 4`:
//! - deliver `payload` as it is from `address`;
//! - deliver a STUN binding request whose USERNAME is `<ufrag of session op/4 % 3>:payload`
//!   (or `payload` alone when `op & 0x80`), from `address`;
//! - pin `address` to session `op/4 % 3` (as the session does once str0m verified a request);
//! - ICE restart of session `op/4 % 3`: its ufrag is forgotten and a new one registered.
//!
//! Invariants: no panic; `local_ufrag` finds only a USERNAME's text, at most 513 bytes, inside
//! the datagram; a pinned address routes to its session whatever it sends; an unpinned one
//! gets only a STUN request naming a live ufrag through, to that ufrag's session, never a
//! restarted-away ufrag; a session pins at most 8 addresses and never another's.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use streamhard_fuzz::contains;
use streamhard_relay::SessionId;
use streamhard_relay::ingest::bench_support::{Datagram, Routes, Undelivered, local_ufrag};
use tokio::sync::mpsc;

const SESSIONS: usize = 3;
const MAX_ADDRS_PER_SESSION: usize = 8;

fn stun_request(username: &[u8]) -> Vec<u8> {
    let mut attrs = Vec::new();
    attrs.extend_from_slice(&0x0006u16.to_be_bytes());
    attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attrs.extend_from_slice(username);
    attrs.resize(attrs.len().next_multiple_of(4), 0);
    attrs.extend_from_slice(&[0x80, 0x28, 0, 4, 1, 2, 3, 4]); // FINGERPRINT (a dummy)
    let mut message = vec![0x00, 0x01];
    message.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    message.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    message.extend_from_slice(&[0x42; 12]);
    message.extend_from_slice(&attrs);
    message
}

fn address(byte: u8) -> SocketAddr {
    if byte & 0x80 == 0 {
        SocketAddr::from(([203, 0, 113, byte & 0x0F], 50_000 + u16::from(byte >> 4)))
    } else {
        SocketAddr::from((
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(byte & 0x0F)],
            50_000,
        ))
    }
}

struct Session {
    id: SessionId,
    ufrag: String,
    /// One queue for the session's life, as the relay's session keeps across ICE restarts.
    tx: mpsc::Sender<Datagram>,
    rx: mpsc::Receiver<Datagram>,
}

fuzz_target!(|data: &[u8]| {
    let routes = Routes::default();
    let mut sessions: Vec<Session> = (0..SESSIONS)
        .map(|i| {
            let (tx, rx) = mpsc::channel(4);
            let id = SessionId::random();
            let ufrag = format!("uf{i}{}", &id.to_string()[..6]);
            routes.register(ufrag.clone(), id.clone(), tx.clone());
            Session { id, ufrag, tx, rx }
        })
        .collect();
    let mut pinned: HashMap<SocketAddr, usize> = HashMap::new();
    let mut rest = data;
    let mut generation = 0;
    while let [op, addr, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        let source = address(*addr);
        let which = usize::from(op / 4) % SESSIONS;
        let datagram = match op % 4 {
            0 => payload.to_vec(),
            1 if op & 0x80 != 0 => stun_request(payload),
            1 => {
                let mut username = sessions[which].ufrag.as_bytes().to_vec();
                username.push(b':');
                username.extend_from_slice(payload);
                stun_request(&username)
            }
            2 => {
                let ok = routes.pin(&sessions[which].id, source);
                let pins = pinned.values().filter(|&&s| s == which).count();
                let expected = match pinned.get(&source) {
                    Some(&owner) => owner == which,
                    None => pins < MAX_ADDRS_PER_SESSION,
                };
                assert_eq!(ok, expected, "pin of {source} to session {which}");
                if ok {
                    pinned.insert(source, which);
                }
                continue;
            }
            _ => {
                let session = &mut sessions[which];
                routes.forget_ufrag(&session.ufrag);
                generation += 1;
                session.ufrag = format!("re{generation}{which}{}", &session.id.to_string()[..4]);
                routes.register(
                    session.ufrag.clone(),
                    session.id.clone(),
                    session.tx.clone(),
                );
                continue;
            }
        };

        let ufrag = local_ufrag(&datagram);
        if let Some(ufrag) = ufrag {
            assert!(ufrag.len() <= 513);
            assert!(contains(&datagram, ufrag.as_bytes()));
            assert!(!ufrag.contains(':'));
        }
        let expected = match pinned.get(&source) {
            Some(&owner) => Some(owner),
            None => ufrag.and_then(|u| sessions.iter().position(|s| s.ufrag == u)),
        };
        let result = routes.deliver(Datagram {
            source,
            local: None,
            received: Instant::now(),
            data: datagram.clone(),
        });
        match expected {
            None => assert_eq!(result, Err(Undelivered::UnknownPeer), "from {source}"),
            Some(owner) => {
                assert_eq!(result, Ok(()), "to session {owner}");
                let got = sessions[owner]
                    .rx
                    .try_recv()
                    .expect("queued at its session");
                assert_eq!(got.data, datagram);
                assert_eq!(got.source, source);
                for (i, s) in sessions.iter_mut().enumerate() {
                    if i != owner {
                        assert!(
                            s.rx.try_recv().is_err(),
                            "session {i} got another's datagram"
                        );
                    }
                }
            }
        }
    }
});
