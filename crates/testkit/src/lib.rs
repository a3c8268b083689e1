//! Test harness shared by the workspace's integration tests and, later, the benchmark.
//! Everything here drives real programs installed on the machine (nginx with the RTMP
//! module, ffmpeg, ffprobe, headless Chromium): no mocks.

pub mod browser;
pub mod capture;
pub mod ffprobe;
pub mod fixtures;
pub mod flv_source;
pub mod netns;
pub mod nginx;
pub mod pixels;
pub mod tls_front;
