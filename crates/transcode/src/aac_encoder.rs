//! The AAC side: FDK AAC configured for AAC-LC, 48 kHz, stereo, raw access units.
//!
//! Raw (not ADTS) because FLV/RTMP carries the AudioSpecificConfig once in a sequence header and
//! then bare access units. The encoder is fed exactly one frame (1024 samples per channel) per
//! call, so it returns at most one access unit per call and never keeps partial input.

use bytes::Bytes;
use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

use crate::TranscodeError;
use crate::opus_decoder::CHANNELS;

/// Samples per channel in one AAC-LC frame.
pub const SAMPLES_PER_FRAME: u32 = 1024;

/// Interleaved samples (both channels) in one AAC frame.
pub(crate) const FRAME_LEN: usize = SAMPLES_PER_FRAME as usize * CHANNELS;

/// Output sample rate; also the rate of every timestamp this crate takes or returns.
pub const SAMPLE_RATE: u32 = 48_000;

/// AudioSpecificConfig (ISO 14496-3 §1.6.2.1) for AAC-LC (object type 2), 48 kHz (frequency
/// index 3), channel configuration 2: `00010 0011 0010 000`. FDK must report exactly this.
pub(crate) const AUDIO_SPECIFIC_CONFIG: [u8; 2] = [0x11, 0x90];

/// FDK AAC, set up for our one output format.
pub(crate) struct AacEncoder {
    inner: Encoder,
    /// Samples per channel between an input sample and the same sample in the decoded output
    /// (FDK's `nDelay`): the MDCT overlap plus the encoder's lookahead.
    delay: u32,
    /// Scratch for one access unit, sized by FDK's own maximum.
    out: Box<[u8]>,
    frames_encoded: u64,
}

impl AacEncoder {
    pub(crate) fn new(bitrate: u32) -> Result<Self, TranscodeError> {
        let inner = Encoder::new(EncoderParams {
            bit_rate: BitRate::Cbr(bitrate),
            sample_rate: SAMPLE_RATE,
            transport: Transport::Raw,
            channels: ChannelMode::Stereo,
            audio_object_type: AudioObjectType::Mpeg4LowComplexity,
        })
        .map_err(|e| TranscodeError::EncoderSetup {
            reason: e.to_string(),
        })?;
        let info = inner.info().map_err(|e| TranscodeError::EncoderSetup {
            reason: e.to_string(),
        })?;
        let unexpected = |what: String| TranscodeError::UnexpectedEncoderConfig { what };
        if info.frameLength != SAMPLES_PER_FRAME {
            return Err(unexpected(format!("frame length {}", info.frameLength)));
        }
        if info.inputChannels as usize != CHANNELS {
            return Err(unexpected(format!("{} input channels", info.inputChannels)));
        }
        let conf = info
            .confBuf
            .get(..info.confSize as usize)
            .ok_or_else(|| unexpected(format!("config size {}", info.confSize)))?;
        if conf != AUDIO_SPECIFIC_CONFIG {
            return Err(unexpected(format!("AudioSpecificConfig {conf:02x?}")));
        }
        Ok(Self {
            inner,
            delay: info.nDelay,
            out: vec![0; info.maxOutBufBytes.max(1) as usize].into_boxed_slice(),
            frames_encoded: 0,
        })
    }

    /// Encoder delay in samples per channel.
    pub(crate) fn delay(&self) -> u32 {
        self.delay
    }

    /// Encodes one frame of interleaved stereo PCM. Returns the access unit FDK completed, if any.
    /// FDK completes one per frame from the very first; the first ones carry its priming (the
    /// `delay` samples before the input starts), which the caller trims by timestamp.
    pub(crate) fn encode_frame(
        &mut self,
        pcm: &[i16; FRAME_LEN],
    ) -> Result<Option<Bytes>, TranscodeError> {
        let info = self
            .inner
            .encode(pcm, &mut self.out)
            .map_err(|e| TranscodeError::Encode {
                frames_encoded: self.frames_encoded,
                reason: e.to_string(),
            })?;
        if info.input_consumed != FRAME_LEN {
            // FDK's input buffer always has room for a frame when fed a frame per call; if that
            // ever changed, timestamps would drift, so fail loudly instead.
            return Err(TranscodeError::Encode {
                frames_encoded: self.frames_encoded,
                reason: format!("consumed {} of {FRAME_LEN} samples", info.input_consumed),
            });
        }
        self.frames_encoded += 1;
        let au = self.out.get(..info.output_size).filter(|au| !au.is_empty());
        Ok(au.map(Bytes::copy_from_slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_aac_lc_48k_stereo_with_two_frames_of_delay() {
        // `new` already refused any other AudioSpecificConfig; 2048 is FDK's AAC-LC delay
        // (1024 of MDCT overlap + 1024 of lookahead), which the timestamp tests rely on.
        let encoder = AacEncoder::new(128_000).unwrap();
        assert_eq!(encoder.delay(), 2048);
    }

    #[test]
    fn emits_one_access_unit_for_every_frame_from_the_first() {
        let mut encoder = AacEncoder::new(128_000).unwrap();
        let frame = [0i16; FRAME_LEN];
        for n in 0..20 {
            let au = encoder.encode_frame(&frame).unwrap();
            assert!(
                au.is_some_and(|au| !au.is_empty()),
                "no access unit for frame {n}"
            );
        }
    }
}
