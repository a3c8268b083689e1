//! RTMP message types, the chunk streams we send them on, and the protocol control and user
//! control messages (RTMP 1.0 spec §5.4 and §6.2), both ways.

/// Message type ids (spec §5.4, §7.1).
pub mod type_id {
    pub const SET_CHUNK_SIZE: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const ACKNOWLEDGEMENT: u8 = 3;
    pub const USER_CONTROL: u8 = 4;
    pub const WINDOW_ACK_SIZE: u8 = 5;
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    pub const AUDIO: u8 = 8;
    pub const VIDEO: u8 = 9;
    pub const DATA_AMF0: u8 = 18;
    pub const COMMAND_AMF0: u8 = 20;
}

/// Chunk stream ids we send on, as OBS and ffmpeg do: protocol control on 2 (required by the
/// spec), commands on 3, then one per media type so each keeps its own compressed header.
pub mod csid {
    pub const CONTROL: u32 = 2;
    pub const COMMAND: u32 = 3;
    pub const AUDIO: u32 = 4;
    pub const DATA: u32 = 5;
    pub const VIDEO: u32 = 6;
}

/// User control event types (spec §7.1.7).
const STREAM_BEGIN: u16 = 0;
const STREAM_EOF: u16 = 1;
const STREAM_DRY: u16 = 2;
const SET_BUFFER_LENGTH: u16 = 3;
const STREAM_IS_RECORDED: u16 = 4;
const PING_REQUEST: u16 = 6;
const PING_RESPONSE: u16 = 7;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    #[error("control message type {type_id} has {len} bytes, too few for its fields")]
    Truncated { type_id: u8, len: usize },
    #[error("set peer bandwidth has an unknown limit type {0}")]
    LimitType(u8),
}

/// How the peer should apply a Set Peer Bandwidth (spec §5.4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitType {
    Hard = 0,
    Soft = 1,
    Dynamic = 2,
}

/// A user control event (message type 4, spec §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserControl {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength {
        stream_id: u32,
        millis: u32,
    },
    StreamIsRecorded(u32),
    /// The server checks we are alive; answer with a `PingResponse` carrying the same value.
    PingRequest(u32),
    PingResponse(u32),
    /// An event we have no use for (buffer empty/ready, SWF verification, ...).
    Other(u16),
}

/// A protocol control message (types 1–6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Chunk size for everything the sender sends after this message.
    SetChunkSize(u32),
    /// Discard the partly received message on this chunk stream.
    Abort {
        chunk_stream_id: u32,
    },
    /// Bytes received so far (modulo 2^32).
    Acknowledgement(u32),
    /// Acknowledge after this many bytes received.
    WindowAckSize(u32),
    SetPeerBandwidth {
        size: u32,
        limit: LimitType,
    },
    UserControl(UserControl),
}

impl Control {
    /// The message type id this control message travels as.
    pub fn type_id(&self) -> u8 {
        match self {
            Control::SetChunkSize(_) => type_id::SET_CHUNK_SIZE,
            Control::Abort { .. } => type_id::ABORT,
            Control::Acknowledgement(_) => type_id::ACKNOWLEDGEMENT,
            Control::WindowAckSize(_) => type_id::WINDOW_ACK_SIZE,
            Control::SetPeerBandwidth { .. } => type_id::SET_PEER_BANDWIDTH,
            Control::UserControl(_) => type_id::USER_CONTROL,
        }
    }

