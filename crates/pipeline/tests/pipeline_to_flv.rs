//! The pipeline alone, no network: a real H.264 + Opus fixture with a flash and a beep at every
//! whole second goes in with random RTP offsets, extended RTP times that cross the 32-bit wire
//! wrap (sender reports carry the wrapped wire value), network skew between the tracks
//! and RTCP sender reports; the FLV that comes out is checked by ffprobe/ffmpeg.

use std::path::Path;

use streamhard_media::flv::{self, FlvTime, Tag, TagKind};
use streamhard_media::time::RtpTime;
use streamhard_pipeline::{Pipeline, PipelineSettings, Track};
use streamhard_testkit::ffprobe::{self, StreamKind};
use streamhard_testkit::fixtures::{AccessUnit, Fixture, FixtureSpec, OpusPacket, TestMedia};

const SECONDS: u32 = 10;
/// Both RTP clocks start close to 2^32 so that both wrap during the run.
const VIDEO_RTP_BASE: u32 = u32::MAX - 200_000;
const AUDIO_RTP_BASE: u32 = u32::MAX - 100_000;
/// The sender's wall clock at capture time 0 (µs since the epoch).
const WALL_BASE_US: i64 = 1_764_000_000_000_000;

enum Event<'a> {
    Video {
        rtp: RtpTime,
        data: &'a [u8],
    },
    Audio {
        rtp: RtpTime,
        data: &'a [u8],
    },
    Report {
        track: Track,
        rtp: u32,
        wall_us: i64,
    },
}

/// Runs the media through a pipeline as if it arrived over a network that delays video by
/// `video_delay_us` and audio by `audio_delay_us`; returns the FLV file bytes.
fn run(media: &TestMedia, with_audio: bool, video_delay_us: u64, audio_delay_us: u64) -> Vec<u8> {
    let mut events: Vec<(u64, Event)> = Vec::new();
    for au in &media.video {
        let capture_us = au.pts_90k * 1_000_000 / 90_000;
        let rtp = RtpTime::from_ticks(i64::from(VIDEO_RTP_BASE) + au.pts_90k as i64);
        events.push((
            capture_us + video_delay_us,
            Event::Video {
                rtp,
                data: &au.data,
            },
        ));
    }
    if with_audio {
        for p in &media.audio {
            let capture_us = p.sample_pos * 1_000_000 / 48_000;
            let rtp = RtpTime::from_ticks(i64::from(AUDIO_RTP_BASE) + p.sample_pos as i64);
            events.push((
                capture_us + audio_delay_us,
                Event::Audio { rtp, data: &p.data },
            ));
        }
    }
    // Sender reports once a second per track, the first audio one late as Chrome does.
    for s in 1..SECONDS as u64 {
        let wall_us = WALL_BASE_US + (s * 1_000_000) as i64;
        let v_rtp = VIDEO_RTP_BASE.wrapping_add((s * 90_000) as u32);
        events.push((
            s * 1_000_000 + video_delay_us,
            Event::Report {
                track: Track::Video,
                rtp: v_rtp,
                wall_us,
            },
        ));
        if with_audio && s >= 2 {
            let a_rtp = AUDIO_RTP_BASE.wrapping_add((s * 48_000) as u32);
            events.push((
                s * 1_000_000 + audio_delay_us,
                Event::Report {
                    track: Track::Audio,
                    rtp: a_rtp,
                    wall_us,
                },
            ));
        }
    }
    events.sort_by_key(|(at, _)| *at);

    let mut pipeline = Pipeline::new(PipelineSettings::default()).expect("pipeline");
    let mut tags: Vec<Tag> = Vec::new();
    let mut next_tick = 0u64;
    for (at, event) in &events {
        while next_tick <= *at {
            pipeline.tick(next_tick, &mut tags);
            next_tick += 100_000;
        }
        match event {
            Event::Video { rtp, data } => pipeline.push_video(*rtp, *at, data, &mut tags),
            Event::Audio { rtp, data } => {
                let _clock_made = pipeline.push_audio(*rtp, *at, data, &mut tags);
            }
            Event::Report {
                track,
                rtp,
                wall_us,
            } => pipeline.sender_report(*track, *rtp, *wall_us),
        }
    }
    // The session's clock ticks on after the last packet (silence follows the last video).
    pipeline.tick(next_tick, &mut tags);
    let mut file = flv::FLV_HEADER.to_vec();
    for tag in &tags {
        flv::write_tag(tag, &mut file).expect("tag fits FLV");
    }
    file
}

