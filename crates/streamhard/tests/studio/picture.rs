//! What the recorded pictures show, checked against the studio's layout contract: the
//! lower-third bar is a full-width band from 84 % to 95 % of the height; the PiP camera box
//! is 25 % of the width, 16:9, 3 % of the width from the corner (bottom right by default),
//! and with the bar shown a bottom box sits that margin above the bar instead; the logo sits
//! top right by default; the dark scene background is behind a PiP with nothing shared.
//!
//! The fake camera plays ffmpeg's `testsrc2`: vertical bars of saturated red, green,
//! yellow, blue, magenta and cyan, with moving details. So "the camera" is a busy picture
//! (a luma deviation of tens), and a colour to look for must be none of those (orange).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use streamhard_testkit::pixels::{Frame, Region, Rgb};

/// Per-channel slack for colours after H.264 at 2.5 Mbit/s and 4:2:0 chroma.
pub const CODEC_TOLERANCE: u8 = 40;
/// Below this luma deviation a region is a flat fill; the camera is far above.
const FLAT: f64 = 12.0;
/// Above this luma deviation a region holds a picture (the camera's bars).
const BUSY: f64 = 30.0;

/// The bar's band, inside its edges and right of its text (which is on the left).
const BAR_BAND: Region = Region {
    left: 0.50,
    top: 0.86,
    right: 0.98,
    bottom: 0.93,
};
/// Just above the band: the camera.
const ABOVE_BAR: Region = Region {
    left: 0.0,
    top: 0.70,
    right: 1.0,
    bottom: 0.80,
};
/// The middle of the frame, where no overlay goes.
const CENTRE: Region = Region {
    left: 0.20,
    top: 0.20,
    right: 0.60,
    bottom: 0.60,
};
/// Inside the bottom-right PiP box with the bar shown: x from 72 % to 97 % of the width
/// (320 px of 1280, 38.4 px from the right), y from 53.7 % to 78.7 % of the height (180 px
/// tall, its bottom 38.4 px above the bar's top at 84 %), less a margin for scaling.
const PIP_BOX: Region = Region {
    left: 0.74,
    top: 0.56,
    right: 0.955,
    bottom: 0.77,
};
/// Left of the PiP box, at the same height: the background.
const LEFT_OF_PIP: Region = Region {
    left: 0.40,
    top: 0.56,
    right: 0.68,
    bottom: 0.77,
};

pub fn decode(path: &Path, at_ms: f64) -> Frame {
    let at = Duration::from_secs_f64(at_ms.max(0.0) / 1000.0);
    Frame::decode(path, at).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Writes the frame at `at_ms` of `path` as a PNG, for a person to look at.
pub fn save_png(path: &Path, at_ms: f64, png: &Path) {
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-ss",
        ])
        .arg(format!("{:.3}", at_ms.max(0.0) / 1000.0))
        .arg("-i")
        .arg(path)
        .args(["-frames:v", "1"])
        .arg(png)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg could not write {}", png.display());
}

/// The bar's colour fills the bottom band, and is not the camera's.
pub fn assert_bar(frame: &Frame, colour: Rgb, label: &str) {
    let band = frame.share_near(BAR_BAND, colour, CODEC_TOLERANCE);
    let above = frame.share_near(ABOVE_BAR, colour, CODEC_TOLERANCE);
    println!(
        "{label}: bar colour in {:.0} % of the band, {:.1} % just above it",
        band * 100.0,
        above * 100.0
    );
    assert!(
        band >= 0.8,
        "{label}: only {:.0} % of the bottom band is the bar colour {colour:?} (mean {:?})",
        band * 100.0,
        frame.stats(BAR_BAND).mean
    );
    assert!(
        above <= 0.05,
        "{label}: {:.0} % of the camera above the bar is the bar colour",
        above * 100.0
    );
}

