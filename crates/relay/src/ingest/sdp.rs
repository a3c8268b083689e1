//! What we check in a WHIP offer before str0m sees it, and what we add to str0m's answer.
//!
//! str0m parses and negotiates; these helpers only give a publisher a precise reason when its
//! offer cannot work for an RTMP relay, and tune the answer so the browser ramps up quickly.

use std::fmt::Write as _;

/// Why an offer cannot be relayed. The message is shown to the publisher (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    #[error("the offer has no video track; the relay needs H.264 video")]
    NoVideo,
    #[error("the offer's video track does not offer H.264; enable H.264 in the encoder")]
    NoH264,
    #[error("the offer's audio track does not offer Opus")]
    NoOpus,
    #[error("the offer has {0} video tracks; send one")]
    TooManyVideo(usize),
    #[error("the offer has {0} audio tracks; send at most one")]
    TooManyAudio(usize),
    #[error("the offer is not valid SDP: {0}")]
    Malformed(String),
}

/// Checks the media sections of an offer: exactly one video section offering H.264 and at
/// most one audio section, which must offer Opus.
pub fn check_offer(sdp: &str) -> Result<(), OfferError> {
    let mut video = Vec::new();
    let mut audio = Vec::new();
    let mut current: Option<(&str, bool, bool)> = None; // (kind, has h264, has opus)
    let flush = |c: Option<(&str, bool, bool)>, v: &mut Vec<bool>, a: &mut Vec<bool>| match c {
        Some(("video", h264, _)) => v.push(h264),
        Some(("audio", _, opus)) => a.push(opus),
        _ => {}
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            flush(current.take(), &mut video, &mut audio);
            let kind = rest.split(' ').next().unwrap_or("");
            // A section with port 0 is rejected/inactive: it does not count.
            let port = rest.split(' ').nth(1).unwrap_or("");
            current = (port != "0").then_some((kind, false, false));
        } else if let (Some(section), Some(rtpmap)) =
            (current.as_mut(), line.strip_prefix("a=rtpmap:"))
        {
            let encoding = rtpmap.split(' ').nth(1).unwrap_or("").to_ascii_lowercase();
            if encoding.starts_with("h264/90000") {
                section.1 = true;
            } else if encoding.starts_with("opus/48000") {
                section.2 = true;
            }
        }
    }
    flush(current, &mut video, &mut audio);
    match (video.as_slice(), audio.as_slice()) {
        ([], _) => Err(OfferError::NoVideo),
        (v, _) if v.len() > 1 => Err(OfferError::TooManyVideo(v.len())),
        (_, a) if a.len() > 1 => Err(OfferError::TooManyAudio(a.len())),
        ([false], _) => Err(OfferError::NoH264),
        (_, [false]) => Err(OfferError::NoOpus),
        _ => Ok(()),
    }
}

/// Adds `x-google-start-bitrate` (kbps) to every H.264 format line of the answer. Chrome
/// otherwise starts its bandwidth estimate at 300 kbps and the first seconds are blurry.
pub fn add_start_bitrate(answer: &str, start_kbps: u32) -> String {
    let h264_pts: Vec<&str> = answer
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter(|l| l.to_ascii_lowercase().contains(" h264/90000"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut out = String::with_capacity(answer.len() + 64 * h264_pts.len());
    for line in answer.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let eol = &line[body.len()..];
        let is_h264_fmtp = body
            .strip_prefix("a=fmtp:")
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|pt| h264_pts.contains(&pt));
        out.push_str(body);
        if is_h264_fmtp && !body.contains("x-google-start-bitrate") {
            // Writing to a String cannot fail.
            let _ = write!(out, ";x-google-start-bitrate={start_kbps}");
        }
        out.push_str(eol);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n";

    #[test]
    fn accepts_a_browser_offer_with_h264_and_opus() {
        assert_eq!(check_offer(CHROME_LIKE), Ok(()));
    }

    #[test]
    fn accepts_video_without_audio() {
        let video_only = CHROME_LIKE.replace("m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n", "");
        assert_eq!(check_offer(&video_only), Ok(()));
    }

    #[test]
    fn refuses_vp8_only_video_and_pcmu_only_audio() {
        let vp8 = CHROME_LIKE.replace("a=rtpmap:102 H264/90000", "a=rtpmap:102 VP9/90000");
        assert_eq!(check_offer(&vp8), Err(OfferError::NoH264));
        let pcmu = CHROME_LIKE.replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 G722/8000");
        assert_eq!(check_offer(&pcmu), Err(OfferError::NoOpus));
    }

    #[test]
    fn refuses_audio_only_and_duplicate_tracks() {
        assert_eq!(
            check_offer("v=0\r\nm=audio 9 RTP 111\r\na=rtpmap:111 opus/48000/2\r\n"),
            Err(OfferError::NoVideo)
        );
        let two =
            format!("{CHROME_LIKE}m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n");
        assert_eq!(check_offer(&two), Err(OfferError::TooManyVideo(2)));
    }

    #[test]
    fn start_bitrate_goes_on_h264_fmtp_lines_only() {
        let answer = "m=audio 9 X 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n\
            m=video 9 X 102\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1\r\n";
        let out = add_start_bitrate(answer, 2500);
        assert!(out.contains("a=fmtp:102 packetization-mode=1;x-google-start-bitrate=2500\r\n"));
        assert!(out.contains("a=fmtp:111 minptime=10\r\n"));
        assert_eq!(
            out.len(),
            answer.len() + ";x-google-start-bitrate=2500".len()
        );
    }
}
