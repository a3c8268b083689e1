//! Annex-B access units → AVCC frames plus sequence-header changes, once per video frame.

use super::config_record::{check_pps, record};
use super::{H264Error, NalType, Sps, nal_units, parse_sps};

/// Converts one stream's access units, remembering its parameter sets.
///
/// Browsers repeat SPS and PPS before every keyframe and may change them mid-stream (resolution
/// or profile switches); a new sequence header is reported only when they change, so the
/// pipeline sends one exactly when players need it. The output buffer is reused across frames:
/// after warm-up, converting a frame allocates nothing.
#[derive(Debug, Default)]
pub struct AvcConverter {
    sps: Vec<u8>,
    pps: Vec<u8>,
    parsed_sps: Option<Sps>,
    /// The parameter sets changed since the last record was reported.
    changed: bool,
    avcc: Vec<u8>,
}

/// One converted access unit; `avcc` borrows the converter's buffer until the next call.
#[derive(Debug, PartialEq)]
pub struct Converted<'a> {
    /// NAL units with 4-byte big-endian length prefixes: SEI and slices, without AUD, SPS, PPS
    /// and filler data. Empty when the access unit held no slice; the caller skips it.
    pub avcc: &'a [u8],
    /// The access unit holds an IDR slice: a player can start decoding here.
    pub keyframe: bool,
    /// A decoder configuration record and its parsed SPS, when the parameter sets are known
    /// and differ from the last ones reported (the first time included). Send it as an AVC
    /// sequence header before `avcc`.
    pub new_config: Option<(Vec<u8>, Sps)>,
}

