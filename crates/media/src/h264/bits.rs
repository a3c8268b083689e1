//! Reading H.264 syntax elements: emulation prevention removal and an Exp-Golomb bit reader.

use super::H264Error;

/// The RBSP of a NAL unit payload: `00 00 03` becomes `00 00` (H.264 7.4.1).
///
/// The encoder inserts the `03` so a payload never contains a start code; the bit syntax is
/// defined on the bytes without it.
pub(crate) fn rbsp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &byte in payload {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        out.push(byte);
    }
    out
}

/// Reads bits most-significant first. Every read names the field it is for, so a truncated
/// parameter set reports where it ended.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    pub(crate) fn flag(&mut self, field: &'static str) -> Result<bool, H264Error> {
        let byte = self
            .data
            .get(self.pos / 8)
            .ok_or(H264Error::Truncated { field })?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit == 1)
    }

    /// An unsigned `n`-bit field, `n <= 32`.
    pub(crate) fn bits(&mut self, n: u32, field: &'static str) -> Result<u32, H264Error> {
        debug_assert!(n <= 32);
        let mut value = 0u32;
        for _ in 0..n {
            value = (value << 1) | u32::from(self.flag(field)?);
        }
        Ok(value)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, H264Error> {
        // Eight bits always fit a u8.
        Ok(self.bits(8, field)? as u8)
    }

    /// `ue(v)`: Exp-Golomb coded unsigned integer (H.264 9.1).
    pub(crate) fn ue(&mut self, field: &'static str) -> Result<u32, H264Error> {
        let mut leading_zeros = 0;
        while !self.flag(field)? {
            leading_zeros += 1;
            // 32 leading zeros would encode a value beyond 32 bits, which no syntax element has.
            if leading_zeros > 31 {
                return Err(H264Error::OutOfRange {
                    field,
                    value: i64::MAX,
                });
            }
        }
        let suffix = self.bits(leading_zeros, field)?;
        // At most (2^31 - 1) + (2^31 - 1), which fits a u32.
        Ok(((1u32 << leading_zeros) - 1) + suffix)
    }

    /// `ue(v)` that must not exceed `max`.
    pub(crate) fn ue_max(&mut self, max: u32, field: &'static str) -> Result<u32, H264Error> {
        let value = self.ue(field)?;
        if value > max {
            return Err(H264Error::OutOfRange {
                field,
                value: i64::from(value),
            });
        }
        Ok(value)
    }

    /// `se(v)`: signed Exp-Golomb, mapping 0, 1, 2, 3, 4 to 0, 1, -1, 2, -2.
    pub(crate) fn se(&mut self, field: &'static str) -> Result<i64, H264Error> {
        let k = i64::from(self.ue(field)?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_emulation_prevention_bytes_only_after_two_zeros() {
        assert_eq!(
            rbsp(&[0x00, 0x00, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x03]),
            [0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00]
        );
        assert_eq!(
            rbsp(&[0x00, 0x00, 0x03, 0x00, 0x00, 0x03]),
            [0x00, 0x00, 0x00, 0x00]
        );
    }

    #[test]
    fn reads_exp_golomb_codes_from_the_spec_table() {
        // 1 | 010 | 011 | 00100 | 00101 | 0001000 -> 0, 1, 2, 3, 4, 7
        let data = [0b1010_0110, 0b0100_0010, 0b1000_1000];
        let mut r = BitReader::new(&data);
        let values: Vec<u32> = (0..6).map(|_| r.ue("test").unwrap()).collect();
        assert_eq!(values, [0, 1, 2, 3, 4, 7]);
    }

    #[test]
    fn maps_signed_exp_golomb_alternately() {
        // 1 | 010 | 011 | 00100 | 00101 -> 0, 1, -1, 2, -2
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut r = BitReader::new(&data);
        let values: Vec<i64> = (0..5).map(|_| r.se("test").unwrap()).collect();
        assert_eq!(values, [0, 1, -1, 2, -2]);
    }

    #[test]
    fn reads_the_largest_32_bit_exp_golomb_value() {
        // 31 zeros, a one, then 31 ones: 2^32 - 2.
        let mut data = vec![0, 0, 0, 0b0000_0001];
        data.extend([0xFF, 0xFF, 0xFF, 0xFE]);
        assert_eq!(BitReader::new(&data).ue("big").unwrap(), u32::MAX - 1);
    }

    #[test]
    fn refuses_exp_golomb_codes_wider_than_32_bits() {
        let data = [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(matches!(
            BitReader::new(&data).ue("huge"),
            Err(H264Error::OutOfRange { field: "huge", .. })
        ));
    }

    #[test]
    fn reports_the_field_being_read_when_input_ends() {
        let mut r = BitReader::new(&[0xFF]);
        assert_eq!(r.bits(8, "first").unwrap(), 0xFF);
        assert_eq!(
            r.flag("second"),
            Err(H264Error::Truncated { field: "second" })
        );
        assert_eq!(
            BitReader::new(&[0x00]).ue("code"),
            Err(H264Error::Truncated { field: "code" })
        );
    }
}
