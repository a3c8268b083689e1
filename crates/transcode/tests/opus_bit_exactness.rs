//! How exactly does ropus decode like libopus? Checked against the libopus that Debian's ffmpeg
//! links (`ffmpeg -c:a libopus`), on Ogg Opus made by that same libopus.
//!
//! ropus ports libopus' *fixed-point* build; Debian (like most distributions and browsers)
//! ships the *floating-point* build, whose CELT arithmetic rounds differently. The SILK decoder
//! is fixed-point in both builds, so SILK-only packets must decode bit-exactly; CELT and hybrid
//! packets cannot, and the tests assert the difference is float-vs-fixed rounding (a couple of
//! LSB, about 70 dB below the signal), i.e. inaudible.
//!
//! Bit-exactness itself was checked once by hand (it needs a fixed-point libopus, which no
//! distribution ships, so it cannot run here): libopus v1.6.1 built with
//! `cmake -DOPUS_FIXED_POINT=ON` (CMake does not enable RES24, matching ropus) and decoding the
//! packets of these same kinds of files with `opus_decode` gave PCM identical to ropus for CELT,
//! SILK and hybrid packets, and for CELT loss concealment. SILK and hybrid loss concealment
//! differ (about 35–40 dB SNR), as ropus documents ("tier-2" PLC).

mod support;

use support::ogg::OpusFile;

/// Decodes every packet with ropus to stereo, then drops the pre-skip as RFC 7845 (and ffmpeg)
/// does. Mono decodes to stereo the way libopus upmixes, so it is compared as stereo too.
fn ropus_decode(file: &OpusFile, channels: ropus::Channels) -> Vec<i16> {
    let ch = channels.count();
    let mut decoder = ropus::Decoder::new(48_000, channels).unwrap();
    let mut pcm = Vec::new();
    let mut out = vec![0i16; 5760 * ch];
    for packet in &file.packets {
        let n = decoder
            .decode(packet, &mut out, ropus::DecodeMode::Normal)
            .unwrap();
        pcm.extend_from_slice(&out[..n * ch]);
    }
    pcm.split_off(usize::from(file.pre_skip) * ch)
}

struct Difference {
    max_lsb: i32,
    snr_db: f64,
    /// Share of the packets coded in the mode the test is about (TOC configs of RFC 6716 §3.1).
    in_mode: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Silk,
    Hybrid,
    Celt,
}

impl Mode {
    fn of(packet: &[u8]) -> Mode {
        match packet[0] >> 3 {
            0..=11 => Mode::Silk,
            12..=15 => Mode::Hybrid,
            _ => Mode::Celt,
        }
    }
}

/// Encodes `source` with libopus (`bitrate`, `application`), decodes it with ropus and with
/// ffmpeg's libopus, and measures how far apart the two decodings are.
fn compare(
    test: &str,
    source: &str,
    channels: u8,
    (bitrate, application, mode): (&str, &str, Mode),
) -> Difference {
    let dir = support::scratch_dir(test);
    let ogg = dir.join("in.ogg");
    let ch = channels.to_string();
    support::run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-ac",
            &ch,
            "-c:a",
            "libopus",
            "-b:a",
            bitrate,
            "-application",
            application,
            "-frame_duration",
            "20",
            "-f",
            "ogg",
            ogg.to_str().unwrap(),
        ],
    );
    let file = support::ogg::read_opus(&std::fs::read(&ogg).unwrap());
    let in_mode = file.packets.iter().filter(|p| Mode::of(p) == mode).count() as f64
        / file.packets.len() as f64;
    let layout = if channels == 1 {
        ropus::Channels::Mono
    } else {
        ropus::Channels::Stereo
    };
    let ours = ropus_decode(&file, layout);
    let theirs = support::decode_to_pcm(&ogg, Some("libopus"));

    // ffmpeg also trims the end to the last page's granule position; everything before matches
    // in timing exactly.
    let n = theirs.len();
    assert!(n > 48_000, "libopus decoded only {n} samples");
    assert!(
        ours.len() >= n && ours.len() - n < 960 * usize::from(channels),
        "ropus decoded {} samples, libopus {n}",
        ours.len()
    );
    let diff = |(a, b): (&i16, &i16)| i32::from(*a) - i32::from(*b);
    let max_lsb = ours
        .iter()
        .zip(&theirs)
        .map(diff)
        .map(i32::abs)
        .max()
        .unwrap_or(0);
    let signal: f64 = theirs.iter().map(|&s| f64::from(s).powi(2)).sum();
    let noise: f64 = ours
        .iter()
        .zip(&theirs)
        .map(diff)
        .map(|d| f64::from(d).powi(2))
        .sum();
    let snr_db = 10.0 * (signal / noise.max(1e-9)).log10();
    eprintln!("{test}: max difference {max_lsb} LSB, SNR {snr_db:.1} dB");
    Difference {
        max_lsb,
        snr_db,
        in_mode,
    }
}

fn assert_float_rounding_only(d: Difference) {
    assert!(
        d.in_mode > 0.9,
        "only {:.2} of the packets in the mode under test",
        d.in_mode
    );
    assert!(
        d.max_lsb <= 8,
        "difference of {} LSB is more than rounding",
        d.max_lsb
    );
    assert!(
        d.snr_db >= 60.0,
        "difference only {:.1} dB below the signal",
        d.snr_db
    );
}

#[test]
fn celt_stereo_decodes_like_libopus_up_to_float_rounding() {
    let source = "sine=frequency=1000:sample_rate=48000:duration=2";
    assert_float_rounding_only(compare(
        "celt_stereo",
        source,
        2,
        ("96k", "audio", Mode::Celt),
    ));
}

#[test]
fn celt_mono_decodes_like_libopus_up_to_float_rounding() {
    let source = "sine=frequency=1000:sample_rate=48000:duration=2";
    assert_float_rounding_only(compare(
        "celt_mono",
        source,
        1,
        ("96k", "audio", Mode::Celt),
    ));
}

#[test]
fn celt_noise_decodes_like_libopus_up_to_float_rounding() {
    let source = "anoisesrc=d=2:c=pink:r=48000:a=0.3";
    assert_float_rounding_only(compare(
        "celt_noise",
        source,
        2,
        ("128k", "audio", Mode::Celt),
    ));
}

#[test]
fn silk_decodes_bit_exactly_like_libopus() {
    let source = "anoisesrc=d=2:c=brown:r=48000:a=0.5";
    let difference = compare("silk", source, 1, ("12k", "voip", Mode::Silk));
    assert_eq!(difference.in_mode, 1.0, "not all packets are SILK");
    assert_eq!(difference.max_lsb, 0, "SNR {:.1} dB", difference.snr_db);
}

#[test]
fn hybrid_decodes_like_libopus_up_to_float_rounding() {
    let source = "anoisesrc=d=2:c=pink:r=48000:a=0.2";
    assert_float_rounding_only(compare("hybrid", source, 2, ("32k", "voip", Mode::Hybrid)));
}
