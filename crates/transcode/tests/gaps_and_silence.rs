//! Losses, pauses and silence-only tracks, checked in the decoded audio: the AAC that ffmpeg
//! reads back must have no holes, the right length, and silence exactly where input stopped.

mod support;

use std::path::{Path, PathBuf};

use streamhard_transcode::{AacFrame, AacSettings, OpusToAac, SAMPLES_PER_FRAME};

const FRAME: i64 = SAMPLES_PER_FRAME as i64;

/// 20 ms Opus packets of a 1 kHz stereo tone, made by ffmpeg's libopus.
fn tone_packets(dir: &Path, seconds: u32) -> Vec<Vec<u8>> {
    let source = format!("sine=frequency=1000:sample_rate=48000:duration={seconds}");
    let ogg = support::make_opus(dir, "in.ogg", &source, 2);
    support::ogg::read_opus(&std::fs::read(ogg).unwrap()).packets
}

fn write_adts(dir: &Path, frames: &[AacFrame]) -> PathBuf {
    let path = dir.join("out.aac");
    let bytes: Vec<u8> = frames
        .iter()
        .flat_map(|f| support::adts::frame(&f.data))
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

fn assert_back_to_back(frames: &[AacFrame]) {
    for pair in frames.windows(2) {
        assert_eq!(pair[1].pts - pair[0].pts, FRAME);
    }
}

/// Checks the stream with ffprobe and returns its decoded PCM (stereo, from the first frame).
fn probe_and_decode(aac: &Path, expected_frames: i64) -> Vec<i16> {
    let probe = support::probe(aac);
    assert_eq!(probe["codec_name"], "aac");
    assert_eq!(probe["profile"], "LC");
    assert_eq!(probe["sample_rate"], "48000");
    assert_eq!(probe["channels"], "2");
    let counted: i64 = probe["nb_read_frames"].parse().unwrap();
    assert!(
        (counted - expected_frames).abs() <= 2,
        "{counted} frames, expected {expected_frames}"
    );
    let pcm = support::decode_to_pcm(aac, None);
    assert_eq!(pcm.len() as i64, counted * FRAME * 2);
    pcm
}

/// Level of the stereo PCM between two times in seconds.
fn level(pcm: &[i16], from: f64, to: f64) -> f64 {
    let at = |t: f64| (t * 48_000.0) as usize * 2;
    support::rms_dbfs(&pcm[at(from)..at(to)])
}

#[test]
fn three_lost_packets_leave_no_hole_in_the_decoded_audio() {
    let dir = support::scratch_dir("loss_60ms");
    let packets = tone_packets(&dir, 3);
    let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
    let mut frames = Vec::new();
    for (n, packet) in packets.iter().enumerate() {
        if !(75..78).contains(&n) {
            transcoder.push_opus(n as i64 * 960, packet).unwrap();
        }
        frames.extend(std::iter::from_fn(|| transcoder.pop()));
    }
    assert_eq!(transcoder.stats().concealed_samples, 3 * 960);
    assert_eq!(frames[0].pts, 0);
    assert_back_to_back(&frames);

    let total = packets.len() as i64 * 960;
    let pcm = probe_and_decode(&write_adts(&dir, &frames), total / FRAME - 2);
    let steady = level(&pcm, 1.0, 1.4);
    // The lost span (1.5 s to 1.56 s) is concealed at about the tone's level, not a dropout.
    let concealed = level(&pcm, 1.5, 1.56);
    assert!(
        (steady - concealed).abs() < 6.0,
        "tone {steady:.1} dBFS, concealed span {concealed:.1} dBFS"
    );
}

#[test]
fn a_three_second_pause_becomes_silence_between_the_tones() {
    let dir = support::scratch_dir("pause_3s");
    let packets = tone_packets(&dir, 3);
    let pause = 3 * 48_000;
    let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
    let mut frames = Vec::new();
    for (n, packet) in packets.iter().enumerate() {
        // Packets after 1.5 s arrive 3 s later on the clock.
        let pts = n as i64 * 960 + if n >= 75 { pause } else { 0 };
        transcoder.push_opus(pts, packet).unwrap();
        frames.extend(std::iter::from_fn(|| transcoder.pop()));
    }
    assert_back_to_back(&frames);
    let stats = transcoder.stats();
    assert_eq!(
        stats.silence_samples + stats.concealed_samples,
        pause as u64
    );

    let total = packets.len() as i64 * 960 + pause;
    let pcm = probe_and_decode(&write_adts(&dir, &frames), total / FRAME - 2);
    let before = level(&pcm, 1.0, 1.4);
    let gap = level(&pcm, 1.6, 4.45);
    let after = level(&pcm, 4.6, 5.5);
    assert!(
        before > -30.0 && after > -30.0,
        "tone {before:.1} / {after:.1} dBFS"
    );
    assert!(gap < -80.0, "the pause is not silent: {gap:.1} dBFS");
}

#[test]
fn silence_alone_is_a_valid_silent_aac_stream() {
    let dir = support::scratch_dir("silence_only");
    let mut transcoder = OpusToAac::starting_at(AacSettings::default(), 1_000).unwrap();
    let mut frames = Vec::new();
    // As a pipeline would: top up every 50 ms of its clock, for 5 s.
    for step in 1..=100 {
        transcoder.push_silence_until(1_000 + step * 2_400).unwrap();
        frames.extend(std::iter::from_fn(|| transcoder.pop()));
    }
    assert_eq!(frames[0].pts, 1_000);
    assert_back_to_back(&frames);

    let pcm = probe_and_decode(&write_adts(&dir, &frames), 240_000 / FRAME - 2);
    let loudest = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(loudest <= 1, "silence decodes to samples up to {loudest}");
}
