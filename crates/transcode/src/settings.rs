//! What the caller may choose about the AAC output.
//!
//! Only the bitrate: every platform we relay to accepts AAC-LC 48 kHz stereo, and fixing the rest
//! keeps the sequence header identical for every destination.

use crate::TranscodeError;

/// Settings of the AAC-LC encoder. The output is always AAC-LC, 48 kHz, stereo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AacSettings {
    /// Constant bitrate in bits per second. 128 kb/s is what Twitch and YouTube recommend.
    pub bitrate: u32,
}

impl AacSettings {
    /// Below this, AAC-LC stereo at 48 kHz sounds broken (FDK would cut the bandwidth hard).
    pub const MIN_BITRATE: u32 = 32_000;
    /// Above this, ingest servers reject or re-encode; 320 kb/s is the common platform ceiling.
    pub const MAX_BITRATE: u32 = 320_000;

    pub(crate) fn validate(&self) -> Result<(), TranscodeError> {
        if (Self::MIN_BITRATE..=Self::MAX_BITRATE).contains(&self.bitrate) {
            Ok(())
        } else {
            Err(TranscodeError::BitrateOutOfRange {
                bitrate: self.bitrate,
                min: Self::MIN_BITRATE,
                max: Self::MAX_BITRATE,
            })
        }
    }
}

impl Default for AacSettings {
    fn default() -> Self {
        Self { bitrate: 128_000 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_128_kbps() {
        assert_eq!(AacSettings::default().bitrate, 128_000);
        assert!(AacSettings::default().validate().is_ok());
    }

    #[test]
    fn rejects_bitrates_outside_the_supported_range() {
        for bitrate in [0, 31_999, 320_001, u32::MAX] {
            let err = AacSettings { bitrate }.validate().unwrap_err();
            assert!(
                matches!(err, TranscodeError::BitrateOutOfRange { bitrate: b, .. } if b == bitrate)
            );
        }
        for bitrate in [32_000, 96_000, 320_000] {
            assert!(AacSettings { bitrate }.validate().is_ok());
        }
    }
}
