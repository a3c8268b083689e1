//! [`OpusToAac`]: Opus packets stamped on the caller's 48 kHz clock in, continuous AAC-LC out.

use crate::aac_encoder::{AUDIO_SPECIFIC_CONFIG, AacEncoder};
use crate::aac_track::{AacFrame, AacTrack};
use crate::opus_decoder::{CHANNELS, CONCEAL_STEP, OpusDecoder};
use crate::placement::{MAX_SILENCE_GAP, Placement, place};
use crate::{AacSettings, TranscodeError, toc};

/// Larger packets are refused before decoding. 120 ms of Opus at its 510 kb/s maximum is
/// 7.65 kB; WebRTC packets are far below an MTU.
pub const MAX_OPUS_PACKET_BYTES: usize = 8 * 1024;

/// Timestamps beyond ±2^62 samples (three million years at 48 kHz) are refused, so that no
/// arithmetic on the timeline can overflow whatever a hostile sender makes the clock say.
pub const MAX_ABS_PTS: i64 = 1 << 62;

/// Concealment played before silence so audio that stops fades out instead of clicking.
const FADE_OUT: u32 = 20 * 48;

/// What happened to the input so far: for metrics and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TranscodeStats {
    /// Opus packets decoded and appended (wholly or in part).
    pub decoded_packets: u64,
    /// Packets dropped because their time was already consumed (duplicates, late arrivals).
    pub late_packets: u64,
    /// Packets that were empty, oversized, out of the timestamp range, unparseable or
    /// undecodable. Their time is concealed like a loss when the next packet arrives.
    pub invalid_packets: u64,
    /// Samples per channel produced by Opus packet-loss concealment or FEC.
    pub concealed_samples: u64,
    /// Samples per channel of inserted silence.
    pub silence_samples: u64,
    /// Times the timeline restarted because input jumped more than 10 s ahead.
    pub resyncs: u64,
}

/// Transcodes one audio track from Opus to AAC-LC 48 kHz stereo and owns its timestamps.
///
/// Push Opus packets (or silence) stamped on a continuous 48 kHz clock chosen by the caller,
/// then [`pop`](Self::pop) AAC frames until `None`. The AAC track has no holes and its
/// timestamps only go forward: lost packets are concealed, pauses become silence (at most 10 s
/// per call; beyond that the timeline resynchronises to the new time), and packets for time
/// already produced are dropped. Pure: no I/O, no clock, and nothing here panics on input.
pub struct OpusToAac {
    decoder: OpusDecoder,
    track: AacTrack,
    stats: TranscodeStats,
}

