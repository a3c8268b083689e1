//! Opus → AAC-LC 48 kHz stereo, as a push/pop component that owns its timestamps.
//!
//! Browsers publish Opus; RTMP destinations (Twitch, YouTube, ...) only take AAC. [`OpusToAac`]
//! decodes Opus with `ropus` (a pure-Rust port of libopus, so no system library or cmake is
//! needed) and encodes AAC-LC with FDK AAC (bundled C++ source). It keeps the AAC track
//! continuous and monotonic whatever the network does, which every platform requires.
//!
//! Pure: no tokio, no clock, no I/O. Time is the caller's 48 kHz sample clock, passed in.
//!
//! ```
//! use streamhard_transcode::{AacSettings, OpusToAac, SAMPLE_RATE};
//!
//! // A publisher without a microphone: one second of silent AAC, starting at clock 0.
//! let mut audio = OpusToAac::starting_at(AacSettings::default(), 0)?;
//! audio.push_silence_until(i64::from(SAMPLE_RATE))?;
//! let mut frames = 0;
//! while let Some(frame) = audio.pop() {
//!     // FLV audio tag body: [0xAF, 0x01] then `frame.data`, at `frame.pts` / 48 ms.
//!     assert_eq!(frame.pts, frames * 1024);
//!     frames += 1;
//! }
//! assert_eq!(frames, 44); // 46 whole frames pushed, 2 still inside the encoder
//! # Ok::<(), streamhard_transcode::TranscodeError>(())
//! ```

mod aac_encoder;
mod aac_track;
mod error;
mod opus_decoder;
mod placement;
mod settings;
mod toc;
mod transcoder;

pub use aac_encoder::{SAMPLE_RATE, SAMPLES_PER_FRAME};
pub use aac_track::AacFrame;
pub use error::TranscodeError;
pub use settings::AacSettings;
pub use transcoder::{MAX_ABS_PTS, MAX_OPUS_PACKET_BYTES, OpusToAac, TranscodeStats};
