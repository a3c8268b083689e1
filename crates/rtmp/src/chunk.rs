//! The RTMP chunk stream (RTMP 1.0 spec §5.3): messages cut into chunks with compressed
//! headers, both directions.
//!
//! Header compression, per chunk stream: type 0 carries everything (absolute timestamp),
//! type 1 drops the message stream id (timestamp delta), type 2 keeps only the delta, type 3
//! nothing — it continues a message, or starts one identical in length, type and delta to the
//! previous one.
//!
//! Extended timestamps: a timestamp (or delta) of 0xFFFFFF or more is written as 0xFFFFFF
//! with the real value in 4 more bytes, and — as the spec, ffmpeg and nginx-rtmp agree —
//! those 4 bytes are repeated on every type-3 chunk of that message.
//!
//! The decoder reads what a server chose to send, so everything is bounded: message size,
//! number of chunk streams, bytes held in partial messages.

use std::collections::HashMap;

use crate::message::type_id;

/// The 24-bit timestamp value meaning "extended timestamp follows".
const EXTENDED: u32 = 0xFF_FFFF;
/// The chunk size both sides start with (spec §5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Largest message accepted from a server: commands and control messages are small, and a
/// publisher never plays media. Bounds memory against a hostile server.
pub const MAX_INCOMING_MESSAGE: usize = 1 << 20;
/// Most bytes held in partial messages across all chunk streams.
pub const MAX_INCOMING_PARTIAL: usize = 4 << 20;
/// Most chunk streams a server may use.
pub const MAX_INCOMING_STREAMS: usize = 64;
/// Largest chunk size either side may set. The spec allows 2^31-1; servers use at most 64 KiB
/// and a message can never be larger than its length field (2^24-1) anyway.
pub const MAX_CHUNK_SIZE: u32 = 1 << 24;
/// Chunk stream ids a basic header can express (spec §5.3.1.1).
pub const MIN_CSID: u32 = 2;
pub const MAX_CSID: u32 = 65_599;
/// Largest message the encoder can describe: the length field has 24 bits.
pub const MAX_MESSAGE_LEN: usize = 0xFF_FFFF;

/// What identifies a message apart from its payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageHeader {
    pub type_id: u8,
    /// The message stream: 0 for the connection, the created stream's id for publishing.
    pub stream_id: u32,
    /// Milliseconds; RTMP timestamps are 32 bits and wrap.
    pub timestamp: u32,
}

/// One reassembled RTMP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: MessageHeader,
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    #[error("the server announced a {0}-byte message, over the {MAX_INCOMING_MESSAGE}-byte limit")]
    MessageTooLarge(usize),
    #[error("the server holds more than {MAX_INCOMING_PARTIAL} bytes in unfinished messages")]
    TooMuchPartial,
    #[error("the server continued chunk stream {0} without ever starting it")]
    NoPreviousHeader(u32),
    #[error("the server uses more than {MAX_INCOMING_STREAMS} chunk streams")]
    TooManyStreams,
    #[error("the server set chunk size {0}, outside 1..={MAX_CHUNK_SIZE}")]
    BadChunkSize(u32),
}

/// Per chunk stream state of the encoder: the last header written.
#[derive(Clone, Copy, Debug)]
struct Sent {
    header: MessageHeader,
    length: u32,
    /// The delta the last header carried (type 1, 2 or 3), which a type 3 start repeats.
    /// `None` after a type 0, whose field is absolute: we never make a reader guess.
    delta: Option<u32>,
}

