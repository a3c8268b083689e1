//! A WHIP `PATCH` body (`application/trickle-ice-sdpfrag`, RFC 8840) as the session handles
//! it: parsed, its trickled candidates read by str0m, and for an ICE restart the original
//! offer rewritten with the new credentials (and parsed again by str0m) and our answering
//! fragment written.
//!
//! Input: `fragment [FRAGMENT_END offer]`; without the separator a built-in Chrome-like offer
//! is used, so every input exercises a restart's rewrite when it carries credentials.
//!
//! Invariants: no panic; a parsed fragment has ICE credentials of 4 to 256 ice-chars, at most
//! 32 candidates each starting `candidate:`; a new ufrag is a restart and the same one is
//! not; the rewritten offer carries only the new credentials and no old candidate, and
//! never more lines than the offer; a restart answer parses back to its credentials and
//! candidates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use str0m::Candidate;
use str0m::change::SdpOffer;
use streamhard_relay::SdpFrag;
use streamhard_relay::ingest::bench_support::{restart_answer, with_credentials};

const FRAGMENT_END: &[u8] = b"\n--OFFER--\n";
const OFFER: &str = include_str!("../../crates/relay/fixtures/offers/chrome.sdp");

fn ice_chars(value: &str) -> bool {
    (4..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fuzz_target!(|data: &[u8]| {
    let (fragment, offer) = match data
        .windows(FRAGMENT_END.len())
        .position(|w| w == FRAGMENT_END)
    {
        Some(at) => (
            &data[..at],
            String::from_utf8_lossy(&data[at + FRAGMENT_END.len()..]),
        ),
        None => (data, OFFER.into()),
    };
    // The handler refuses bodies that are not UTF-8 before parsing.
    let Ok(text) = std::str::from_utf8(fragment) else {
        return;
    };
    let Ok(frag) = SdpFrag::parse(text) else {
        return;
    };
    assert!(frag.candidates.len() <= 32);
    for candidate in &frag.candidates {
        assert!(candidate.starts_with("candidate:"));
        let _ = Candidate::from_sdp_string(candidate);
    }
    for value in [&frag.ufrag, &frag.pwd].into_iter().flatten() {
        assert!(ice_chars(value), "credential {value:?}");
    }
    if let Some(ufrag) = &frag.ufrag {
        assert!(!frag.is_restart(Some(ufrag)));
        assert!(frag.is_restart(None));
        assert!(frag.is_restart(Some("zzzzOTHER")) == (ufrag != "zzzzOTHER"));
    } else {
        assert!(!frag.is_restart(Some("abcd")));
    }
    let (Some(ufrag), Some(pwd)) = (&frag.ufrag, &frag.pwd) else {
        return;
    };

    let reoffer = with_credentials(&offer, ufrag, pwd);
    assert!(reoffer.lines().count() <= offer.lines().count());
    for line in reoffer.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(value) = line.strip_prefix("a=ice-ufrag:") {
            assert_eq!(value, ufrag);
        }
        if let Some(value) = line.strip_prefix("a=ice-pwd:") {
            assert_eq!(value, pwd);
        }
        assert!(!line.starts_with("a=candidate:"), "an old candidate stayed");
    }
    let _ = SdpOffer::from_sdp_string(&reoffer);

    // Our answer, made here with the publisher's values in place of ours, parses back.
    let answer = restart_answer(ufrag, pwd, "0", &frag.candidates);
    let back = SdpFrag::parse(&answer).expect("a restart answer parses");
    assert_eq!(back.ufrag.as_ref(), Some(ufrag));
    assert_eq!(back.pwd.as_ref(), Some(pwd));
    assert_eq!(back.candidates, frag.candidates);
    assert!(back.end_of_candidates);
});
