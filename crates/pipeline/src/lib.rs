//! The broadcast pipeline: depacketized WebRTC frames in, FLV tags out. Pure — no sockets,
//! no clock (arrival times are inputs), no tasks.
//!
//! - video: Annex-B access units become AVCC video tags as they are (no re-encode); a new
//!   AVC sequence header and onMetaData go out whenever the SPS/PPS change.
//! - audio: Opus becomes AAC-LC 48 kHz stereo; when the publisher sends no audio (no track,
//!   or packets stop), a silent AAC frame keeps the audio track continuous, because platforms
//!   (Facebook first) refuse or stall streams without one.
//! - both tracks share one millisecond timeline ([`streamhard_media::timeline`]).

mod audio;
mod fps;
mod video;

use streamhard_media::flv::Tag;
use streamhard_media::time::RtpTime;
use streamhard_media::timeline::Timeline;
pub use streamhard_media::timeline::Track;
use streamhard_transcode::AacSettings;

pub use audio::SILENCE_AFTER_US;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineSettings {
    /// AAC bitrate in bit/s.
    pub aac_bitrate: u32,
    /// Shown by platforms as the streaming software (onMetaData `encoder`).
    pub encoder: String,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            aac_bitrate: 128_000,
            encoder: concat!("Stream-Hard ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the AAC encoder could not start: {0}")]
    Audio(#[from] streamhard_transcode::TranscodeError),
    #[error("the AAC encoder produced no frame from silence")]
    NoSilence,
}

/// What the API shows about the incoming stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamInfo {
    pub video_codec: Option<&'static str>,
    pub audio_codec: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fps: Option<f64>,
}

pub struct Pipeline {
    timeline: Timeline,
    video: video::VideoPath,
    audio: audio::AudioPath,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

impl Pipeline {
    pub fn new(settings: PipelineSettings) -> Result<Self, PipelineError> {
        let aac = AacSettings {
            bitrate: settings.aac_bitrate,
        };
        Ok(Self {
            timeline: Timeline::new(),
            video: video::VideoPath::new(settings.encoder, settings.aac_bitrate),
            audio: audio::AudioPath::new(aac)?,
        })
    }

    /// SPS/PPS NAL units signalled outside the stream (the SDP's `sprop-parameter-sets`).
    /// Used until the stream carries its own: some encoders (GStreamer, ffmpeg with
    /// `-bsf:v dump_extra` off) send them only there, and without them no frame is decodable.
    pub fn set_out_of_band_parameter_sets(&mut self, nal_units: &[Vec<u8>]) {
        self.video.set_out_of_band_parameter_sets(nal_units);
    }

    /// One H.264 access unit (Annex-B) with its extended RTP time (str0m's, never truncated)
    /// and arrival time (µs on the caller's monotonic clock). Appends the resulting tags to
    /// `out`.
    pub fn push_video(&mut self, rtp: RtpTime, arrival_us: u64, annexb: &[u8], out: &mut Vec<Tag>) {
        if self
            .timeline
            .observe(Track::Video, rtp, arrival_us)
            .is_err()
        {
            return; // Off the track's clock (counted by the timeline): drop it.
        }
        let Some(ts) = self.timeline.map_ms(Track::Video, rtp) else {
            return;
        };
        let before = out.len();
        self.video.push(ts, rtp, annexb, out);
        if out.len() > before {
            // The AAC header goes out with the first video so destinations have both headers
            // before media. Silence for missing audio is left to [`Self::tick`]: it is the
            // clock's, not the publisher's, and the caller must be able to tell them apart
            // (after an outage, silence filling the hole up to the first video frame is not
            // the publisher's audio coming back).
            self.audio.ensure_header(ts.flv(), out);
            self.audio.start_at(ts);
        }
    }

    /// One Opus packet with its extended RTP time and arrival time (µs). Returns how many of
    /// the tags it appended first are made by the clock rather than from the publisher's
    /// packets: after a gap in the publisher's audio, what the AAC encoder still held from
    /// before it and the silence it bridges it with. A relay standing in for a vanished
    /// publisher must not take those for the publisher coming back.
    #[must_use = "the first tags appended may be the clock's, not the publisher's"]
    pub fn push_audio(
        &mut self,
        rtp: RtpTime,
        arrival_us: u64,
        opus: &[u8],
        out: &mut Vec<Tag>,
    ) -> usize {
        if self
            .timeline
            .observe(Track::Audio, rtp, arrival_us)
            .is_err()
        {
            return 0;
        }
        self.audio
            .push_opus(&self.timeline, rtp, arrival_us, opus, out)
    }

    /// An RTCP sender report: `rtp` on `track` was captured at `ntp_unix_us` (sender's clock).
    /// `rtp` is the report's 32-bit wire timestamp; see [`Timeline::sender_report`] for why.
    pub fn sender_report(&mut self, track: Track, rtp: u32, ntp_unix_us: i64) {
        // A refused report leaves the timeline as it was; the timeline counts refusals.
        let _ = self.timeline.sender_report(track, rtp, ntp_unix_us);
    }

    /// Periodic call (every ~100 ms) with the caller's clock, so the audio track stays
    /// continuous even when no packet arrives. The only source of silence: every tag it emits
    /// is made by the clock, none comes from the publisher's packets.
    pub fn tick(&mut self, now_us: u64, out: &mut Vec<Tag>) {
        if let Some(video_ts) = self.video.last_timestamp() {
            self.audio.fill_silence(video_ts, now_us, out);
        }
    }

    /// Where A/V synchronisation stands, for the API and metrics.
    pub fn timeline_status(&self) -> streamhard_media::timeline::TimelineStatus {
        self.timeline.status()
    }

    pub fn info(&self) -> StreamInfo {
        StreamInfo {
            video_codec: self.video.has_config().then_some("h264"),
            audio_codec: self.audio.receiving_opus().then_some("opus"),
            width: self.video.size().map(|s| s.0),
            height: self.video.size().map(|s| s.1),
            fps: self.video.fps(),
        }
    }
}

/// One pre-encoded silent AAC frame (1024 samples of 48 kHz stereo) in the configuration
/// every session's audio uses: what a broadcast repeats while its publisher is away.
pub fn silent_aac_frame(settings: &PipelineSettings) -> Result<bytes::Bytes, PipelineError> {
    let aac = AacSettings {
        bitrate: settings.aac_bitrate,
    };
    audio::silent_aac_frame(aac).map(|(_, frame)| frame)
}
