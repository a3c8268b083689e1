//! H.264/AVC helpers: what a relay needs to move browser video into FLV without re-encoding.
//!
//! WebRTC delivers access units in Annex-B form (start codes between NAL units, parameter sets
//! in band); FLV and RTMP want AVCC (length-prefixed NAL units) with the parameter sets moved
//! into an `AVCDecoderConfigurationRecord` sent once as the sequence header. Every byte here
//! comes from a remote encoder, so parsing is bounded and fails with [`H264Error`], never a panic.

mod annexb;
mod bits;
mod config_record;
mod converter;
mod nal;
mod sps;

pub use annexb::{NalUnits, nal_units};
pub use config_record::decoder_configuration_record;
pub use converter::{AvcConverter, Converted};
pub use nal::NalType;
pub use sps::{MAX_DIMENSION, Sps, parse_sps};

use thiserror::Error;

/// Parameter sets longer than this are refused. Real ones are tens of bytes (a few hundred
/// with scaling lists); the bound keeps a hostile one from costing memory.
pub const MAX_PARAMETER_SET_LEN: usize = 4096;

/// Why H.264 input could not be used. Carries field names and numbers, never payload bytes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum H264Error {
    #[error("expected a NAL unit of type {expected}, found type {found}")]
    WrongNalType { expected: u8, found: u8 },
    #[error("empty {what} NAL unit")]
    Empty { what: &'static str },
    #[error("{what} is {len} bytes, more than the {max} allowed")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("SPS ends while reading {field}")]
    Truncated { field: &'static str },
    #[error("SPS field {field} has out-of-range value {value}")]
    OutOfRange { field: &'static str, value: i64 },
}
