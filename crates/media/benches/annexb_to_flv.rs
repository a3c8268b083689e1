//! Per video frame, the media work between the depacketizer and the destinations: one Annex-B
//! access unit → AVCC ([`AvcConverter::convert`]) → FLV video tag body ([`flv::avc_frame`]).
//!
//! Input: a real 720p30 H.264 stream at 2.5 Mbit/s, encoded by ffmpeg when the bench starts
//! (under a second) and split into access units by the testkit's reader. The encoder
//! settings are the testkit fixture's (constrained baseline, no B-frames, SPS/PPS before every
//! IDR, one IDR per second) without its white sync flash: the fixture's keyframes are
//! all-white frames of ~3 kB, far smaller than a real one. Measured: the second IDR (frame 30,
//! past the start-up of the rate control) and a P-frame half a second later, each through a
//! converter that has already seen the stream's parameter sets, as it has in steady state.
//!
//! ```text
//! cargo bench -p streamhard-media --bench annexb_to_flv
//! ```

use std::hint::black_box;
use std::process::{Command, Stdio};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use streamhard_media::flv::{self, FlvTime};
use streamhard_media::h264::AvcConverter;
use streamhard_testkit::fixtures::{AccessUnit, H264File};

const FPS: u32 = 30;
/// The second IDR: the first one is sized by a rate control that has no history yet.
const KEYFRAME: usize = 30;
const P_FRAME: usize = 45;

/// Two seconds of 720p30 at 2.5 Mbit/s, shaped like a browser's H.264 (see the module docs).
fn access_units() -> Vec<AccessUnit> {
    let source = format!("testsrc2=size=1280x720:rate={FPS}:duration=2,eq=brightness=-0.25");
    let gop = FPS.to_string();
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i", &source])
        // One encoder thread: x264's rate control is deterministic only then, and the same
        // bytes on every run keep the figures (and the benchmark names) comparable.
        .args(["-c:v", "libx264", "-threads", "1", "-preset", "veryfast"])
        .args(["-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0"])
        .args(["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0"])
        .args(["-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k"])
        // Access unit delimiters mark the frame boundaries for H264File; it drops them.
        .args(["-bsf:v", "h264_metadata=aud=insert", "-f", "h264", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg is installed");
    assert!(
        output.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let units = H264File::parse(&output.stdout, FPS)
        .expect("ffmpeg's H.264 splits into access units")
        .access_units;
    assert!(units[KEYFRAME].keyframe && !units[P_FRAME].keyframe);
    units
}

/// A converter in steady state: it has seen the parameter sets, and its buffer has grown.
fn primed_converter(units: &[AccessUnit]) -> AvcConverter {
    let mut converter = AvcConverter::new();
    for unit in &units[..=KEYFRAME] {
        converter.convert(&unit.data).expect("a valid access unit");
    }
    converter
}

fn annexb_to_flv(c: &mut Criterion) {
    let units = access_units();
    let mut group = c.benchmark_group("annexb_to_flv");
    for (name, unit) in [("keyframe", &units[KEYFRAME]), ("p_frame", &units[P_FRAME])] {
        let parameter = format!("{name}_{}B", unit.data.len());
        group.throughput(Throughput::Bytes(unit.data.len() as u64));

        let mut converter = primed_converter(&units);
        group.bench_with_input(BenchmarkId::new("avcc", &parameter), unit, |b, unit| {
            b.iter(|| {
                let converted = converter
                    .convert(black_box(&unit.data))
                    .expect("a valid access unit");
                black_box(converted.avcc.len())
            });
        });

        let mut converter = primed_converter(&units);
        group.bench_with_input(
            BenchmarkId::new("avcc_and_tag", &parameter),
            unit,
            |b, unit| {
                b.iter(|| {
                    let converted = converter
                        .convert(black_box(&unit.data))
                        .expect("a valid access unit");
                    flv::avc_frame(
                        FlvTime::from_ms(black_box(1_000)),
                        converted.keyframe,
                        0,
                        converted.avcc,
                    )
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, annexb_to_flv);
criterion_main!(benches);