/// The logo (a white square) is in the top-right quarter, its default corner, and not in
/// the top-left one.
pub fn assert_logo_top_right(frame: &Frame, white: Rgb, label: &str) {
    let top_right = frame.share_near(Region::new(0.5, 0.0, 1.0, 0.5), white, CODEC_TOLERANCE);
    let top_left = frame.share_near(Region::new(0.0, 0.0, 0.5, 0.5), white, CODEC_TOLERANCE);
    println!(
        "{label}: logo white in {:.1} % of the top-right quarter, {:.2} % of the top-left",
        top_right * 100.0,
        top_left * 100.0
    );
    assert!(
        top_right >= 0.01,
        "{label}: no logo in the top-right quarter ({:.2} % white)",
        top_right * 100.0
    );
    assert!(
        top_left * 5.0 < top_right,
        "{label}: as much white top left ({top_left}) as top right ({top_right})"
    );
}

/// The bar colours of `testsrc2`, the fake camera's picture.
const CAMERA_COLOURS: [(&str, Rgb); 6] = [
    ("red", Rgb(255, 0, 0)),
    ("green", Rgb(0, 255, 0)),
    ("yellow", Rgb(255, 255, 0)),
    ("blue", Rgb(0, 0, 255)),
    ("magenta", Rgb(255, 0, 255)),
    ("cyan", Rgb(0, 255, 255)),
];

/// The camera's bar colours that each fill at least 3 % of `region`.
fn camera_colours_in(frame: &Frame, region: Region) -> Vec<&'static str> {
    CAMERA_COLOURS
        .iter()
        .filter(|(_, colour)| frame.share_near(region, *colour, CODEC_TOLERANCE) >= 0.03)
        .map(|(name, _)| *name)
        .collect()
}

/// The camera fills the frame: the middle is the camera's busy picture.
pub fn assert_camera_full(frame: &Frame, label: &str) {
    let centre = frame.stats(CENTRE);
    assert!(
        centre.luma_deviation > BUSY,
        "{label}: the middle of the frame is flat ({centre:?}), not the camera"
    );
}

/// Picture-in-picture with nothing shared: a dark flat background, and the camera's busy
/// picture in the bottom-right box only.
pub fn assert_picture_in_picture(frame: &Frame, label: &str) {
    let (centre, left, pip) = (
        frame.stats(CENTRE),
        frame.stats(LEFT_OF_PIP),
        frame.stats(PIP_BOX),
    );
    println!(
        "{label}: luma mean/deviation: centre {:.0}/{:.1}, left of the box {:.0}/{:.1}, box {:.0}/{:.1}",
        centre.mean_luma,
        centre.luma_deviation,
        left.mean_luma,
        left.luma_deviation,
        pip.mean_luma,
        pip.luma_deviation
    );
    for (what, region) in [("the middle", centre), ("left of the PiP box", left)] {
        assert!(
            region.mean_luma < 80.0 && region.luma_deviation < FLAT,
            "{label}: {what} is not the dark background: {region:?}"
        );
    }
    let colours = camera_colours_in(frame, PIP_BOX);
    println!("{label}: the camera's bar colours in the box: {colours:?}");
    assert!(
        pip.luma_deviation > BUSY && colours.len() >= 4,
        "{label}: the bottom-right box is not the camera ({colours:?}): {pip:?}"
    );
}

/// The camera moves in the recording: between two frames half a second apart, part of the
/// picture changed (the fake camera's moving line and squares cover a few percent of it; a
/// frozen picture changes nowhere).
pub fn assert_moving(path: &Path, at_ms: f64, region: Region, label: &str) {
    let (before, after) = (decode(path, at_ms - 500.0), decode(path, at_ms));
    let changed = after.share_changed(&before, region, CODEC_TOLERANCE);
    println!(
        "{label}: {:.1} % of the picture changed in 0.5 s",
        changed * 100.0
    );
    assert!(
        changed >= 0.005,
        "{label}: the picture is frozen: {:.2} % changed between {:.0} and {at_ms:.0} ms",
        changed * 100.0,
        at_ms - 500.0
    );
}

/// The whole frame.
pub const WHOLE: Region = Region::WHOLE;
/// The PiP box (see [`PIP_BOX`]).
pub const PIP: Region = PIP_BOX;