impl std::fmt::Debug for OpusToAac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusToAac")
            .field("next_pts", &self.next_pts())
            .field("queued_frames", &self.track.queued())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl OpusToAac {
    /// A transcoder whose timeline starts at the first Opus packet pushed.
    pub fn new(settings: AacSettings) -> Result<Self, TranscodeError> {
        settings.validate()?;
        Ok(Self {
            decoder: OpusDecoder::new()?,
            track: AacTrack::new(AacEncoder::new(settings.bitrate)?),
            stats: TranscodeStats::default(),
        })
    }

    /// A transcoder whose timeline starts at `origin`, for a publisher without audio (feed it
    /// [`push_silence_until`](Self::push_silence_until) only) or to make the audio track start
    /// with the video: Opus pushed later than `origin` is preceded by silence.
    pub fn starting_at(settings: AacSettings, origin: i64) -> Result<Self, TranscodeError> {
        check_pts(origin)?;
        let mut this = Self::new(settings)?;
        this.track.start(origin)?;
        Ok(this)
    }

    /// AudioSpecificConfig of the output (AAC-LC, 48 kHz, stereo) for the FLV AAC sequence
    /// header. Checked against the encoder's own at construction.
    pub fn audio_specific_config(&self) -> [u8; 2] {
        AUDIO_SPECIFIC_CONFIG
    }

    /// Pushes one Opus packet (mono or stereo, any frame size, one or many frames) whose first
    /// sample is at `pts` on the caller's continuous 48 kHz clock (for WebRTC: the extended
    /// RTP timestamp of the audio track; Opus RTP always runs at 48 kHz).
    ///
    /// Errors only if the AAC encoder fails; bad packets are counted in
    /// [`stats`](Self::stats) and dropped (their time is then concealed like a loss). Every
    /// call counts exactly one of `decoded_packets`, `late_packets` or `invalid_packets`.
    pub fn push_opus(&mut self, pts: i64, packet: &[u8]) -> Result<(), TranscodeError> {
        if packet.len() > MAX_OPUS_PACKET_BYTES || check_pts(pts).is_err() {
            self.stats.invalid_packets += 1;
            return Ok(());
        }
        let Ok(samples) = toc::packet_samples(packet) else {
            // Without a trustworthy duration the packet cannot be placed; the next good packet
            // sees the gap and conceals it.
            self.stats.invalid_packets += 1;
            return Ok(());
        };
        let cursor = self.track.start(pts)?;
        let skip = match place(cursor, pts, samples) {
            Placement::Late => {
                self.stats.late_packets += 1;
                return Ok(());
            }
            Placement::Contiguous { skip } => skip,
            Placement::Conceal { samples } => {
                self.conceal(samples, Some(packet))?;
                0
            }
            Placement::Silence { samples } => {
                self.silence(u64::from(samples))?;
                0
            }
            Placement::Resync => {
                self.resync(pts)?;
                0
            }
        };
        let Some(pcm) = self.decoder.decode(packet, samples) else {
            // Like a lost packet: its time is concealed once the next packet shows where the
            // audio resumes. Concealing its claimed duration now would let a corrupt TOC push
            // good packets out as late.
            self.stats.invalid_packets += 1;
            return Ok(());
        };
        self.stats.decoded_packets += 1;
        let skip = (skip as usize * CHANNELS).min(pcm.len());
        self.track.append(&pcm[skip..])
    }

    /// Fills the timeline with silence up to `until` (exclusive), for a publisher without an
    /// audio track or whose audio stopped arriving. Does nothing if the audio already reaches
    /// `until`; resynchronises to `until` if that is more than 10 s ahead. Opus packets for
    /// time filled this way are dropped as late when they arrive.
    pub fn push_silence_until(&mut self, until: i64) -> Result<(), TranscodeError> {
        check_pts(until)?;
        let cursor = self.track.cursor().ok_or(TranscodeError::NoOrigin)?;
        let gap = until.saturating_sub(cursor);
        if gap <= 0 {
            Ok(())
        } else if gap <= MAX_SILENCE_GAP {
            // gap is positive.
            self.silence(gap as u64)
        } else {
            self.resync(until)
        }
    }

    /// The next AAC frame, oldest first. Call until `None` after every push.
    pub fn pop(&mut self) -> Option<AacFrame> {
        self.track.pop()
    }

    /// Where the next pushed audio belongs on the caller's clock: everything before it has been
    /// consumed (Opus for earlier time is dropped). `None` until the timeline has an origin.
    /// AAC frames come out up to about 2048 samples (the encoder delay) plus one partly filled
    /// frame behind this point.
    pub fn next_pts(&self) -> Option<i64> {
        self.track.cursor()
    }

    pub fn stats(&self) -> TranscodeStats {
        self.stats
    }

    /// Conceals `samples` (whole concealment steps, at most 120 ms) before `next`.
    fn conceal(&mut self, samples: u32, next: Option<&[u8]>) -> Result<(), TranscodeError> {
        let pcm = self.decoder.conceal(samples, next);
        self.stats.concealed_samples += u64::from(samples);
        self.track.append(pcm)
    }

    /// Inserts `samples` of silence (at most [`MAX_SILENCE_GAP`]), the first of it a fade-out.
    fn silence(&mut self, samples: u64) -> Result<(), TranscodeError> {
        let faded = self.fade_out(samples)?;
        let rest = samples - faded;
        self.stats.silence_samples += rest;
        self.track.append_silence(rest)
    }

    /// Restarts the timeline at `pts`, more than [`MAX_SILENCE_GAP`] ahead of the cursor.
    fn resync(&mut self, pts: i64) -> Result<(), TranscodeError> {
        self.stats.resyncs += 1;
        self.fade_out(u64::from(FADE_OUT))?;
        self.track.jump_to(pts)
    }

    /// Before audio stops: lets concealment fade out what was playing (at most `max` samples,
    /// so it never takes more time than the gap), then forgets the decoder's history so the
    /// next packet does not blend with audio from long ago. Returns the samples appended.
    fn fade_out(&mut self, max: u64) -> Result<u64, TranscodeError> {
        if !self.decoder.has_history() {
            return Ok(0);
        }
        // At most FADE_OUT, so it fits u32; rounded down to whole concealment steps.
        let fade = max.min(u64::from(FADE_OUT)) as u32 / CONCEAL_STEP * CONCEAL_STEP;
        self.conceal(fade, None)?;
        self.decoder.reset();
        Ok(u64::from(fade))
    }
}

