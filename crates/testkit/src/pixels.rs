//! Decoded video frames as RGB pixels, to assert what a picture shows: "the bottom band is
//! the bar's colour", "this box holds the camera and the rest is dark".
//!
//! A frame is decoded by ffmpeg (`-ss` before `-i`: a fast seek to the keyframe before, then
//! an exact decode up to the time asked for) into raw RGB24, whose size is known in advance,
//! so the output read is bounded by the frame's own size. Regions are given in fractions of
//! the frame, as layouts are specified ("from 84 % to 95 % of the height").

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};

/// Largest frame accepted: 4K.
const MAX_PIXELS: usize = 3840 * 2160;

/// One decoded frame, RGB24, rows top to bottom.
#[derive(Clone, Debug)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    rgb: Vec<u8>,
}

/// A colour with 8 bits a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` (as an `<input type=color>` gives it).
    pub fn from_hex(hex: &str) -> anyhow::Result<Rgb> {
        let digits = hex.strip_prefix('#').unwrap_or(hex);
        ensure!(
            digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hex:?} is not #rrggbb"
        );
        let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16);
        Ok(Rgb(channel(0)?, channel(2)?, channel(4)?))
    }

    /// Whether every channel is within `tolerance` of `other`'s.
    pub fn near(self, other: Rgb, tolerance: u8) -> bool {
        let close = |a: u8, b: u8| a.abs_diff(b) <= tolerance;
        close(self.0, other.0) && close(self.1, other.1) && close(self.2, other.2)
    }

    /// BT.601 luma, 0–255.
    pub fn luma(self) -> f64 {
        0.299 * f64::from(self.0) + 0.587 * f64::from(self.1) + 0.114 * f64::from(self.2)
    }
}

/// A rectangle of a frame in fractions of its width and height: `x` from `left` to `right`,
/// `y` from `top` to `bottom`, each 0.0–1.0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

impl Region {
    pub const WHOLE: Region = Region {
        left: 0.0,
        top: 0.0,
        right: 1.0,
        bottom: 1.0,
    };

    /// `x` from `left` to `right`, `y` from `top` to `bottom`, in fractions.
    pub fn new(left: f64, top: f64, right: f64, bottom: f64) -> Region {
        Region {
            left,
            top,
            right,
            bottom,
        }
    }
}

/// What a region of a frame holds, summed over its pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionStats {
    pub pixels: usize,
    /// Mean of each channel.
    pub mean: (f64, f64, f64),
    /// Mean luma (BT.601).
    pub mean_luma: f64,
    /// Standard deviation of the luma: near zero for a flat fill, tens for a busy picture.
    pub luma_deviation: f64,
}

