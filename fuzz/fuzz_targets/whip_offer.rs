//! A WHIP offer (the body of `POST /whip/{id}`) through the relay's real negotiation:
//! `Relay::accept_offer` parses it with str0m, plans the H.264 formats (payload types,
//! profiles, `sprop-parameter-sets`), negotiates, checks what was opened and writes the
//! answer; a session is started and ended for each accepted offer.
//!
//! Input: the offer text (invalid UTF-8 is replaced, as the WHIP handler only passes valid
//! text on), at most `MAX_SDP_BYTES`.
//!
//! Invariants: no panic; an accepted offer gets an answer that parses as SDP, is ICE-lite and
//! carries its entity tag's ufrag; a refused one gets a reason from `OfferError::REASONS`
//! and a message of bounded size.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use str0m::change::SdpAnswer;
use streamhard_relay::ingest::IngestConfig;
use streamhard_relay::{CandidatePolicy, IngestError, OfferError, Relay, RelayConfig};
use streamhard_web::MAX_SDP_BYTES;
use tokio::runtime::Runtime;

struct Fixture {
    runtime: Runtime,
    relay: Arc<Relay>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let relay = runtime
            .block_on(Relay::start(RelayConfig {
                ingest: IngestConfig {
                    udp_bind: "127.0.0.1:0".parse().unwrap(),
                    // One fixed candidate: the fuzzer must not depend on this host's interfaces.
                    candidates: CandidatePolicy {
                        interfaces: false,
                        only: Vec::new(),
                        public_ips: vec!["192.0.2.1".parse().unwrap()],
                    },
                    keyframe_interval: std::time::Duration::from_secs(2),
                    start_bitrate_kbps: 2500,
                    pipeline: Default::default(),
                    limits: Default::default(),
                },
                destination: Default::default(),
                publisher_grace: std::time::Duration::from_secs(1),
            }))
            .expect("the relay starts on loopback");
        Fixture { runtime, relay }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_SDP_BYTES {
        return;
    }
    let offer = String::from_utf8_lossy(data);
    let Fixture { runtime, relay } = fixture();
    runtime.block_on(async {
        let broadcast = relay.create_broadcast(Vec::new());
        match relay.accept_offer(&broadcast, &offer) {
            Ok(accepted) => {
                SdpAnswer::from_sdp_string(&accepted.answer).expect("our answer is SDP");
                assert!(accepted.answer.contains("a=ice-lite"));
                let ufrag = accepted.etag.trim_matches('"');
                assert!(accepted.answer.contains(&format!("a=ice-ufrag:{ufrag}")));
            }
            Err(IngestError::Offer(e)) => {
                assert!(OfferError::REASONS.contains(&e.reason()));
                let message = e.to_string();
                assert!(
                    message.len() <= 2 * offer.len() + 512,
                    "a {}-byte message",
                    message.len()
                );
            }
            Err(IngestError::Negotiation(message)) => {
                assert!(message.len() <= 2 * offer.len() + 512);
            }
            Err(e) => panic!("refused for another reason than the offer: {e}"),
        }
        relay.stop_broadcast(&broadcast.id).await;
        // Let the ended session's task finish, so sessions never pile up.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    });
});
