//! Pure media helpers for the relay: nothing here touches a socket, a thread or a clock.
//!
//! - [`h264`]: Annex-B access units → AVCC, SPS parsing, AVCDecoderConfigurationRecord.
//! - [`aac`]: AudioSpecificConfig for AAC-LC.
//! - [`flv`]: FLV tags, the unit every destination sends ([`flv::Tag`]), and onMetaData.
//! - [`amf0`]: AMF0 values, used by FLV script data and RTMP commands.
//! - [`timeline`]: maps audio and video RTP clocks onto one millisecond timeline.
//! - [`time`]: media time types (RTP ticks, timeline and FLV milliseconds, sample counts).

pub mod aac;
pub mod amf0;
pub mod flv;
pub mod h264;
pub mod time;
pub mod timeline;
