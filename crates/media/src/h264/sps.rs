//! Sequence parameter set parsing (ITU-T H.264 7.3.2.1.1), as far as a relay needs: profile and
//! level for the decoder configuration record, picture size and frame rate for `onMetaData`.

use super::bits::{BitReader, rbsp};
use super::{H264Error, MAX_PARAMETER_SET_LEN, NalType};

/// Pictures wider or taller than this many pixels are refused as absurd (8K is 7680).
pub const MAX_DIMENSION: u32 = 16_384;

/// What the relay knows about a stream from its SPS.
#[derive(Clone, Debug, PartialEq)]
pub struct Sps {
    pub profile_idc: u8,
    /// `constraint_set0_flag` .. `constraint_set5_flag` and the reserved bits, as one byte: the
    /// "profile compatibility" byte of the decoder configuration record.
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub seq_parameter_set_id: u8,
    /// 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u8,
    pub bit_depth_luma: u8,
    pub bit_depth_chroma: u8,
    /// False for interlaced coding (field pictures or MBAFF).
    pub frame_mbs_only: bool,
    /// Displayed size in pixels, after frame cropping.
    pub width: u32,
    pub height: u32,
    /// `time_scale / (2 * num_units_in_tick)` when the VUI carries timing information.
    /// Browsers often leave it out; the frame rate then has to come from timestamps.
    pub fps: Option<f64>,
}

/// Profiles whose SPS carries chroma format, bit depths and scaling lists (7.3.2.1.1).
const PROFILES_WITH_CHROMA_INFO: [u8; 13] =
    [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Parses an SPS NAL unit, header byte included.
pub fn parse_sps(nal: &[u8]) -> Result<Sps, H264Error> {
    let nal_type = NalType::of(nal).ok_or(H264Error::Empty { what: "SPS" })?;
    if nal_type != NalType::SPS {
        return Err(H264Error::WrongNalType {
            expected: NalType::SPS.0,
            found: nal_type.0,
        });
    }
    if nal.len() > MAX_PARAMETER_SET_LEN {
        return Err(H264Error::TooLarge {
            what: "SPS",
            len: nal.len(),
            max: MAX_PARAMETER_SET_LEN,
        });
    }
    let payload = rbsp(&nal[1..]);
    let mut r = BitReader::new(&payload);

    let profile_idc = r.u8("profile_idc")?;
    let constraint_flags = r.u8("constraint_flags")?;
    let level_idc = r.u8("level_idc")?;
    // The bounds below are the spec's ranges; they make every later cast lossless.
    let seq_parameter_set_id = r.ue_max(31, "seq_parameter_set_id")? as u8;

    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    let mut bit_depth_luma = 8;
    let mut bit_depth_chroma = 8;
    if PROFILES_WITH_CHROMA_INFO.contains(&profile_idc) {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc")? as u8;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag("separate_colour_plane_flag")?;
        }
        bit_depth_luma = 8 + r.ue_max(6, "bit_depth_luma_minus8")? as u8;
        bit_depth_chroma = 8 + r.ue_max(6, "bit_depth_chroma_minus8")? as u8;
        r.flag("qpprime_y_zero_transform_bypass_flag")?;
        if r.flag("seq_scaling_matrix_present_flag")? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag("seq_scaling_list_present_flag")? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }

    r.ue_max(12, "log2_max_frame_num_minus4")?;
    match r.ue_max(2, "pic_order_cnt_type")? {
        0 => {
            r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
        }
        1 => {
            r.flag("delta_pic_order_always_zero_flag")?;
            r.se("offset_for_non_ref_pic")?;
            r.se("offset_for_top_to_bottom_field")?;
            let cycle = r.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
            for _ in 0..cycle {
                r.se("offset_for_ref_frame")?;
            }
        }
        _ => {}
    }
    r.ue("max_num_ref_frames")?;
    r.flag("gaps_in_frame_num_value_allowed_flag")?;
    let width_mbs = r.ue_max(MAX_DIMENSION / 16 - 1, "pic_width_in_mbs_minus1")? + 1;
    let height_map_units = r.ue_max(MAX_DIMENSION / 16 - 1, "pic_height_in_map_units_minus1")? + 1;
    let frame_mbs_only = r.flag("frame_mbs_only_flag")?;
    if !frame_mbs_only {
        r.flag("mb_adaptive_frame_field_flag")?;
    }
    r.flag("direct_8x8_inference_flag")?;

    // A frame of field pairs is twice as many map units tall (7-18).
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let coded_width = width_mbs * 16;
    let coded_height = height_map_units * 16 * field_factor;
    if coded_height > MAX_DIMENSION {
        return Err(H264Error::OutOfRange {
            field: "pic_height_in_map_units_minus1",
            value: i64::from(height_map_units - 1),
        });
    }

    let (mut width, mut height) = (coded_width, coded_height);
    if r.flag("frame_cropping_flag")? {
        // Crop offsets count chroma samples (7-19 .. 7-22): two luma columns per unit in 4:2:0
        // and 4:2:2, two rows in 4:2:0, and doubled again vertically for field coding.
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (unit_x, unit_y) = match chroma_array_type {
            0 => (1, field_factor),
            1 => (2, 2 * field_factor),
            2 => (2, field_factor),
            _ => (1, field_factor),
        };
        let left = r.ue("frame_crop_left_offset")?;
        let right = r.ue("frame_crop_right_offset")?;
        let top = r.ue("frame_crop_top_offset")?;
        let bottom = r.ue("frame_crop_bottom_offset")?;
        width = cropped(coded_width, unit_x, left, right, "frame_crop_right_offset")?;
        height = cropped(
            coded_height,
            unit_y,
            top,
            bottom,
            "frame_crop_bottom_offset",
        )?;
    }

    // The VUI is optional information after everything a decoder needs. Encoders have shipped
    // malformed VUIs that decoders shrug off, so a VUI we cannot read only costs the frame rate:
    // refusing the SPS would refuse a stream every player plays.
    let fps = if r.flag("vui_parameters_present_flag")? {
        vui_fps(&mut r).ok().flatten()
    } else {
        None
    };

    Ok(Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        seq_parameter_set_id,
        chroma_format_idc,
        bit_depth_luma,
        bit_depth_chroma,
        frame_mbs_only,
        width,
        height,
        fps,
    })
}

