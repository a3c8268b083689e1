//! The SDP offer a browser-like publisher makes: one sendonly H.264 video track (constrained
//! baseline, packetization-mode 1, the only mode our relay and every browser use), and
//! optionally one sendonly Opus track. Nothing else is offered, so a server cannot pick a
//! codec the test media is not in.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::{Candidate, Rtc, RtcConfig};

use crate::error::WhipError;

/// Payload types as Chrome numbers them; any dynamic value would do.
const H264_PT: u8 = 102;
const H264_RTX_PT: u8 = 103;
/// profile-level-id 42e01f: constrained baseline, level 3.1 (what the fixtures are encoded as).
const H264_PROFILE_LEVEL_ID: u32 = 0x42e01f;

/// A configured `Rtc` with an offer made and waiting for its answer.
pub(crate) struct Offer {
    pub rtc: Rtc,
    pub sdp: SdpOffer,
    pub pending: SdpPendingOffer,
    pub video: Mid,
    pub audio: Option<Mid>,
}

/// Builds the `Rtc` and its offer; `local` is the UDP address announced as the one host
/// candidate.
pub(crate) fn make_offer(
    local: SocketAddr,
    with_audio: bool,
    now: Instant,
) -> Result<Offer, WhipError> {
    let mut config = RtcConfig::new().clear_codecs();
    config.codec_config().add_h264(
        H264_PT.into(),
        Some(H264_RTX_PT.into()),
        true,
        H264_PROFILE_LEVEL_ID,
    );
    if with_audio {
        config = config.enable_opus(true, false);
    }
    let mut rtc = config.build(now);
    let candidate = Candidate::host(local, "udp").map_err(|e| WhipError::Rtc(e.into()))?;
    rtc.add_local_candidate(candidate);
    let mut changes = rtc.sdp_api();
    let stream = Some("streamhard".to_owned());
    let video = changes.add_media(
        MediaKind::Video,
        Direction::SendOnly,
        stream.clone(),
        Some("video".to_owned()),
        None,
    );
    let audio = with_audio.then(|| {
        changes.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            stream,
            Some("audio".to_owned()),
            None,
        )
    });
    // `apply` returns None only when nothing changed; we just added media.
    let (sdp, pending) = changes
        .apply()
        .ok_or(WhipError::Rejected("an offer with no changes"))?;
    Ok(Offer {
        rtc,
        sdp,
        pending,
        video,
        audio,
    })
}

/// The payload type negotiated for `codec` on `mid`, if the answer accepted it.
pub(crate) fn negotiated_pt(rtc: &mut Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    let writer = rtc.writer(mid)?;
    writer
        .payload_params()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer_sdp(with_audio: bool) -> String {
        let local = "127.0.0.1:40000".parse().expect("a literal socket address");
        let offer = make_offer(local, with_audio, Instant::now()).expect("an offer");
        offer.sdp.to_sdp_string()
    }

    /// The lines of the m-section of `kind` ("video" or "audio").
    fn section<'a>(sdp: &'a str, kind: &str) -> Vec<&'a str> {
        sdp.split("\r\nm=")
            .find(|s| s.starts_with(kind))
            .map(|s| s.split("\r\n").collect())
            .unwrap_or_default()
    }

    #[test]
    fn offer_sends_only_h264_in_packetization_mode_1_on_the_video_track() {
        let sdp = offer_sdp(true);
        let video = section(&sdp, "video");
        assert!(video.contains(&"a=sendonly"), "{sdp}");
        let rtpmaps: Vec<&&str> = video
            .iter()
            .filter(|l| l.starts_with("a=rtpmap:"))
            .collect();
        assert_eq!(
            rtpmaps,
            [&"a=rtpmap:102 H264/90000", &"a=rtpmap:103 rtx/90000"],
            "{sdp}"
        );
        let fmtp = video
            .iter()
            .find(|l| l.starts_with("a=fmtp:102 "))
            .expect("an fmtp line for H.264");
        assert!(fmtp.contains("packetization-mode=1"), "{fmtp}");
        assert!(fmtp.contains("profile-level-id=42e01f"), "{fmtp}");
        // The server must be able to ask for keyframes.
        assert!(video.contains(&"a=rtcp-fb:102 nack pli"), "{sdp}");
    }

    #[test]
    fn offer_sends_only_opus_on_the_audio_track() {
        let sdp = offer_sdp(true);
        let audio = section(&sdp, "audio");
        assert!(audio.contains(&"a=sendonly"), "{sdp}");
        let rtpmaps: Vec<&&str> = audio
            .iter()
            .filter(|l| l.starts_with("a=rtpmap:"))
            .collect();
        assert_eq!(rtpmaps, [&"a=rtpmap:111 opus/48000/2"], "{sdp}");
    }

    #[test]
    fn offer_without_audio_has_a_single_video_section() {
        let sdp = offer_sdp(false);
        assert_eq!(sdp.matches("\r\nm=").count(), 1, "{sdp}");
        assert!(sdp.contains("\r\nm=video "), "{sdp}");
        assert!(!sdp.contains("opus"), "{sdp}");
    }

    #[test]
    fn offer_announces_the_socket_as_a_host_candidate() {
        let sdp = offer_sdp(true);
        let candidates: Vec<&str> = sdp
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        assert!(!candidates.is_empty(), "{sdp}");
        assert!(
            candidates
                .iter()
                .all(|c| c.contains(" 127.0.0.1 40000 typ host")),
            "{candidates:?}"
        );
    }
}
