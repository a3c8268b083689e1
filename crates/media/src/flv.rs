//! FLV tags: the unit of media every destination receives.
//!
//! An RTMP media message and an FLV file tag carry the same payload (the "tag body"), so the
//! pipeline builds each body once and every destination shares it by reference ([`Bytes`]).

use bytes::Bytes;
use thiserror::Error;

use crate::amf0::{self, Value};
pub use crate::time::FlvTime;

/// FLV tag type, which is also the RTMP message type id that carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TagKind {
    Audio = 8,
    Video = 9,
    /// Script data (AMF0). The pipeline emits `onMetaData`; an RTMP publisher wraps it in
    /// `@setDataFrame` as OBS and ffmpeg do.
    Script = 18,
}

/// What a tag is to a destination that must decide whether it can be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// AVC or AAC sequence header, or onMetaData: never dropped, re-sent on every (re)connect.
    Header,
    /// A video keyframe (IDR): decoding can start here.
    Keyframe,
    /// A video inter frame: droppable up to the next keyframe when a destination falls behind.
    Inter,
    /// An audio frame.
    Audio,
}

/// One FLV tag, cheap to clone: the body is reference-counted and shared by all destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub kind: TagKind,
    pub role: Role,
    /// The position on the broadcast's timeline as FLV's 32-bit wrapping milliseconds.
    pub timestamp: FlvTime,
    /// The tag body: what follows the 11-byte FLV tag header, i.e. the RTMP message payload.
    pub body: Bytes,
}

/// FLV codec id of H.264 (AVC) in a video tag's first byte.
const CODEC_AVC: u8 = 7;
/// FLV sound format of AAC in an audio tag's first byte.
const SOUND_AAC: u8 = 10;
/// Video tag frame types (high nibble of the first byte).
const FRAME_KEY: u8 = 1 << 4;
const FRAME_INTER: u8 = 2 << 4;
/// The AAC audio tag's first byte: format 10 (AAC) | rate 3 (44 kHz) | 16-bit | stereo. FLV
/// requires exactly these flags for AAC whatever the real stream is; the AudioSpecificConfig
/// in the sequence header carries the truth.
const AAC_SOUND_BYTE: u8 = (SOUND_AAC << 4) | (3 << 2) | (1 << 1) | 1;
/// AVCPacketType / AACPacketType.
const SEQUENCE_HEADER: u8 = 0;
const MEDIA: u8 = 1;

/// Largest tag body FLV can describe: its size field has 24 bits.
pub const MAX_BODY_LEN: usize = 0xFF_FFFF;

/// Why a tag cannot be written to an FLV file.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlvError {
    #[error("FLV tag body of {len} bytes exceeds the 24-bit size field ({MAX_BODY_LEN})")]
    BodyTooLarge { len: usize },
}

/// The AVC sequence header: a decoder configuration record (see
/// [`crate::h264::decoder_configuration_record`]).
pub fn avc_sequence_header(timestamp: FlvTime, record: &[u8]) -> Tag {
    video_tag(
        timestamp,
        Role::Header,
        FRAME_KEY,
        SEQUENCE_HEADER,
        0,
        record,
    )
}

/// One video frame of AVCC NAL units (4-byte lengths).
///
/// `composition_time_ms` is presentation minus decoding time; it is 0 for streams without
/// B-frames, which is what WebRTC encoders produce. FLV stores it in 24 signed bits, so values
/// beyond about ±2.3 hours are clamped.
pub fn avc_frame(timestamp: FlvTime, keyframe: bool, composition_time_ms: i32, avcc: &[u8]) -> Tag {
    let (role, frame_type) = if keyframe {
        (Role::Keyframe, FRAME_KEY)
    } else {
        (Role::Inter, FRAME_INTER)
    };
    video_tag(
        timestamp,
        role,
        frame_type,
        MEDIA,
        composition_time_ms,
        avcc,
    )
}

fn video_tag(
    timestamp: FlvTime,
    role: Role,
    frame_type: u8,
    packet_type: u8,
    composition_time_ms: i32,
    payload: &[u8],
) -> Tag {
    let cts = composition_time_ms
        .clamp(-0x80_0000, 0x7F_FFFF)
        .to_be_bytes();
    let mut body = Vec::with_capacity(5 + payload.len());
    body.extend_from_slice(&[frame_type | CODEC_AVC, packet_type, cts[1], cts[2], cts[3]]);
    body.extend_from_slice(payload);
    Tag {
        kind: TagKind::Video,
        role,
        timestamp,
        body: body.into(),
    }
}

/// The AAC sequence header: an AudioSpecificConfig (see [`crate::aac::audio_specific_config`]).
pub fn aac_sequence_header(timestamp: FlvTime, audio_specific_config: &[u8]) -> Tag {
    audio_tag(
        timestamp,
        Role::Header,
        SEQUENCE_HEADER,
        audio_specific_config,
    )
}

