//! What both ends of an RTMP connection keep after the handshake: the chunk stream in each
//! direction, the bytes waiting to be sent, and the byte counts that drive acknowledgements.
//! The publish [`crate::Client`] and the receiving [`crate::server::Session`] differ only in
//! the conversation they hold on top of it.

use streamhard_media::amf0::{self, Value};

use crate::chunk::{ChunkDecoder, ChunkEncoder, MessageHeader};
use crate::message::{Control, csid, type_id};

/// The smallest acknowledgement window honoured: a hostile peer could otherwise ask for an
/// acknowledgement after every byte.
const MIN_WINDOW: u32 = 4096;

#[derive(Debug)]
pub(crate) struct Connection {
    pub encoder: ChunkEncoder,
    pub decoder: ChunkDecoder,
    /// Bytes produced for the peer and not yet taken by `poll_transmit`.
    pub out: Vec<u8>,
    /// Acknowledge after this many bytes received.
    window: u32,
    received: u64,
    acked: u64,
    transmitted: u64,
}

impl Connection {
    /// `out`: bytes already due (a client's C0+C1); `window`: the acknowledgement window
    /// assumed until the peer sets one.
    pub fn new(out: Vec<u8>, window: u32) -> Self {
        Self {
            encoder: ChunkEncoder::new(),
            decoder: ChunkDecoder::new(),
            out,
            window,
            received: 0,
            acked: 0,
            transmitted: 0,
        }
    }

    /// All pending bytes for the peer; `None` when there are none.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            return None;
        }
        self.transmitted += self.out.len() as u64;
        Some(std::mem::take(&mut self.out))
    }

    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }

    pub fn bytes_transmitted(&self) -> u64 {
        self.transmitted
    }

    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Counts bytes read from the peer (before they are parsed).
    pub fn count_received(&mut self, len: usize) {
        self.received += len as u64;
    }

    /// Follows the peer's Window Acknowledgement Size, within reason.
    pub fn set_window(&mut self, size: u32) {
        self.window = size.max(MIN_WINDOW);
    }

    /// Acknowledges what was received once a window's worth has arrived since the last time.
    pub fn acknowledge_if_due(&mut self) {
        if self.received - self.acked >= u64::from(self.window) {
            self.acked = self.received;
            // The sequence number is the byte count modulo 2^32, by definition.
            self.control(Control::Acknowledgement(self.received as u32));
        }
    }

    /// A protocol control message, on the control chunk stream (csid 2, message stream 0).
    pub fn control(&mut self, control: Control) {
        let header = MessageHeader {
            type_id: control.type_id(),
            stream_id: 0,
            timestamp: 0,
        };
        self.encoder
            .encode(csid::CONTROL, header, &control.encode(), &mut self.out);
    }

    /// An AMF0 command (`connect`, `_result`, `onStatus`, …) on the command chunk stream.
    pub fn command(&mut self, stream_id: u32, values: &[Value]) {
        let header = MessageHeader {
            type_id: type_id::COMMAND_AMF0,
            stream_id,
            timestamp: 0,
        };
        let payload = amf0::encode_all(values);
        self.encoder
            .encode(csid::COMMAND, header, &payload, &mut self.out);
    }
}
