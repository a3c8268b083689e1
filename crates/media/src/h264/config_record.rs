//! `AVCDecoderConfigurationRecord` (ISO/IEC 14496-15 5.3.3.1): the body of the FLV/RTMP AVC
//! sequence header, telling the player how to decode the length-prefixed frames that follow.

use super::{H264Error, MAX_PARAMETER_SET_LEN, NalType, Sps, parse_sps};

/// Profiles for which the record carries chroma format and bit depths (14496-15 5.3.3.1.2).
const PROFILES_WITH_EXTENSION: [u8; 4] = [100, 110, 122, 144];

/// Builds the record for one SPS and one PPS (NAL units with their header bytes), with 4-byte
/// NAL lengths as [`super::AvcConverter`] writes them.
pub fn decoder_configuration_record(sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, H264Error> {
    let parsed = parse_sps(sps)?;
    record(sps, &parsed, pps)
}

/// The record for an SPS already parsed into `parsed`.
pub(crate) fn record(sps: &[u8], parsed: &Sps, pps: &[u8]) -> Result<Vec<u8>, H264Error> {
    check_pps(pps)?;
    // Both lengths are at most MAX_PARAMETER_SET_LEN (parse_sps and check_pps enforce it),
    // well within the record's 16-bit length fields.
    let (sps_len, pps_len) = (sps.len() as u16, pps.len() as u16);

    let mut out = Vec::with_capacity(11 + sps.len() + pps.len() + 4);
    out.extend_from_slice(&[
        1, // configurationVersion
        parsed.profile_idc,
        parsed.constraint_flags, // profile_compatibility
        parsed.level_idc,
        0xFC | 3, // reserved bits, lengthSizeMinusOne = 3
        0xE0 | 1, // reserved bits, one SPS
    ]);
    out.extend_from_slice(&sps_len.to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1); // one PPS
    out.extend_from_slice(&pps_len.to_be_bytes());
    out.extend_from_slice(pps);
    if PROFILES_WITH_EXTENSION.contains(&parsed.profile_idc) {
        // Bit depths are 8..=14 (parse_sps bounds them), so the subtractions cannot underflow.
        out.extend_from_slice(&[
            0xFC | parsed.chroma_format_idc,
            0xF8 | (parsed.bit_depth_luma - 8),
            0xF8 | (parsed.bit_depth_chroma - 8),
            0, // numOfSequenceParameterSetExt
        ]);
    }
    Ok(out)
}

/// A PPS is forwarded as is; only its type and size are checked.
pub(crate) fn check_pps(pps: &[u8]) -> Result<(), H264Error> {
    let nal_type = NalType::of(pps).ok_or(H264Error::Empty { what: "PPS" })?;
    if nal_type != NalType::PPS {
        return Err(H264Error::WrongNalType {
            expected: NalType::PPS.0,
            found: nal_type.0,
        });
    }
    if pps.len() > MAX_PARAMETER_SET_LEN {
        return Err(H264Error::TooLarge {
            what: "PPS",
            len: pps.len(),
            max: MAX_PARAMETER_SET_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::sps::tests::{
        PPS_BASELINE_720P, PPS_HIGH_1080P, SPS_BASELINE_720P, SPS_HIGH_1080P,
    };

    #[test]
    fn builds_baseline_record_without_high_profile_extension() {
        let record = decoder_configuration_record(&SPS_BASELINE_720P, &PPS_BASELINE_720P).unwrap();
        let mut expected = vec![0x01, 0x42, 0xC0, 0x1F, 0xFF, 0xE1, 0x00, 25];
        expected.extend_from_slice(&SPS_BASELINE_720P);
        expected.extend_from_slice(&[0x01, 0x00, 5]);
        expected.extend_from_slice(&PPS_BASELINE_720P);
        assert_eq!(record, expected);
    }

    #[test]
    fn appends_chroma_and_bit_depth_for_high_profile() {
        let record = decoder_configuration_record(&SPS_HIGH_1080P, &PPS_HIGH_1080P).unwrap();
        assert_eq!(
            &record[..8],
            &[0x01, 0x64, 0x00, 0x28, 0xFF, 0xE1, 0x00, 27]
        );
        assert_eq!(&record[8..35], &SPS_HIGH_1080P);
        assert_eq!(&record[35..38], &[0x01, 0x00, 6]);
        assert_eq!(&record[38..44], &PPS_HIGH_1080P);
        assert_eq!(&record[44..], &[0xFD, 0xF8, 0xF8, 0x00]);
    }

    #[test]
    fn refuses_swapped_or_missing_parameter_sets() {
        assert_eq!(
            decoder_configuration_record(&PPS_HIGH_1080P, &SPS_HIGH_1080P),
            Err(H264Error::WrongNalType {
                expected: 7,
                found: 8
            })
        );
        assert_eq!(
            decoder_configuration_record(&SPS_HIGH_1080P, &SPS_HIGH_1080P),
            Err(H264Error::WrongNalType {
                expected: 8,
                found: 7
            })
        );
        assert_eq!(
            decoder_configuration_record(&SPS_HIGH_1080P, &[]),
            Err(H264Error::Empty { what: "PPS" })
        );
    }
}