    /// The message payload.
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            // The high bit of a chunk size must be 0 (spec §5.4.1).
            Control::SetChunkSize(size) => (size & 0x7FFF_FFFF).to_be_bytes().to_vec(),
            Control::Abort { chunk_stream_id } => chunk_stream_id.to_be_bytes().to_vec(),
            Control::Acknowledgement(n) | Control::WindowAckSize(n) => n.to_be_bytes().to_vec(),
            Control::SetPeerBandwidth { size, limit } => {
                let mut out = size.to_be_bytes().to_vec();
                out.push(limit as u8);
                out
            }
            Control::UserControl(event) => {
                let (kind, a, b) = match event {
                    UserControl::StreamBegin(id) => (STREAM_BEGIN, id, None),
                    UserControl::StreamEof(id) => (STREAM_EOF, id, None),
                    UserControl::StreamDry(id) => (STREAM_DRY, id, None),
                    UserControl::SetBufferLength { stream_id, millis } => {
                        (SET_BUFFER_LENGTH, stream_id, Some(millis))
                    }
                    UserControl::StreamIsRecorded(id) => (STREAM_IS_RECORDED, id, None),
                    UserControl::PingRequest(t) => (PING_REQUEST, t, None),
                    UserControl::PingResponse(t) => (PING_RESPONSE, t, None),
                    UserControl::Other(kind) => (kind, 0, None),
                };
                let mut out = kind.to_be_bytes().to_vec();
                out.extend_from_slice(&a.to_be_bytes());
                if let Some(b) = b {
                    out.extend_from_slice(&b.to_be_bytes());
                }
                out
            }
        }
    }

    /// Parses a message of type `type_id`: `Ok(None)` when it is not a control message.
    /// Extra trailing bytes are ignored, as every implementation does.
    pub fn decode(type_id: u8, payload: &[u8]) -> Result<Option<Control>, MessageError> {
        let truncated = MessageError::Truncated {
            type_id,
            len: payload.len(),
        };
        let u32_at = |at: usize| {
            payload
                .get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(truncated.clone())
        };
        let control = match type_id {
            type_id::SET_CHUNK_SIZE => Control::SetChunkSize(u32_at(0)? & 0x7FFF_FFFF),
            type_id::ABORT => Control::Abort {
                chunk_stream_id: u32_at(0)?,
            },
            type_id::ACKNOWLEDGEMENT => Control::Acknowledgement(u32_at(0)?),
            type_id::WINDOW_ACK_SIZE => Control::WindowAckSize(u32_at(0)?),
            type_id::SET_PEER_BANDWIDTH => {
                let size = u32_at(0)?;
                let limit = match payload.get(4) {
                    Some(0) => LimitType::Hard,
                    Some(1) => LimitType::Soft,
                    Some(2) => LimitType::Dynamic,
                    Some(&other) => return Err(MessageError::LimitType(other)),
                    None => return Err(truncated),
                };
                Control::SetPeerBandwidth { size, limit }
            }
            type_id::USER_CONTROL => {
                let kind = payload
                    .get(..2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
                    .ok_or(truncated.clone())?;
                let event = match kind {
                    STREAM_BEGIN => UserControl::StreamBegin(u32_at(2)?),
                    STREAM_EOF => UserControl::StreamEof(u32_at(2)?),
                    STREAM_DRY => UserControl::StreamDry(u32_at(2)?),
                    SET_BUFFER_LENGTH => UserControl::SetBufferLength {
                        stream_id: u32_at(2)?,
                        millis: u32_at(6)?,
                    },
                    STREAM_IS_RECORDED => UserControl::StreamIsRecorded(u32_at(2)?),
                    PING_REQUEST => UserControl::PingRequest(u32_at(2)?),
                    PING_RESPONSE => UserControl::PingResponse(u32_at(2)?),
                    other => UserControl::Other(other),
                };
                Control::UserControl(event)
            }
            _ => return Ok(None),
        };
        Ok(Some(control))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_control_messages_as_the_spec_lays_them_out() {
        assert_eq!(Control::SetChunkSize(4096).encode(), [0, 0, 0x10, 0]);
        assert_eq!(
            Control::SetChunkSize(u32::MAX).encode(),
            [0x7F, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(Control::Acknowledgement(0x0102_0304).encode(), [1, 2, 3, 4]);
        let bandwidth = Control::SetPeerBandwidth {
            size: 2_500_000,
            limit: LimitType::Dynamic,
        };
        assert_eq!(bandwidth.encode(), [0, 0x26, 0x25, 0xA0, 2]);
        let pong = Control::UserControl(UserControl::PingResponse(42));
        assert_eq!(pong.encode(), [0, 7, 0, 0, 0, 42]);
        let buffer = Control::UserControl(UserControl::SetBufferLength {
            stream_id: 1,
            millis: 3000,
        });
        assert_eq!(buffer.encode(), [0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8]);
        assert_eq!(pong.type_id(), type_id::USER_CONTROL);
    }

    #[test]
    fn decodes_what_it_encodes() {
        let all = [
            Control::SetChunkSize(60_000),
            Control::Abort { chunk_stream_id: 6 },
            Control::Acknowledgement(7),
            Control::WindowAckSize(5_000_000),
            Control::SetPeerBandwidth {
                size: 5_000_000,
                limit: LimitType::Hard,
            },
            Control::UserControl(UserControl::StreamBegin(1)),
            Control::UserControl(UserControl::StreamEof(1)),
            Control::UserControl(UserControl::StreamDry(1)),
            Control::UserControl(UserControl::StreamIsRecorded(1)),
            Control::UserControl(UserControl::PingRequest(99)),
            Control::UserControl(UserControl::SetBufferLength {
                stream_id: 1,
                millis: 100,
            }),
        ];
        for control in all {
            let decoded = Control::decode(control.type_id(), &control.encode());
            assert_eq!(decoded, Ok(Some(control)));
        }
    }

    #[test]
    fn short_or_odd_payloads_from_a_server_are_errors_not_panics() {
        assert_eq!(
            Control::decode(type_id::SET_CHUNK_SIZE, &[0, 1]),
            Err(MessageError::Truncated { type_id: 1, len: 2 })
        );
        assert_eq!(
            Control::decode(type_id::USER_CONTROL, &[0]),
            Err(MessageError::Truncated { type_id: 4, len: 1 })
        );
        assert_eq!(
            Control::decode(type_id::USER_CONTROL, &[0, 3, 0, 0, 0, 1, 0]),
            Err(MessageError::Truncated { type_id: 4, len: 7 })
        );
        assert_eq!(
            Control::decode(type_id::SET_PEER_BANDWIDTH, &[0, 0, 0, 1, 9]),
            Err(MessageError::LimitType(9))
        );
        let unknown = Control::decode(type_id::USER_CONTROL, &[0, 31, 1]);
        assert_eq!(
            unknown,
            Ok(Some(Control::UserControl(UserControl::Other(31))))
        );
        assert_eq!(Control::decode(type_id::VIDEO, &[]), Ok(None));
    }
}