fn fixture() -> TestMedia {
    Fixture::generate(FixtureSpec::browser_720p(SECONDS))
        .expect("fixture")
        .load()
        .expect("load")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write flv");
    path
}

#[test]
fn relays_every_frame_as_h264_and_aac_in_sync_despite_network_skew() {
    let media = fixture();
    let dir = tempfile::tempdir().unwrap();
    // Video arrives 5 ms after capture, audio 60 ms: sender reports must undo the 55 ms skew.
    let path = write(dir.path(), "skewed.flv", &run(&media, true, 5_000, 60_000));
    let rec = ffprobe::probe(&path).expect("ffprobe");

    let video = rec.video().expect("a video stream");
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", Some(1280), Some(720))
    );
    let audio = rec.audio().expect("an audio stream");
    assert_eq!(
        (audio.codec_name.as_str(), audio.sample_rate, audio.channels),
        ("aac", Some(48_000), Some(2))
    );
    assert_eq!(audio.profile.as_deref(), Some("LC"));
    assert_eq!(
        rec.video_frame_count(),
        media.video.len(),
        "every frame relayed"
    );
    assert!(rec.first_video_frame_is_key());
    assert!(
        rec.timestamps_monotonic(),
        "{:?}",
        rec.first_non_monotonic()
    );
    let (v, a) = (rec.video_duration_ms(), rec.audio_duration_ms());
    assert!((v - a).abs() <= 100.0, "video {v} ms vs audio {a} ms");
    let offset = ffprobe::av_offset_ms(&path).expect("sync marks");
    // Before the reports the tracks sit 55 ms apart; the timeline slews them together at a
    // bounded rate, so the median over the run must be within the 40 ms budget.
    assert!(offset.abs() <= 40.0, "A/V offset {offset} ms");
}

#[test]
fn a_publisher_without_audio_still_gets_a_continuous_aac_track() {
    let media = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "silent.flv", &run(&media, false, 5_000, 0));
    let rec = ffprobe::probe(&path).expect("ffprobe");
    assert!(
        rec.streams
            .iter()
            .any(|s| s.kind == StreamKind::Audio && s.codec_name == "aac")
    );
    assert_eq!(rec.video_frame_count(), media.video.len());
    let (v, a) = (rec.video_duration_ms(), rec.audio_duration_ms());
    assert!(
        (v - a).abs() <= 100.0,
        "video {v} ms vs silent audio {a} ms"
    );
    // Continuous: consecutive AAC frames are one frame (21.3 ms, in whole FLV milliseconds)
    // apart, never more.
    let gaps = rec
        .audio_packets
        .windows(2)
        .map(|w| w[1].dts_ms - w[0].dts_ms);
    let worst = gaps.fold(0.0f64, f64::max);
    assert!(worst < 22.5, "largest gap in the audio track: {worst} ms");
}

