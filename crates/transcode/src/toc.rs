//! How long an Opus packet is, read from its TOC byte (RFC 6716 §3.1) before decoding it.
//!
//! The transcoder must know a packet's duration to place it on the timeline even when the packet
//! turns out to be undecodable (it is then concealed for exactly that long), and to reject
//! packets that claim more than the 120 ms Opus allows before any decoder work happens.

/// Opus always runs at 48 kHz on the RTP clock; every duration here is in 48 kHz samples.
const SAMPLES_PER_MS: u32 = 48;

/// RFC 6716 §3.2.5: a packet never carries more than 120 ms of audio.
pub(crate) const MAX_PACKET_SAMPLES: u32 = 120 * SAMPLES_PER_MS;

/// Why a packet's duration could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TocError {
    #[error("empty Opus packet")]
    Empty,
    #[error("Opus code 3 packet without its frame-count byte")]
    MissingFrameCount,
    #[error("Opus code 3 packet with zero frames")]
    ZeroFrames,
    #[error("Opus packet claims {samples} samples, more than 120 ms")]
    TooLong { samples: u32 },
}

/// Samples per frame at 48 kHz for a TOC configuration number (RFC 6716 Table 2).
fn frame_samples(config: u8) -> u32 {
    // Tenths of a millisecond, so 2.5 ms stays an integer.
    let tenths_ms = match config {
        // SILK-only: NB, MB, WB, each with 10/20/40/60 ms.
        0..=11 => [100, 200, 400, 600][usize::from(config % 4)],
        // Hybrid: SWB and FB, each with 10/20 ms.
        12..=15 => [100, 200][usize::from(config % 2)],
        // CELT-only: NB, WB, SWB, FB, each with 2.5/5/10/20 ms.
        _ => [25, 50, 100, 200][usize::from(config % 4)],
    };
    tenths_ms * SAMPLES_PER_MS / 10
}

/// Duration of `packet` in 48 kHz samples (per channel), from its TOC byte and, for code 3
/// packets, its frame-count byte. Does not validate the frame lengths: the decoder does that.
pub(crate) fn packet_samples(packet: &[u8]) -> Result<u32, TocError> {
    let &toc = packet.first().ok_or(TocError::Empty)?;
    let per_frame = frame_samples(toc >> 3);
    let frames = match toc & 0b11 {
        0 => 1,
        1 | 2 => 2,
        _ => {
            let &count = packet.get(1).ok_or(TocError::MissingFrameCount)?;
            u32::from(count & 0x3F)
        }
    };
    if frames == 0 {
        return Err(TocError::ZeroFrames);
    }
    let samples = per_frame * frames;
    if samples > MAX_PACKET_SAMPLES {
        return Err(TocError::TooLong { samples });
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_single_frame_durations_for_every_mode() {
        // config << 3 | stereo bit | code 0
        assert_eq!(packet_samples(&[0 << 3]), Ok(480)); // SILK NB 10 ms
        assert_eq!(packet_samples(&[1 << 3]), Ok(960)); // SILK NB 20 ms
        assert_eq!(packet_samples(&[10 << 3]), Ok(1920)); // SILK WB 40 ms
        assert_eq!(packet_samples(&[11 << 3]), Ok(2880)); // SILK WB 60 ms
        assert_eq!(packet_samples(&[12 << 3]), Ok(480)); // Hybrid SWB 10 ms
        assert_eq!(packet_samples(&[15 << 3]), Ok(960)); // Hybrid FB 20 ms
        assert_eq!(packet_samples(&[28 << 3]), Ok(120)); // CELT FB 2.5 ms
        assert_eq!(packet_samples(&[29 << 3]), Ok(240)); // CELT FB 5 ms
        assert_eq!(packet_samples(&[30 << 3]), Ok(480)); // CELT FB 10 ms
        assert_eq!(packet_samples(&[31 << 3 | 0b100]), Ok(960)); // CELT FB 20 ms stereo
    }

    #[test]
    fn counts_two_frames_for_codes_one_and_two() {
        assert_eq!(packet_samples(&[31 << 3 | 1, 0, 0]), Ok(1920));
        assert_eq!(packet_samples(&[31 << 3 | 2, 1, 0]), Ok(1920));
    }

    #[test]
    fn reads_the_frame_count_of_code_three_packets() {
        // Six 20 ms frames: the 120 ms maximum.
        assert_eq!(packet_samples(&[31 << 3 | 3, 6]), Ok(5760));
        // The VBR and padding flags (bits 7 and 6) do not count as frames.
        assert_eq!(packet_samples(&[28 << 3 | 3, 0b1100_0011]), Ok(360));
    }

    #[test]
    fn rejects_packets_whose_duration_cannot_be_trusted() {
        assert_eq!(packet_samples(&[]), Err(TocError::Empty));
        assert_eq!(
            packet_samples(&[31 << 3 | 3]),
            Err(TocError::MissingFrameCount)
        );
        assert_eq!(packet_samples(&[31 << 3 | 3, 0]), Err(TocError::ZeroFrames));
        // Seven 20 ms frames = 140 ms.
        assert_eq!(
            packet_samples(&[31 << 3 | 3, 7]),
            Err(TocError::TooLong { samples: 6720 })
        );
        // 63 frames of 60 ms: the largest claim a TOC can make.
        assert_eq!(
            packet_samples(&[11 << 3 | 3, 63]),
            Err(TocError::TooLong { samples: 181_440 })
        );
    }
}