/// `size - unit * (start + end)`, refusing crops that leave no picture.
fn cropped(
    size: u32,
    unit: u32,
    start: u32,
    end: u32,
    field: &'static str,
) -> Result<u32, H264Error> {
    let crop = u64::from(unit) * (u64::from(start) + u64::from(end));
    if crop >= u64::from(size) {
        return Err(H264Error::OutOfRange {
            field,
            value: i64::from(end),
        });
    }
    // crop < size <= u32::MAX, checked above.
    Ok(size - crop as u32)
}

/// Steps over one `scaling_list()` (7.3.2.1.1.1); only its length in bits matters here.
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), H264Error> {
    let mut last_scale = 8i64;
    let mut next_scale = 8i64;
    for _ in 0..size {
        if next_scale != 0 {
            let delta = r.se("delta_scale")?;
            if !(-128..=127).contains(&delta) {
                return Err(H264Error::OutOfRange {
                    field: "delta_scale",
                    value: delta,
                });
            }
            next_scale = (last_scale + delta + 256).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

/// Reads the VUI up to `timing_info` (E.1.1) and returns the frame rate it states, if any.
fn vui_fps(r: &mut BitReader<'_>) -> Result<Option<f64>, H264Error> {
    const EXTENDED_SAR: u8 = 255;
    if r.flag("aspect_ratio_info_present_flag")? && r.u8("aspect_ratio_idc")? == EXTENDED_SAR {
        r.bits(16, "sar_width")?;
        r.bits(16, "sar_height")?;
    }
    if r.flag("overscan_info_present_flag")? {
        r.flag("overscan_appropriate_flag")?;
    }
    if r.flag("video_signal_type_present_flag")? {
        r.bits(3, "video_format")?;
        r.flag("video_full_range_flag")?;
        if r.flag("colour_description_present_flag")? {
            r.bits(24, "colour_description")?;
        }
    }
    if r.flag("chroma_loc_info_present_flag")? {
        r.ue("chroma_sample_loc_type_top_field")?;
        r.ue("chroma_sample_loc_type_bottom_field")?;
    }
    if !r.flag("timing_info_present_flag")? {
        return Ok(None);
    }
    let num_units_in_tick = r.bits(32, "num_units_in_tick")?;
    let time_scale = r.bits(32, "time_scale")?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return Ok(None);
    }
    // One frame is two ticks: the tick is a field period (E.2.1).
    Ok(Some(
        f64::from(time_scale) / (2.0 * f64::from(num_units_in_tick)),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // Fixtures made with ffmpeg 7 / libx264, SPS copied from the Annex-B output:
    //   ffmpeg -f lavfi -i testsrc=size=WxH:rate=R -t 0.1 [-pix_fmt yuv420p] -c:v libx264 \
    //     [-profile:v P] [-flags +ildct+ilme -x264-params interlaced=1] -f h264 out.h264

    /// 1280x720 at 30 fps, `-pix_fmt yuv420p -profile:v baseline` (Constrained Baseline, POC
    /// type 2 as WebRTC encoders use).
    pub(crate) const SPS_BASELINE_720P: [u8; 25] = [
        0x67, 0x42, 0xC0, 0x1F, 0xD9, 0x00, 0x50, 0x05, 0xBB, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0xC0, 0xF1, 0x83, 0x24, 0x80,
    ];
    pub(crate) const PPS_BASELINE_720P: [u8; 5] = [0x68, 0xCB, 0x83, 0xCB, 0x20];

    /// 1920x1080 at 30 fps, `-pix_fmt yuv420p -profile:v high`: coded as 1088 rows, cropped.
    pub(crate) const SPS_HIGH_1080P: [u8; 27] = [
        0x67, 0x64, 0x00, 0x28, 0xAC, 0xD9, 0x40, 0x78, 0x02, 0x27, 0xE5, 0xC0, 0x44, 0x00, 0x00,
        0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xF0, 0x3C, 0x60, 0xC6, 0x58,
    ];
    pub(crate) const PPS_HIGH_1080P: [u8; 6] = [0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0];

    /// 320x240 at 25 fps from RGB input without `-pix_fmt`: High 4:4:4 Predictive (244).
    const SPS_HIGH444_240P: [u8; 25] = [
        0x67, 0xF4, 0x00, 0x0D, 0x91, 0x9B, 0x28, 0x28, 0x3F, 0x60, 0x22, 0x00, 0x00, 0x03, 0x00,
        0x02, 0x00, 0x00, 0x03, 0x00, 0x64, 0x1E, 0x28, 0x53, 0x2C,
    ];

    /// 640x360 at 30 fps, interlaced: 12 map units of 32 rows (384), field-cropped to 360.
    const SPS_INTERLACED_360: [u8; 26] = [
        0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xA0, 0x63, 0xF3, 0xE0, 0x22, 0x00, 0x00, 0x03,
        0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x78, 0x3E, 0x28, 0x53, 0x2C,
    ];

    /// Writes H.264 bit syntax, to build parameter sets no encoder here produces.
    #[derive(Default)]
    struct BitWriter {
        bits: Vec<bool>,
    }

    impl BitWriter {
        fn bits(&mut self, n: u32, value: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.bits.push((value >> i) & 1 == 1);
            }
            self
        }
        fn flag(&mut self, value: bool) -> &mut Self {
            self.bits(1, u64::from(value))
        }
        fn ue(&mut self, value: u64) -> &mut Self {
            let coded = value + 1;
            let len = 64 - coded.leading_zeros();
            self.bits(len - 1, 0).bits(len, coded)
        }
        fn se(&mut self, value: i64) -> &mut Self {
            let mapped = if value > 0 { 2 * value - 1 } else { -2 * value };
            self.ue(mapped as u64)
        }
        /// The NAL unit: header, payload with the stop bit, emulation prevention applied.
        fn sps_nal(&mut self) -> Vec<u8> {
            self.flag(true);
            while !self.bits.len().is_multiple_of(8) {
                self.bits.push(false);
            }
            let mut nal = vec![0x67];
            let mut zeros = 0;
            for chunk in self.bits.chunks(8) {
                let byte = chunk.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b));
                if zeros >= 2 && byte <= 3 {
                    nal.push(3);
                    zeros = 0;
                }
                zeros = if byte == 0 { zeros + 1 } else { 0 };
                nal.push(byte);
            }
            nal
        }
    }

    /// Profile, level, id and frame numbering common to the hand-built SPSs.
    fn sps_start(profile_idc: u64) -> BitWriter {
        let mut w = BitWriter::default();
        w.bits(8, profile_idc).bits(8, 0).bits(8, 31).ue(0);
        w
    }

    #[test]
    fn parses_baseline_720p_without_cropping() {
        let sps = parse_sps(&SPS_BASELINE_720P).unwrap();
        assert_eq!(
            sps,
            Sps {
                profile_idc: 66,
                constraint_flags: 0xC0,
                level_idc: 31,
                seq_parameter_set_id: 0,
                chroma_format_idc: 1,
                bit_depth_luma: 8,
                bit_depth_chroma: 8,
                frame_mbs_only: true,
                width: 1280,
                height: 720,
                fps: Some(30.0),
            }
        );
    }

    #[test]
    fn parses_high_1080p_cropped_from_1088_rows() {
        let sps = parse_sps(&SPS_HIGH_1080P).unwrap();
        assert_eq!((sps.profile_idc, sps.level_idc), (100, 40));
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!((sps.width, sps.height), (1920, 1080));
        assert_eq!(sps.fps, Some(30.0));
    }

    #[test]
    fn parses_high_444_with_one_sample_crop_units() {
        let sps = parse_sps(&SPS_HIGH444_240P).unwrap();
        assert_eq!((sps.profile_idc, sps.chroma_format_idc), (244, 3));
        assert_eq!((sps.width, sps.height), (320, 240));
        assert_eq!(sps.fps, Some(25.0));
    }

    #[test]
    fn parses_interlaced_sps_with_field_doubled_height_and_crop() {
        let sps = parse_sps(&SPS_INTERLACED_360).unwrap();
        assert!(!sps.frame_mbs_only);
        assert_eq!((sps.width, sps.height), (640, 360));
    }

    #[test]
    fn skips_scaling_lists_including_delta_scales_and_reads_poc_type_1() {
        let mut w = sps_start(100);
        w.ue(1).ue(2).ue(2).flag(false); // 4:2:0, 10-bit luma and chroma
        w.flag(true); // seq_scaling_matrix_present_flag
        // List 0: explicit deltas, ending with next_scale 0 (repeat last) after three entries.
        w.flag(true).se(5).se(-7).se(-6);
        // List 1: delta -8 from 8 makes next_scale 0 at once ("use the default matrix").
        w.flag(true).se(-8);
        // List 6 (8x8): 64 entries, all +1.
        w.flag(false).flag(false).flag(false).flag(false);
        w.flag(true);
        for _ in 0..64 {
            w.se(1);
        }
        w.flag(false);
        w.ue(0); // log2_max_frame_num_minus4
        w.ue(1).flag(false).se(-2).se(3).ue(2).se(4).se(-4); // POC type 1, two cycle offsets
        w.ue(4).flag(false); // max_num_ref_frames, gaps
        w.ue(39).ue(22).flag(true).flag(true); // 640x368 frame
        w.flag(true).ue(0).ue(0).ue(0).ue(4); // crop 8 rows
        w.flag(false); // no VUI
        let sps = parse_sps(&w.sps_nal()).unwrap();
        assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (10, 10));
        assert_eq!((sps.width, sps.height), (640, 360));
        assert_eq!(sps.fps, None);
    }

    #[test]
    fn reads_frame_rate_after_every_optional_vui_field() {
        let mut w = sps_start(66);
        w.ue(0)
            .ue(2)
            .ue(1)
            .flag(false)
            .ue(19)
            .ue(14)
            .flag(true)
            .flag(true)
            .flag(false);
        w.flag(true); // VUI
        w.flag(true).bits(8, 255).bits(16, 4).bits(16, 3); // extended SAR
        w.flag(true).flag(false); // overscan
        w.flag(true)
            .bits(3, 5)
            .flag(true)
            .flag(true)
            .bits(24, 0x01_01_01); // signal type
        w.flag(true).ue(1).ue(1); // chroma location
        w.flag(true).bits(32, 1001).bits(32, 60_000).flag(true); // 29.97 fps
        let sps = parse_sps(&w.sps_nal()).unwrap();
        assert_eq!((sps.width, sps.height), (320, 240));
        let fps = sps.fps.unwrap();
        assert!((fps - 29.97).abs() < 0.001, "{fps}");
    }

    #[test]
    fn leaves_frame_rate_unknown_when_vui_is_truncated_or_has_zero_tick() {
        let mut w = sps_start(66);
        w.ue(0)
            .ue(2)
            .ue(1)
            .flag(false)
            .ue(19)
            .ue(14)
            .flag(true)
            .flag(true)
            .flag(false);
        w.flag(true)
            .flag(false)
            .flag(false)
            .flag(false)
            .flag(false)
            .flag(true);
        w.bits(32, 0).bits(32, 60).flag(false);
        assert_eq!(parse_sps(&w.sps_nal()).unwrap().fps, None);

        let mut cut = SPS_HIGH_1080P.to_vec();
        cut.truncate(cut.len() - 6);
        let sps = parse_sps(&cut).unwrap();
        assert_eq!((sps.width, sps.height, sps.fps), (1920, 1080, None));
    }

    #[test]
    fn every_truncation_before_the_vui_is_an_error() {
        // In the 720p SPS, vui_parameters_present_flag is bit 6 of byte 8.
        for len in 1..=8 {
            assert!(
                parse_sps(&SPS_BASELINE_720P[..len]).is_err(),
                "{len} bytes parsed"
            );
        }
    }

    #[test]
    fn refuses_a_nal_that_is_not_an_sps() {
        assert_eq!(
            parse_sps(&PPS_HIGH_1080P),
            Err(H264Error::WrongNalType {
                expected: 7,
                found: 8
            })
        );
        assert_eq!(parse_sps(&[]), Err(H264Error::Empty { what: "SPS" }));
    }

    #[test]
    fn refuses_absurd_sizes_and_crops() {
        let mut w = sps_start(66);
        w.ue(0).ue(2).ue(1).flag(false).ue(100_000).ue(14);
        assert!(matches!(
            parse_sps(&w.sps_nal()),
            Err(H264Error::OutOfRange {
                field: "pic_width_in_mbs_minus1",
                ..
            })
        ));

        let mut w = sps_start(66);
        w.ue(0)
            .ue(2)
            .ue(1)
            .flag(false)
            .ue(19)
            .ue(14)
            .flag(true)
            .flag(true);
        w.flag(true).ue(80).ue(80).ue(0).ue(0); // crops 320 columns off 320
        assert!(matches!(
            parse_sps(&w.sps_nal()),
            Err(H264Error::OutOfRange {
                field: "frame_crop_right_offset",
                ..
            })
        ));

        let mut w = sps_start(66);
        w.ue(0)
            .ue(2)
            .ue(1)
            .flag(false)
            .ue(19)
            .ue(14)
            .flag(true)
            .flag(true);
        w.flag(true).ue(0).ue(u64::from(u32::MAX - 1)).ue(0).ue(0);
        assert!(parse_sps(&w.sps_nal()).is_err());

        let mut w = sps_start(66);
        w.ue(0).ue(2).ue(1).flag(false).ue(19).ue(600).flag(false);
        assert!(matches!(
            parse_sps(&w.sps_nal()),
            Err(H264Error::OutOfRange {
                field: "pic_height_in_map_units_minus1",
                ..
            })
        ));
    }

    #[test]
    fn refuses_an_oversized_sps_before_reading_it() {
        let mut nal = SPS_BASELINE_720P.to_vec();
        nal.resize(MAX_PARAMETER_SET_LEN + 1, 0xFF);
        assert!(matches!(
            parse_sps(&nal),
            Err(H264Error::TooLarge { what: "SPS", .. })
        ));
    }

    #[test]
    fn parses_arbitrary_bytes_without_panicking() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut nal = SPS_HIGH_1080P.to_vec();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = 1 + (state as usize) % (nal.len() - 1);
                nal[at] = (state >> 32) as u8;
            }
            if let Ok(sps) = parse_sps(&nal) {
                assert!(sps.width > 0 && sps.width <= MAX_DIMENSION);
                assert!(sps.height > 0 && sps.height <= MAX_DIMENSION);
                parsed += 1;
            }
        }
        assert!(
            parsed > 0,
            "mutations never parsed; the test is not exercising the parser"
        );
    }
}