/// GStreamer and ffmpeg may signal SPS/PPS only in the SDP (`sprop-parameter-sets`): with
/// the stream stripped of them, the pipeline decodes nothing until it is given them, and then
/// produces a sequence header and every frame.
#[test]
fn parameter_sets_from_the_signalling_stand_in_for_missing_in_band_ones() {
    use streamhard_media::flv::{Role, TagKind};
    use streamhard_media::h264::nal_units;

    let media = Fixture::generate(FixtureSpec::browser_720p(2))
        .expect("fixture")
        .load()
        .expect("load");
    let mut sprop: Vec<Vec<u8>> = Vec::new();
    let stripped: Vec<(RtpTime, Vec<u8>)> = media
        .video
        .iter()
        .map(|au| {
            let mut rest = Vec::new();
            for nal in nal_units(&au.data) {
                match nal[0] & 0x1f {
                    7 | 8 => {
                        if !sprop.iter().any(|s| s == nal) {
                            sprop.push(nal.to_vec());
                        }
                    }
                    _ => {
                        rest.extend_from_slice(&[0, 0, 0, 1]);
                        rest.extend_from_slice(nal);
                    }
                }
            }
            (RtpTime::from_ticks(au.pts_90k as i64), rest)
        })
        .collect();
    assert_eq!(sprop.len(), 2, "the fixture has one SPS and one PPS");

    let video_tags = |parameter_sets: &[Vec<u8>]| {
        let mut pipeline = Pipeline::new(PipelineSettings::default()).expect("pipeline");
        pipeline.set_out_of_band_parameter_sets(parameter_sets);
        let mut out = Vec::new();
        for (i, (rtp, au)) in stripped.iter().enumerate() {
            pipeline.push_video(*rtp, i as u64 * 33_333, au, &mut out);
        }
        out.into_iter()
            .filter(|t| t.kind == TagKind::Video)
            .collect::<Vec<_>>()
    };
    assert!(
        video_tags(&[]).is_empty(),
        "nothing is decodable without SPS/PPS"
    );
    let tags = video_tags(&sprop);
    assert_eq!(
        tags[0].role,
        Role::Header,
        "the AVC sequence header comes first"
    );
    assert_eq!(tags[1].role, Role::Keyframe);
    assert_eq!(
        tags.len(),
        1 + stripped.len(),
        "every access unit became a frame"
    );
}

/// Capture time (µs) of one of the fixture's access units.
fn video_us(au: &AccessUnit) -> u64 {
    au.pts_90k * 1_000_000 / 90_000
}

/// Capture time (µs) of one of the fixture's Opus packets.
fn audio_us(p: &OpusPacket) -> u64 {
    p.sample_pos * 1_000_000 / 48_000
}

fn push_video(pipeline: &mut Pipeline, au: &AccessUnit, tags: &mut Vec<Tag>) {
    let rtp = RtpTime::from_ticks(au.pts_90k as i64);
    pipeline.push_video(rtp, video_us(au), &au.data, tags);
}

/// Returns how many of the tags it appended the pipeline called the clock's.
fn push_audio(pipeline: &mut Pipeline, p: &OpusPacket, tags: &mut Vec<Tag>) -> usize {
    let rtp = RtpTime::from_ticks(p.sample_pos as i64);
    pipeline.push_audio(rtp, audio_us(p), &p.data, tags)
}

/// Both tracks of `media` captured before `until_us`, each arriving when captured, with the
/// session's tick every 100 ms; returns how many tags the pipeline called the clock's.
fn feed_until(
    pipeline: &mut Pipeline,
    media: &TestMedia,
    until_us: u64,
    tags: &mut Vec<Tag>,
) -> usize {
    let mut events: Vec<(u64, Option<&AccessUnit>, Option<&OpusPacket>)> = Vec::new();
    events.extend(media.video.iter().map(|au| (video_us(au), Some(au), None)));
    events.extend(media.audio.iter().map(|p| (audio_us(p), None, Some(p))));
    events.retain(|(at, _, _)| *at < until_us);
    events.sort_by_key(|(at, _, _)| *at);
    let (mut next_tick, mut clock_made) = (0u64, 0);
    for (at, au, p) in events {
        while next_tick <= at {
            pipeline.tick(next_tick, tags);
            next_tick += 100_000;
        }
        if let Some(au) = au {
            push_video(pipeline, au, tags);
        }
        if let Some(p) = p {
            clock_made += push_audio(pipeline, p, tags);
        }
    }
    clock_made
}

