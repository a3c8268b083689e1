//! Real media through the transcoder: Ogg Opus made by ffmpeg/libopus in, AAC out, checked by
//! ffprobe and by decoding it with ffmpeg.

mod support;

use std::path::Path;

use streamhard_transcode::{AacFrame, AacSettings, OpusToAac, SAMPLES_PER_FRAME};
use support::ogg::OpusFile;

/// Pushes every packet of `file` back to back from `first_pts` and returns all AAC frames.
fn transcode(file: &OpusFile, first_pts: i64) -> Vec<AacFrame> {
    let mut transcoder = OpusToAac::new(AacSettings::default()).unwrap();
    let mut frames = Vec::new();
    let mut pts = first_pts;
    for packet in &file.packets {
        transcoder.push_opus(pts, packet).unwrap();
        pts += i64::from(ropus::opus::decoder::opus_packet_get_nb_samples(packet, 48_000).unwrap());
        frames.extend(std::iter::from_fn(|| transcoder.pop()));
    }
    assert_eq!(
        transcoder.stats().decoded_packets,
        file.packets.len() as u64
    );
    assert_eq!(transcoder.stats().invalid_packets, 0);
    frames
}

fn write_adts(path: &Path, frames: &[AacFrame]) {
    let bytes: Vec<u8> = frames
        .iter()
        .flat_map(|f| support::adts::frame(&f.data))
        .collect();
    std::fs::write(path, bytes).unwrap();
}

fn round_trips_a_tone(test: &str, channels: u8) {
    let dir = support::scratch_dir(test);
    let source = "sine=frequency=1000:sample_rate=48000:duration=3";
    let ogg = support::make_opus(&dir, "in.ogg", source, channels);
    let file = support::ogg::read_opus(&std::fs::read(&ogg).unwrap());
    assert_eq!(file.channels, channels);

    let frames = transcode(&file, 90_000);
    assert_eq!(
        frames[0].pts, 90_000,
        "first frame must start at the first Opus sample"
    );
    for pair in frames.windows(2) {
        assert_eq!(pair[1].pts - pair[0].pts, i64::from(SAMPLES_PER_FRAME));
    }

    let aac = dir.join("out.aac");
    write_adts(&aac, &frames);
    let probe = support::probe(&aac);
    assert_eq!(probe["codec_name"], "aac");
    assert_eq!(probe["profile"], "LC");
    assert_eq!(probe["sample_rate"], "48000");
    assert_eq!(probe["channels"], "2");
    // 3 s of audio (plus the Opus encoder's 6.5 ms of lookahead) minus what is still inside the
    // AAC encoder (two frames of delay and a partial frame) when the input ends.
    let opus_samples = file.packets.len() as i64 * 960;
    let expected = (opus_samples / 1024 - 2) as i64;
    let counted: i64 = probe["nb_read_frames"].parse().unwrap();
    assert!(
        (counted - expected).abs() <= 2,
        "{counted} frames, expected {expected}"
    );
    assert_eq!(counted, frames.len() as i64);

    // The tone survives at the same level: compare with libopus' decoding of the input, away
    // from the edges.
    let input = support::decode_to_pcm(&ogg, Some("libopus"));
    let output = support::decode_to_pcm(&aac, None);
    let middle = |pcm: &[i16], ch: usize| pcm[48_000 * ch..96_000 * ch].to_vec();
    let in_db = support::rms_dbfs(&middle(&input, usize::from(channels)));
    let out_db = support::rms_dbfs(&middle(&output, 2));
    assert!(
        (in_db - out_db).abs() < 1.0,
        "input {in_db:.2} dBFS, output {out_db:.2} dBFS"
    );
    assert!(out_db > -30.0, "tone too quiet: {out_db:.2} dBFS");
    let fraction = support::tone_fraction(&middle(&output, 2), 1000.0);
    assert!(
        fraction > 0.95,
        "only {fraction:.3} of the energy is at 1 kHz"
    );
}

#[test]
fn transcodes_a_stereo_opus_tone_to_aac_lc_48k_stereo() {
    round_trips_a_tone("stereo_tone", 2);
}

#[test]
fn transcodes_a_mono_opus_tone_to_aac_lc_48k_stereo() {
    round_trips_a_tone("mono_tone", 1);
}

/// The timestamps are right in the decoded signal, not just in the numbers: a tone that starts
/// 0.5 s into the input starts at the same sample in the AAC decoded by ffmpeg (whose first
/// output sample is the first frame's pts) as in the Opus decoded by ropus.
#[test]
fn the_aac_onset_lands_on_the_same_sample_as_the_opus_onset() {
    let dir = support::scratch_dir("onset");
    let source = "aevalsrc=if(gte(t\\,0.5)\\,0.5*sin(2*PI*1000*t)\\,0):s=48000:d=1.5";
    let ogg = support::make_opus(&dir, "in.ogg", source, 2);
    let file = support::ogg::read_opus(&std::fs::read(&ogg).unwrap());

    let mut decoder = ropus::Decoder::new(48_000, ropus::Channels::Stereo).unwrap();
    let mut opus_pcm = Vec::new();
    for packet in &file.packets {
        let mut out = vec![0i16; 5760 * 2];
        let n = decoder
            .decode(packet, &mut out, ropus::DecodeMode::Normal)
            .unwrap();
        opus_pcm.extend_from_slice(&out[..n * 2]);
    }

    let frames = transcode(&file, 0);
    let aac = dir.join("out.aac");
    write_adts(&aac, &frames);
    let aac_pcm = support::decode_to_pcm(&aac, None);

    let threshold = 4_000;
    let opus_onset = support::onset(&opus_pcm, threshold).unwrap();
    let aac_onset = support::onset(&aac_pcm, threshold).unwrap();
    assert!(
        opus_onset.abs_diff(aac_onset) <= 8,
        "Opus onset at {opus_onset}, AAC onset at {aac_onset}"
    );
}
