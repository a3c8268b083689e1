//! What a WHIP offer asks for, whether we can relay it, and what we add to str0m's answer.
//!
//! str0m parses and negotiates; nothing here scans m-lines by hand. Two steps:
//!
//! 1. [`OfferPlan::read`], before negotiation, reads str0m's parsed offer: which H.264 formats
//!    the publisher offers (so the answer uses the publisher's own payload types and
//!    profile-level-id — Safari's Constrained High, Firefox's OpenH264 baseline, OBS's main or
//!    high at any level), which other video codecs it offers (to say so when there is no
//!    H.264), and its `sprop-parameter-sets`.
//! 2. [`check_negotiated`], after str0m accepted the offer, looks at the media str0m opened:
//!    its own reading of BUNDLE and `bundle-only` (Firefox's `max-bundle` sections have port 0
//!    and are not rejected), directions, and which payload types it agreed on.
//!
//! Either step gives a publisher a precise reason (shown as the 4xx message) when the offer
//! cannot work for an RTMP relay.

use std::fmt::Write as _;

use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};

/// Why an offer cannot be relayed. The message is shown to the publisher.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OfferError {
    #[error("the offer is not valid SDP: {0}")]
    Malformed(String),
    #[error("the offer has no video track; the relay needs H.264 video")]
    NoVideo,
    #[error("{}", no_h264_message(.offered))]
    NoH264 { offered: Vec<&'static str> },
    #[error(
        "the offer's H.264 uses {profiles}, which RTMP platforms cannot play; \
         send constrained baseline, baseline, main or high profile"
    )]
    UnsupportedH264Profile { profiles: String },
    #[error("the offer's video track does not send (it is {0}); a WHIP publisher must send video")]
    VideoNotSent(&'static str),
    #[error("the offer's audio track does not offer Opus")]
    NoOpus,
    #[error("the offer has {0} video tracks; send one")]
    TooManyVideo(usize),
    #[error("the offer has {0} audio tracks; send at most one")]
    TooManyAudio(usize),
}

impl OfferError {
    /// A stable, machine-readable reason: the API error code and the `/metrics` label.
    pub fn reason(&self) -> &'static str {
        match self {
            OfferError::Malformed(_) => "malformed_sdp",
            OfferError::NoVideo => "no_video",
            OfferError::NoH264 { .. } => "no_h264",
            OfferError::UnsupportedH264Profile { .. } => "unsupported_h264_profile",
            OfferError::VideoNotSent(_) => "video_not_sent",
            OfferError::NoOpus => "no_opus",
            OfferError::TooManyVideo(_) => "too_many_video_tracks",
            OfferError::TooManyAudio(_) => "too_many_audio_tracks",
        }
    }

    /// Every reason, for metrics that must list each one from the start.
    pub const REASONS: [&'static str; 8] = [
        "malformed_sdp",
        "no_video",
        "no_h264",
        "unsupported_h264_profile",
        "video_not_sent",
        "no_opus",
        "too_many_video_tracks",
        "too_many_audio_tracks",
    ];
}

fn no_h264_message(offered: &[&str]) -> String {
    // Offering video but no H.264 at all: Firefox without its OpenH264 plug-in, by far the
    // most common case, or an encoder set to VP8/VP9/AV1.
    let no_h264_at_all = !offered.is_empty();
    let list = if offered.is_empty() {
        "no video codec we know".to_owned()
    } else {
        offered.join(", ")
    };
    let mut message = format!(
        "the offer's video has no H.264 (it offers {list}); the relay forwards video without \
         re-encoding and RTMP platforms need H.264"
    );
    if no_h264_at_all {
        message.push_str(
            ". In an encoder, choose H.264. In Firefox, enable H.264: open about:addons, Plugins, and set \"OpenH264 Video \
             Codec provided by Cisco Systems\" to Always Activate (about:config: \
             media.gmp-gmpopenh264.enabled = true), then reload",
        );
    } else {
        message.push_str("; enable H.264 in the encoder");
    }
    message
}

/// One H.264 format the publisher offered, mirrored in our codec config so that the answer
/// carries the publisher's own payload type and profile-level-id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H264Format {
    pub pt: Pt,
    pub rtx: Option<Pt>,
    pub packetization_mode_1: bool,
    pub profile_level_id: u32,
}

