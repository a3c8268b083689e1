//! Offer reading and negotiation checks, on offers shaped like each publisher's (the
//! recorded ones under `fixtures/offers/` are posted end to end by the web tests).

use super::*;

/// A max-bundle offer: audio first with a transport, video `port 0` + `a=bundle-only` when
/// `bundle_only` (Firefox), with the given video formats as (pt, codec, fmtp).
fn offer(bundle_only: bool, video: &[(u8, &str, &str)]) -> String {
    let pts: Vec<String> = video.iter().map(|(pt, _, _)| pt.to_string()).collect();
    let mut sdp = String::from(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
         a=fingerprint:sha-256 B9:17:1A:20:6E:C1:6A:04:B2:67:D1:60:2B:2E:55:D8:C5:44:60:CA:8B:1E:6E:2D:46:C4:8F:1C:4B:59:51:E6\r\n\
         a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 109\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=mid:0\r\n\
         a=rtcp-mux\r\na=setup:actpass\r\na=rtpmap:109 opus/48000/2\r\n\
         a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n",
    );
    let port = if bundle_only { 0 } else { 9 };
    sdp.push_str(&format!(
        "m=video {port} UDP/TLS/RTP/SAVPF {}\r\nc=IN IP4 0.0.0.0\r\n",
        pts.join(" ")
    ));
    if bundle_only {
        sdp.push_str("a=bundle-only\r\n");
    }
    sdp.push_str("a=sendonly\r\na=mid:1\r\na=rtcp-mux\r\na=setup:actpass\r\n");
    for (pt, codec, fmtp) in video {
        sdp.push_str(&format!("a=rtpmap:{pt} {codec}/90000\r\n"));
        if !fmtp.is_empty() {
            sdp.push_str(&format!("a=fmtp:{pt} {fmtp}\r\n"));
        }
        sdp.push_str(&format!("a=rtcp-fb:{pt} nack pli\r\n"));
    }
    sdp
}

fn plan_of(sdp: &str) -> OfferPlan {
    OfferPlan::read(&SdpOffer::from_sdp_string(sdp).expect("valid SDP"), sdp)
}

fn profiles(plan: &OfferPlan) -> Vec<(u8, u32, bool)> {
    plan.h264
        .iter()
        .map(|f| (*f.pt, f.profile_level_id, f.packetization_mode_1))
        .collect()
}

#[test]
fn every_playable_h264_profile_is_taken_at_its_own_level_and_payload_type() {
    let sdp = offer(
        false,
        &[
            (
                97,
                "H264",
                "profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1",
            ),
            (98, "H264", "profile-level-id=42001f;packetization-mode=1"),
            (99, "H264", "profile-level-id=4d0032;packetization-mode=1"),
            (100, "H264", "profile-level-id=640c1f;packetization-mode=1"),
            (101, "H264", "profile-level-id=640034;packetization-mode=1"),
            (102, "H264", "profile-level-id=42e00b"),
        ],
    );
    let plan = plan_of(&sdp);
    assert_eq!(
        profiles(&plan),
        [
            (97, 0x42e01f, true),
            (98, 0x42001f, true),
            (99, 0x4d0032, true),
            (100, 0x640c1f, true),
            (101, 0x640034, true),
            // Packetization-mode 0 (absent means 0) comes last.
            (102, 0x42e00b, false),
        ]
    );
    assert!(plan.unplayable_profiles.is_empty());
}

#[test]
fn profiles_platforms_cannot_play_are_named_in_the_refusal() {
    let sdp = offer(
        false,
        &[
            (97, "H264", "profile-level-id=6e001f;packetization-mode=1"),
            (98, "H264", "profile-level-id=f4001f;packetization-mode=1"),
        ],
    );
    let plan = plan_of(&sdp);
    assert!(plan.h264.is_empty());
    let err = check_negotiated(&plan, &[]).unwrap_err();
    assert_eq!(err.reason(), "unsupported_h264_profile");
    let message = err.to_string();
    assert!(message.contains("high 10 (6e001f)"), "{message}");
    assert!(message.contains("high 4:4:4 (f4001f)"), "{message}");
}

#[test]
fn a_vp8_only_offer_says_how_to_enable_h264_in_firefox() {
    let sdp = offer(
        true,
        &[(120, "VP8", "max-fs=12288;max-fr=60"), (121, "VP9", "")],
    );
    let plan = plan_of(&sdp);
    assert_eq!(plan.other_video, ["VP8", "VP9"]);
    let err = check_negotiated(&plan, &[]).unwrap_err();
    assert_eq!(err.reason(), "no_h264");
    let message = err.to_string();
    assert!(message.contains("it offers VP8, VP9"), "{message}");
    assert!(message.contains("OpenH264"), "{message}");
}

