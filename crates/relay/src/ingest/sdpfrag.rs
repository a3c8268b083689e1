//! WHIP `PATCH` bodies (RFC 9725 §4.3, RFC 8840 `application/trickle-ice-sdpfrag`): trickled
//! candidates, or an ICE restart (new `ice-ufrag`/`ice-pwd`), and the fragment we answer a
//! restart with. Pure: text in, values out.
//!
//! The server is ICE-lite, so it never needs the publisher's candidates (it answers the checks
//! the publisher sends, from whatever address they come); trickled candidates are still
//! handed to str0m, and acknowledged as the RFC asks. A restart is what matters: a browser
//! whose network changed restarts ICE on the same session, and the broadcast's destinations
//! never notice.

use std::net::SocketAddr;

/// Largest fragment accepted: a few candidates are well under 2 KiB.
pub const MAX_SDPFRAG_BYTES: usize = 16 * 1024;
/// Most candidates one fragment may carry.
const MAX_CANDIDATES: usize = 32;

/// A parsed PATCH body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdpFrag {
    pub ufrag: Option<String>,
    pub pwd: Option<String>,
    /// `candidate:…` attribute values, as str0m parses them.
    pub candidates: Vec<String>,
    pub end_of_candidates: bool,
}

/// The `If-Match` header of a PATCH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `If-Match: *` (an ICE restart must carry it).
    Any,
    /// An entity tag, quotes included as sent.
    Tag(String),
}

/// What a PATCH did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchOutcome {
    /// Candidates were added (204).
    Trickled,
    /// ICE restarted (200 with this fragment and the new entity tag).
    Restarted { fragment: String, etag: String },
}

/// Why a PATCH was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("the fragment is not a trickle-ice-sdpfrag: {0}")]
    Malformed(String),
    #[error("an ICE restart needs both a=ice-ufrag and a=ice-pwd")]
    IncompleteRestart,
    #[error("an ICE restart must be sent with If-Match: *")]
    RestartWithoutWildcard,
    #[error("the ICE session changed since that entity tag; use the ETag of the last answer")]
    Stale,
    #[error("the session ended")]
    Gone,
}