impl Frame {
    /// Decodes the video frame shown at `at` from the start of `path`.
    pub fn decode(path: &Path, at: Duration) -> anyhow::Result<Frame> {
        let (width, height) = video_size(path)?;
        let size = width
            .checked_mul(height)
            .filter(|&pixels| pixels > 0 && pixels <= MAX_PIXELS)
            .with_context(|| format!("{}: a {width}x{height} picture", path.display()))?
            * 3;
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-loglevel", "error", "-ss"])
            .arg(format!("{:.3}", at.as_secs_f64()))
            .arg("-i")
            .arg(path)
            .args([
                "-frames:v",
                "1",
                "-an",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running ffmpeg (apt-get install ffmpeg)")?;
        let mut rgb = Vec::with_capacity(size);
        child
            .stdout
            .take()
            .context("ffmpeg's stdout")?
            .take(size as u64)
            .read_to_end(&mut rgb)
            .context("reading ffmpeg's frame")?;
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.by_ref().take(16 * 1024).read_to_string(&mut stderr);
        }
        let status = child.wait().context("waiting for ffmpeg")?;
        if rgb.len() != size {
            bail!(
                "ffmpeg gave {} of {size} bytes of the frame at {at:?} of {} ({status}): {}",
                rgb.len(),
                path.display(),
                stderr.trim()
            );
        }
        Ok(Frame { width, height, rgb })
    }

    /// A frame from raw RGB24 rows (for tests of this module, or pictures made in memory).
    pub fn from_rgb(width: usize, height: usize, rgb: Vec<u8>) -> anyhow::Result<Frame> {
        ensure!(
            rgb.len() == width * height * 3,
            "{width}x{height} RGB24 is not {} bytes",
            rgb.len()
        );
        Ok(Frame { width, height, rgb })
    }

    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        Rgb(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// The pixels of `region` (clamped to the frame), row by row.
    pub fn pixels(&self, region: Region) -> impl Iterator<Item = Rgb> + '_ {
        let span = |from: f64, to: f64, size: usize| {
            let at = |f: f64| ((f.clamp(0.0, 1.0) * size as f64).round() as usize).min(size);
            at(from)..at(to)
        };
        let xs = span(region.left, region.right, self.width);
        let ys = span(region.top, region.bottom, self.height);
        ys.flat_map(move |y| xs.clone().map(move |x| self.pixel(x, y)))
    }

    /// The share (0.0–1.0) of `region`'s pixels within `tolerance` of `colour` on every
    /// channel; 0.0 for an empty region.
    pub fn share_near(&self, region: Region, colour: Rgb, tolerance: u8) -> f64 {
        let (mut near, mut all) = (0usize, 0usize);
        for pixel in self.pixels(region) {
            all += 1;
            near += usize::from(pixel.near(colour, tolerance));
        }
        if all == 0 {
            0.0
        } else {
            near as f64 / all as f64
        }
    }

    /// The share (0.0–1.0) of `region`'s pixels that differ from the same pixel of `other`
    /// by more than `tolerance` on some channel: how much of a picture moved between two
    /// frames. Frames of different sizes differ everywhere (1.0).
    pub fn share_changed(&self, other: &Frame, region: Region, tolerance: u8) -> f64 {
        if (self.width, self.height) != (other.width, other.height) {
            return 1.0;
        }
        let (mut changed, mut all) = (0usize, 0usize);
        for (a, b) in self.pixels(region).zip(other.pixels(region)) {
            all += 1;
            changed += usize::from(!a.near(b, tolerance));
        }
        if all == 0 {
            0.0
        } else {
            changed as f64 / all as f64
        }
    }

    /// Means and luma spread of `region`.
    pub fn stats(&self, region: Region) -> RegionStats {
        let (mut n, mut r, mut g, mut b, mut luma, mut luma_sq) = (0usize, 0.0, 0.0, 0.0, 0.0, 0.0);
        for pixel in self.pixels(region) {
            n += 1;
            r += f64::from(pixel.0);
            g += f64::from(pixel.1);
            b += f64::from(pixel.2);
            let y = pixel.luma();
            luma += y;
            luma_sq += y * y;
        }
        let count = n.max(1) as f64;
        let mean_luma = luma / count;
        RegionStats {
            pixels: n,
            mean: (r / count, g / count, b / count),
            mean_luma,
            luma_deviation: (luma_sq / count - mean_luma * mean_luma).max(0.0).sqrt(),
        }
    }
}

/// The width and height of the first video stream of `path`.
fn video_size(path: &Path) -> anyhow::Result<(usize, usize)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height", "-of", "csv=p=0:s=x"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running ffprobe (apt-get install ffmpeg)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or_default().trim();
    let parsed = line
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
    parsed.with_context(|| {
        format!(
            "{}: no video size from ffprobe ({}): {line:?} {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4x2 frame: the top row red, the bottom row blue, except one white pixel.
    fn tiny() -> Frame {
        let mut rgb = Vec::new();
        for _ in 0..4 {
            rgb.extend([255, 0, 0]);
        }
        for x in 0..4 {
            rgb.extend(if x == 3 { [255, 255, 255] } else { [0, 0, 255] });
        }
        Frame::from_rgb(4, 2, rgb).unwrap()
    }

    #[test]
    fn regions_are_fractions_of_the_frame() {
        let frame = tiny();
        assert_eq!(frame.pixels(Region::WHOLE).count(), 8);
        let bottom = Region::new(0.0, 0.5, 1.0, 1.0);
        assert_eq!(frame.share_near(bottom, Rgb(0, 0, 255), 10), 0.75);
        assert_eq!(
            frame.share_near(Region::new(0.0, 0.0, 1.0, 0.5), Rgb(250, 5, 5), 10),
            1.0
        );
        assert_eq!(
            frame.share_near(Region::new(0.5, 0.5, 0.5, 1.0), Rgb(0, 0, 0), 0),
            0.0
        );
        let top = frame.stats(Region::new(0.0, 0.0, 1.0, 0.5));
        assert_eq!(top.pixels, 4);
        assert_eq!(top.mean, (255.0, 0.0, 0.0));
        assert!(top.luma_deviation < 1e-6, "{top:?}");
        assert!(frame.stats(bottom).luma_deviation > 50.0);
        let mut moved = tiny();
        moved.rgb[0..3].copy_from_slice(&[0, 0, 0]);
        assert_eq!(frame.share_changed(&moved, Region::WHOLE, 20), 1.0 / 8.0);
        assert_eq!(frame.share_changed(&frame, Region::WHOLE, 0), 0.0);
        let other_size = Frame::from_rgb(1, 1, vec![0, 0, 0]).unwrap();
        assert_eq!(frame.share_changed(&other_size, Region::WHOLE, 255), 1.0);
    }

    #[test]
    fn colours_parse_from_hex_and_compare_per_channel() {
        assert_eq!(Rgb::from_hex("#ff8000").unwrap(), Rgb(255, 128, 0));
        assert!(Rgb::from_hex("#ff80").is_err());
        assert!(Rgb::from_hex("#gg8000").is_err());
        assert!(Rgb(250, 140, 30).near(Rgb(255, 128, 0), 40));
        assert!(!Rgb(250, 140, 50).near(Rgb(255, 128, 0), 40));
    }

    #[test]
    fn decodes_a_frame_of_a_file_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two-colours.mp4");
        // One second of orange, then one of blue.
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg("color=c=#ff8000:s=64x48:r=10:d=1[a];color=c=#0000ff:s=64x48:r=10:d=1[b];[a][b]concat=n=2:v=1")
            .args(["-pix_fmt", "yuv444p", "-c:v", "libx264", "-qp", "0"])
            .arg(&path)
            .status()
            .expect("ffmpeg");
        assert!(status.success());
        let orange = Frame::decode(&path, Duration::from_millis(500)).expect("decode");
        assert_eq!((orange.width, orange.height), (64, 48));
        assert!(orange.share_near(Region::WHOLE, Rgb(255, 128, 0), 12) > 0.99);
        let blue = Frame::decode(&path, Duration::from_millis(1500)).expect("decode");
        assert!(blue.share_near(Region::WHOLE, Rgb(0, 0, 255), 12) > 0.99);
        assert!(Frame::decode(&dir.path().join("missing.mp4"), Duration::ZERO).is_err());
    }
}