/// One raw AAC frame (no ADTS header).
pub fn aac_frame(timestamp: FlvTime, raw: &[u8]) -> Tag {
    audio_tag(timestamp, Role::Audio, MEDIA, raw)
}

fn audio_tag(timestamp: FlvTime, role: Role, packet_type: u8, payload: &[u8]) -> Tag {
    let mut body = Vec::with_capacity(2 + payload.len());
    body.extend_from_slice(&[AAC_SOUND_BYTE, packet_type]);
    body.extend_from_slice(payload);
    Tag {
        kind: TagKind::Audio,
        role,
        timestamp,
        body: body.into(),
    }
}

/// What `onMetaData` tells a platform about the stream. Platforms use it for their dashboards
/// and health warnings (bitrate, resolution); players rely on the sequence headers instead.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Metadata {
    pub width: u32,
    pub height: u32,
    pub framerate: f64,
    pub video_data_rate_kbps: u32,
    pub audio_sample_rate: u32,
    pub audio_channels: u8,
    pub audio_data_rate_kbps: u32,
    /// Shown by some platforms as the streaming software.
    pub encoder: String,
}

/// The `onMetaData` script tag, with the keys and order OBS sends.
pub fn metadata(timestamp: FlvTime, meta: &Metadata) -> Tag {
    let properties = vec![
        ("duration".to_owned(), Value::Number(0.0)),
        ("filesize".to_owned(), Value::Number(0.0)),
        ("width".to_owned(), f64::from(meta.width).into()),
        ("height".to_owned(), f64::from(meta.height).into()),
        ("videocodecid".to_owned(), f64::from(CODEC_AVC).into()),
        (
            "videodatarate".to_owned(),
            f64::from(meta.video_data_rate_kbps).into(),
        ),
        ("framerate".to_owned(), meta.framerate.into()),
        ("audiocodecid".to_owned(), f64::from(SOUND_AAC).into()),
        (
            "audiodatarate".to_owned(),
            f64::from(meta.audio_data_rate_kbps).into(),
        ),
        (
            "audiosamplerate".to_owned(),
            f64::from(meta.audio_sample_rate).into(),
        ),
        ("audiosamplesize".to_owned(), Value::Number(16.0)),
        (
            "audiochannels".to_owned(),
            f64::from(meta.audio_channels).into(),
        ),
        ("stereo".to_owned(), (meta.audio_channels == 2).into()),
        ("encoder".to_owned(), meta.encoder.as_str().into()),
    ];
    let body = amf0::encode_all(&["onMetaData".into(), Value::EcmaArray(properties)]);
    Tag {
        kind: TagKind::Script,
        role: Role::Header,
        timestamp,
        body: body.into(),
    }
}

/// FLV file header for a file with audio and video, followed by the first PreviousTagSize (0).
pub const FLV_HEADER: [u8; 13] = file_header(true, true);

/// FLV file header (signature, version 1, track flags, header size 9) and PreviousTagSize0.
pub const fn file_header(has_audio: bool, has_video: bool) -> [u8; 13] {
    let flags = (if has_audio { 0x04 } else { 0 }) | (if has_video { 0x01 } else { 0 });
    [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]
}