/// Cuts messages into chunks.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: usize,
    last: HashMap<u32, Sent>,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE as usize,
            last: HashMap::new(),
        }
    }

    /// Applies to messages encoded after this call. The caller sends Set Chunk Size first
    /// (its own message is encoded with the old size, as the peer expects).
    pub fn set_chunk_size(&mut self, size: u32) {
        self.chunk_size = size.clamp(1, MAX_CHUNK_SIZE) as usize;
    }

    pub fn chunk_size(&self) -> u32 {
        // Always ≤ MAX_CHUNK_SIZE (set_chunk_size clamps), so it fits.
        self.chunk_size as u32
    }

    /// Appends `payload` as one message on chunk stream `csid` to `out`, with the smallest
    /// header the previous message on that chunk stream allows.
    ///
    /// `csid` is clamped to 2..=65599 and a payload is cut at 16 MiB - 1 (the length field's
    /// limit); callers use fixed chunk stream ids and FLV bodies, which are within both.
    pub fn encode(&mut self, csid: u32, header: MessageHeader, payload: &[u8], out: &mut Vec<u8>) {
        let csid = csid.clamp(MIN_CSID, MAX_CSID);
        let payload = &payload[..payload.len().min(MAX_MESSAGE_LEN)];
        // ≤ MAX_MESSAGE_LEN, so it fits in 24 bits.
        let length = payload.len() as u32;
        let prev = self.last.get(&csid).copied();
        let (fmt, field) = match prev {
            Some(p)
                if p.header.stream_id == header.stream_id
                    && header.timestamp >= p.header.timestamp =>
            {
                let delta = header.timestamp - p.header.timestamp;
                let same_shape = p.length == length && p.header.type_id == header.type_id;
                match (same_shape, p.delta) {
                    (true, Some(d)) if d == delta => (3, delta),
                    (true, _) => (2, delta),
                    (false, _) => (1, delta),
                }
            }
            // A new chunk stream, another message stream, or time going back (a wrap).
            _ => (0, header.timestamp),
        };
        let extended = field >= EXTENDED;
        write_basic_header(fmt, csid, out);
        if fmt < 3 {
            out.extend_from_slice(&u24(field.min(EXTENDED)));
        }
        if fmt <= 1 {
            out.extend_from_slice(&u24(length));
            out.push(header.type_id);
        }
        if fmt == 0 {
            out.extend_from_slice(&header.stream_id.to_le_bytes());
        }
        if extended {
            out.extend_from_slice(&field.to_be_bytes());
        }
        let mut chunks = payload.chunks(self.chunk_size);
        if let Some(first) = chunks.next() {
            out.extend_from_slice(first);
        }
        for chunk in chunks {
            write_basic_header(3, csid, out);
            if extended {
                out.extend_from_slice(&field.to_be_bytes());
            }
            out.extend_from_slice(chunk);
        }
        let delta = (fmt != 0).then_some(field);
        self.last.insert(
            csid,
            Sent {
                header,
                length,
                delta,
            },
        );
    }
}

/// The low 24 bits, big-endian.
fn u24(value: u32) -> [u8; 3] {
    let [_, a, b, c] = value.to_be_bytes();
    [a, b, c]
}

/// The basic header: 1, 2 or 3 bytes depending on the chunk stream id (spec §5.3.1.1).
fn write_basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    // The casts below take ids already range-checked by the match arm.
    match csid {
        0..=63 => out.push(fmt << 6 | csid as u8),
        64..=319 => out.extend_from_slice(&[fmt << 6, (csid - 64) as u8]),
        _ => {
            let id = csid.min(MAX_CSID) - 64;
            out.extend_from_slice(&[fmt << 6 | 1, (id & 0xFF) as u8, (id >> 8) as u8]);
        }
    }
}

/// Per chunk stream state of the decoder.
#[derive(Debug, Default)]
struct Incoming {
    header: MessageHeader,
    length: u32,
    /// The delta a type 3 chunk starting a message adds. After a type 0 this is the absolute
    /// timestamp, as ffmpeg reads it.
    delta: u32,
    /// Whether the current message's first chunk had an extended timestamp (its type-3
    /// chunks then carry one too).
    extended: bool,
    /// The payload received so far of an unfinished message.
    payload: Vec<u8>,
    partial: bool,
}

