//! A sans-IO RTMP publish client, and the receiving end of a publish: bytes in, bytes out,
//! events out. No socket, no clock, no RNG: the handshake's random bytes are an input. The
//! runtime (`streamhard-relay`) drives the client over TCP or TLS; tests and the benchmark
//! drive the [`server`] session to stand in for a platform.
//!
//! Layers, bottom up (each works on bytes alone and is tested alone):
//! - [`url`]: destination URLs, the app/stream split, redaction ([`secret`] keeps keys out of
//!   logs);
//! - [`handshake`]: C0/C1/C2 against S0/S1/S2, either role;
//! - [`chunk`]: the chunk stream, both directions, header compression, extended timestamps;
//! - [`message`]: message types, protocol control and user control messages;
//! - [`client`]: connect → createStream → publish, media, acknowledgements, unpublish;
//! - [`server`]: the same conversation answered as nginx-rtmp does, media out as FLV tags.

pub mod chunk;
pub mod client;
mod connection;
pub mod handshake;
pub mod message;
pub mod secret;
pub mod server;
pub mod url;

pub use client::{Client, ClientError, Event, State};
pub use handshake::RANDOM_LEN;
pub use secret::Secret;
pub use server::{Session, SessionError, SessionEvent, SessionState};
pub use url::{RtmpUrl, Scheme, UrlError};
