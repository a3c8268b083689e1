//! AMF0 values (Adobe "Action Message Format" version 0), the encoding of RTMP commands
//! (`connect`, `_result`, `onStatus`, ...) and of FLV script data (`onMetaData`).
//!
//! The decoder reads bytes a remote server chose, so it is bounded: nesting depth is limited,
//! every length is checked against the bytes actually present before anything is allocated, and
//! markers we do not support (references, typed objects, AMF3 switch, ...) are errors, not guesses.
//! Errors carry byte offsets only, never decoded text: a command can hold a stream key.

use thiserror::Error;

/// Nesting deeper than this is refused. Real RTMP commands nest two or three levels; the limit
/// exists so a hostile peer cannot exhaust the stack with `[[[[...]]]]`.
pub const MAX_DEPTH: usize = 32;

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0A;
const DATE: u8 = 0x0B;
const LONG_STRING: u8 = 0x0C;

/// One AMF0 value.
///
/// Objects and ECMA arrays keep their properties as an ordered list, not a map: order is
/// preserved on the wire (some servers care about `connect` property order) and lists of a
/// dozen entries are searched faster than hashed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Boolean(bool),
    /// A UTF-8 string. Strings longer than 65,535 bytes are written as long strings.
    String(String),
    Object(Vec<(String, Value)>),
    Null,
    Undefined,
    /// An associative array (`onMetaData` uses it); encoded like an object plus a count hint.
    EcmaArray(Vec<(String, Value)>),
    StrictArray(Vec<Value>),
    /// Milliseconds since the Unix epoch and a time zone offset that AMF0 says to ignore.
    Date {
        millis: f64,
        timezone: i16,
    },
    LongString(String),
}

/// Why bytes are not valid AMF0.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Amf0Error {
    #[error("AMF0 input ends at byte {at}, {needed} more byte(s) needed")]
    Truncated { at: usize, needed: usize },
    #[error("AMF0 type marker {marker:#04x} at byte {at} is not supported")]
    UnsupportedMarker { marker: u8, at: usize },
    #[error("AMF0 values nest deeper than {MAX_DEPTH} levels at byte {at}")]
    TooDeep { at: usize },
    #[error(
        "AMF0 strict array at byte {at} claims {count} elements but only {remaining} bytes follow"
    )]
    ArrayTooLong {
        at: usize,
        count: u32,
        remaining: usize,
    },
    #[error("AMF0 input of {input} bytes would decode to more than {limit} bytes of values")]
    TooLarge { input: usize, limit: usize },
}

/// Decoded values may take at most this many times the input's size in memory (plus
/// [`BUDGET_BASE`]). A one-byte `null` becomes a whole [`Value`] (tens of bytes), so without a
/// budget a strict array of nulls amplifies its message about 30 times; commands and metadata
/// as servers send them stay well within 16.
pub const MAX_AMPLIFICATION: usize = 16;
/// Room for the small messages where a fixed overhead dominates.
pub const BUDGET_BASE: usize = 4096;

