//! AAC `AudioSpecificConfig` (ISO/IEC 14496-3 1.6.2.1): the body of the FLV/RTMP AAC sequence
//! header, which tells the player the object type, sample rate and channel layout.

use thiserror::Error;

/// Audio object type of AAC-LC, the only profile every platform ingests.
pub const AAC_LC: u8 = 2;

/// Samples per channel in one AAC-LC frame: the step of the audio timeline.
pub const SAMPLES_PER_FRAME: u32 = 1024;

/// Sample rates with a 4-bit index (14496-3 table 1.16); others need the 24-bit escape, which
/// no platform expects, so [`audio_specific_config`] refuses them.
const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AacError {
    #[error("audio object type {0} does not fit the 5-bit field (1 to 30)")]
    ObjectType(u8),
    #[error("sample rate {0} Hz has no AudioSpecificConfig index")]
    SampleRate(u32),
    #[error("channel count {0} has no channel configuration (1 to 6, or 8)")]
    Channels(u8),
    #[error("AudioSpecificConfig is {len} bytes, too short for its fields")]
    Truncated { len: usize },
    #[error("AudioSpecificConfig sampling index {0} is reserved")]
    ReservedSampleRateIndex(u8),
}

/// What an `AudioSpecificConfig` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioConfig {
    pub object_type: u8,
    pub sample_rate: u32,
    /// The channel configuration (14496-3 table 1.19): channels, except 7 means 8 (7.1) and
    /// 0 means "described elsewhere".
    pub channel_configuration: u8,
}

/// The 2-byte config: 5 bits object type, 4 bits sample rate index, 4 bits channel
/// configuration, then three zero flags (1024-sample frames, no core coder, no extension).
///
/// AAC-LC 48 kHz stereo is `[0x11, 0x90]`.
pub fn audio_specific_config(
    object_type: u8,
    sample_rate: u32,
    channels: u8,
) -> Result<[u8; 2], AacError> {
    if !(1..=30).contains(&object_type) {
        return Err(AacError::ObjectType(object_type));
    }
    let rate_index = SAMPLE_RATES
        .iter()
        .position(|&rate| rate == sample_rate)
        .ok_or(AacError::SampleRate(sample_rate))? as u16;
    let channel_configuration = match channels {
        1..=6 => channels,
        8 => 7,
        _ => return Err(AacError::Channels(channels)),
    };
    let bits = (u16::from(object_type) << 11)
        | (rate_index << 7)
        | (u16::from(channel_configuration) << 3);
    Ok(bits.to_be_bytes())
}

/// Reads the leading fields of an `AudioSpecificConfig`, including the escaped object type
/// (32 and above) and explicit 24-bit sample rate, which encoders other than ours may send.
pub fn parse_audio_specific_config(bytes: &[u8]) -> Result<AudioConfig, AacError> {
    let mut bits = Bits { bytes, pos: 0 };
    let truncated = AacError::Truncated { len: bytes.len() };
    let mut object_type = bits.read(5).ok_or(truncated.clone())?;
    if object_type == 31 {
        object_type = 32 + bits.read(6).ok_or(truncated.clone())?;
    }
    let rate_index = bits.read(4).ok_or(truncated.clone())?;
    let sample_rate = match rate_index {
        15 => bits.read(24).ok_or(truncated.clone())?,
        // The read is 4 bits wide, so the index fits a u8.
        index => *SAMPLE_RATES
            .get(index as usize)
            .ok_or(AacError::ReservedSampleRateIndex(index as u8))?,
    };
    let channel_configuration = bits.read(4).ok_or(truncated)?;
    // Both values are at most 6 bits plus 32, and 4 bits.
    Ok(AudioConfig {
        object_type: object_type as u8,
        sample_rate,
        channel_configuration: channel_configuration as u8,
    })
}

struct Bits<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut value = 0;
        for _ in 0..n {
            let byte = self.bytes.get(self.pos / 8)?;
            value = (value << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aac_lc_48khz_stereo_is_0x1190() {
        assert_eq!(audio_specific_config(AAC_LC, 48_000, 2), Ok([0x11, 0x90]));
    }

    #[test]
    fn encodes_other_rates_and_layouts() {
        assert_eq!(audio_specific_config(AAC_LC, 44_100, 2), Ok([0x12, 0x10]));
        assert_eq!(audio_specific_config(AAC_LC, 48_000, 1), Ok([0x11, 0x88]));
        assert_eq!(audio_specific_config(AAC_LC, 48_000, 8), Ok([0x11, 0xB8]));
        assert_eq!(audio_specific_config(5, 24_000, 2), Ok([0x2B, 0x10]));
    }

    #[test]
    fn refuses_values_the_two_byte_form_cannot_hold() {
        assert_eq!(
            audio_specific_config(AAC_LC, 47_999, 2),
            Err(AacError::SampleRate(47_999))
        );
        assert_eq!(
            audio_specific_config(AAC_LC, 48_000, 7),
            Err(AacError::Channels(7))
        );
        assert_eq!(
            audio_specific_config(AAC_LC, 48_000, 0),
            Err(AacError::Channels(0))
        );
        assert_eq!(
            audio_specific_config(31, 48_000, 2),
            Err(AacError::ObjectType(31))
        );
        assert_eq!(
            audio_specific_config(0, 48_000, 2),
            Err(AacError::ObjectType(0))
        );
    }

    #[test]
    fn parses_what_it_builds_for_every_rate() {
        for rate in SAMPLE_RATES {
            let config = audio_specific_config(AAC_LC, rate, 2).unwrap();
            assert_eq!(
                parse_audio_specific_config(&config),
                Ok(AudioConfig {
                    object_type: AAC_LC,
                    sample_rate: rate,
                    channel_configuration: 2
                })
            );
        }
    }

    #[test]
    fn parses_escaped_object_type_and_explicit_sample_rate() {
        // Object type 31 + 6 bits (42 - 32 = 10), index 15, 24-bit 50000 Hz, 2 channels.
        // 11111 001010 1111 000000001100001101010000 0010 -> packed below.
        let bytes = [0xF9, 0x5E, 0x01, 0x86, 0xA0, 0x40];
        assert_eq!(
            parse_audio_specific_config(&bytes),
            Ok(AudioConfig {
                object_type: 42,
                sample_rate: 50_000,
                channel_configuration: 2
            })
        );
    }

    #[test]
    fn refuses_short_or_reserved_configs() {
        assert_eq!(
            parse_audio_specific_config(&[0x11]),
            Err(AacError::Truncated { len: 1 })
        );
        assert_eq!(
            parse_audio_specific_config(&[]),
            Err(AacError::Truncated { len: 0 })
        );
        // Index 13 is reserved.
        assert_eq!(
            parse_audio_specific_config(&[0x16, 0x90]),
            Err(AacError::ReservedSampleRateIndex(13))
        );
    }
}