/// Appends `tag` as an FLV file tag: the 11-byte header (type, 24-bit size, timestamp in 24
/// bits plus an extension byte holding bits 24-31, stream id 0), the body, PreviousTagSize.
pub fn write_tag(tag: &Tag, out: &mut Vec<u8>) -> Result<(), FlvError> {
    let len = tag.body.len();
    if len > MAX_BODY_LEN {
        return Err(FlvError::BodyTooLarge { len });
    }
    // len <= 0xFF_FFFF was checked above, so it and len + 11 fit a u32.
    let size = (len as u32).to_be_bytes();
    let ts = tag.timestamp.ms().to_be_bytes();
    out.reserve(11 + len + 4);
    out.extend_from_slice(&[tag.kind as u8, size[1], size[2], size[3]]);
    out.extend_from_slice(&[ts[1], ts[2], ts[3], ts[0], 0, 0, 0]);
    out.extend_from_slice(&tag.body);
    out.extend_from_slice(&(len as u32 + 11).to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ms(ms: u32) -> FlvTime {
        FlvTime::from_ms(ms)
    }

    #[test]
    fn builds_avc_sequence_header_body() {
        let tag = avc_sequence_header(ms(0), &[1, 0x42, 0xC0, 0x1F]);
        assert_eq!(
            (tag.kind, tag.role, tag.timestamp),
            (TagKind::Video, Role::Header, ms(0))
        );
        assert_eq!(&tag.body[..], &[0x17, 0, 0, 0, 0, 1, 0x42, 0xC0, 0x1F]);
    }

    #[test]
    fn builds_key_and_inter_frames_with_signed_24_bit_composition_time() {
        let key = avc_frame(ms(40), true, 66, &[0, 0, 0, 1, 0x65]);
        assert_eq!(key.role, Role::Keyframe);
        assert_eq!(&key.body[..], &[0x17, 1, 0, 0, 66, 0, 0, 0, 1, 0x65]);

        let inter = avc_frame(ms(80), false, -2, &[0, 0, 0, 1, 0x41]);
        assert_eq!(inter.role, Role::Inter);
        assert_eq!(&inter.body[..5], &[0x27, 1, 0xFF, 0xFF, 0xFE]);

        assert_eq!(
            &avc_frame(ms(0), false, i32::MAX, &[]).body[..],
            &[0x27, 1, 0x7F, 0xFF, 0xFF]
        );
        assert_eq!(
            &avc_frame(ms(0), false, i32::MIN, &[]).body[..],
            &[0x27, 1, 0x80, 0, 0]
        );
    }

    #[test]
    fn builds_aac_tags_with_the_flags_flv_requires() {
        let header = aac_sequence_header(ms(0), &[0x11, 0x90]);
        assert_eq!((header.kind, header.role), (TagKind::Audio, Role::Header));
        assert_eq!(&header.body[..], &[0xAF, 0, 0x11, 0x90]);
        let frame = aac_frame(ms(21), &[0xDE, 0x04]);
        assert_eq!((frame.role, frame.timestamp), (Role::Audio, ms(21)));
        assert_eq!(&frame.body[..], &[0xAF, 1, 0xDE, 0x04]);
    }

    #[test]
    fn metadata_is_on_metadata_with_an_ecma_array_of_stream_properties() {
        let tag = metadata(
            ms(0),
            &Metadata {
                width: 1280,
                height: 720,
                framerate: 30.0,
                video_data_rate_kbps: 2500,
                audio_sample_rate: 48_000,
                audio_channels: 2,
                audio_data_rate_kbps: 128,
                encoder: "streamhard".into(),
            },
        );
        assert_eq!(
            (tag.kind, tag.role, tag.timestamp),
            (TagKind::Script, Role::Header, ms(0))
        );
        let values = amf0::decode_all(&tag.body).unwrap();
        assert_eq!(values[0].as_str(), Some("onMetaData"));
        assert!(matches!(values[1], Value::EcmaArray(_)));
        let num = |key: &str| values[1].get(key).and_then(Value::as_f64);
        assert_eq!(num("width"), Some(1280.0));
        assert_eq!(num("height"), Some(720.0));
        assert_eq!(num("framerate"), Some(30.0));
        assert_eq!(num("videocodecid"), Some(7.0));
        assert_eq!(num("videodatarate"), Some(2500.0));
        assert_eq!(num("audiocodecid"), Some(10.0));
        assert_eq!(num("audiosamplerate"), Some(48_000.0));
        assert_eq!(num("audiosamplesize"), Some(16.0));
        assert_eq!(num("audiodatarate"), Some(128.0));
        assert_eq!(num("duration"), Some(0.0));
        assert_eq!(num("filesize"), Some(0.0));
        assert_eq!(values[1].get("stereo").and_then(Value::as_bool), Some(true));
        assert_eq!(
            values[1].get("encoder").and_then(Value::as_str),
            Some("streamhard")
        );
    }

    #[test]
    fn file_header_flags_audio_and_video_tracks() {
        assert_eq!(FLV_HEADER, [b'F', b'L', b'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
        assert_eq!(file_header(false, true)[4], 1);
        assert_eq!(file_header(true, false)[4], 4);
    }

    #[test]
    fn writes_tag_header_body_and_previous_tag_size() {
        let tag = aac_frame(ms(0x0012_3456), &[0xAA]);
        let mut out = vec![];
        write_tag(&tag, &mut out).unwrap();
        assert_eq!(
            out,
            [
                8, 0, 0, 3, 0x12, 0x34, 0x56, 0x00, 0, 0, 0, 0xAF, 1, 0xAA, 0, 0, 0, 14
            ]
        );
    }

    #[test]
    fn writes_timestamps_above_24_bits_into_the_extension_byte() {
        let tag = avc_frame(ms(0x1234_5678), false, 0, &[]);
        let mut out = vec![];
        write_tag(&tag, &mut out).unwrap();
        assert_eq!(&out[..11], &[9, 0, 0, 5, 0x34, 0x56, 0x78, 0x12, 0, 0, 0]);
    }

    #[test]
    fn refuses_a_body_larger_than_24_bits() {
        let tag = aac_frame(ms(0), &vec![0; MAX_BODY_LEN]);
        let mut out = vec![];
        assert_eq!(
            write_tag(&tag, &mut out),
            Err(FlvError::BodyTooLarge {
                len: MAX_BODY_LEN + 2
            })
        );
        assert!(out.is_empty());
    }
}