fn check_pts(pts: i64) -> Result<(), TranscodeError> {
    if (-MAX_ABS_PTS..=MAX_ABS_PTS).contains(&pts) {
        Ok(())
    } else {
        Err(TranscodeError::PtsOutOfRange { pts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SAMPLES_PER_FRAME;

    const FRAME: i64 = SAMPLES_PER_FRAME as i64;

    /// Opus packets of a 1 kHz tone made with ropus' encoder: `count` packets of `duration`.
    fn tone_packets(
        count: usize,
        channels: ropus::Channels,
        duration: ropus::FrameDuration,
        samples: usize,
    ) -> Vec<Vec<u8>> {
        let mut encoder = ropus::Encoder::builder(48_000, channels, ropus::Application::Audio)
            .bitrate(ropus::Bitrate::Bits(96_000))
            .frame_duration(duration)
            .build()
            .unwrap();
        let ch = channels.count();
        let mut t = 0usize;
        (0..count)
            .map(|_| {
                let mut pcm = vec![0i16; samples * ch];
                for frame in pcm.chunks_mut(ch) {
                    let phase = t as f64 * 1000.0 * std::f64::consts::TAU / 48_000.0;
                    frame.fill((phase.sin() * 12_000.0) as i16);
                    t += 1;
                }
                let mut out = vec![0u8; 8000];
                let len = encoder.encode(&pcm, &mut out).unwrap();
                out.truncate(len);
                out
            })
            .collect()
    }

    fn tone_20ms(count: usize) -> Vec<Vec<u8>> {
        tone_packets(
            count,
            ropus::Channels::Stereo,
            ropus::FrameDuration::Ms20,
            960,
        )
    }

    fn drain(transcoder: &mut OpusToAac) -> Vec<AacFrame> {
        std::iter::from_fn(|| transcoder.pop()).collect()
    }

    /// Asserts the frames are back to back from `first` and returns how many there are.
    fn assert_continuous_from(frames: &[AacFrame], first: i64) -> usize {
        for (n, frame) in frames.iter().enumerate() {
            assert_eq!(frame.pts, first + n as i64 * FRAME, "frame {n}");
            assert!(!frame.data.is_empty(), "frame {n} is empty");
        }
        frames.len()
    }

    /// Frames the encoder has released once `samples` of timeline have been pushed: whole
    /// frames pushed, minus the two still inside the encoder (its 2048-sample delay).
    fn frames_out_after(samples: i64) -> usize {
        (samples / FRAME - 2).max(0) as usize
    }

    #[test]
    fn first_frame_starts_at_the_first_packet_and_frames_are_1024_apart() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        assert_eq!(transcoder.next_pts(), None);
        let start = 5_000_000;
        for (n, packet) in tone_20ms(100).iter().enumerate() {
            transcoder
                .push_opus(start + n as i64 * 960, packet)
                .unwrap();
        }
        let frames = drain(&mut transcoder);
        assert_eq!(
            assert_continuous_from(&frames, start),
            frames_out_after(96_000)
        );
        assert_eq!(transcoder.next_pts(), Some(start + 96_000));
        assert_eq!(transcoder.stats().decoded_packets, 100);
        assert_eq!(transcoder.audio_specific_config(), [0x11, 0x90]);
    }

    #[test]
    fn three_lost_packets_are_concealed_without_a_hole() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        for (n, packet) in tone_20ms(100).iter().enumerate() {
            if (40..43).contains(&n) {
                continue;
            }
            transcoder.push_opus(n as i64 * 960, packet).unwrap();
        }
        let frames = drain(&mut transcoder);
        assert_eq!(assert_continuous_from(&frames, 0), frames_out_after(96_000));
        let stats = transcoder.stats();
        assert_eq!(stats.concealed_samples, 3 * 960);
        assert_eq!(stats.silence_samples, 0);
        assert_eq!(stats.decoded_packets, 97);
    }

    #[test]
    fn a_three_second_pause_is_filled_with_silence() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        let packets = tone_20ms(100);
        let pause = 144_000;
        for (n, packet) in packets.iter().enumerate() {
            let pts = n as i64 * 960 + if n >= 50 { pause } else { 0 };
            transcoder.push_opus(pts, packet).unwrap();
        }
        let frames = drain(&mut transcoder);
        let total = 96_000 + pause;
        assert_eq!(assert_continuous_from(&frames, 0), frames_out_after(total));
        let stats = transcoder.stats();
        // The first 20 ms of the pause fade out by concealment, the rest is silence.
        assert_eq!(stats.concealed_samples, 960);
        assert_eq!(stats.silence_samples, pause as u64 - 960);
        assert_eq!(transcoder.next_pts(), Some(total));
    }

    #[test]
    fn duplicate_and_late_packets_are_dropped_without_moving_time_back() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        let packets = tone_20ms(60);
        for (n, packet) in packets.iter().enumerate().take(50) {
            transcoder.push_opus(n as i64 * 960, packet).unwrap();
        }
        let cursor = transcoder.next_pts();
        transcoder.push_opus(49 * 960, &packets[49]).unwrap(); // duplicate
        transcoder.push_opus(30 * 960, &packets[30]).unwrap(); // very late
        transcoder.push_opus(i64::MIN / 2, &packets[0]).unwrap(); // absurdly late
        assert_eq!(transcoder.next_pts(), cursor);
        assert_eq!(transcoder.stats().late_packets, 3);
        for (n, packet) in packets.iter().enumerate().skip(50) {
            transcoder.push_opus(n as i64 * 960, packet).unwrap();
        }
        let frames = drain(&mut transcoder);
        assert_eq!(
            assert_continuous_from(&frames, 0),
            frames_out_after(60 * 960)
        );
        assert_eq!(transcoder.stats().decoded_packets, 60);
    }

    #[test]
    fn a_packet_overlapping_consumed_time_is_trimmed() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        let packets = tone_20ms(3);
        transcoder.push_opus(0, &packets[0]).unwrap();
        // Starts 10 ms before the end of the previous one: only its last 10 ms are new.
        transcoder.push_opus(480, &packets[1]).unwrap();
        assert_eq!(transcoder.next_pts(), Some(1440));
        assert_eq!(transcoder.stats().decoded_packets, 2);
    }

    #[test]
    fn silence_alone_makes_a_continuous_track_from_the_origin() {
        let mut transcoder = OpusToAac::starting_at(AacSettings::default(), 777).unwrap();
        assert_eq!(transcoder.next_pts(), Some(777));
        for step in 1..=50 {
            transcoder.push_silence_until(777 + step * 960).unwrap();
        }
        // Going backwards is a no-op.
        transcoder.push_silence_until(0).unwrap();
        let frames = drain(&mut transcoder);
        assert_eq!(
            assert_continuous_from(&frames, 777),
            frames_out_after(48_000)
        );
        assert_eq!(transcoder.stats().silence_samples, 48_000);
        assert_eq!(transcoder.stats().concealed_samples, 0);
    }

    #[test]
    fn silence_needs_an_origin() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        assert!(matches!(
            transcoder.push_silence_until(48_000),
            Err(TranscodeError::NoOrigin)
        ));
        assert!(matches!(
            OpusToAac::starting_at(AacSettings::default(), i64::MAX),
            Err(TranscodeError::PtsOutOfRange { .. })
        ));
    }

    #[test]
    fn opus_after_the_origin_is_preceded_by_silence() {
        let mut transcoder = OpusToAac::starting_at(AacSettings::default(), 0).unwrap();
        for (n, packet) in tone_20ms(50).iter().enumerate() {
            transcoder
                .push_opus(24_000 + n as i64 * 960, packet)
                .unwrap();
        }
        let frames = drain(&mut transcoder);
        assert_eq!(assert_continuous_from(&frames, 0), frames_out_after(72_000));
        assert_eq!(transcoder.stats().silence_samples, 24_000);
    }

    #[test]
    fn a_timestamp_far_in_the_future_resyncs_instead_of_filling() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        let packets = tone_20ms(100);
        for (n, packet) in packets.iter().enumerate().take(50) {
            transcoder.push_opus(n as i64 * 960, packet).unwrap();
        }
        let before = drain(&mut transcoder);
        let jump = 1_i64 << 40;
        transcoder.push_opus(jump, &packets[50]).unwrap();
        // Bounded work: the jump itself produced at most a couple of frames.
        assert!(transcoder.track.queued() <= 3);
        for (n, packet) in packets.iter().enumerate().skip(51) {
            transcoder
                .push_opus(jump + (n as i64 - 50) * 960, packet)
                .unwrap();
        }
        let after = drain(&mut transcoder);
        assert_eq!(transcoder.stats().resyncs, 1);
        assert!(transcoder.stats().silence_samples < 1024);

        let all: Vec<&AacFrame> = before.iter().chain(&after).collect();
        let split = all.iter().position(|f| f.pts >= jump).unwrap();
        // Before the jump: back to back from 0 (the last unit completed with silence).
        for (n, frame) in all[..split].iter().enumerate() {
            assert_eq!(frame.pts, n as i64 * FRAME);
        }
        // After: back to back from the new time.
        for (n, frame) in all[split..].iter().enumerate() {
            assert_eq!(frame.pts, jump + n as i64 * FRAME);
        }
        assert_eq!(all[split..].len(), frames_out_after(50 * 960));
        assert_eq!(transcoder.next_pts(), Some(jump + 50 * 960));
    }

    #[test]
    fn silence_far_in_the_future_resyncs_too() {
        let mut transcoder = OpusToAac::starting_at(AacSettings::default(), 0).unwrap();
        transcoder.push_silence_until(1_i64 << 50).unwrap();
        assert_eq!(transcoder.next_pts(), Some(1 << 50));
        transcoder
            .push_silence_until((1 << 50) + 10 * 1024)
            .unwrap();
        let frames = drain(&mut transcoder);
        assert_eq!(transcoder.stats().resyncs, 1);
        assert_eq!(assert_continuous_from(&frames, 1 << 50), 8);
    }

    #[test]
    fn timestamps_beyond_the_supported_range_are_refused() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        let packets = tone_20ms(1);
        transcoder.push_opus(i64::MAX - 100, &packets[0]).unwrap();
        transcoder.push_opus(i64::MIN, &packets[0]).unwrap();
        assert_eq!(transcoder.stats().invalid_packets, 2);
        assert_eq!(transcoder.next_pts(), None);
        assert!(matches!(
            transcoder.push_silence_until(i64::MAX),
            Err(TranscodeError::PtsOutOfRange { .. })
        ));
    }

    #[test]
    fn mono_and_every_frame_size_keep_exact_time() {
        use ropus::FrameDuration::*;
        let cases = [
            (Ms2_5, 120, ropus::Channels::Mono),
            (Ms5, 240, ropus::Channels::Stereo),
            (Ms10, 480, ropus::Channels::Mono),
            (Ms40, 1920, ropus::Channels::Stereo),
            (Ms60, 2880, ropus::Channels::Mono),
            (Ms120, 5760, ropus::Channels::Stereo),
        ];
        for (duration, samples, channels) in cases {
            let count = 96_000 / samples;
            let packets = tone_packets(count, channels, duration, samples);
            let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
            for (n, packet) in packets.iter().enumerate() {
                transcoder.push_opus((n * samples) as i64, packet).unwrap();
            }
            let frames = drain(&mut transcoder);
            let total = (count * samples) as i64;
            assert_eq!(transcoder.next_pts(), Some(total));
            assert_eq!(
                assert_continuous_from(&frames, 0),
                frames_out_after(total),
                "{samples}-sample packets"
            );
            let stats = transcoder.stats();
            assert_eq!(
                stats.decoded_packets, count as u64,
                "{samples}-sample packets"
            );
            assert_eq!(stats.concealed_samples + stats.invalid_packets, 0);
        }
    }

    /// xorshift64: deterministic hostile bytes without a thread RNG.
    struct Prng(u64);

    impl Prng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_bytes_never_panic_and_never_break_time() {
        let mut prng = Prng(0x5EED_0F0B_0005);
        let good = tone_20ms(401);
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        for (n, packet) in good.iter().enumerate().take(400) {
            let pts = n as i64 * 960;
            let mut bytes = packet.clone();
            match prng.next() % 4 {
                // Pure noise of random length (including empty and oversized).
                0 => {
                    let len = (prng.next() % 1600) as usize;
                    bytes = (0..len).map(|_| prng.next() as u8).collect();
                }
                // A real packet with a few flipped bits (valid TOC, corrupt payload).
                1 => {
                    for _ in 0..4 {
                        let i = 1 + (prng.next() as usize) % (bytes.len() - 1);
                        bytes[i] ^= 1 << (prng.next() % 8);
                    }
                }
                // Truncated.
                2 => bytes.truncate((prng.next() as usize) % bytes.len()),
                _ => {}
            }
            transcoder.push_opus(pts, &bytes).unwrap();
        }
        transcoder.push_opus(400 * 960, &good[400]).unwrap();
        // Whatever happened, every packet is accounted for once, and the track is continuous
        // from the first placed packet to (at least) the end of the last, intact one.
        let stats = transcoder.stats();
        assert_eq!(
            stats.decoded_packets + stats.late_packets + stats.invalid_packets,
            good.len() as u64,
            "{stats:?}"
        );
        assert!(stats.invalid_packets > 20, "{stats:?}");
        assert!(stats.decoded_packets > 200, "{stats:?}");
        let frames = drain(&mut transcoder);
        assert_continuous_from(&frames, frames[0].pts);
        assert!(transcoder.next_pts().unwrap() >= 401 * 960);
    }

    #[test]
    fn oversized_and_empty_packets_are_refused_before_decoding() {
        let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
        transcoder.push_opus(0, &[]).unwrap();
        transcoder
            .push_opus(0, &vec![0xFC; MAX_OPUS_PACKET_BYTES + 1])
            .unwrap();
        assert_eq!(transcoder.stats().invalid_packets, 2);
        assert_eq!(transcoder.next_pts(), None);
    }
}
