//! Timeline behaviour on simulated publishers: a sender capturing audio and video on one wall
//! clock, a network delaying each track, a receiver observing arrivals on its own clock.

use super::*;
use crate::time::RtpTime;

/// Shorthand for an extended RTP time in ticks.
const fn rtp(ticks: i64) -> RtpTime {
    RtpTime::from_ticks(ticks)
}

/// splitmix64: a tiny deterministic generator, so "random" cases are the same on every run.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

/// Opus packets of 20 ms.
const AUDIO_FRAME_TICKS: i64 = 960;
/// Video at 30 frames per second.
const VIDEO_FRAME_TICKS: i64 = 3_000;
const SECOND: i64 = 1_000_000;

/// A publisher and its network, all times in µs.
#[derive(Clone, Debug)]
struct Publisher {
    audio_rtp0: u32,
    video_rtp0: u32,
    /// Sender wall time (µs since the UNIX epoch) when capture starts.
    wall0_us: i64,
    /// Receiver's monotonic time when capture starts.
    local0_us: i64,
    audio_delay_us: i64,
    video_delay_us: i64,
    /// Extra per-packet delay, uniform in `0..jitter_us`.
    jitter_us: i64,
    /// How much faster than nominal the audio device clock runs, in ppm of the wall clock.
    audio_drift_ppm: i64,
    first_audio_report_us: i64,
    audio_report_every_us: i64,
    first_video_report_us: i64,
    video_report_every_us: i64,
    duration_us: i64,
    seed: u64,
}

