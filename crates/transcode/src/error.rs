//! Errors of the Opus → AAC transcoder.
//!
//! Hostile or broken *input* never shows up here: a corrupt Opus packet becomes concealment and a
//! late one is dropped (both counted in [`crate::TranscodeStats`]), because one bad packet must not
//! end a broadcast. What remains are setup mistakes and failures of the AAC encoder itself.

/// Why the transcoder could not be built or could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscodeError {
    /// The requested AAC bitrate is outside what AAC-LC 48 kHz stereo can carry sensibly.
    #[error("AAC bitrate {bitrate} b/s is outside the supported range {min}..={max} b/s")]
    BitrateOutOfRange { bitrate: u32, min: u32, max: u32 },

    /// The Opus decoder refused to initialise (libopus error code).
    #[error("Opus decoder setup failed (libopus code {code})")]
    DecoderSetup { code: i32 },

    /// FDK AAC refused the configuration.
    #[error("AAC encoder setup failed: {reason}")]
    EncoderSetup { reason: String },

    /// FDK AAC was configured but reports something other than AAC-LC 48 kHz stereo with
    /// 1024-sample frames, so the timestamps and the sequence header we derive would be wrong.
    #[error("AAC encoder configuration is unexpected: {what}")]
    UnexpectedEncoderConfig { what: String },

    /// FDK AAC failed while encoding PCM (not caused by stream content: its input is PCM we made).
    #[error("AAC encoding failed after {frames_encoded} frames: {reason}")]
    Encode { frames_encoded: u64, reason: String },

    /// A timestamp given by the caller is beyond ±2^62 samples, where timeline arithmetic could
    /// overflow. (Opus packets with such timestamps are dropped and counted instead.)
    #[error("timestamp {pts} is out of the supported range")]
    PtsOutOfRange { pts: i64 },

    /// Silence was requested before anything fixed where the audio timeline starts.
    #[error(
        "cannot insert silence before the audio timeline has an origin \
         (push an Opus packet first or build the transcoder with `starting_at`)"
    )]
    NoOrigin,
}