/// After an outage of both tracks (a dead network, then an ICE restart on the same session),
/// the publisher's first video frame back brings its video only. The silence that fills the
/// hole in audio comes from the clock's tick: the relay must tell the two apart, since
/// standby already covered the outage and only the publisher's own media may take over from
/// it (treating that silence as the publisher's audio moved the whole stream forward by the
/// outage).
#[test]
fn silence_for_an_audio_hole_comes_from_the_clock_never_from_a_video_frame() {
    const OUTAGE_FROM_US: u64 = 2_000_000;
    const OUTAGE_TO_US: u64 = 6_000_000;
    let media = fixture();
    let mut pipeline = Pipeline::new(PipelineSettings::default()).expect("pipeline");
    let mut tags = Vec::new();
    feed_until(&mut pipeline, &media, OUTAGE_FROM_US, &mut tags);
    assert!(
        tags.iter().any(|t| t.kind == TagKind::Audio),
        "audio before the outage"
    );

    // The network is back: the first video frame arrives before any audio.
    let au = media
        .video
        .iter()
        .find(|au| video_us(au) >= OUTAGE_TO_US)
        .expect("the fixture runs past the outage");
    let before = tags.len();
    push_video(&mut pipeline, au, &mut tags);
    let from_frame: Vec<_> = tags[before..].iter().map(|t| (t.kind, t.role)).collect();
    assert!(
        from_frame.iter().all(|(kind, _)| *kind == TagKind::Video),
        "a video frame brought {from_frame:?}"
    );
    let before = tags.len();
    pipeline.tick(video_us(au), &mut tags);
    let silence = tags[before..]
        .iter()
        .filter(|t| t.kind == TagKind::Audio)
        .count();
    // The clock fills the 4 s hole (187 AAC frames of 21.3 ms), up to the video.
    assert!(
        silence >= 180,
        "the tick filled {silence} frames of the hole"
    );
}

/// After a 3 s blip of both tracks with the audio back first, the first Opus packet brings out
/// what the encoder held from before the blip and the silence it bridges the blip with: those
/// are the clock's, and only the frames of the packet itself and after are the publisher's.
#[test]
fn after_a_gap_the_frames_before_the_first_packet_back_are_the_clocks() {
    const GAP_FROM_US: u64 = 2_000_000;
    const GAP_TO_US: u64 = 5_000_000;
    let media = fixture();
    let mut pipeline = Pipeline::new(PipelineSettings::default()).expect("pipeline");
    let mut tags = Vec::new();
    let clock_made_before_gap = feed_until(&mut pipeline, &media, GAP_FROM_US, &mut tags);
    assert_eq!(
        clock_made_before_gap, 0,
        "steady audio is all the publisher's"
    );
    let sent_before = tags.iter().filter(|t| t.kind == TagKind::Audio).count();
    assert!(sent_before > 80, "{sent_before} AAC frames before the gap");
    let last_before = tags
        .iter()
        .rev()
        .find(|t| t.kind == TagKind::Audio)
        .expect("audio")
        .timestamp;

    let back = media
        .audio
        .iter()
        .find(|p| audio_us(p) >= GAP_TO_US)
        .expect("audio after the gap");
    let before = tags.len();
    let clock_made = push_audio(&mut pipeline, back, &mut tags);
    let appended = &tags[before..];
    // The 3 s are bridged with silence (about 140 frames), all of it the clock's.
    assert!(
        clock_made >= 130,
        "{clock_made} of {} appended tags are the clock's",
        appended.len()
    );
    assert!(clock_made <= appended.len());
    let back_ms = (audio_us(back) / 1000) as u32;
    for tag in &appended[..clock_made] {
        assert!(
            !tag.timestamp.before(last_before) && tag.timestamp.before(FlvTime::from_ms(back_ms)),
            "a clock-made frame at {:?}, outside the gap",
            tag.timestamp
        );
    }
}
