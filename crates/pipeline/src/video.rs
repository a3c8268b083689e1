//! H.264 as it arrives: Annex-B access units → AVCC video tags, no re-encode.

use streamhard_media::flv::{self, Metadata, Role, Tag};
use streamhard_media::h264::AvcConverter;
use streamhard_media::time::{Millis, RtpTime};
use tracing::debug;

use crate::fps::FpsEstimator;

pub struct VideoPath {
    converter: AvcConverter,
    fps: FpsEstimator,
    encoder: String,
    aac_bitrate: u32,
    has_config: bool,
    /// Where the last frame sent is on the timeline (64-bit: only its FLV time wraps).
    last_timestamp: Option<Millis>,
    /// Annex-B SPS/PPS from the signalling, put before access units until a config exists.
    out_of_band: Vec<u8>,
    /// Reused buffer for an access unit with `out_of_band` in front.
    joined: Vec<u8>,
}

impl VideoPath {
    pub fn new(encoder: String, aac_bitrate: u32) -> Self {
        Self {
            converter: AvcConverter::new(),
            fps: FpsEstimator::default(),
            encoder,
            aac_bitrate,
            has_config: false,
            last_timestamp: None,
            out_of_band: Vec::new(),
            joined: Vec::new(),
        }
    }

    pub fn set_out_of_band_parameter_sets(&mut self, nal_units: &[Vec<u8>]) {
        self.out_of_band.clear();
        for nal in nal_units {
            self.out_of_band.extend_from_slice(&[0, 0, 0, 1]);
            self.out_of_band.extend_from_slice(nal);
        }
    }

    /// Converts one access unit at timeline position `at`; emits metadata and a sequence
    /// header first when the parameter sets are new.
    pub fn push(&mut self, at: Millis, rtp: RtpTime, annexb: &[u8], out: &mut Vec<Tag>) {
        self.fps.push(rtp);
        // Video timestamps must not go backwards even if the timeline had to: hold the last.
        let at = self.last_timestamp.map_or(at, |last| at.max(last));
        let ts = at.flv();
        // Until a config exists, the signalled parameter sets go first; in-band ones in the
        // access unit come after them and so win.
        let annexb = if !self.has_config && !self.out_of_band.is_empty() {
            self.joined.clear();
            self.joined.extend_from_slice(&self.out_of_band);
            self.joined.extend_from_slice(annexb);
            self.joined.as_slice()
        } else {
            annexb
        };
        let converted = match self.converter.convert(annexb) {
            Ok(c) => c,
            Err(e) => {
                debug!(error = %e, "dropping an access unit with bad parameter sets");
                return;
            }
        };
        if let Some((record, sps)) = converted.new_config {
            let meta = Metadata {
                width: sps.width,
                height: sps.height,
                framerate: sps.fps.or(self.fps.fps()).unwrap_or(30.0),
                video_data_rate_kbps: 0,
                audio_sample_rate: 48_000,
                audio_channels: 2,
                audio_data_rate_kbps: self.aac_bitrate / 1000,
                encoder: self.encoder.clone(),
            };
            out.push(flv::metadata(ts, &meta));
            out.push(flv::avc_sequence_header(ts, &record));
            self.has_config = true;
        }
        if !self.has_config || converted.avcc.is_empty() {
            // Without SPS/PPS nobody can decode it; an AU without slices carries nothing.
            return;
        }
        let tag = flv::avc_frame(ts, converted.keyframe, 0, converted.avcc);
        debug_assert!(matches!(tag.role, Role::Keyframe | Role::Inter));
        out.push(tag);
        self.last_timestamp = Some(at);
    }

    /// Where the last frame sent is on the timeline.
    pub fn last_timestamp(&self) -> Option<Millis> {
        self.last_timestamp
    }

    pub fn has_config(&self) -> bool {
        self.has_config
    }

    pub fn size(&self) -> Option<(u32, u32)> {
        self.converter.sps().map(|s| (s.width, s.height))
    }

    pub fn fps(&self) -> Option<f64> {
        self.converter
            .sps()
            .and_then(|s| s.fps)
            .or_else(|| self.fps.fps())
    }
}
