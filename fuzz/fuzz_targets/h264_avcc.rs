//! H.264 from a publisher: Annex-B access units → AVCC with the converter the pipeline uses,
//! SPS parsing, decoder configuration records, and the FLV tags made from them (written as
//! an FLV file would be and classified as a receiving server does).
//!
//! Input: access units separated by `AU_SEPARATOR` (several, so parameter-set changes and
//! their memory across frames are exercised).
//!
//! Invariants: no panic; the AVCC is exactly the access unit's NAL units minus SPS, PPS, AUD
//! and filler, each with its length, or empty when there is no slice; `keyframe` iff an IDR
//! slice; a new record is reported only when the parameter sets changed, starts with
//! version 1 and the SPS's profile, and parses back; a parsed SPS has a picture within
//! `MAX_DIMENSION` and a finite, positive frame rate if any; FLV tags carry the right role.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamhard_fuzz::split_on;
use streamhard_media::flv::{self, FlvTime, Role, TagKind};
use streamhard_media::h264::{
    AvcConverter, MAX_DIMENSION, NalType, Sps, decoder_configuration_record, nal_units, parse_sps,
};
use streamhard_rtmp::server::role_of;

const AU_SEPARATOR: &[u8] = b"\xFF\xFF--AU--";

fn check_sps(sps: &Sps) {
    assert!(
        sps.width >= 1 && sps.width <= MAX_DIMENSION,
        "width {}",
        sps.width
    );
    assert!(
        sps.height >= 1 && sps.height <= MAX_DIMENSION,
        "height {}",
        sps.height
    );
    assert!(sps.chroma_format_idc <= 3);
    assert!((8..=14).contains(&sps.bit_depth_luma));
    assert!((8..=14).contains(&sps.bit_depth_chroma));
    if let Some(fps) = sps.fps {
        assert!(fps.is_finite() && fps > 0.0, "fps {fps}");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut converter = AvcConverter::new();
    let mut last_sps: Option<Vec<u8>> = None;
    let mut last_pps: Option<Vec<u8>> = None;
    for (i, au) in split_on(data, AU_SEPARATOR).enumerate() {
        let mut expected = Vec::new();
        let mut has_slice = false;
        let mut idr = false;
        let (mut sps_seen, mut pps_seen) = (None, None);
        for nal in nal_units(au) {
            assert!(!nal.is_empty(), "nal_units yields no empty unit");
            let kind = NalType::of(nal).unwrap();
            match kind {
                NalType::SPS => {
                    if let Ok(sps) = parse_sps(nal) {
                        check_sps(&sps);
                    }
                    sps_seen = Some(nal.to_vec());
                }
                NalType::PPS => pps_seen = Some(nal.to_vec()),
                NalType::AUD | NalType::FILLER => {}
                _ => {
                    has_slice |= kind.is_slice();
                    idr |= kind == NalType::IDR;
                    expected.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    expected.extend_from_slice(nal);
                }
            }
        }
        let had_sps = converter.sps().is_some();
        let Ok(converted) = converter.convert(au) else {
            // A bad SPS or PPS: the frame is dropped, the known sets are unchanged.
            continue;
        };
        if !has_slice {
            expected.clear();
        }
        assert_eq!(converted.avcc, &expected[..], "AVCC of access unit {i}");
        assert_eq!(converted.keyframe, idr);
        let changed = sps_seen
            .as_ref()
            .is_some_and(|s| Some(s) != last_sps.as_ref())
            || pps_seen
                .as_ref()
                .is_some_and(|p| Some(p) != last_pps.as_ref());
        if let Some((record, sps)) = &converted.new_config {
            check_sps(sps);
            assert_eq!(record[0], 1);
            assert_eq!(record[1], sps.profile_idc);
            let header = flv::avc_sequence_header(FlvTime::from_ms(0), record);
            assert_eq!(role_of(TagKind::Video, &header.body), Role::Header);
        } else if changed
            && (had_sps || sps_seen.is_some())
            && (pps_seen.is_some() || last_pps.is_some())
        {
            panic!("parameter sets changed without a new record");
        }
        let avcc = converted.avcc.to_vec();
        let keyframe = converted.keyframe;
        if sps_seen.is_some() {
            last_sps = sps_seen;
        }
        if pps_seen.is_some() {
            last_pps = pps_seen;
        }
        if let (Some(sps), Some(pps)) = (&last_sps, &last_pps) {
            assert!(
                decoder_configuration_record(sps, pps).is_ok(),
                "the converter's sets make a record"
            );
        }
        if avcc.is_empty() {
            continue;
        }
        let tag = flv::avc_frame(FlvTime::from_ms(i as u32 * 33), keyframe, 0, &avcc);
        let want = if keyframe {
            Role::Keyframe
        } else {
            Role::Inter
        };
        assert_eq!(tag.role, want);
        assert_eq!(role_of(TagKind::Video, &tag.body), want);
        let mut file = Vec::new();
        if flv::write_tag(&tag, &mut file).is_ok() {
            assert_eq!(file.len(), 11 + tag.body.len() + 4);
        }
    }
});