impl Default for Publisher {
    /// Chrome-like: the first video report soon, the first audio report about 2 s in.
    fn default() -> Self {
        Self {
            audio_rtp0: 1_234_567_890,
            video_rtp0: 3_987_654_321,
            wall0_us: 1_750_000_000 * SECOND,
            local0_us: 5 * SECOND,
            audio_delay_us: 40_000,
            video_delay_us: 40_000,
            jitter_us: 0,
            audio_drift_ppm: 0,
            first_audio_report_us: 2 * SECOND,
            audio_report_every_us: 5 * SECOND,
            first_video_report_us: 300_000,
            video_report_every_us: SECOND,
            duration_us: 30 * SECOND,
            seed: 1,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Event {
    /// Frame number `index` of `track`.
    Frame { track: Track, index: i64 },
    Report {
        track: Track,
        rtp: u32,
        wall_us: i64,
    },
}

impl Publisher {
    /// Audio RTP ticks since the start at capture time `capture_us` (the device clock drifts).
    fn audio_ticks_at(&self, capture_us: i64) -> i64 {
        let ticks = i128::from(capture_us) * 48_000 * i128::from(1_000_000 + self.audio_drift_ppm)
            / 1_000_000_000_000;
        ticks as i64
    }

    /// Extended RTP times, as str0m hands them on (starting in era 0 at `audio_rtp0`).
    fn audio_rtp_at(&self, capture_us: i64) -> RtpTime {
        rtp(i64::from(self.audio_rtp0) + self.audio_ticks_at(capture_us))
    }

    fn video_rtp_at(&self, capture_us: i64) -> RtpTime {
        rtp(i64::from(self.video_rtp0) + capture_us * 9 / 100)
    }

    fn capture_us(&self, track: Track, index: i64) -> i64 {
        match track {
            Track::Audio => {
                let ticks = i128::from(index * AUDIO_FRAME_TICKS) * 1_000_000_000_000;
                (ticks / (48_000 * i128::from(1_000_000 + self.audio_drift_ppm))) as i64
            }
            Track::Video => index * VIDEO_FRAME_TICKS * 100 / 9,
        }
    }

    fn rtp(&self, track: Track, index: i64) -> RtpTime {
        match track {
            Track::Audio => rtp(i64::from(self.audio_rtp0) + index * AUDIO_FRAME_TICKS),
            Track::Video => rtp(i64::from(self.video_rtp0) + index * VIDEO_FRAME_TICKS),
        }
    }

    fn delay_us(&self, track: Track) -> i64 {
        match track {
            Track::Audio => self.audio_delay_us,
            Track::Video => self.video_delay_us,
        }
    }

    /// Everything the receiver gets, in arrival order, with arrival times.
    fn events(&self) -> Vec<(i64, Event)> {
        let mut prng = Prng(self.seed);
        let mut jitter = |max: i64| {
            if max > 0 { prng.below(max as u64) } else { 0 }
        };
        let mut events = Vec::new();
        for track in [Track::Audio, Track::Video] {
            for index in 0.. {
                let capture = self.capture_us(track, index);
                if capture >= self.duration_us {
                    break;
                }
                let arrival = self.local0_us + capture + self.delay_us(track);
                events.push((
                    arrival + jitter(self.jitter_us),
                    Event::Frame { track, index },
                ));
            }
            let (first, every) = match track {
                Track::Audio => (self.first_audio_report_us, self.audio_report_every_us),
                Track::Video => (self.first_video_report_us, self.video_report_every_us),
            };
            let mut sent = first;
            while sent < self.duration_us {
                // A report carries the 32-bit wire timestamp.
                let rtp = match track {
                    Track::Audio => self.audio_rtp_at(sent),
                    Track::Video => self.video_rtp_at(sent),
                }
                .wire();
                let wall_us = self.wall0_us + sent;
                let arrival = self.local0_us + sent + self.delay_us(track);
                events.push((
                    arrival + jitter(self.jitter_us),
                    Event::Report {
                        track,
                        rtp,
                        wall_us,
                    },
                ));
                sent += every;
            }
        }
        // Stable: frames sent at once keep their order.
        events.sort_by_key(|(arrival, _)| *arrival);
        events
    }
}

/// One delivered frame: when it was captured and where the timeline put it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Placed {
    index: i64,
    capture_us: i64,
    rtp: RtpTime,
    output_us: i64,
}

struct Run {
    timeline: Timeline,
    audio: Vec<Placed>,
    video: Vec<Placed>,
    /// At each video frame: (capture time, video output minus the output of the audio RTP time
    /// captured at the same instant). 0 is perfect sync.
    av_errors: Vec<(i64, i64)>,
}

impl Run {
    fn placed(&self, track: Track) -> &[Placed] {
        match track {
            Track::Audio => &self.audio,
            Track::Video => &self.video,
        }
    }

    fn av_error_after(&self, capture_us: i64) -> impl Iterator<Item = i64> + '_ {
        self.av_errors
            .iter()
            .filter(move |(capture, _)| *capture >= capture_us)
            .map(|(_, error)| *error)
    }
}

/// Plays `publisher` into a fresh timeline, delivering the frames `keep` lets through.
fn run(publisher: &Publisher, keep: impl Fn(Track, i64) -> bool) -> Run {
    play(publisher, keep, true)
}

/// [`run`], optionally dropping every sender report (the frames arrive exactly as with them).
fn play(publisher: &Publisher, keep: impl Fn(Track, i64) -> bool, reports: bool) -> Run {
    let mut run = Run {
        timeline: Timeline::new(),
        audio: Vec::new(),
        video: Vec::new(),
        av_errors: Vec::new(),
    };
    let timeline = &mut run.timeline;
    for (arrival, event) in publisher.events() {
        match event {
            Event::Frame { track, index } => {
                if !keep(track, index) {
                    continue;
                }
                let rtp = publisher.rtp(track, index);
                timeline
                    .observe(track, rtp, arrival as u64)
                    .expect("a frame on its clock is accepted");
                let capture_us = publisher.capture_us(track, index);
                let output_us = timeline.map_us(track, rtp).expect("the track started");
                let placed = Placed {
                    index,
                    capture_us,
                    rtp,
                    output_us,
                };
                match track {
                    Track::Audio => run.audio.push(placed),
                    Track::Video => {
                        run.video.push(placed);
                        let audio_rtp = publisher.audio_rtp_at(capture_us);
                        if let Some(audio_us) = timeline.map_us(Track::Audio, audio_rtp) {
                            run.av_errors.push((capture_us, output_us - audio_us));
                        }
                    }
                }
            }
            Event::Report {
                track,
                rtp,
                wall_us,
            } => {
                // The runtime may hand a report before the track's first frame; that is fine.
                if reports {
                    let _ = timeline.sender_report(track, rtp, wall_us);
                }
            }
        }
    }
    run
}

/// Frames in delivery order that are the newest of their track so far (what a muxer sends;
/// late frames it holds back): their output must never decrease, and from one to the next
/// must advance at the RTP clock's pace within 1/`max_pace_divisor` of it (plus 2 µs of
/// rounding): 0.5 % for audio, 5 % for video.
fn assert_moves_forward_smoothly(
    placed: &[Placed],
    track: Track,
    clock: NonZeroU32,
    max_pace_divisor: i64,
) {
    let mut newest: Option<(i64, Placed)> = None;
    for frame in placed {
        let extended = frame.rtp.ticks();
        if let Some((newest_rtp, previous)) = newest {
            if extended <= newest_rtp {
                continue;
            }
            let media_step = ticks_to_us(extended - newest_rtp, clock);
            let output_step = frame.output_us - previous.output_us;
            assert!(
                output_step >= 0,
                "frame {} came out {} µs before frame {}",
                frame.index,
                -output_step,
                previous.index
            );
            assert!(
                (output_step - media_step).abs() <= media_step / max_pace_divisor + 2,
                "{track} frame {} advanced {output_step} µs for {media_step} µs of media",
                frame.index
            );
        }
        newest = Some((extended, *frame));
    }
}

fn assert_sound(run: &Run) {
    assert_moves_forward_smoothly(&run.audio, Track::Audio, AUDIO_CLOCK_HZ, 200);
    assert_moves_forward_smoothly(&run.video, Track::Video, VIDEO_CLOCK_HZ, 20);
}

/// Audio in `with_reports` is where the same publisher's audio is when no report ever arrives:
/// reports move video only. Within 1 µs per second of media (and 1 µs of rounding), the most
/// a drift refinement could be allowed; the timeline in fact keeps audio exactly in place.
fn assert_reports_leave_audio_alone(publisher: &Publisher, with_reports: &Run) {
    let without = play(publisher, |_, _| true, false);
    assert_eq!(without.timeline.status().reports_accepted, 0);
    assert_eq!(without.audio.len(), with_reports.audio.len());
    for (with, without) in with_reports.audio.iter().zip(&without.audio) {
        let tolerance = 1 + with.capture_us.unsigned_abs() / 1_000_000;
        assert!(
            with.output_us.abs_diff(without.output_us) <= tolerance,
            "audio frame {} moved from {} to {} µs",
            with.index,
            without.output_us,
            with.output_us
        );
    }
    // The final mappings agree too, for RTP times no frame had.
    for capture_us in (0..publisher.duration_us).step_by(777_777) {
        let rtp = publisher.audio_rtp_at(capture_us);
        let with = with_reports.timeline.map_us(Track::Audio, rtp);
        let without = without.timeline.map_us(Track::Audio, rtp);
        let tolerance = 1 + capture_us.unsigned_abs() / 1_000_000;
        assert!(
            with.zip(without)
                .is_some_and(|(with, without)| with.abs_diff(without) <= tolerance),
            "audio RTP time {rtp:?} maps to {with:?} with reports, {without:?} without"
        );
    }
}

#[test]
fn maps_nothing_before_a_track_has_its_first_frame() {
    let mut timeline = Timeline::new();
    assert_eq!(timeline.map_us(Track::Video, rtp(1234)), None);
    timeline.observe(Track::Video, rtp(1234), 10_000).unwrap();
    assert_eq!(timeline.map_us(Track::Audio, rtp(1234)), None);
    assert_eq!(timeline.map_us(Track::Video, rtp(1234)), Some(0));
}

#[test]
fn starts_at_zero_with_the_first_frame_of_either_track_and_places_the_other_by_arrival() {
    let mut timeline = Timeline::new();
    timeline
        .observe(Track::Video, rtp(4_000_000_000), 5_000_000)
        .unwrap();
    timeline.observe(Track::Audio, rtp(77), 5_020_000).unwrap();
    assert_eq!(
        timeline.map_ms(Track::Video, rtp(4_000_000_000)),
        Some(Millis::ZERO)
    );
    assert_eq!(
        timeline.map_ms(Track::Audio, rtp(77)),
        Some(Millis::new(20))
    );
    assert_eq!(
        timeline.map_us(Track::Video, rtp(4_000_090_000)),
        Some(1_000_000)
    );
    assert_eq!(
        timeline.map_us(Track::Audio, rtp(77 + 48_000)),
        Some(1_020_000)
    );
}

#[test]
fn anchors_random_start_offsets_where_the_network_delivered_them_before_any_report() {
    let publisher = Publisher {
        audio_rtp0: 3_141_592_653,
        video_rtp0: 271_828_182,
        audio_delay_us: 30_000,
        video_delay_us: 55_000,
        first_audio_report_us: i64::MAX,
        first_video_report_us: i64::MAX,
        duration_us: 5 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_sound(&run);
    assert_eq!(run.audio[0].output_us, 0);
    // Video arrived 25 ms later than audio captured at the same instant, and stays there.
    // (Within the 21 µs audio tick that the measurement rounds the capture instant to.)
    assert!(
        run.av_errors
            .iter()
            .all(|&(_, error)| error.abs_diff(25_000) <= 21)
    );
    assert_eq!(run.timeline.status().basis, SyncBasis::Arrival);
}

#[test]
fn runs_on_across_the_32_bit_wire_wrap_in_the_middle_of_a_run() {
    let publisher = Publisher {
        // Video wraps 1 s in, audio 2 s in.
        video_rtp0: u32::MAX - 90_000 + 1,
        audio_rtp0: u32::MAX - 96_000 + 1,
        duration_us: 4 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_sound(&run);
    for track in [Track::Audio, Track::Video] {
        let placed = run.placed(track);
        let first = placed[0];
        let last = placed[placed.len() - 1];
        let expected = last.capture_us - first.capture_us;
        assert!(
            (last.output_us - first.output_us).abs_diff(expected) < 20,
            "{track} spans {} µs for {expected} µs captured",
            last.output_us - first.output_us
        );
    }
}

#[test]
fn packet_loss_does_not_shift_the_timeline() {
    let publisher = Publisher {
        audio_delay_us: 20_000,
        video_delay_us: 90_000,
        jitter_us: 5_000,
        ..Publisher::default()
    };
    let lossless = run(&publisher, |_, _| true);
    // Bursts of loss on both tracks, and every 7th video frame.
    let lossy = run(&publisher, |track, index| match track {
        Track::Audio => !(100..140).contains(&index) && index % 11 != 5,
        Track::Video => index % 7 != 3 && !(300..330).contains(&index),
    });
    assert_sound(&lossy);
    for track in [Track::Audio, Track::Video] {
        let reference = lossless.placed(track);
        let mut compared = 0;
        for frame in lossy.placed(track) {
            let same = reference
                .iter()
                .find(|other| other.index == frame.index)
                .expect("every lossy frame is in the lossless run");
            // Audio never moves. A video ramp starts at the newest frame, so losing it moves
            // the start by one 33 ms frame: 5 % of that, 1.7 ms of correction at most, far
            // from a frame's worth of shift.
            let tolerance = match track {
                Track::Audio => 0,
                Track::Video => 1_700,
            };
            assert!(
                frame.output_us.abs_diff(same.output_us) <= tolerance,
                "{track} frame {} moved from {} to {} µs",
                frame.index,
                same.output_us,
                frame.output_us
            );
            compared += 1;
        }
        assert!(compared > 500);
    }
}

#[test]
fn maps_reordered_frames_by_their_rtp_time_without_disturbing_later_ones() {
    let mut timeline = Timeline::new();
    let base = 1_000_i64;
    timeline
        .observe(Track::Video, rtp(base), 1_000_000)
        .unwrap();
    timeline
        .observe(Track::Video, rtp(base + 6_000), 1_066_000)
        .unwrap();
    // Frame 1 arrives after frame 2.
    timeline
        .observe(Track::Video, rtp(base + 3_000), 1_070_000)
        .unwrap();
    assert_eq!(
        timeline.map_us(Track::Video, rtp(base + 3_000)),
        Some(33_333)
    );
    timeline
        .observe(Track::Video, rtp(base + 9_000), 1_100_000)
        .unwrap();
    assert_eq!(
        timeline.map_us(Track::Video, rtp(base + 9_000)),
        Some(100_000)
    );
}

#[test]
fn takes_a_late_frame_from_before_the_wire_wrap_as_late_not_as_a_jump() {
    // The extended times on either side of the 32-bit wire wrap are plain neighbours.
    let mut timeline = Timeline::new();
    let wrap = 1_i64 << 32;
    timeline
        .observe(Track::Video, rtp(wrap - 3_000), 1_000_000)
        .unwrap();
    timeline
        .observe(Track::Video, rtp(wrap + 3_000), 1_066_000)
        .unwrap();
    timeline
        .observe(Track::Video, rtp(wrap), 1_070_000)
        .unwrap();
    assert_eq!(timeline.map_us(Track::Video, rtp(wrap)), Some(33_333));
    assert_eq!(
        timeline.map_us(Track::Video, rtp(wrap + 3_000)),
        Some(66_666)
    );
}

#[test]
fn late_first_audio_report_leaves_audio_exactly_where_it_arrived() {
    let publisher = Publisher {
        audio_delay_us: 30_000,
        video_delay_us: 90_000,
        first_audio_report_us: 2 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_sound(&run);
    assert!(
        run.audio
            .iter()
            .filter(|frame| frame.capture_us < 2 * SECOND)
            .count()
            > 90,
        "audio flows before the first report"
    );
    // Audio arrived first, so it starts at 0 and stays on its arrival anchor for good.
    for frame in &run.audio {
        assert_eq!(
            frame.output_us, frame.capture_us,
            "audio frame {} moved",
            frame.index
        );
    }
    assert_reports_leave_audio_alone(&publisher, &run);
    assert_eq!(run.timeline.status().basis, SyncBasis::SenderReports);
}

#[test]
fn converges_a_100_ms_network_skew_to_capture_sync_without_going_backwards() {
    let publisher = Publisher {
        audio_delay_us: 20_000,
        video_delay_us: 120_000,
        jitter_us: 8_000,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_sound(&run);
    assert!(
        run.av_error_after(0)
            .take(30)
            .all(|error| error.abs_diff(100_000) < 10_000),
        "video starts about 100 ms late, as the network delivered it"
    );
    // Video moves all of 100 ms at 50 ms/s: 2 s after the audio report at 2 s.
    let settled: Vec<i64> = run.av_error_after(4_500_000).collect();
    assert!(!settled.is_empty());
    assert!(
        settled.iter().all(|error| error.abs() < 1_000),
        "errors after 4.5 s: {:?}",
        &settled[..5]
    );
    let status = run.timeline.status();
    assert_eq!(status.basis, SyncBasis::SenderReports);
    assert!(status.av_error_us.is_some_and(|error| error.abs() < 1_000));
    // Video was moved ~100 ms earlier relative to audio than the network delivered it
    // (the first-packet jitter of each track adds a few ms either way).
    assert!(status.av_offset_us.abs_diff(-100_000) < 10_000);
    assert_reports_leave_audio_alone(&publisher, &run);
}

#[test]
fn converges_a_55_ms_skew_within_two_seconds_by_moving_video_alone() {
    // Video arrives 55 ms earlier than audio captured at the same instant; the first video
    // report comes at 0.3 s, the first audio report (the switch-over) at 2 s.
    let publisher = Publisher {
        audio_delay_us: 95_000,
        video_delay_us: 40_000,
        first_audio_report_us: 2 * SECOND,
        duration_us: 8 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    // Video frames stay within 5 % of their RTP spacing, audio within 0.5 %.
    assert_sound(&run);
    let before: Vec<i64> = run
        .av_errors
        .iter()
        .filter(|(capture, _)| *capture < 2 * SECOND)
        .map(|(_, error)| *error)
        .collect();
    assert!(before.len() > 50);
    assert!(
        before.iter().all(|error| error.abs_diff(-55_000) <= 21),
        "before the audio report video is 55 ms early, as the network delivered it"
    );
    // 55 ms at 50 ms per second of media: done 1.1 s after the switch-over.
    let settled: Vec<i64> = run.av_error_after(4 * SECOND).collect();
    assert!(settled.len() > 100);
    assert!(
        settled.iter().all(|error| error.abs() < 2_000),
        "errors after 4 s: {:?}",
        &settled[..5]
    );
    let status = run.timeline.status();
    assert!(status.av_error_us.is_some_and(|error| error.abs() < 2_000));
    assert!(status.av_offset_us.abs_diff(55_000) < 1_000);
    assert_reports_leave_audio_alone(&publisher, &run);
}

#[test]
fn an_audio_report_before_the_video_one_keeps_audio_in_place_and_moves_video_to_it() {
    let publisher = Publisher {
        audio_delay_us: 20_000,
        video_delay_us: 100_000,
        first_audio_report_us: 300_000,
        first_video_report_us: 2 * SECOND,
        duration_us: 8 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_sound(&run);
    let settled: Vec<i64> = run.av_error_after(4 * SECOND).collect();
    assert!(settled.len() > 100);
    assert!(
        settled.iter().all(|error| error.abs() < 2_000),
        "errors after 4 s: {:?}",
        &settled[..5]
    );
    assert_reports_leave_audio_alone(&publisher, &run);
}

#[test]
fn follows_an_audio_clock_that_drifts_against_the_senders_wall_clock() {
    let publisher = Publisher {
        audio_drift_ppm: 300,
        duration_us: 120 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_sound(&run);
    // Uncorrected, 300 ppm would be 36 ms off after 2 minutes; reports every 5 s keep it to
    // the drift of 5 s, 1.5 ms.
    let errors: Vec<i64> = run.av_error_after(10 * SECOND).collect();
    assert!(errors.iter().all(|error| error.abs() < 2_000));
    assert!(run.timeline.status().reports_accepted > 100);
    // Audio keeps its own clock's pace, exactly what its samples play at; video follows it.
    assert_reports_leave_audio_alone(&publisher, &run);
}

#[test]
fn keeps_time_flowing_through_a_long_publisher_pause() {
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(500), 1_000_000).unwrap();
    timeline
        .observe(Track::Audio, rtp(9_000), 1_010_000)
        .unwrap();
    // Ten minutes in the background; the RTP clocks kept running.
    let video_later = 500 + 600 * 90_000;
    let audio_later = 9_000 + 600 * 48_000;
    timeline
        .observe(Track::Video, rtp(video_later), 601_000_000)
        .unwrap();
    timeline
        .observe(Track::Audio, rtp(audio_later), 601_010_000)
        .unwrap();
    assert_eq!(
        timeline.map_ms(Track::Video, rtp(video_later)),
        Some(Millis::new(600_000))
    );
    assert_eq!(
        timeline.map_ms(Track::Audio, rtp(audio_later)),
        Some(Millis::new(600_010))
    );
}

#[test]
fn a_pause_longer_than_half_the_rtp_circle_keeps_its_extended_time() {
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(0), 0).unwrap();
    // Eight hours: beyond 2^31 ticks, where re-extending the 32-bit time "nearest" would
    // guess a negative jump. The extended time is taken as it is.
    let eight_hours = rtp(8 * 3_600 * 90_000);
    timeline
        .observe(Track::Video, eight_hours, 8 * 3_600 * SECOND as u64)
        .unwrap();
    assert_eq!(
        timeline.map_us(Track::Video, eight_hours),
        Some(8 * 3_600 * SECOND)
    );
}

#[test]
fn a_time_extended_into_the_wrong_era_is_refused_then_re_anchored_where_it_was() {
    // str0m extends after a pause by its own rules; if it lands 2^32 ticks off, the frames
    // are off the clock by 13 hours: refused, and three agreeing ones re-anchor the track
    // at its current place, so time carries on instead of leaping 13 hours.
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(0), 0).unwrap();
    timeline.observe(Track::Video, rtp(3_000), 33_333).unwrap();
    let era = 1_i64 << 32;
    let mut outcomes = Vec::new();
    for n in 0..3_i64 {
        outcomes.push(timeline.observe(
            Track::Video,
            rtp(era + 6_000 + n * 3_000),
            (66_666 + n * 33_333) as u64,
        ));
    }
    assert!(outcomes[0].is_err() && outcomes[1].is_err(), "{outcomes:?}");
    assert_eq!(outcomes[2], Ok(()));
    let placed = timeline
        .map_us(Track::Video, rtp(era + 12_000))
        .expect("started");
    assert!(placed < 200_000, "placed at {placed} µs");
}

/// A timeline with both tracks running 3 s and both reports in.
fn settled_timeline() -> (Timeline, Publisher) {
    let publisher = Publisher {
        duration_us: 3 * SECOND,
        ..Publisher::default()
    };
    let run = run(&publisher, |_, _| true);
    assert_eq!(run.timeline.status().basis, SyncBasis::SenderReports);
    (run.timeline, publisher)
}

/// Where both tracks put the instant 3 s after capture started.
fn outputs(timeline: &Timeline, publisher: &Publisher) -> [i64; 2] {
    let at = 3 * SECOND;
    [
        timeline.map_us(Track::Audio, publisher.audio_rtp_at(at)),
        timeline.map_us(Track::Video, publisher.video_rtp_at(at)),
    ]
    .map(|output| output.expect("both tracks started"))
}

/// Equal but for the microsecond roundings of re-deriving the same placement from a report.
fn assert_unmoved(after: [i64; 2], before: [i64; 2]) {
    for (after, before) in after.into_iter().zip(before) {
        assert!(
            after.abs_diff(before) <= 2,
            "moved from {before} to {after} µs"
        );
    }
}

#[test]
fn refuses_a_report_an_hour_away_from_the_timeline_and_changes_nothing() {
    let (mut timeline, publisher) = settled_timeline();
    let before = outputs(&timeline, &publisher);
    let rtp = publisher.video_rtp_at(3 * SECOND).wire();
    let wall = publisher.wall0_us + 3 * SECOND + 3_600 * SECOND;
    assert!(matches!(
        timeline.sender_report(Track::Video, rtp, wall),
        Err(TimelineError::ReportInconsistent { track: Track::Video, disagreement_ms })
            if disagreement_ms.abs_diff(3_600_000) < 100
    ));
    assert_unmoved(outputs(&timeline, &publisher), before);
    // An honest report is still welcome afterwards.
    let honest = timeline.sender_report(
        Track::Video,
        publisher.video_rtp_at(3_100_000).wire(),
        publisher.wall0_us + 3_100_000,
    );
    assert_eq!(honest, Ok(ReportOutcome::Applied));
    assert_unmoved(outputs(&timeline, &publisher), before);
}

#[test]
fn refuses_a_report_whose_rtp_time_is_far_from_the_stream() {
    let (mut timeline, publisher) = settled_timeline();
    let before = outputs(&timeline, &publisher);
    let rtp = publisher
        .audio_rtp_at(3 * SECOND)
        .wire()
        .wrapping_add(48_000 * 3_600);
    let outcome = timeline.sender_report(Track::Audio, rtp, publisher.wall0_us + 3 * SECOND);
    assert!(matches!(
        outcome,
        Err(TimelineError::ReportRtpOutOfRange {
            track: Track::Audio,
            ..
        })
    ));
    assert_unmoved(outputs(&timeline, &publisher), before);
}

#[test]
fn refuses_wall_times_no_ntp_timestamp_can_give() {
    let (mut timeline, publisher) = settled_timeline();
    let before = outputs(&timeline, &publisher);
    let rtp = publisher.video_rtp_at(3 * SECOND).wire();
    for wall in [i64::MAX, i64::MIN, 1 << 60] {
        assert_eq!(
            timeline.sender_report(Track::Video, rtp, wall),
            Err(TimelineError::WallTimeOutOfRange {
                track: Track::Video,
                wall_us: wall
            })
        );
    }
    assert_unmoved(outputs(&timeline, &publisher), before);
    assert_eq!(timeline.status().reports_refused, 3);
}

#[test]
fn refuses_a_report_before_the_track_has_started() {
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(0), 0).unwrap();
    assert_eq!(
        timeline.sender_report(Track::Audio, 0, 1_750_000_000 * SECOND),
        Err(TimelineError::TrackNotStarted {
            track: Track::Audio
        })
    );
}

#[test]
fn treats_a_repeated_report_as_unchanged() {
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(0), 0).unwrap();
    let wall = 1_750_000_000 * SECOND;
    assert_eq!(
        timeline.sender_report(Track::Video, 100, wall),
        Ok(ReportOutcome::Applied)
    );
    assert_eq!(
        timeline.sender_report(Track::Video, 100, wall),
        Ok(ReportOutcome::Unchanged)
    );
    assert_eq!(timeline.status().reports_accepted, 1);
}

#[test]
fn survives_a_storm_of_random_reports_and_keeps_its_sync() {
    let (mut timeline, publisher) = settled_timeline();
    let before = outputs(&timeline, &publisher);
    let mut prng = Prng(99);
    for n in 0..3_000 {
        let (track, rtp_near) = if prng.next() & 1 == 0 {
            (Track::Audio, publisher.audio_rtp_at(3 * SECOND).wire())
        } else {
            (Track::Video, publisher.video_rtp_at(3 * SECOND).wire())
        };
        // Thirds: anything at all; RTP near the stream with any NTP-range wall time; both
        // plausible but the wall time 1 to 100 s off.
        let (rtp, wall) = match n % 3 {
            0 => (prng.next() as u32, prng.next() as i64),
            1 => (
                rtp_near.wrapping_add(prng.below(100_000) as u32),
                prng.below(1 << 54) - (1 << 53),
            ),
            _ => (
                rtp_near,
                publisher.wall0_us + 3 * SECOND + SECOND + prng.below(99 * SECOND as u64),
            ),
        };
        assert!(
            timeline.sender_report(track, rtp, wall).is_err(),
            "accepted {track} report {n}"
        );
    }
    assert_unmoved(outputs(&timeline, &publisher), before);
}

#[test]
fn rebases_without_moving_when_the_senders_wall_clock_steps() {
    let (mut timeline, publisher) = settled_timeline();
    let before = outputs(&timeline, &publisher);
    let step = 3_600 * SECOND;
    let mut outcomes = Vec::new();
    for n in 0..4 {
        let sent = 3 * SECOND + n * 200_000;
        outcomes.push(timeline.sender_report(
            Track::Video,
            publisher.video_rtp_at(sent).wire(),
            publisher.wall0_us + sent + step,
        ));
    }
    assert!(matches!(
        outcomes[..],
        [
            Err(TimelineError::ReportInconsistent { .. }),
            Err(TimelineError::ReportInconsistent { .. }),
            Ok(ReportOutcome::Rebased),
            Ok(ReportOutcome::Applied),
        ]
    ));
    assert_unmoved(outputs(&timeline, &publisher), before);
}

#[test]
fn ignores_a_frame_with_a_wild_rtp_time() {
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(0), 0).unwrap();
    timeline.observe(Track::Video, rtp(3_000), 33_333).unwrap();
    assert!(matches!(
        timeline.observe(Track::Video, rtp(2_000_000_000), 66_666),
        Err(TimelineError::RtpDiscontinuity {
            track: Track::Video,
            ..
        })
    ));
    timeline.observe(Track::Video, rtp(9_000), 100_000).unwrap();
    assert_eq!(timeline.map_us(Track::Video, rtp(9_000)), Some(100_000));
    assert_eq!(timeline.status().frames_refused, 1);
}

#[test]
fn re_anchors_a_track_whose_rtp_clock_restarts_and_carries_on_from_there() {
    let mut timeline = Timeline::new();
    timeline.observe(Track::Video, rtp(0), 0).unwrap();
    timeline.observe(Track::Video, rtp(3_000), 33_333).unwrap();
    let restarted = 1_000_000_000_i64;
    let mut outcomes = Vec::new();
    for n in 0..3 {
        outcomes.push(timeline.observe(
            Track::Video,
            rtp(restarted + n * 3_000),
            66_666 + n as u64 * 33_333,
        ));
    }
    assert!(outcomes[0].is_err() && outcomes[1].is_err());
    assert_eq!(outcomes[2], Ok(()));
    assert_eq!(
        timeline.map_us(Track::Video, rtp(restarted + 6_000)),
        Some(133_332)
    );
    assert_eq!(
        timeline.map_us(Track::Video, rtp(restarted + 9_000)),
        Some(166_665)
    );
    assert_eq!(timeline.status().rtp_restarts, 1);
}

#[test]
fn a_replacement_timeline_continues_where_the_old_one_stopped() {
    let mut timeline = Timeline::new().starting_at(42_000_000);
    timeline.observe(Track::Audio, rtp(123), 9_000_000).unwrap();
    timeline.observe(Track::Video, rtp(456), 9_010_000).unwrap();
    assert_eq!(
        timeline.map_ms(Track::Audio, rtp(123)),
        Some(Millis::new(42_000))
    );
    assert_eq!(
        timeline.map_ms(Track::Video, rtp(456)),
        Some(Millis::new(42_010))
    );
}

#[test]
fn holds_sync_within_5_ms_for_many_random_publishers() {
    let mut prng = Prng(2024);
    for case in 0..60 {
        let publisher = Publisher {
            audio_rtp0: prng.next() as u32,
            video_rtp0: prng.next() as u32,
            wall0_us: prng.below(1 << 52),
            local0_us: prng.below(1 << 40),
            audio_delay_us: 10_000 + prng.below(200_000),
            video_delay_us: 10_000 + prng.below(200_000),
            jitter_us: prng.below(20_000),
            audio_drift_ppm: prng.below(401) - 200,
            first_audio_report_us: 500_000 + prng.below(3_000_000),
            audio_report_every_us: SECOND + prng.below(4_000_000),
            first_video_report_us: 100_000 + prng.below(1_000_000),
            video_report_every_us: SECOND,
            duration_us: 40 * SECOND,
            seed: prng.next(),
        };
        let run = run(&publisher, |_, _| true);
        assert_sound(&run);
        assert_reports_leave_audio_alone(&publisher, &run);
        // At most 220 ms for video to slew at 50 ms/s (4.4 s), after the last first report
        // at 3.5 s plus its 210 ms of network delay.
        let settled: Vec<i64> = run.av_error_after(9 * SECOND).collect();
        assert!(
            !settled.is_empty() && settled.iter().all(|error| error.abs() < 5_000),
            "case {case} ({publisher:?}) ends {:?} µs out of sync",
            settled.last()
        );
    }
}