/// What an offer asks for, read from str0m's parse of it before negotiation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferPlan {
    /// The relayable H.264 formats in the order we prefer them: packetization-mode 1 first
    /// (fragmented units, what every browser sends), otherwise in the publisher's order.
    pub h264: Vec<H264Format>,
    /// Video codecs offered other than H.264, for the error message.
    pub other_video: Vec<&'static str>,
    /// H.264 profiles offered that platforms cannot play (High 10, 4:2:2, 4:4:4, …).
    pub unplayable_profiles: Vec<String>,
    /// SPS and PPS NAL units from `sprop-parameter-sets`, per H.264 payload type.
    pub sprop: Vec<(Pt, Vec<Vec<u8>>)>,
    /// The publisher's ICE ufrag (a PATCH with another one is an ICE restart).
    pub remote_ufrag: Option<String>,
}

/// H.264 profiles (`profile_idc`) an FLV/RTMP destination plays: baseline (incl. constrained
/// baseline), main and high (incl. constrained high). Extended and the 10-bit/4:2:2/4:4:4
/// profiles are valid AVC that browsers, players and platform transcoders reject.
fn playable_profile(profile_idc: u8) -> bool {
    matches!(profile_idc, 66 | 77 | 100)
}

fn profile_name(profile_level_id: u32) -> String {
    let idc = (profile_level_id >> 16) as u8;
    let constraints = (profile_level_id >> 8) as u8;
    let name = match idc {
        66 if constraints & 0x40 != 0 => "constrained baseline",
        66 => "baseline",
        77 => "main",
        88 => "extended",
        100 if constraints & 0x0c == 0x0c => "constrained high",
        100 => "high",
        110 => "high 10",
        122 => "high 4:2:2",
        244 => "high 4:4:4",
        _ => "an unknown profile",
    };
    format!("{name} ({profile_level_id:06x})")
}

fn codec_name(codec: Codec) -> Option<&'static str> {
    Some(match codec {
        Codec::H264 => "H.264",
        Codec::H265 => "H.265",
        Codec::H266 => "H.266",
        Codec::Vp8 => "VP8",
        Codec::Vp9 => "VP9",
        Codec::Av1 => "AV1",
        _ => return None,
    })
}

impl OfferPlan {
    /// Reads the offer as str0m parsed it. `raw` is the same offer as text, only for
    /// `sprop-parameter-sets`, which str0m does not keep.
    pub fn read(offer: &SdpOffer, raw: &str) -> Self {
        let mut plan = OfferPlan {
            remote_ufrag: offer
                .session
                .ice_creds()
                .or_else(|| offer.media_lines.iter().find_map(|m| m.ice_creds()))
                .map(|c| c.ufrag),
            ..OfferPlan::default()
        };
        for line in &offer.media_lines {
            if line.typ.to_string() != "video" {
                continue;
            }
            for params in line.rtp_params() {
                let spec = params.spec();
                if spec.codec != Codec::H264 {
                    if let Some(name) = codec_name(spec.codec)
                        && !plan.other_video.contains(&name)
                    {
                        plan.other_video.push(name);
                    }
                    continue;
                }
                // RFC 6184: no profile-level-id means constrained baseline level 1 (42000a);
                // no packetization-mode means single NAL units (0).
                let profile_level_id = spec.format.profile_level_id.unwrap_or(0x42000a);
                let mode = spec.format.packetization_mode.unwrap_or(0);
                if mode > 1 {
                    continue; // Interleaved mode (2) is not something str0m depacketizes.
                }
                if !playable_profile((profile_level_id >> 16) as u8) {
                    let name = profile_name(profile_level_id);
                    if !plan.unplayable_profiles.contains(&name) {
                        plan.unplayable_profiles.push(name);
                    }
                    continue;
                }
                plan.h264.push(H264Format {
                    pt: params.pt(),
                    rtx: params.resend(),
                    packetization_mode_1: mode == 1,
                    profile_level_id,
                });
            }
        }
        // Stable: the publisher's order within each mode.
        plan.h264.sort_by_key(|f| !f.packetization_mode_1);
        plan.sprop = plan
            .h264
            .iter()
            .filter_map(|f| {
                let sets = sprop_parameter_sets(raw, f.pt)?;
                Some((f.pt, sets))
            })
            .collect();
        plan
    }

    /// Whether the offer has any video codec at all (so a missing video track means "no
    /// H.264", not "no video").
    fn offers_video(&self) -> bool {
        !(self.h264.is_empty()
            && self.other_video.is_empty()
            && self.unplayable_profiles.is_empty())
    }

