//! NAL unit types (ITU-T H.264 table 7-1) that the relay has to tell apart.

/// The `nal_unit_type` of a NAL unit: the low five bits of its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NalType(pub u8);

impl NalType {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: NalType = NalType(1);
    /// Coded slice data partition A (B and C are 3 and 4).
    pub const SLICE_DATA_A: NalType = NalType(2);
    /// Coded slice of an IDR picture: decoding can start here.
    pub const IDR: NalType = NalType(5);
    pub const SEI: NalType = NalType(6);
    pub const SPS: NalType = NalType(7);
    pub const PPS: NalType = NalType(8);
    /// Access unit delimiter.
    pub const AUD: NalType = NalType(9);
    pub const END_OF_SEQUENCE: NalType = NalType(10);
    pub const END_OF_STREAM: NalType = NalType(11);
    pub const FILLER: NalType = NalType(12);

    /// The type of `nal`, or `None` for an empty slice.
    pub fn of(nal: &[u8]) -> Option<NalType> {
        nal.first().map(|header| NalType(header & 0x1F))
    }

    /// True for the types that carry coded picture data (types 1 to 5).
    pub fn is_slice(self) -> bool {
        (1..=5).contains(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_from_low_five_bits_ignoring_nal_ref_idc() {
        assert_eq!(NalType::of(&[0x67, 0x42]), Some(NalType::SPS));
        assert_eq!(NalType::of(&[0x65]), Some(NalType::IDR));
        assert_eq!(NalType::of(&[0x09, 0xF0]), Some(NalType::AUD));
        assert_eq!(NalType::of(&[]), None);
    }

    #[test]
    fn only_types_one_to_five_are_slices() {
        let slices: Vec<u8> = (0..32).filter(|&t| NalType(t).is_slice()).collect();
        assert_eq!(slices, [1, 2, 3, 4, 5]);
    }
}
