//! A WHIP (RFC 9725) publisher built on str0m, sending pre-encoded test media in real time.
//!
//! It stands in for a browser in the integration tests and the benchmark: it offers exactly
//! what a browser's H.264 + Opus publication looks like, paces frames on their capture clock,
//! and lets the test inspect what the server asked for (keyframe requests).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use streamhard_testkit::fixtures::{Fixture, FixtureSpec};
//! use streamhard_whip_client::{Publisher, PublisherOptions};
//!
//! let media = Fixture::generate(FixtureSpec::browser_720p(8))?.load()?;
//! let mut publisher =
//!     Publisher::connect("http://127.0.0.1:8080/api/whip/1", Some("token"), PublisherOptions::default())
//!         .await?;
//! publisher.send(&media, Duration::from_secs(8)).await?;
//! publisher.delete().await?;
//! # Ok(()) }
//! ```
//!
//! reqwest is built without TLS here: tests and benchmarks talk to a server on the same
//! machine. For an `https://` endpoint, pass a client built with TLS as
//! [`PublisherOptions::http_client`].

mod driver;
mod error;
mod offer;
mod publisher;
mod schedule;
mod signaling;

pub use driver::KeyframeRequests;
pub use error::WhipError;
pub use publisher::{Publisher, PublisherOptions, SendReport};
pub use schedule::RtpOffsets;