    /// The error to give when negotiation found no H.264 to receive.
    fn no_h264(&self) -> OfferError {
        if self.h264.is_empty() && !self.unplayable_profiles.is_empty() {
            OfferError::UnsupportedH264Profile {
                profiles: self.unplayable_profiles.join(", "),
            }
        } else {
            OfferError::NoH264 {
                offered: self.other_video.clone(),
            }
        }
    }

    /// The parameter sets to use for `pt` when the stream carries none in-band.
    pub fn sprop_for(&self, pt: Pt) -> Option<&[Vec<u8>]> {
        self.sprop
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, s)| s.as_slice())
    }
}

/// One media section as str0m opened it from the offer (after BUNDLE and bundle-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiatedMedia {
    pub mid: Mid,
    pub kind: MediaKind,
    /// Our direction, as str0m set it (the inverse of the publisher's).
    pub direction: Direction,
    /// Payload types str0m agreed to receive.
    pub pts: Vec<Pt>,
}

/// Checks what str0m negotiated: exactly one video section that the publisher sends with
/// H.264, at most one audio section, which must be Opus. Returns the video section's mid.
pub fn check_negotiated(plan: &OfferPlan, media: &[NegotiatedMedia]) -> Result<Mid, OfferError> {
    let video: Vec<_> = media
        .iter()
        .filter(|m| m.kind == MediaKind::Video)
        .collect();
    let audio: Vec<_> = media
        .iter()
        .filter(|m| m.kind == MediaKind::Audio && m.direction != Direction::Inactive)
        .collect();
    let [video] = video.as_slice() else {
        return Err(match video.len() {
            0 if plan.offers_video() => plan.no_h264(),
            0 => OfferError::NoVideo,
            n => OfferError::TooManyVideo(n),
        });
    };
    if audio.len() > 1 {
        return Err(OfferError::TooManyAudio(audio.len()));
    }
    if video.pts.is_empty() {
        return Err(plan.no_h264());
    }
    match video.direction {
        Direction::RecvOnly | Direction::SendRecv => {}
        Direction::SendOnly => return Err(OfferError::VideoNotSent("receive-only")),
        Direction::Inactive => return Err(OfferError::VideoNotSent("inactive")),
    }
    if let [audio] = audio.as_slice()
        && audio.pts.is_empty()
    {
        return Err(OfferError::NoOpus);
    }
    Ok(video.mid)
}

/// The SPS/PPS of `sprop-parameter-sets` (RFC 6184 §8.1: base64 NAL units, comma-separated)
/// on the fmtp line of `pt`, if any decodes.
fn sprop_parameter_sets(raw: &str, pt: Pt) -> Option<Vec<Vec<u8>>> {
    use base64::Engine as _;
    let prefix = format!("a=fmtp:{} ", *pt);
    let line = raw
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))?;
    let value = line[prefix.len()..]
        .split(';')
        .map(str::trim)
        .find_map(|kv| kv.strip_prefix("sprop-parameter-sets="))?;
    let sets: Vec<Vec<u8>> = value
        .split(',')
        .filter_map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .filter(|nal| !nal.is_empty() && nal.len() <= MAX_PARAMETER_SET)
        .collect();
    (!sets.is_empty()).then_some(sets)
}

/// A parameter set is a few dozen bytes; anything this large is not one.
const MAX_PARAMETER_SET: usize = 1024;

/// Adds `x-google-start-bitrate` (kbps) to every H.264 format line of the answer. Chrome
/// otherwise starts its bandwidth estimate at 300 kbps and the first seconds are blurry.
pub fn add_start_bitrate(answer: &str, h264_pts: &[Pt], start_kbps: u32) -> String {
    let pts: Vec<String> = h264_pts.iter().map(|pt| (**pt).to_string()).collect();
    let mut out = String::with_capacity(answer.len() + 40 * pts.len());
    for line in answer.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let eol = &line[body.len()..];
        let is_h264_fmtp = body
            .strip_prefix("a=fmtp:")
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|pt| pts.iter().any(|p| p == pt));
        out.push_str(body);
        if is_h264_fmtp && !body.contains("x-google-start-bitrate") {
            // Writing to a String cannot fail.
            let _ = write!(out, ";x-google-start-bitrate={start_kbps}");
        }
        out.push_str(eol);
    }
    out
}

#[cfg(test)]
mod tests;