impl Value {
    /// An object from `(key, value)` pairs, for building commands tersely.
    pub fn object<K: Into<String>>(props: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(props.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value of `key` in an object or ECMA array (first match); `None` for other values.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The properties of an object or ECMA array.
    pub fn properties(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(props) | Value::EcmaArray(props) => Some(props),
            _ => None,
        }
    }

    /// The text of a string or long string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::LongString(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// True for `null` and `undefined`, which RTMP uses interchangeably for "no object".
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null | Value::Undefined)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

/// Appends the encoding of `value` to `out`.
///
/// Encoding cannot fail: a `String` too long for a 16-bit length is written as a long string.
/// Property keys have only a 16-bit length in AMF0; a key longer than 65,535 bytes is cut at the
/// last character boundary that fits (keys are names we choose, so this never happens in practice).
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Number(n) => {
            out.push(NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Boolean(b) => out.extend_from_slice(&[BOOLEAN, u8::from(*b)]),
        Value::String(s) | Value::LongString(s) => match u16::try_from(s.len()) {
            Ok(len) if matches!(value, Value::String(_)) => {
                out.push(STRING);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            _ => {
                out.push(LONG_STRING);
                // A Rust string longer than 4 GiB cannot exist in a value we build; saturate
                // rather than panic so even that case yields a (short) well-formed prefix.
                let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&s.as_bytes()[..len as usize]);
            }
        },
        Value::Object(props) => {
            out.push(OBJECT);
            encode_properties(props, out);
        }
        Value::Null => out.push(NULL),
        Value::Undefined => out.push(UNDEFINED),
        Value::EcmaArray(props) => {
            out.push(ECMA_ARRAY);
            let count = u32::try_from(props.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            encode_properties(props, out);
        }
        Value::StrictArray(items) => {
            out.push(STRICT_ARRAY);
            let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            for item in items.iter().take(count as usize) {
                encode(item, out);
            }
        }
        Value::Date { millis, timezone } => {
            out.push(DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&timezone.to_be_bytes());
        }
    }
}

/// The concatenated encodings of `values`: an RTMP command message body.
pub fn encode_all(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * values.len());
    for value in values {
        encode(value, &mut out);
    }
    out
}

fn encode_properties(props: &[(String, Value)], out: &mut Vec<u8>) {
    for (key, value) in props {
        let key = truncate_to_u16_len(key);
        // `truncate_to_u16_len` returns at most u16::MAX bytes.
        out.extend_from_slice(&(key.len() as u16).to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        encode(value, out);
    }
    out.extend_from_slice(&[0, 0, OBJECT_END]);
}

fn truncate_to_u16_len(s: &str) -> &str {
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes every value in `bytes` (an RTMP command or data message body).
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Value>, Amf0Error> {
    let mut reader = Reader::new(bytes);
    let mut values = Vec::new();
    while reader.pos < bytes.len() {
        values.push(reader.value(0)?);
    }
    Ok(values)
}

/// Decodes the first value in `bytes` and returns it with the number of bytes it used.
pub fn decode_one(bytes: &[u8]) -> Result<(Value, usize), Amf0Error> {
    let mut reader = Reader::new(bytes);
    let value = reader.value(0)?;
    Ok((value, reader.pos))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Bytes of decoded values still allowed (see [`MAX_AMPLIFICATION`]).
    budget: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            pos: 0,
            budget: bytes
                .len()
                .saturating_mul(MAX_AMPLIFICATION)
                .saturating_add(BUDGET_BASE),
        }
    }

    /// Accounts for `n` bytes of decoded values, failing once the budget is spent.
    fn spend(&mut self, n: usize) -> Result<(), Amf0Error> {
        match self.budget.checked_sub(n) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(Amf0Error::TooLarge {
                input: self.bytes.len(),
                limit: self
                    .bytes
                    .len()
                    .saturating_mul(MAX_AMPLIFICATION)
                    .saturating_add(BUDGET_BASE),
            }),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Amf0Error> {
        let remaining = self.bytes.len() - self.pos;
        if n > remaining {
            return Err(Amf0Error::Truncated {
                at: self.bytes.len(),
                needed: n - remaining,
            });
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Amf0Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        self.array().map(u32::from_be_bytes)
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        self.array().map(f64::from_be_bytes)
    }

    /// Text is decoded lossily: a server's odd bytes in a description must not cost the
    /// connection, and `take` has already bounded the length by the input.
    fn text(&mut self, len: usize) -> Result<String, Amf0Error> {
        let bytes = self.take(len)?;
        self.spend(len)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }

    fn value(&mut self, depth: usize) -> Result<Value, Amf0Error> {
        self.spend(std::mem::size_of::<Value>())?;
        let at = self.pos;
        let marker = self.u8()?;
        Ok(match marker {
            NUMBER => Value::Number(self.f64()?),
            BOOLEAN => Value::Boolean(self.u8()? != 0),
            STRING => {
                let len = self.u16()?;
                Value::String(self.text(usize::from(len))?)
            }
            LONG_STRING => {
                let len = self.u32()?;
                // On 16-bit targets a too-large length is simply truncated input.
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                Value::LongString(self.text(len)?)
            }
            OBJECT => Value::Object(self.properties(depth + 1, at, None)?),
            ECMA_ARRAY => {
                let count = self.u32()?;
                Value::EcmaArray(self.properties(depth + 1, at, Some(count))?)
            }
            STRICT_ARRAY => {
                if depth + 1 > MAX_DEPTH {
                    return Err(Amf0Error::TooDeep { at });
                }
                let count = self.u32()?;
                let remaining = self.bytes.len() - self.pos;
                // Every element takes at least its marker byte, so a count above the bytes left
                // is a lie; checking first keeps the allocation proportional to the input.
                if count as usize > remaining {
                    return Err(Amf0Error::ArrayTooLong {
                        at,
                        count,
                        remaining,
                    });
                }
                // Reserve no more than the budget could ever fill: the count is the sender's word.
                let affordable = self.budget / std::mem::size_of::<Value>();
                let mut items = Vec::with_capacity((count as usize).min(affordable));
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Value::StrictArray(items)
            }
            NULL => Value::Null,
            UNDEFINED => Value::Undefined,
            DATE => {
                let millis = self.f64()?;
                let timezone = i16::from_be_bytes(self.array()?);
                Value::Date { millis, timezone }
            }
            marker => return Err(Amf0Error::UnsupportedMarker { marker, at }),
        })
    }

    /// Reads `key value` pairs up to the `00 00 09` end marker.
    ///
    /// For an ECMA array `count` is the sender's hint; some encoders omit the end marker after
    /// the last of `count` properties when the message ends there, so that is accepted too.
    fn properties(
        &mut self,
        depth: usize,
        at: usize,
        count: Option<u32>,
    ) -> Result<Vec<(String, Value)>, Amf0Error> {
        if depth > MAX_DEPTH {
            return Err(Amf0Error::TooDeep { at });
        }
        let mut props = Vec::new();
        loop {
            if let Some(count) = count
                && props.len() == count as usize
                && self.pos == self.bytes.len()
            {
                return Ok(props);
            }
            let key_len = self.u16()?;
            if key_len == 0 {
                let end_at = self.pos;
                match self.u8()? {
                    OBJECT_END => return Ok(props),
                    _ => {
                        // An empty key followed by a value: legal, if unusual.
                        self.pos = end_at;
                    }
                }
            }
            let key = self.text(usize::from(key_len))?;
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value) {
        let bytes = encode_all(std::slice::from_ref(&value));
        assert_eq!(decode_all(&bytes).unwrap(), vec![value]);
    }

    #[test]
    fn encodes_connect_command_like_the_rtmp_spec_shows() {
        let bytes = encode_all(&[
            "connect".into(),
            1.0.into(),
            Value::object([("app", "live".into())]),
        ]);
        let expected: &[u8] = &[
            0x02, 0x00, 0x07, b'c', b'o', b'n', b'n', b'e', b'c', b't', // "connect"
            0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, // 1.0
            0x03, 0x00, 0x03, b'a', b'p', b'p', // { app:
            0x02, 0x00, 0x04, b'l', b'i', b'v', b'e', // "live"
            0x00, 0x00, 0x09, // }
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn round_trips_every_value_kind() {
        round_trip(Value::Number(-12.5));
        round_trip(Value::Boolean(true));
        round_trip(Value::Boolean(false));
        round_trip(Value::String("héllo".into()));
        round_trip(Value::String(String::new()));
        round_trip(Value::Null);
        round_trip(Value::Undefined);
        round_trip(Value::Date {
            millis: 1.7e12,
            timezone: -60,
        });
        round_trip(Value::LongString("x".repeat(70_000)));
        round_trip(Value::StrictArray(vec![
            1.0.into(),
            Value::Null,
            "a".into(),
        ]));
        round_trip(Value::EcmaArray(vec![
            ("width".into(), 1280.0.into()),
            ("encoder".into(), "streamhard".into()),
        ]));
        round_trip(Value::object([
            ("level", "status".into()),
            (
                "nested",
                Value::object([("deep", Value::StrictArray(vec![]))]),
            ),
        ]));
    }

    #[test]
    fn writes_strings_over_65535_bytes_as_long_strings() {
        let mut out = Vec::new();
        encode(&Value::String("y".repeat(65_536)), &mut out);
        assert_eq!(&out[..5], &[LONG_STRING, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(out.len(), 5 + 65_536);
    }

    #[test]
    fn writes_ecma_array_with_count_and_end_marker() {
        let mut out = Vec::new();
        encode(
            &Value::EcmaArray(vec![("a".into(), Value::Boolean(true))]),
            &mut out,
        );
        assert_eq!(
            out,
            [
                ECMA_ARRAY, 0, 0, 0, 1, 0, 1, b'a', BOOLEAN, 1, 0, 0, OBJECT_END
            ]
        );
    }

    #[test]
    fn accepts_ecma_array_without_end_marker_at_end_of_message() {
        let bytes = [ECMA_ARRAY, 0, 0, 0, 1, 0, 1, b'a', NULL];
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Value::EcmaArray(vec![("a".into(), Value::Null)])]
        );
    }

    #[test]
    fn decodes_an_on_status_and_reads_its_code() {
        let bytes = encode_all(&[
            "onStatus".into(),
            0.0.into(),
            Value::Null,
            Value::object([
                ("level", "status".into()),
                ("code", "NetStream.Publish.Start".into()),
            ]),
        ]);
        let values = decode_all(&bytes).unwrap();
        assert_eq!(values[0].as_str(), Some("onStatus"));
        assert_eq!(values[1].as_f64(), Some(0.0));
        assert!(values[2].is_null());
        assert_eq!(
            values[3].get("code").and_then(Value::as_str),
            Some("NetStream.Publish.Start")
        );
        assert_eq!(values[3].get("missing"), None);
        assert_eq!(values[0].get("code"), None);
    }

    #[test]
    fn decode_one_reports_bytes_used() {
        let bytes = [BOOLEAN, 1, NULL];
        assert_eq!(decode_one(&bytes).unwrap(), (Value::Boolean(true), 2));
    }

    #[test]
    fn decodes_invalid_utf8_lossily_instead_of_failing() {
        let bytes = [STRING, 0, 2, 0xFF, b'a'];
        assert_eq!(decode_all(&bytes).unwrap(), vec!["\u{FFFD}a".into()]);
    }

    #[test]
    fn truncated_messages_fail_or_decode_fewer_values() {
        let bytes = encode_all(&[
            "_result".into(),
            1.0.into(),
            Value::object([("fmsVer", "FMS/3,0,1,123".into())]),
            Value::EcmaArray(vec![("x".into(), Value::StrictArray(vec![2.0.into()]))]),
            Value::Date {
                millis: 0.0,
                timezone: 0,
            },
        ]);
        for len in 1..bytes.len() {
            // Cutting between two top-level values leaves a valid, shorter message.
            if let Ok(values) = decode_all(&bytes[..len]) {
                assert!(values.len() < 5, "prefix of {len} bytes decoded as whole");
            }
        }
        assert!(matches!(
            decode_all(&bytes[..bytes.len() - 1]),
            Err(Amf0Error::Truncated { .. })
        ));
    }

    #[test]
    fn rejects_string_longer_than_the_input() {
        assert_eq!(
            decode_all(&[LONG_STRING, 0xFF, 0xFF, 0xFF, 0xFF, b'a']),
            Err(Amf0Error::Truncated {
                at: 6,
                needed: 0xFFFF_FFFF - 1
            })
        );
    }

    #[test]
    fn rejects_strict_array_count_larger_than_the_input_before_allocating() {
        assert_eq!(
            decode_all(&[STRICT_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, NULL]),
            Err(Amf0Error::ArrayTooLong {
                at: 0,
                count: u32::MAX,
                remaining: 1
            })
        );
    }

    #[test]
    fn a_strict_array_of_nulls_cannot_amplify_its_message() {
        // 1 MiB of nulls in one array: decoded naively, tens of MiB of values.
        let count = 1024 * 1024;
        let mut bytes = vec![STRICT_ARRAY];
        bytes.extend_from_slice(&(count as u32).to_be_bytes());
        bytes.extend(std::iter::repeat_n(NULL, count));
        assert!(matches!(
            decode_all(&bytes),
            Err(Amf0Error::TooLarge { input, .. }) if input == bytes.len()
        ));
    }

    #[test]
    fn ordinary_commands_and_large_metadata_fit_the_budget() {
        // A strict array of numbers (9 bytes each) is a realistic worst case: keyframe tables.
        let values: Vec<Value> = (0..10_000).map(|i| Value::Number(f64::from(i))).collect();
        let bytes = encode_all(&[Value::StrictArray(values.clone())]);
        assert_eq!(
            decode_all(&bytes).unwrap(),
            vec![Value::StrictArray(values)]
        );
        let meta =
            Value::object((0..200).map(|i| (format!("key{i}"), Value::String("v".repeat(20)))));
        let bytes = encode_all(&[Value::String("onMetaData".into()), meta.clone()]);
        assert_eq!(decode_all(&bytes).unwrap()[1], meta);
    }

    #[test]
    fn rejects_deep_nesting_of_strict_arrays() {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[STRICT_ARRAY, 0, 0, 0, 1]);
        }
        bytes.push(NULL);
        assert!(matches!(decode_all(&bytes), Err(Amf0Error::TooDeep { .. })));
    }

    #[test]
    fn rejects_deep_nesting_of_objects() {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[OBJECT, 0, 1, b'k']);
        }
        assert!(matches!(decode_all(&bytes), Err(Amf0Error::TooDeep { .. })));
    }

    #[test]
    fn accepts_nesting_up_to_the_limit() {
        let mut value = Value::Null;
        for _ in 0..MAX_DEPTH {
            value = Value::StrictArray(vec![value]);
        }
        round_trip(value);
    }

    #[test]
    fn rejects_reference_and_amf3_markers() {
        assert_eq!(
            decode_all(&[NULL, 0x07, 0, 1]),
            Err(Amf0Error::UnsupportedMarker {
                marker: 0x07,
                at: 1
            })
        );
        assert_eq!(
            decode_all(&[0x11]),
            Err(Amf0Error::UnsupportedMarker {
                marker: 0x11,
                at: 0
            })
        );
    }

    #[test]
    fn decodes_arbitrary_bytes_without_panicking() {
        // A small deterministic generator: this is a smoke test, the fuzz target goes further.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            let len = (state % 40) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Bias towards valid markers so decoding gets past the first byte.
                bytes.push(if state.is_multiple_of(3) {
                    (state >> 8) as u8 % 0x0D
                } else {
                    (state >> 8) as u8
                });
            }
            // Whatever decodes must re-encode to bytes that decode to the same encoding.
            if let Ok(values) = decode_all(&bytes) {
                let encoded = encode_all(&values);
                let again = decode_all(&encoded).expect("our own encoding decodes");
                assert_eq!(encode_all(&again), encoded);
            }
            state = state.wrapping_add(1);
        }
    }
}
