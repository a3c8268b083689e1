//! The whole broadcast pipeline as a session feeds it: depacketized H.264 access units and
//! Opus packets with their RTP timestamps and arrival times, RTCP sender reports, the
//! periodic tick, and the SDP's out-of-band parameter sets.
//!
//! Input: records `[op] [elapsed ms] [rtp step: i16] [length: u16] payload`, `op % 5`:
//! video access unit (Annex-B), Opus packet, sender report (NTP time from the payload),
//! tick, out-of-band SPS/PPS (the payload, split on `NAL_SEPARATOR`). RTP steps are in
//! milliseconds of each track's clock, on extended RTP times as str0m hands them on (never
//! negative); a report carries the 32-bit wire timestamp.
//!
//! Invariants: no panic; per track, FLV timestamps never go back; a video frame never goes
//! out before an AVC sequence header, nor an AAC frame before the AAC sequence header; the
//! output is bounded by the input (no runaway silence).
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamhard_fuzz::split_on;
use streamhard_media::flv::{FlvTime, Role, Tag, TagKind};
use streamhard_media::time::RtpTime;
use streamhard_pipeline::{Pipeline, PipelineSettings, Track};

const NAL_SEPARATOR: &[u8] = b"\xFF\xFF--NAL--";

#[derive(Default)]
struct Checks {
    last_video: Option<FlvTime>,
    last_audio: Option<FlvTime>,
    avc_header: bool,
    aac_header: bool,
    tags: usize,
}

impl Checks {
    fn see(&mut self, tags: &mut Vec<Tag>) {
        for tag in tags.drain(..) {
            self.tags += 1;
            match tag.kind {
                TagKind::Video => {
                    if let Some(last) = self.last_video {
                        assert!(
                            !tag.timestamp.before(last),
                            "video went back {last} → {}",
                            tag.timestamp
                        );
                    }
                    self.last_video = Some(tag.timestamp);
                    match tag.role {
                        Role::Header => self.avc_header |= tag.body.get(1) == Some(&0),
                        _ => assert!(self.avc_header, "a video frame before its header"),
                    }
                }
                TagKind::Audio => {
                    if let Some(last) = self.last_audio {
                        assert!(
                            !tag.timestamp.before(last),
                            "audio went back {last} → {}",
                            tag.timestamp
                        );
                    }
                    self.last_audio = Some(tag.timestamp);
                    match tag.role {
                        Role::Header => self.aac_header = true,
                        _ => assert!(self.aac_header, "an AAC frame before its header"),
                    }
                }
                TagKind::Script => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut pipeline = Pipeline::new(PipelineSettings::default()).expect("the pipeline starts");
    let mut checks = Checks::default();
    let mut out = Vec::new();
    // Extended RTP times, as str0m hands them on: never negative.
    let (mut now_us, mut video_rtp, mut audio_rtp) = (1_000_000u64, 90_000i64, 48_000i64);
    let mut rest = data;
    let mut records = 0usize;
    while let [op, elapsed, s0, s1, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        records += 1;
        now_us += u64::from(*elapsed) * 1000;
        let step = i32::from(i16::from_be_bytes([*s0, *s1]));
        match op % 5 {
            0 => {
                video_rtp = (video_rtp + i64::from(step) * 90).max(0);
                pipeline.push_video(RtpTime::from_ticks(video_rtp), now_us, payload, &mut out);
            }
            1 => {
                audio_rtp = (audio_rtp + i64::from(step) * 48).max(0);
                let before = out.len();
                let clock_made =
                    pipeline.push_audio(RtpTime::from_ticks(audio_rtp), now_us, payload, &mut out);
                assert!(
                    clock_made <= out.len() - before,
                    "more clock-made tags than appended"
                );
            }
            2 => {
                let mut ntp = [0u8; 8];
                let n = payload.len().min(8);
                ntp[..n].copy_from_slice(&payload[..n]);
                let (track, rtp) = if op & 0x80 == 0 {
                    (Track::Video, video_rtp + i64::from(step) * 90)
                } else {
                    (Track::Audio, audio_rtp + i64::from(step) * 48)
                };
                // A report carries the 32-bit wire timestamp.
                let wire = RtpTime::from_ticks(rtp).wire();
                pipeline.sender_report(track, wire, i64::from_be_bytes(ntp));
            }
            3 => pipeline.tick(now_us, &mut out),
            _ => {
                let sets: Vec<Vec<u8>> = split_on(payload, NAL_SEPARATOR)
                    .map(<[u8]>::to_vec)
                    .collect();
                pipeline.set_out_of_band_parameter_sets(&sets);
            }
        }
        checks.see(&mut out);
        let _ = pipeline.info();
        let _ = pipeline.timeline_status();
        // Silence fills at most up to the video's time: ~47 AAC frames a second of elapsed
        // time (at most 255 ms per record), plus the headers and metadata of each record.
        assert!(
            checks.tags <= records * 16 + (now_us / 1000) as usize,
            "{} tags from {records} records",
            checks.tags
        );
    }
});