impl AvcConverter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The most recent SPS, once one has been seen.
    pub fn sps(&self) -> Option<&Sps> {
        self.parsed_sps.as_ref()
    }

    /// Converts one Annex-B access unit.
    ///
    /// A malformed SPS or PPS is an error and leaves the known parameter sets unchanged; the
    /// caller drops the frame and waits for the next keyframe. Only the latest SPS and PPS are
    /// kept: WebRTC encoders use a single parameter set id.
    pub fn convert(&mut self, access_unit: &[u8]) -> Result<Converted<'_>, H264Error> {
        self.avcc.clear();
        let mut keyframe = false;
        let mut has_slice = false;
        for nal in nal_units(access_unit) {
            // nal_units never yields an empty unit.
            let Some(nal_type) = NalType::of(nal) else {
                continue;
            };
            match nal_type {
                NalType::SPS => {
                    if nal != self.sps {
                        self.parsed_sps = Some(parse_sps(nal)?);
                        self.sps.clear();
                        self.sps.extend_from_slice(nal);
                        self.changed = true;
                    }
                }
                NalType::PPS => {
                    if nal != self.pps {
                        check_pps(nal)?;
                        self.pps.clear();
                        self.pps.extend_from_slice(nal);
                        self.changed = true;
                    }
                }
                NalType::AUD | NalType::FILLER => {}
                _ => {
                    has_slice |= nal_type.is_slice();
                    keyframe |= nal_type == NalType::IDR;
                    let len = u32::try_from(nal.len()).map_err(|_| H264Error::TooLarge {
                        what: "NAL unit",
                        len: nal.len(),
                        max: u32::MAX as usize,
                    })?;
                    self.avcc.extend_from_slice(&len.to_be_bytes());
                    self.avcc.extend_from_slice(nal);
                }
            }
        }
        if !has_slice {
            self.avcc.clear();
        }

        let mut new_config = None;
        if self.changed
            && !self.pps.is_empty()
            && let Some(parsed) = &self.parsed_sps
        {
            new_config = Some((record(&self.sps, parsed, &self.pps)?, parsed.clone()));
            self.changed = false;
        }
        Ok(Converted {
            avcc: &self.avcc,
            keyframe,
            new_config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::decoder_configuration_record;
    use crate::h264::sps::tests::{
        PPS_BASELINE_720P, PPS_HIGH_1080P, SPS_BASELINE_720P, SPS_HIGH_1080P,
    };

    const AUD: [u8; 2] = [0x09, 0xF0];
    const SEI: [u8; 3] = [0x06, 0x05, 0x80];
    const IDR: [u8; 4] = [0x65, 0x88, 0x84, 0x21];
    const NON_IDR: [u8; 3] = [0x41, 0x9A, 0x02];

    fn annexb(units: &[&[u8]]) -> Vec<u8> {
        units
            .iter()
            .flat_map(|unit| [&[0, 0, 0, 1][..], unit].concat())
            .collect()
    }

    fn avcc(units: &[&[u8]]) -> Vec<u8> {
        units
            .iter()
            .flat_map(|unit| [&(unit.len() as u32).to_be_bytes()[..], unit].concat())
            .collect()
    }

    #[test]
    fn converts_a_keyframe_and_reports_the_first_configuration() {
        let mut converter = AvcConverter::new();
        let au = annexb(&[&AUD, &SPS_HIGH_1080P, &PPS_HIGH_1080P, &SEI, &IDR]);
        let out = converter.convert(&au).unwrap();
        assert_eq!(out.avcc, avcc(&[&SEI, &IDR]));
        assert!(out.keyframe);
        let (record, sps) = out.new_config.unwrap();
        assert_eq!(
            record,
            decoder_configuration_record(&SPS_HIGH_1080P, &PPS_HIGH_1080P).unwrap()
        );
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(converter.sps().map(|s| s.height), Some(1080));
    }

    #[test]
    fn reports_configuration_again_only_when_parameter_sets_change() {
        let mut converter = AvcConverter::new();
        let keyframe_720 = annexb(&[&SPS_BASELINE_720P, &PPS_BASELINE_720P, &IDR]);
        assert!(
            converter
                .convert(&keyframe_720)
                .unwrap()
                .new_config
                .is_some()
        );
        let repeated = converter.convert(&keyframe_720).unwrap();
        assert!(repeated.new_config.is_none());
        assert!(repeated.keyframe);

        let inter = converter.convert(&annexb(&[&NON_IDR])).unwrap();
        assert_eq!(inter.avcc, avcc(&[&NON_IDR]));
        assert!(!inter.keyframe);
        assert!(inter.new_config.is_none());

        let switched = annexb(&[&SPS_HIGH_1080P, &PPS_HIGH_1080P, &IDR]);
        let (_, sps) = converter.convert(&switched).unwrap().new_config.unwrap();
        assert_eq!(sps.width, 1920);

        // A changed PPS alone is a new configuration too.
        let pps_only = annexb(&[&SPS_HIGH_1080P, &[0x68, 0xEE, 0x3C, 0x80], &IDR]);
        assert!(converter.convert(&pps_only).unwrap().new_config.is_some());
    }

    #[test]
    fn waits_for_both_parameter_sets_before_reporting_a_configuration() {
        let mut converter = AvcConverter::new();
        let out = converter
            .convert(&annexb(&[&SPS_BASELINE_720P, &IDR]))
            .unwrap();
        assert!(out.new_config.is_none());
        let out = converter
            .convert(&annexb(&[&PPS_BASELINE_720P, &NON_IDR]))
            .unwrap();
        let (record, _) = out.new_config.unwrap();
        assert_eq!(
            record,
            decoder_configuration_record(&SPS_BASELINE_720P, &PPS_BASELINE_720P).unwrap()
        );
    }

    #[test]
    fn yields_empty_avcc_for_an_access_unit_without_slices() {
        let mut converter = AvcConverter::new();
        let out = converter
            .convert(&annexb(&[
                &AUD,
                &SPS_BASELINE_720P,
                &PPS_BASELINE_720P,
                &SEI,
            ]))
            .unwrap();
        assert!(out.avcc.is_empty());
        assert!(!out.keyframe);
        assert!(out.new_config.is_some());
    }

    #[test]
    fn keeps_known_parameter_sets_when_a_new_sps_is_malformed() {
        let mut converter = AvcConverter::new();
        converter
            .convert(&annexb(&[&SPS_BASELINE_720P, &PPS_BASELINE_720P, &IDR]))
            .unwrap();
        let broken_sps = [0x67, 0x42];
        assert!(matches!(
            converter.convert(&annexb(&[&broken_sps, &IDR])),
            Err(H264Error::Truncated { .. })
        ));
        assert_eq!(converter.sps().map(|s| s.width), Some(1280));
        let next = converter
            .convert(&annexb(&[&SPS_BASELINE_720P, &PPS_BASELINE_720P, &IDR]))
            .unwrap();
        assert!(next.new_config.is_none());
        assert_eq!(next.avcc, avcc(&[&IDR]));
    }
}
