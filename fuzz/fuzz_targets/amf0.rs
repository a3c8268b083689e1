//! AMF0 decoding, as RTMP commands and data messages from a server are read.
//!
//! Invariants: no panic; decoding is bounded (the amplification budget); whatever decodes
//! re-encodes to bytes that decode to the same values (compared through their encoding, so
//! NaN compares equal to itself); `decode_one` reads exactly the first value `decode_all`
//! reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamhard_media::amf0::{self, BUDGET_BASE, MAX_AMPLIFICATION};

/// A generous upper bound on the memory a decoded value holds (see `amf0::MAX_AMPLIFICATION`).
fn footprint(value: &amf0::Value) -> usize {
    use amf0::Value::*;
    let size = std::mem::size_of::<amf0::Value>();
    size + match value {
        String(s) | LongString(s) => s.len(),
        Object(props) | EcmaArray(props) => props
            .iter()
            .map(|(k, v)| k.len() + std::mem::size_of::<std::string::String>() + footprint(v))
            .sum(),
        StrictArray(items) => items.iter().map(footprint).sum(),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(values) = amf0::decode_all(data) else {
        let _ = amf0::decode_one(data);
        return;
    };
    let used: usize = values.iter().map(footprint).sum();
    // Text decoded lossily can grow (an invalid byte becomes U+FFFD, 3 bytes), so allow 3x on
    // top of the decoder's own budget for the rough size estimate above.
    assert!(
        used <= 3 * (data.len() * MAX_AMPLIFICATION + BUDGET_BASE),
        "{} input bytes decoded to ~{used} bytes of values",
        data.len()
    );
    if let Some(first) = values.first() {
        let (one, len) = amf0::decode_one(data).expect("decode_all read a first value");
        assert!(len <= data.len());
        assert_eq!(amf0::encode_all(&[one]), amf0::encode_all(&[first.clone()]));
    }
    let encoded = amf0::encode_all(&values);
    let again = amf0::decode_all(&encoded).expect("our own encoding decodes");
    assert_eq!(
        amf0::encode_all(&again),
        encoded,
        "values changed through a round trip"
    );
});
