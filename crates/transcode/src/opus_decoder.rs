//! The Opus side: decoding, loss concealment and forward error correction, always to stereo.
//!
//! A thin layer over `ropus` (a pure-Rust port of libopus) that owns the one PCM buffer every
//! packet decodes into, so decoding allocates nothing per packet, and that turns every decoder
//! failure into "no audio for this span" for the caller to conceal.

use crate::TranscodeError;
use crate::toc::MAX_PACKET_SAMPLES;

/// Opus RTP always runs at 48 kHz and our AAC output is 48 kHz, so no resampling ever happens.
const SAMPLE_RATE: i32 = 48_000;

/// Always decode to stereo: libopus upmixes mono packets by duplicating the channel, which keeps
/// the AAC encoder's channel layout fixed whatever the publisher sends (and lets it switch).
pub(crate) const CHANNELS: usize = 2;

/// libopus conceals (and decodes FEC) only in whole 2.5 ms steps.
pub(crate) const CONCEAL_STEP: u32 = 120;

/// Decodes Opus to interleaved stereo 16-bit PCM at 48 kHz.
pub(crate) struct OpusDecoder {
    inner: ropus::OpusDecoder,
    /// Output of the latest call; sized for the longest packet Opus allows (120 ms).
    pcm: Box<[i16]>,
    /// Whether the decoder has decoded audio since it was created or reset: concealment only has
    /// something to extend (and fade out) after that.
    has_history: bool,
}

impl OpusDecoder {
    pub(crate) fn new() -> Result<Self, TranscodeError> {
        let inner = ropus::OpusDecoder::new(SAMPLE_RATE, CHANNELS as i32)
            .map_err(|code| TranscodeError::DecoderSetup { code })?;
        Ok(Self {
            inner,
            pcm: vec![0; MAX_PACKET_SAMPLES as usize * CHANNELS].into_boxed_slice(),
            has_history: false,
        })
    }

    pub(crate) fn has_history(&self) -> bool {
        self.has_history
    }

    /// Forgets the previous audio, so that a packet after a long silence does not overlap-add
    /// with (or conceal from) what was playing seconds ago.
    pub(crate) fn reset(&mut self) {
        self.inner.reset();
        self.has_history = false;
    }

    /// Decodes `packet`, whose TOC announced `samples` per channel. Returns the interleaved PCM,
    /// or `None` if the packet is corrupt or its length disagrees with its TOC; the caller
    /// conceals that span instead.
    pub(crate) fn decode(&mut self, packet: &[u8], samples: u32) -> Option<&[i16]> {
        let samples = samples.min(MAX_PACKET_SAMPLES);
        let out = &mut self.pcm[..samples as usize * CHANNELS];
        // `samples` is at most MAX_PACKET_SAMPLES (5760), so it fits an i32.
        let decoded = self.inner.decode(Some(packet), out, samples as i32, false);
        match decoded {
            Ok(n) if n == samples as i32 => {
                self.has_history = true;
                Some(&self.pcm[..samples as usize * CHANNELS])
            }
            // A packet that decodes to a different length than its TOC said is inconsistent;
            // trusting either length could shift the timeline, so treat it as lost.
            Ok(_) | Err(_) => None,
        }
    }

    /// Produces `samples` per channel (a multiple of [`CONCEAL_STEP`], at most 120 ms) of
    /// concealment: libopus' packet-loss concealment, with the end of the span rebuilt from the
    /// in-band FEC carried by `next` (the packet that follows the gap) when it has any.
    pub(crate) fn conceal(&mut self, samples: u32, next: Option<&[u8]>) -> &[i16] {
        debug_assert!(samples.is_multiple_of(CONCEAL_STEP) && samples <= MAX_PACKET_SAMPLES);
        let samples = samples.min(MAX_PACKET_SAMPLES) / CONCEAL_STEP * CONCEAL_STEP;
        let len = samples as usize * CHANNELS;
        if samples == 0 {
            return &self.pcm[..0];
        }
        let out = &mut self.pcm[..len];
        // FEC needs a packet with at least a TOC; libopus falls back to plain concealment when
        // the packet carries no FEC (CELT-only) or is longer than the gap.
        let decoded = match next {
            Some(packet) if !packet.is_empty() => {
                self.inner.decode(Some(packet), out, samples as i32, true)
            }
            _ => self.inner.decode(None, out, samples as i32, false),
        };
        if !matches!(decoded, Ok(n) if n == samples as i32) {
            // Concealment cannot fail on valid sizes; if it ever does, silence is the safe fill.
            self.pcm[..len].fill(0);
        }
        &self.pcm[..len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toc::packet_samples;

    /// 20 ms CELT packets of a loud 1 kHz stereo tone, made with ropus' own encoder.
    fn tone_packets(count: usize, channels: ropus::Channels) -> Vec<Vec<u8>> {
        let mut encoder = ropus::Encoder::builder(48_000, channels, ropus::Application::Audio)
            .bitrate(ropus::Bitrate::Bits(96_000))
            .build()
            .unwrap();
        let ch = channels.count();
        let mut t = 0usize;
        (0..count)
            .map(|_| {
                let mut pcm = vec![0i16; 960 * ch];
                for frame in pcm.chunks_mut(ch) {
                    let phase = t as f64 * 1000.0 * std::f64::consts::TAU / 48_000.0;
                    frame.fill((phase.sin() * 16_000.0) as i16);
                    t += 1;
                }
                let mut out = vec![0u8; 4000];
                let len = encoder.encode(&pcm, &mut out).unwrap();
                out.truncate(len);
                out
            })
            .collect()
    }

    fn rms(pcm: &[i16]) -> f64 {
        let sum: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / pcm.len() as f64).sqrt()
    }

    #[test]
    fn decodes_mono_packets_to_identical_left_and_right() {
        let packets = tone_packets(10, ropus::Channels::Mono);
        let mut decoder = OpusDecoder::new().unwrap();
        let mut last = Vec::new();
        for packet in &packets {
            let samples = packet_samples(packet).unwrap();
            last = decoder.decode(packet, samples).unwrap().to_vec();
        }
        assert_eq!(last.len(), 960 * 2);
        assert!(rms(&last) > 5_000.0, "tone missing: rms {}", rms(&last));
        assert!(last.chunks(2).all(|lr| lr[0] == lr[1]));
    }

    #[test]
    fn concealment_continues_the_tone_for_the_requested_length() {
        let packets = tone_packets(10, ropus::Channels::Stereo);
        let mut decoder = OpusDecoder::new().unwrap();
        for packet in &packets[..9] {
            decoder.decode(packet, 960).unwrap();
        }
        let concealed = decoder.conceal(1920, None);
        assert_eq!(concealed.len(), 1920 * 2);
        assert!(rms(&concealed[..960]) > 1_000.0);
        // With FEC requested from a CELT packet, libopus falls back to concealment as well.
        assert_eq!(decoder.conceal(240, Some(&packets[9])).len(), 240 * 2);
    }

    #[test]
    fn refuses_a_packet_whose_length_disagrees_with_its_toc() {
        let packets = tone_packets(1, ropus::Channels::Stereo);
        let mut decoder = OpusDecoder::new().unwrap();
        assert!(decoder.decode(&packets[0], 480).is_none());
        assert!(!decoder.has_history());
        assert!(decoder.decode(&packets[0], 960).is_some());
        assert!(decoder.has_history());
        decoder.reset();
        assert!(!decoder.has_history());
    }
}
