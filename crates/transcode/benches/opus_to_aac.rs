//! Per 20 ms of audio: one Opus packet (48 kHz stereo, as browsers send it) → AAC-LC, through
//! [`OpusToAac::push_opus`] (ropus decodes, FDK AAC encodes) and [`OpusToAac::pop`] until it
//! is empty (0.9375 AAC frames per packet on average: 960 samples in, 1024 per frame out).
//! Steady state: the transcoder has already taken a second of packets, so the AAC encoder's
//! delay is filled and its buffers are grown.
//!
//! Input: made in-process by ropus' encoder (a port of libopus), so the bench needs neither
//! ffmpeg nor files, with the testkit fixture's settings (96 kbit/s, 20 ms frames, CELT
//! full band). Two signals, because both codecs do less work on silence:
//! - `music`: a chord with vibrato plus noise, the two channels different (every band busy);
//! - `silence`: digital silence, most of what the testkit fixture's audio is.
//!
//! ```text
//! cargo bench -p streamhard-transcode --bench opus_to_aac
//! ```

use std::f32::consts::TAU;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ropus::{Application, Bitrate, Channels, Encoder, FrameDuration};
use streamhard_transcode::{AacSettings, OpusToAac};

const SAMPLE_RATE: u32 = 48_000;
/// 20 ms at 48 kHz.
const PACKET_SAMPLES: usize = 960;
/// Packets encoded per signal: ten seconds, cycled through by the measurement.
const PACKETS: usize = 500;
/// Packets pushed before measuring: one second.
const PRIMING: usize = 50;

/// Stereo PCM for packet `index` of `signal` (interleaved, 960 samples per channel).
fn pcm(signal: &str, index: usize) -> Vec<f32> {
    let mut pcm = Vec::with_capacity(2 * PACKET_SAMPLES);
    // A small xorshift: reproducible noise without a dependency.
    let mut noise = 0x9E37_79B9_u32.wrapping_add(index as u32);
    for n in 0..PACKET_SAMPLES {
        let t = (index * PACKET_SAMPLES + n) as f32 / SAMPLE_RATE as f32;
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let hiss = (noise as f32 / u32::MAX as f32 - 0.5) * 0.1;
        let (left, right) = match signal {
            "music" => {
                let vibrato = 1.0 + 0.004 * (TAU * 5.0 * t).sin();
                let chord = [220.0, 277.2, 329.6, 440.0, 1318.5]
                    .iter()
                    .enumerate()
                    .map(|(k, f)| (TAU * f * vibrato * t).sin() * 0.15 / (k as f32 + 1.0))
                    .sum::<f32>();
                let bell = (TAU * 2637.0 * t).sin() * 0.05 * (-(t % 0.5) * 8.0).exp();
                (chord + hiss, chord * 0.8 + bell - hiss)
            }
            _ => (0.0, 0.0),
        };
        pcm.extend_from_slice(&[left, right]);
    }
    pcm
}

/// `PACKETS` Opus packets of `signal`, as a browser's encoder would send them.
fn opus_packets(signal: &str) -> Vec<Vec<u8>> {
    let mut encoder = Encoder::builder(SAMPLE_RATE, Channels::Stereo, Application::Audio)
        .bitrate(Bitrate::Bits(96_000))
        .frame_duration(FrameDuration::Ms20)
        .build()
        .expect("a valid Opus encoder configuration");
    let mut out = [0u8; 1500];
    (0..PACKETS)
        .map(|i| {
            let len = encoder
                .encode_float(&pcm(signal, i), &mut out)
                .expect("PCM of one 20 ms frame encodes");
            out[..len].to_vec()
        })
        .collect()
}

fn opus_to_aac(c: &mut Criterion) {
    let mut group = c.benchmark_group("opus_to_aac");
    // One element is one 20 ms packet: elements/s ÷ 50 is how many streams one core keeps up.
    group.throughput(Throughput::Elements(1));
    for signal in ["music", "silence"] {
        let packets = opus_packets(signal);
        let mean_len = packets.iter().map(Vec::len).sum::<usize>() / packets.len();
        let mut transcoder = OpusToAac::new(AacSettings::default()).expect("default settings");
        let mut pts = 0i64;
        let mut next = 0usize;
        let mut push = |transcoder: &mut OpusToAac| {
            transcoder
                .push_opus(pts, black_box(&packets[next]))
                .expect("the AAC encoder accepts PCM");
            pts += PACKET_SAMPLES as i64;
            next = (next + 1) % packets.len();
            let mut frames = 0;
            while let Some(frame) = transcoder.pop() {
                black_box(frame);
                frames += 1;
            }
            frames
        };
        let primed: usize = (0..PRIMING).map(|_| push(&mut transcoder)).sum();
        assert!(primed > 0, "no AAC out of a second of Opus");

        let parameter = format!("{signal}_{mean_len}B");
        group.bench_function(BenchmarkId::new("per_20ms_packet", parameter), |b| {
            b.iter(|| push(&mut transcoder));
        });
        let stats = transcoder.stats();
        assert_eq!(stats.invalid_packets + stats.late_packets, 0, "{stats:?}");
    }
    group.finish();
}

criterion_group!(benches, opus_to_aac);
criterion_main!(benches);