impl SdpFrag {
    /// Parses a fragment. Only the attributes RFC 8840 defines for it matter; anything else
    /// (m=, a=mid, a=group) is allowed and ignored.
    pub fn parse(text: &str) -> Result<Self, PatchError> {
        if text.len() > MAX_SDPFRAG_BYTES {
            return Err(PatchError::Malformed(format!(
                "larger than {MAX_SDPFRAG_BYTES} bytes"
            )));
        }
        let mut frag = SdpFrag::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((kind, value)) = line.split_once('=') else {
                return Err(PatchError::Malformed(format!(
                    "`{}` is not an SDP line",
                    shorten(line)
                )));
            };
            if kind.len() != 1 {
                return Err(PatchError::Malformed(format!(
                    "`{}` is not an SDP line",
                    shorten(line)
                )));
            }
            if kind != "a" {
                continue;
            }
            let (name, attr) = value.split_once(':').unwrap_or((value, ""));
            match name {
                "ice-ufrag" => frag.ufrag = Some(ice_chars(attr, "ice-ufrag")?),
                "ice-pwd" => frag.pwd = Some(ice_chars(attr, "ice-pwd")?),
                "candidate" => {
                    if frag.candidates.len() == MAX_CANDIDATES {
                        return Err(PatchError::Malformed(format!(
                            "more than {MAX_CANDIDATES} candidates"
                        )));
                    }
                    frag.candidates.push(format!("candidate:{attr}"));
                }
                "end-of-candidates" => frag.end_of_candidates = true,
                _ => {}
            }
        }
        Ok(frag)
    }

    /// Whether this fragment restarts ICE on a session whose remote ufrag is `current`.
    pub fn is_restart(&self, current_remote_ufrag: Option<&str>) -> bool {
        match (&self.ufrag, current_remote_ufrag) {
            (Some(new), Some(current)) => new != current,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// RFC 8839: ice-char = ALPHA / DIGIT / "+" / "/", 4–256 characters.
fn ice_chars(value: &str, what: &str) -> Result<String, PatchError> {
    let ok = (4..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(PatchError::Malformed(format!(
            "a={what} is not a valid ICE credential"
        )))
    }
}

fn shorten(line: &str) -> String {
    line.chars().take(40).collect()
}

/// The fragment answering an ICE restart: our new credentials and every candidate, once for
/// the first media section of the BUNDLE group (RFC 9725 §4.3.2).
pub fn restart_answer(ufrag: &str, pwd: &str, first_mid: &str, candidates: &[String]) -> String {
    let mut out = format!(
        "a=ice-lite\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:{first_mid}\r\n"
    );
    for c in candidates {
        out.push_str("a=");
        out.push_str(c.trim_start_matches("a="));
        out.push_str("\r\n");
    }
    out.push_str("a=end-of-candidates\r\n");
    out
}

/// Replaces the ICE credentials of an SDP offer (every `a=ice-ufrag`/`a=ice-pwd` line), so the
/// publisher's original offer can be renegotiated with str0m as the restart it describes.
pub fn with_credentials(offer: &str, ufrag: &str, pwd: &str) -> String {
    let mut out = String::with_capacity(offer.len() + 64);
    for line in offer.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let eol = &line[body.len()..];
        if body.starts_with("a=ice-ufrag:") {
            out.push_str("a=ice-ufrag:");
            out.push_str(ufrag);
        } else if body.starts_with("a=ice-pwd:") {
            out.push_str("a=ice-pwd:");
            out.push_str(pwd);
        } else if body.starts_with("a=candidate:") || body == "a=end-of-candidates" {
            // The old candidates belong to the old ICE session.
            continue;
        } else {
            out.push_str(body);
        }
        out.push_str(eol);
    }
    out
}

/// The candidate lines we advertise, for a restart answer.
pub fn candidate_lines(candidates: &[SocketAddr]) -> Vec<String> {
    candidates
        .iter()
        .filter_map(|addr| str0m::Candidate::host(*addr, "udp").ok())
        .map(|c| c.to_sdp_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9725 §4.3.1's trickle example, and §4.3.2's restart example.
    const TRICKLE: &str = "a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
        a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
        a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn a_trickle_fragment_yields_its_candidates_and_credentials() {
        let frag = SdpFrag::parse(TRICKLE).unwrap();
        assert_eq!(frag.ufrag.as_deref(), Some("EsAw"));
        assert_eq!(frag.pwd.as_deref(), Some("P2uYro0UCOQ4zxjKXaWCBui1"));
        assert_eq!(frag.candidates.len(), 2);
        assert!(frag.candidates[0].starts_with("candidate:1387637174 1 udp"));
        assert!(frag.end_of_candidates);
        for c in &frag.candidates {
            str0m::Candidate::from_sdp_string(c).expect("str0m reads it");
        }
    }

    #[test]
    fn the_same_ufrag_is_trickle_and_a_new_one_is_a_restart() {
        let frag = SdpFrag::parse(TRICKLE).unwrap();
        assert!(!frag.is_restart(Some("EsAw")));
        assert!(frag.is_restart(Some("old1")));
        let bare = SdpFrag::parse("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n").unwrap();
        assert!(!bare.is_restart(Some("EsAw")));
    }

    #[test]
    fn hostile_fragments_are_refused_with_a_reason() {
        assert!(matches!(
            SdpFrag::parse("not sdp"),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            SdpFrag::parse("a=ice-ufrag:a\r\n"),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            SdpFrag::parse("a=ice-pwd:has spaces in it\r\n"),
            Err(PatchError::Malformed(_))
        ));
        let many = "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n".repeat(33);
        assert!(matches!(
            SdpFrag::parse(&many),
            Err(PatchError::Malformed(_))
        ));
        let huge = "a=x\r\n".repeat(MAX_SDPFRAG_BYTES);
        assert!(matches!(
            SdpFrag::parse(&huge),
            Err(PatchError::Malformed(_))
        ));
    }

    #[test]
    fn a_restart_answer_names_the_new_credentials_and_every_candidate() {
        let lines = candidate_lines(&[
            "192.0.2.2:8189".parse().unwrap(),
            "[::1]:8189".parse().unwrap(),
        ]);
        let answer = restart_answer("u1u1", "p".repeat(24).as_str(), "0", &lines);
        assert!(answer.starts_with("a=ice-lite\r\na=ice-ufrag:u1u1\r\n"));
        assert!(answer.contains("a=mid:0\r\n"));
        assert_eq!(answer.matches("a=candidate:").count(), 2);
        assert!(answer.contains(" 192.0.2.2 8189 typ host"), "{answer}");
        assert!(answer.ends_with("a=end-of-candidates\r\n"));
        // A client reads it back as a fragment.
        let back = SdpFrag::parse(&answer).unwrap();
        assert_eq!(back.ufrag.as_deref(), Some("u1u1"));
        assert_eq!(back.candidates.len(), 2);
    }

    #[test]
    fn renegotiating_a_restart_replaces_credentials_and_drops_old_candidates() {
        let offer = "v=0\r\na=ice-ufrag:old1\r\na=ice-pwd:oldpasswordoldpassword\r\n\
            m=audio 9 X 111\r\na=ice-ufrag:old1\r\na=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n\
            a=end-of-candidates\r\n";
        let new = with_credentials(offer, "new1", "newpasswordnewpassword");
        assert!(!new.contains("old"));
        assert_eq!(new.matches("a=ice-ufrag:new1\r\n").count(), 2);
        assert!(!new.contains("a=candidate"));
        assert!(new.contains("m=audio 9 X 111\r\n"));
    }
}
