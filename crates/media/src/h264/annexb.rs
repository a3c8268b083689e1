//! Splitting an Annex-B byte stream (ITU-T H.264 annex B) into NAL units.

/// The NAL units of an Annex-B buffer, without their start codes.
///
/// Splits on both `00 00 01` and `00 00 00 01`. Bytes before the first start code are ignored
/// (some packetizers leave junk there), and trailing zero bytes of each unit are dropped: they
/// are either the first byte of a 4-byte start code or `trailing_zero_8bits` padding, never
/// part of the NAL unit, whose last byte always holds the RBSP stop bit. Empty units are skipped.
pub fn nal_units(annexb: &[u8]) -> NalUnits<'_> {
    let rest = match find_start_code(annexb) {
        Some(at) => &annexb[at + 3..],
        None => &[],
    };
    NalUnits { rest }
}

/// Iterator returned by [`nal_units`]; borrows the input, allocates nothing.
#[derive(Clone, Debug)]
pub struct NalUnits<'a> {
    /// Input following the last start code found.
    rest: &'a [u8],
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (unit, rest) = match find_start_code(self.rest) {
                Some(at) => (&self.rest[..at], &self.rest[at + 3..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let end = unit.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            if end > 0 {
                return Some(&unit[..end]);
            }
        }
        None
    }
}

/// Index of the first `00 00 01` in `bytes`.
///
/// Looks at every third byte first: a start code ending at `i`, `i + 1` or `i + 2` needs
/// `bytes[i]` to be 0 or 1, so any other value lets the scan skip three bytes. Slices are
/// mostly such bytes, so this touches about a third of a frame.
fn find_start_code(bytes: &[u8]) -> Option<usize> {
    let mut i = 2;
    while i < bytes.len() {
        match bytes[i] {
            1 if bytes[i - 1] == 0 && bytes[i - 2] == 0 => return Some(i - 2),
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(bytes: &[u8]) -> Vec<&[u8]> {
        nal_units(bytes).collect()
    }

    #[test]
    fn splits_annexb_on_three_and_four_byte_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x67, 0x42, 0x00, // SPS after a 4-byte code
            0, 0, 1, 0x68, 0xCE, // PPS after a 3-byte code
            0, 0, 0, 1, 0x65, 0x88, 0x80, 0x00, 0x10, // IDR whose payload holds a zero
        ];
        assert_eq!(
            split(&stream),
            [
                &[0x67, 0x42][..],
                &[0x68, 0xCE],
                &[0x65, 0x88, 0x80, 0x00, 0x10]
            ]
        );
    }

    #[test]
    fn ignores_leading_garbage_and_trailing_zero_bytes() {
        let stream = [
            0xAB, 0x00, 0xCD, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 0, 0, 1, 0x41, 0x9A, 0, 0,
        ];
        assert_eq!(split(&stream), [&[0x09, 0xF0][..], &[0x41, 0x9A]]);
    }

    #[test]
    fn skips_empty_units_between_adjacent_start_codes() {
        let stream = [0, 0, 1, 0, 0, 1, 0x06, 0x05, 0, 0, 0, 1, 0, 0, 0, 1];
        assert_eq!(split(&stream), [&[0x06, 0x05][..]]);
    }

    #[test]
    fn yields_nothing_without_a_start_code() {
        assert!(split(&[0x65, 0x88, 0x84, 0x00]).is_empty());
        assert!(split(&[]).is_empty());
        assert!(split(&[0, 0]).is_empty());
        assert!(split(&[0, 0, 1]).is_empty());
    }

    #[test]
    fn finds_start_codes_at_every_alignment() {
        for gap in 1..8 {
            let mut stream = vec![0, 0, 1, 0x65];
            stream.extend(std::iter::repeat_n(0x77, gap));
            stream.extend([0, 0, 1, 0x41, 0x01]);
            let units = split(&stream);
            assert_eq!(units.len(), 2, "gap {gap}");
            assert_eq!(units[0].len(), 1 + gap);
            assert_eq!(units[1], [0x41, 0x01]);
        }
    }
}