#[test]
fn sprop_parameter_sets_are_decoded_per_payload_type() {
    // SPS and PPS of a 1280x720 baseline stream, as GStreamer's rtph264pay signals them.
    let sdp = offer(
        false,
        &[(
            96,
            "H264",
            "packetization-mode=1;profile-level-id=42c01f;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4PyA==",
        )],
    );
    let plan = plan_of(&sdp);
    let sets = plan.sprop_for(96.into()).expect("sprop");
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0][0] & 0x1f, 7, "an SPS first");
    assert_eq!(sets[1][0] & 0x1f, 8, "then a PPS");
    assert!(plan.sprop_for(97.into()).is_none());
}

#[test]
fn broken_sprop_values_are_ignored_not_fatal() {
    let sdp = offer(
        false,
        &[(
            96,
            "H264",
            "packetization-mode=1;profile-level-id=42e01f;sprop-parameter-sets=!!!,",
        )],
    );
    assert!(plan_of(&sdp).sprop_for(96.into()).is_none());
}

fn media(mid: &str, kind: MediaKind, direction: Direction, pts: &[u8]) -> NegotiatedMedia {
    NegotiatedMedia {
        mid: mid.into(),
        kind,
        direction,
        pts: pts.iter().map(|p| (*p).into()).collect(),
    }
}

#[test]
fn one_sent_h264_video_and_one_opus_audio_pass() {
    let plan = OfferPlan::default();
    let ok = [
        media("0", MediaKind::Audio, Direction::RecvOnly, &[111]),
        media("1", MediaKind::Video, Direction::RecvOnly, &[102]),
    ];
    assert_eq!(check_negotiated(&plan, &ok), Ok(Mid::from("1")));
    // Video alone is fine: the pipeline makes silent AAC.
    assert_eq!(check_negotiated(&plan, &ok[1..]), Ok(Mid::from("1")));
}

#[test]
fn negotiation_outcomes_that_cannot_be_relayed_get_their_own_reason() {
    let plan = OfferPlan::default();
    let video = media("1", MediaKind::Video, Direction::RecvOnly, &[102]);
    let cases: Vec<(Vec<NegotiatedMedia>, &str)> = vec![
        (vec![], "no_video"),
        (
            vec![media("0", MediaKind::Audio, Direction::RecvOnly, &[111])],
            "no_video",
        ),
        (
            vec![
                video.clone(),
                media("2", MediaKind::Video, Direction::RecvOnly, &[102]),
            ],
            "too_many_video_tracks",
        ),
        (
            vec![
                video.clone(),
                media("0", MediaKind::Audio, Direction::RecvOnly, &[111]),
                media("2", MediaKind::Audio, Direction::RecvOnly, &[111]),
            ],
            "too_many_audio_tracks",
        ),
        (
            vec![media("1", MediaKind::Video, Direction::SendOnly, &[102])],
            "video_not_sent",
        ),
        (
            vec![media("1", MediaKind::Video, Direction::Inactive, &[102])],
            "video_not_sent",
        ),
        (
            vec![
                video.clone(),
                media("0", MediaKind::Audio, Direction::RecvOnly, &[]),
            ],
            "no_opus",
        ),
        (
            vec![media("1", MediaKind::Video, Direction::RecvOnly, &[])],
            "no_h264",
        ),
    ];
    for (negotiated, reason) in cases {
        let err = check_negotiated(&plan, &negotiated).unwrap_err();
        assert_eq!(err.reason(), reason, "{negotiated:?}");
        assert!(OfferError::REASONS.contains(&err.reason()));
    }
}

#[test]
fn start_bitrate_goes_on_the_negotiated_h264_fmtp_lines_only() {
    let answer = "m=audio 9 X 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n\
        m=video 9 X 102\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 packetization-mode=1\r\n";
    let out = add_start_bitrate(answer, &[102.into()], 2500);
    assert!(out.contains("a=fmtp:102 packetization-mode=1;x-google-start-bitrate=2500\r\n"));
    assert!(out.contains("a=fmtp:111 minptime=10\r\n"));
    assert_eq!(
        out.len(),
        answer.len() + ";x-google-start-bitrate=2500".len()
    );
}