/// Reassembles messages from a server's chunk stream.
#[derive(Debug)]
pub struct ChunkDecoder {
    chunk_size: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed; dropped at the next `push`, so a long input costs one
    /// move instead of one per chunk.
    pos: usize,
    streams: HashMap<u32, Incoming>,
    partial_bytes: usize,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkDecoder {
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE as usize,
            buf: Vec::new(),
            pos: 0,
            streams: HashMap::new(),
            partial_bytes: 0,
        }
    }

    /// The server's Set Chunk Size: applies to chunks after the one that carried it.
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if size == 0 || size > MAX_CHUNK_SIZE {
            return Err(ChunkError::BadChunkSize(size));
        }
        self.chunk_size = size as usize;
        Ok(())
    }

    /// The server's Abort: forget the unfinished message on `csid`.
    pub fn abort(&mut self, csid: u32) {
        if let Some(state) = self.streams.get_mut(&csid)
            && state.partial
        {
            self.partial_bytes -= state.payload.len();
            state.payload = Vec::new();
            state.partial = false;
        }
    }

    /// Adds bytes read from the server.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, if the buffered bytes hold one.
    pub fn next_message(&mut self) -> Result<Option<Message>, ChunkError> {
        while let Some((consumed, message)) = self.parse_chunk()? {
            self.pos += consumed;
            if message.is_some() {
                return Ok(message);
            }
        }
        Ok(None)
    }

    /// Parses the chunk at `pos` if it is all there: (its length, the message it completed).
    /// Nothing changes unless the whole chunk is present.
    fn parse_chunk(&mut self) -> Result<Option<(usize, Option<Message>)>, ChunkError> {
        let b = &self.buf[self.pos..];
        let Some(&first) = b.first() else {
            return Ok(None);
        };
        let fmt = first >> 6;
        let (csid, mut at) = match first & 0x3F {
            0 => match b.get(1) {
                Some(&x) => (u32::from(x) + 64, 2),
                None => return Ok(None),
            },
            1 => match b.get(1..3) {
                Some(&[lo, hi]) => (u32::from(hi) * 256 + u32::from(lo) + 64, 3),
                _ => return Ok(None),
            },
            id => (u32::from(id), 1),
        };
        let header_len = [11, 7, 3, 0][usize::from(fmt)];
        let Some(h) = b.get(at..at + header_len) else {
            return Ok(None);
        };
        at += header_len;
        if !self.streams.contains_key(&csid) {
            if fmt != 0 {
                return Err(ChunkError::NoPreviousHeader(csid));
            }
            if self.streams.len() >= MAX_INCOMING_STREAMS {
                return Err(ChunkError::TooManyStreams);
            }
        }
        let state = self.streams.entry(csid).or_default();
        let read_u24 = |s: &[u8]| u32::from_be_bytes([0, s[0], s[1], s[2]]);
        let field = (fmt < 3).then(|| read_u24(&h[0..3]));
        let extended = match field {
            Some(f) => f == EXTENDED,
            None => state.extended,
        };
        let field = if extended {
            let Some(ext) = b.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some(u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]))
        } else {
            field
        };
        let (length, type_id) = if fmt <= 1 {
            (read_u24(&h[3..6]), h[6])
        } else {
            (state.length, state.header.type_id)
        };
        if length as usize > MAX_INCOMING_MESSAGE {
            return Err(ChunkError::MessageTooLarge(length as usize));
        }
        let continuing = fmt == 3 && state.partial;
        let already = if continuing { state.payload.len() } else { 0 };
        let take = (length as usize - already).min(self.chunk_size);
        let Some(body) = b.get(at..at + take) else {
            return Ok(None);
        };
        at += take;

        // The whole chunk is here: commit.
        if !continuing {
            let mut header = state.header;
            header.type_id = type_id;
            match (fmt, field) {
                (0, Some(timestamp)) => {
                    header.timestamp = timestamp;
                    header.stream_id = u32::from_le_bytes([h[7], h[8], h[9], h[10]]);
                    state.delta = timestamp;
                }
                (1 | 2, Some(delta)) => {
                    header.timestamp = header.timestamp.wrapping_add(delta);
                    state.delta = delta;
                }
                // A type 3 chunk starting a message repeats the last delta.
                _ => header.timestamp = header.timestamp.wrapping_add(state.delta),
            }
            state.header = header;
            state.length = length;
            state.extended = extended;
            self.partial_bytes -= state.payload.len();
            state.payload.clear();
        }
        let message_done = state.payload.len() + body.len() == length as usize;
        if message_done {
            self.partial_bytes -= state.payload.len();
            state.partial = false;
            let mut payload = std::mem::take(&mut state.payload);
            payload.extend_from_slice(body);
            let message = Message {
                header: state.header,
                payload,
            };
            return Ok(Some((at, Some(message))));
        }
        if self.partial_bytes + body.len() > MAX_INCOMING_PARTIAL {
            return Err(ChunkError::TooMuchPartial);
        }
        self.partial_bytes += body.len();
        state.payload.extend_from_slice(body);
        state.partial = true;
        Ok(Some((at, None)))
    }

    /// Handles the protocol control messages that concern the chunk layer itself: Set Chunk
    /// Size and Abort. Returns whether `message` was one of them.
    pub fn apply_control(&mut self, message: &Message) -> Result<bool, ChunkError> {
        let size = || {
            message
                .payload
                .get(..4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7FFF_FFFF)
        };
        match message.header.type_id {
            type_id::SET_CHUNK_SIZE => {
                self.set_chunk_size(size().unwrap_or(0))?;
                Ok(true)
            }
            type_id::ABORT => {
                if let Some(csid) = size() {
                    self.abort(csid);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(type_id: u8, timestamp: u32) -> MessageHeader {
        MessageHeader {
            type_id,
            stream_id: 1,
            timestamp,
        }
    }

    fn msg(type_id: u8, timestamp: u32, len: usize) -> Message {
        Message {
            header: header(type_id, timestamp),
            payload: (0..len).map(|i| i as u8).collect(),
        }
    }

    fn encode_all(messages: &[(u32, Message)], chunk_size: u32) -> Vec<u8> {
        let mut enc = ChunkEncoder::new();
        enc.set_chunk_size(chunk_size);
        let mut bytes = Vec::new();
        for (csid, m) in messages {
            enc.encode(*csid, m.header, &m.payload, &mut bytes);
        }
        bytes
    }

    fn decode_all(bytes: &[u8], chunk_size: u32, step: usize) -> Vec<Message> {
        let mut dec = ChunkDecoder::new();
        dec.set_chunk_size(chunk_size).unwrap();
        let mut out = Vec::new();
        for piece in bytes.chunks(step) {
            dec.push(piece);
            while let Some(m) = dec.next_message().unwrap() {
                out.push(m);
            }
        }
        out
    }

    #[test]
    fn writes_a_type_0_chunk_with_small_chunk_stream_id_and_small_timestamp() {
        let mut enc = ChunkEncoder::new();
        let mut out = Vec::new();
        let command = MessageHeader {
            type_id: 20,
            stream_id: 0,
            timestamp: 0x0102,
        };
        enc.encode(3, command, &[0xAB; 4], &mut out);
        let want = [
            0x03, 0, 1, 2, 0, 0, 4, 20, 0, 0, 0, 0, 0xAB, 0xAB, 0xAB, 0xAB,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn writes_the_message_stream_id_little_endian() {
        let mut out = Vec::new();
        let h = MessageHeader {
            type_id: 9,
            stream_id: 0x0102_0304,
            timestamp: 0,
        };
        ChunkEncoder::new().encode(6, h, &[], &mut out);
        assert_eq!(&out[8..12], &[4, 3, 2, 1]);
    }

    #[test]
    fn splits_a_message_into_type_3_continuations_at_the_chunk_size() {
        let mut enc = ChunkEncoder::new();
        enc.set_chunk_size(4);
        let mut out = Vec::new();
        enc.encode(6, header(9, 0), &[1, 2, 3, 4, 5, 6], &mut out);
        let want = [6, 0, 0, 0, 0, 0, 6, 9, 1, 0, 0, 0, 1, 2, 3, 4, 0xC6, 5, 6];
        assert_eq!(out, want);
    }

    #[test]
    fn compresses_following_headers_to_types_1_2_and_3() {
        let mut enc = ChunkEncoder::new();
        let mut out = Vec::new();
        enc.encode(4, header(8, 100), &[0; 2], &mut out);
        let mut next = |ts: u32, len: usize| {
            let start = out.len();
            enc.encode(4, header(8, ts), &vec![0; len], &mut out);
            out[start..].to_vec()
        };
        // Same length and type: type 2 (delta only). Never type 3 right after a type 0.
        assert_eq!(next(121, 2), [0x84, 0, 0, 21, 0, 0]);
        // Same length, type and delta again: type 3, a one-byte header.
        assert_eq!(next(142, 2), [0xC4, 0, 0]);
        // Another length: type 1 (delta, length, type).
        assert_eq!(next(163, 3), [0x44, 0, 0, 21, 0, 0, 3, 8, 0, 0, 0]);
        // Time going back: type 0 again.
        assert_eq!(next(5, 1), [0x04, 0, 0, 5, 0, 0, 1, 8, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn extended_timestamps_are_written_on_every_chunk_of_the_message() {
        let mut enc = ChunkEncoder::new();
        enc.set_chunk_size(2);
        let mut out = Vec::new();
        enc.encode(6, header(9, 0x0100_0000), &[1, 2, 3], &mut out);
        #[rustfmt::skip]
        let want = [
            0x06, 0xFF, 0xFF, 0xFF, 0, 0, 3, 9, 1, 0, 0, 0, 0x01, 0, 0, 0, 1, 2,
            0xC6, 0x01, 0, 0, 0, 3,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn an_extended_delta_is_written_in_full_on_type_1_chunks() {
        let mut enc = ChunkEncoder::new();
        let mut out = Vec::new();
        enc.encode(6, header(9, 0), &[1], &mut out);
        let start = out.len();
        enc.encode(6, header(9, 0x0123_4567), &[1, 2], &mut out);
        let want = [
            0x46, 0xFF, 0xFF, 0xFF, 0, 0, 2, 9, 0x01, 0x23, 0x45, 0x67, 1, 2,
        ];
        assert_eq!(&out[start..], want);
    }

    #[test]
    fn chunk_stream_ids_above_63_use_two_and_three_byte_basic_headers() {
        let mut out = Vec::new();
        write_basic_header(1, 64, &mut out);
        write_basic_header(1, 319, &mut out);
        write_basic_header(1, 320, &mut out);
        write_basic_header(1, 65_599, &mut out);
        assert_eq!(out, [0x40, 0, 0x40, 255, 0x41, 0, 1, 0x41, 0xFF, 0xFF]);
        let messages = [(64, msg(20, 5, 10)), (400, msg(20, 6, 10))];
        let got = decode_all(&encode_all(&messages, 128), 128, 1);
        assert_eq!(got, [messages[0].1.clone(), messages[1].1.clone()]);
    }

    #[test]
    fn decodes_what_it_encodes_across_types_chunk_sizes_and_extended_times() {
        let messages = vec![
            (3, msg(20, 0, 300)),
            (4, msg(8, 10, 50)),
            (4, msg(8, 31, 50)),
            (4, msg(8, 52, 50)), // type 3 start
            (4, msg(8, 73, 70)),
            (6, msg(9, 0xFF_FFFE, 1000)),
            (6, msg(9, 0x0200_0000, 1000)),
            (6, msg(9, 0x0400_0000, 1000)), // extended delta, then a type 3 start with it
            (6, msg(9, 0x0600_0000, 1000)),
            (4, msg(8, 5, 50)), // time going back: type 0
            (5, msg(18, 0, 0)), // empty message
        ];
        let want: Vec<Message> = messages.iter().map(|(_, m)| m.clone()).collect();
        for size in [1, 7, 128, 4096] {
            let bytes = encode_all(&messages, size);
            for step in [1, 5, 4096, bytes.len()] {
                let got = decode_all(&bytes, size, step);
                assert_eq!(got, want, "chunk size {size}, fed {step} bytes at a time");
            }
        }
    }

    #[test]
    fn reads_a_server_type_3_start_after_type_0_as_ffmpeg_does() {
        // Type 0 at t=40, then a type 3 chunk starting a new message: ffmpeg and nginx treat
        // the type 0 timestamp as the delta to repeat (t=80).
        let bytes = [0x04, 0, 0, 40, 0, 0, 1, 8, 1, 0, 0, 0, 0xAA, 0xC4, 0xBB];
        let got = decode_all(&bytes, 128, 1);
        assert_eq!(
            got.iter().map(|m| m.header.timestamp).collect::<Vec<_>>(),
            [40, 80]
        );
        assert_eq!(got[1].payload, [0xBB]);
    }

    #[test]
    fn follows_the_servers_chunk_size_changes_between_messages() {
        // Server: Set Chunk Size 4 (in a 128-byte-chunked message), then a 6-byte command in
        // chunks of 4.
        #[rustfmt::skip]
        let bytes = [
            0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 4,
            0x03, 0, 0, 0, 0, 0, 6, 20, 0, 0, 0, 0, 1, 2, 3, 4, 0xC3, 5, 6,
        ];
        let mut dec = ChunkDecoder::new();
        dec.push(&bytes);
        let set = dec.next_message().unwrap().unwrap();
        assert_eq!(dec.apply_control(&set), Ok(true));
        let command = dec.next_message().unwrap().unwrap();
        assert_eq!(command.payload, [1, 2, 3, 4, 5, 6]);
        assert_eq!(dec.next_message(), Ok(None));
    }

    #[test]
    fn an_abort_discards_the_unfinished_message() {
        let mut dec = ChunkDecoder::new();
        dec.set_chunk_size(2).unwrap();
        // First chunk of a 4-byte message on csid 3, then Abort(3) on csid 2, then a new
        // message on csid 3 sent with a full header.
        #[rustfmt::skip]
        dec.push(&[
            0x03, 0, 0, 0, 0, 0, 4, 20, 0, 0, 0, 0, 9, 9,
            0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0xC2, 0, 3,
            0x03, 0, 0, 0, 0, 0, 1, 20, 0, 0, 0, 0, 7,
        ]);
        let abort = dec.next_message().unwrap().unwrap();
        assert_eq!(abort.header.type_id, type_id::ABORT);
        dec.apply_control(&abort).unwrap();
        assert_eq!(dec.partial_bytes, 0);
        assert_eq!(dec.next_message().unwrap().unwrap().payload, [7]);
    }

    #[test]
    fn reads_extended_timestamps_repeated_on_continuation_chunks() {
        #[rustfmt::skip]
        let bytes = [
            0x06, 0xFF, 0xFF, 0xFF, 0, 0, 3, 9, 1, 0, 0, 0, 0x01, 0, 0, 0, 1, 2,
            0xC6, 0x01, 0, 0, 0, 3,
        ];
        let got = decode_all(&bytes, 2, 1);
        assert_eq!(
            got,
            [msg(9, 0x0100_0000, 3)].map(|mut m| {
                m.payload = vec![1, 2, 3];
                m
            })
        );
    }

    #[test]
    fn refuses_oversized_messages_and_headerless_chunks_from_a_hostile_server() {
        let mut dec = ChunkDecoder::new();
        dec.push(&[0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0]);
        assert_eq!(
            dec.next_message(),
            Err(ChunkError::MessageTooLarge(0xFF_FFFF))
        );
        for first in [0xC5, 0x85, 0x45] {
            let mut dec = ChunkDecoder::new();
            dec.push(&[first, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(dec.next_message(), Err(ChunkError::NoPreviousHeader(5)));
        }
        let mut dec = ChunkDecoder::new();
        assert_eq!(dec.set_chunk_size(0), Err(ChunkError::BadChunkSize(0)));
        assert_eq!(
            dec.set_chunk_size(1 << 30),
            Err(ChunkError::BadChunkSize(1 << 30))
        );
    }

    #[test]
    fn bounds_chunk_streams_and_bytes_held_in_unfinished_messages() {
        const CHUNK: usize = 128 * 1024;
        let mut dec = ChunkDecoder::new();
        dec.set_chunk_size(CHUNK as u32).unwrap();
        // Streams each holding the first 128 KiB of a 1 MiB message: after 4 MiB, refused.
        let mut result = Ok(None);
        let mut accepted = 0;
        for csid in 0..MAX_INCOMING_STREAMS as u8 {
            let len = u24(MAX_INCOMING_MESSAGE as u32);
            let mut chunk = vec![0, csid, 0, 0, 0, len[0], len[1], len[2], 20, 0, 0, 0, 0];
            chunk.extend(std::iter::repeat_n(0, CHUNK));
            dec.push(&chunk);
            result = dec.next_message();
            if result.is_err() {
                break;
            }
            accepted += 1;
        }
        assert_eq!(result, Err(ChunkError::TooMuchPartial));
        assert_eq!(accepted, MAX_INCOMING_PARTIAL / CHUNK);

        let mut dec = ChunkDecoder::new();
        let mut result = Ok(None);
        for csid in 0..=MAX_INCOMING_STREAMS as u8 {
            dec.push(&[0, csid, 0, 0, 0, 0, 0, 1, 20, 0, 0, 0, 0, 0]);
            result = dec.next_message();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(ChunkError::TooManyStreams));
    }

    #[test]
    fn random_bytes_never_panic_the_decoder() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut decoded = 0;
        for _ in 0..500 {
            let mut dec = ChunkDecoder::new();
            // Start with a plausible type 0 header (chunk stream 3, length < 128) so inputs get
            // deep into the parser instead of failing at the first byte.
            let mut bytes: Vec<u8> = (0..600).map(|_| next() as u8).collect();
            bytes[0] = 3;
            bytes[4] = 0;
            bytes[5] = 0;
            bytes[6] &= 0x7F;
            dec.push(&bytes);
            while let Ok(Some(m)) = dec.next_message() {
                decoded += 1;
                let _ = dec.apply_control(&m);
            }
        }
        assert!(decoded > 0, "the fuzz inputs never produced a message");
    }
}
