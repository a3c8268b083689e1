//! The receiving end of a publish: what nginx-rtmp says to OBS or ffmpeg, as a state machine
//! without I/O. It only receives — no playback — and exists so that tests and the benchmark
//! can stand in for a platform: count the frames a relay sends, check their timestamps.
//!
//! Same shape as [`crate::client`]: bytes from the publisher go in ([`Session::handle_input`]),
//! bytes for it come out of [`Session::poll_transmit`], what happened comes out of
//! [`Session::poll_event`], and the driver reports the end of the connection with
//! [`Session::handle_eof`]. No socket, no clock: S1's random bytes are an input.
//!
//! The conversation, answered as nginx-rtmp answers it:
//! 1. handshake (C0/C1 → S0/S1/S2 → C2);
//! 2. `connect(app)` → Window Acknowledgement Size, Set Peer Bandwidth, Set Chunk Size (4096)
//!    and `_result` with `NetConnection.Connect.Success`: [`SessionEvent::Connected`];
//! 3. `releaseStream`, `FCPublish` → `_result` (clients carry on whatever the answer);
//!    `createStream` → `_result` with message stream 1 (nginx gives every stream id 1);
//! 4. `publish(name, type)` → Stream Begin and `onStatus NetStream.Publish.Start`:
//!    [`SessionEvent::Publishing`], then every audio, video and data message is a
//!    [`SessionEvent::Media`] tag (aggregate messages are split into their tags);
//! 5. `FCUnpublish`, `deleteStream` or `closeStream`: [`SessionEvent::Unpublished`], once.
//!
//! Meanwhile the session follows the publisher's chunk size, answers pings and acknowledges
//! the bytes it receives. Everything the publisher sends is hostile: the chunk layer bounds
//! message sizes and buffered bytes, names are bounded, and anything malformed ends the
//! session with [`SessionEvent::Failed`] rather than a panic.
//!
//! The stream name of `publish` is usually a stream key: it only leaves the session inside a
//! [`Secret`], and no error or `Debug` output contains it.

use std::collections::VecDeque;

use bytes::Bytes;
use streamhard_media::amf0::{self, Value};
use streamhard_media::flv::{FlvTime, Role, Tag, TagKind};

use crate::chunk::{ChunkError, Message};
use crate::connection::Connection;
use crate::handshake::{HandshakeError, RANDOM_LEN, ServerHandshake, ServerProgress};
use crate::message::{Control, LimitType, MessageError, UserControl, type_id};
use crate::secret::Secret;

/// Our chunk size, as nginx-rtmp's default and OBS use: few chunk headers per message.
pub const OUTGOING_CHUNK_SIZE: u32 = 4096;
/// The acknowledgement window we announce (and the bandwidth we grant): nginx-rtmp's
/// default. We also acknowledge with it until the publisher announces its own.
pub const ACK_WINDOW: u32 = 5_000_000;
/// The message stream `createStream` hands out. nginx-rtmp supports one per connection and
/// always answers 1; publishers use whatever they are given.
pub const STREAM_ID: u32 = 1;
/// Longest app or stream name accepted (nginx-rtmp's limits are 256 bytes of each).
pub const MAX_NAME_LEN: usize = 1024;
/// The server version nginx-rtmp claims; some clients look for "FMS".
const FMS_VERSION: &str = "FMS/3,0,1,123";
/// The capabilities nginx-rtmp claims alongside it.
const CAPABILITIES: f64 = 31.0;

/// Message types the crate's client never sends but other publishers may.
mod extra_type {
    /// Data (metadata) in AMF3 framing: a 0 byte, then AMF0.
    pub const DATA_AMF3: u8 = 15;
    /// A command in AMF3 framing: a 0 byte, then AMF0.
    pub const COMMAND_AMF3: u8 = 17;
    /// Several FLV tags in one message (FMS, Wowza).
    pub const AGGREGATE: u8 = 22;
}

/// Bytes in front of each FLV tag inside an aggregate message, and the back pointer after it.
const AGGREGATE_TAG_HEADER: usize = 11;
const AGGREGATE_BACK_POINTER: usize = 4;

/// Why a session ended. Never contains a stream name.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("chunk stream: {0}")]
    Chunk(#[from] ChunkError),
    #[error("control message: {0}")]
    Control(#[from] MessageError),
    #[error("the publisher sent a malformed {0}")]
    Malformed(&'static str),
    /// A command that makes no sense where the session is (e.g. `publish` before `connect`).
    #[error("the publisher sent {0}")]
    OutOfOrder(&'static str),
    /// The connection ended without an unpublish: during the handshake, before publishing or
    /// while publishing.
    #[error("the publisher disconnected {0}")]
    Disconnected(&'static str),
}

/// What the session reports to its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// `connect` was accepted. The app is not a secret (it is the path before the key).
    Connected { app: String },
    /// `publish` was accepted: media follows. The name is what `publish` carried, usually the
    /// stream key (with its query string, if any).
    Publishing { name: Secret },
    /// One audio, video or data message as an FLV tag: the body is the message payload
    /// (shared, not copied), the timestamp the absolute RTMP one (extended timestamps
    /// resolved, wrapping at 2^32 ms). `@setDataFrame` is removed from data messages, so
    /// metadata reads as the `onMetaData` tag a publisher was given. The role comes from
    /// [`role_of`]: frames are the tags whose role is not [`Role::Header`].
    Media(Tag),
    /// `FCUnpublish`, `deleteStream` or `closeStream`: the publisher stopped on purpose.
    Unpublished,
    /// The publisher broke the protocol or disconnected early; the session is over.
    Failed(SessionError),
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Handshaking,
    /// Handshake done, waiting for `connect`.
    AwaitingConnect,
    /// Connected and not publishing: before `publish` or after an unpublish.
    Connected,
    Publishing,
    Closed,
}

/// One publisher's connection, server side.
pub struct Session {
    state: SessionState,
    handshake: ServerHandshake,
    conn: Connection,
    events: VecDeque<SessionEvent>,
    /// Whether a publish ever ended with an unpublish, which makes a later EOF a clean one.
    unpublished: bool,
    media_messages: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("received", &self.conn.bytes_received())
            .field("media_messages", &self.media_messages)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for a connection just accepted. `random` fills S1 (any bytes do; the
    /// runtime passes random ones as the spec asks).
    pub fn new(random: &[u8; RANDOM_LEN]) -> Self {
        Self {
            state: SessionState::Handshaking,
            handshake: ServerHandshake::new(random),
            conn: Connection::new(Vec::new(), ACK_WINDOW),
            events: VecDeque::new(),
            unpublished: false,
            media_messages: 0,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    pub fn is_publishing(&self) -> bool {
        self.state == SessionState::Publishing
    }

    /// Bytes for the publisher, all that are pending; `None` when there are none.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.conn.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Bytes produced but not yet taken by [`Self::poll_transmit`].
    pub fn pending_bytes(&self) -> usize {
        self.conn.pending_bytes()
    }

    /// Bytes handed out by [`Self::poll_transmit`] so far.
    pub fn bytes_transmitted(&self) -> u64 {
        self.conn.bytes_transmitted()
    }

    /// Bytes received from the publisher so far.
    pub fn bytes_received(&self) -> u64 {
        self.conn.bytes_received()
    }

    /// Audio, video and data tags reported so far.
    pub fn media_messages(&self) -> u64 {
        self.media_messages
    }

    /// Feeds bytes read from the publisher. Errors surface as [`SessionEvent::Failed`];
    /// after one, input is ignored.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.state == SessionState::Closed {
            return;
        }
        self.conn.count_received(data.len());
        if let Err(e) = self.process(data) {
            self.fail(e);
        }
    }

    /// The publisher closed the connection (a read returned 0 bytes). Unless it unpublished
    /// first, that is a [`SessionError::Disconnected`] failure: a publisher (a relay under
    /// test) that drops its connection mid-stream is what a benchmark must notice. Bytes of an unfinished message are not
    /// looked at: after an unpublish nothing more was expected.
    pub fn handle_eof(&mut self) {
        let during = match self.state {
            SessionState::Closed => return,
            SessionState::Connected if self.unpublished => None,
            SessionState::Handshaking => Some("during the handshake"),
            SessionState::AwaitingConnect | SessionState::Connected => Some("before publishing"),
            SessionState::Publishing => Some("while publishing"),
        };
        match during {
            Some(during) => self.fail(SessionError::Disconnected(during)),
            None => self.state = SessionState::Closed,
        }
    }

    fn fail(&mut self, e: SessionError) {
        self.state = SessionState::Closed;
        self.events.push_back(SessionEvent::Failed(e));
    }

    fn process(&mut self, data: &[u8]) -> Result<(), SessionError> {
        let data = if self.state == SessionState::Handshaking {
            match self.handshake.feed(data, &mut self.conn.out)? {
                ServerProgress::NeedMore => return Ok(()),
                ServerProgress::Done { consumed } => {
                    self.state = SessionState::AwaitingConnect;
                    // The handshake never reports more than it was given.
                    &data[consumed.min(data.len())..]
                }
            }
        } else {
            data
        };
        self.conn.decoder.push(data);
        while let Some(message) = self.conn.decoder.next_message()? {
            self.on_message(message)?;
        }
        self.conn.acknowledge_if_due();
        Ok(())
    }

    fn control(&mut self, control: Control) {
        self.conn.control(control);
    }

    fn command(&mut self, stream_id: u32, values: &[Value]) {
        self.conn.command(stream_id, values);
    }

    fn on_message(&mut self, message: Message) -> Result<(), SessionError> {
        if self.conn.decoder.apply_control(&message)? {
            return Ok(());
        }
        let Message { header, payload } = message;
        if let Some(control) = Control::decode(header.type_id, &payload)? {
            self.on_control(control);
            return Ok(());
        }
        match header.type_id {
            type_id::AUDIO => self.on_media(TagKind::Audio, header.timestamp, payload.into()),
            type_id::VIDEO => self.on_media(TagKind::Video, header.timestamp, payload.into()),
            type_id::DATA_AMF0 => self.on_data(header.timestamp, payload.into()),
            extra_type::DATA_AMF3 => {
                let body = Bytes::from(payload);
                let framing = body.len().min(1);
                self.on_data(header.timestamp, body.slice(framing..));
            }
            type_id::COMMAND_AMF0 => self.on_command(header.stream_id, &payload)?,
            extra_type::COMMAND_AMF3 => {
                self.on_command(header.stream_id, payload.get(1..).unwrap_or_default())?;
            }
            extra_type::AGGREGATE => self.on_aggregate(header.timestamp, payload.into())?,
            // Shared objects and anything newer mean nothing to a receiver.
            _ => {}
        }
        Ok(())
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::WindowAckSize(size) => self.conn.set_window(size),
            Control::UserControl(UserControl::PingRequest(time)) => {
                self.control(Control::UserControl(UserControl::PingResponse(time)));
            }
            // Chunk size and abort were applied by the decoder; acknowledgements, buffer
            // lengths and the rest need nothing from a receiver.
            _ => {}
        }
    }

    /// Reports an audio or video tag. Media outside a publish is dropped, as nginx-rtmp
    /// drops it: it has no stream to belong to.
    fn on_media(&mut self, kind: TagKind, timestamp: u32, body: Bytes) {
        if self.state != SessionState::Publishing {
            return;
        }
        self.media_messages += 1;
        let role = role_of(kind, &body);
        self.events.push_back(SessionEvent::Media(Tag {
            kind,
            role,
            timestamp: FlvTime::from_ms(timestamp),
            body,
        }));
    }

    /// Reports a data message as a script tag, without the `@setDataFrame` that publishers
    /// put in front of `onMetaData` (nginx-rtmp removes it too).
    fn on_data(&mut self, timestamp: u32, body: Bytes) {
        let body = match amf0::decode_one(&body) {
            Ok((Value::String(name), used)) if name == "@setDataFrame" => body.slice(used..),
            _ => body,
        };
        self.on_media(TagKind::Script, timestamp, body);
    }

    /// Splits an aggregate message: FLV tags (11-byte header, body, 4-byte back pointer)
    /// whose timestamps are relative to the first one's, which the message's own replaces.
    fn on_aggregate(&mut self, timestamp: u32, payload: Bytes) -> Result<(), SessionError> {
        let malformed = SessionError::Malformed("aggregate message");
        let mut at = 0;
        let mut first_timestamp = None;
        while at < payload.len() {
            let header = payload
                .get(at..at + AGGREGATE_TAG_HEADER)
                .ok_or(malformed.clone())?;
            let size = read_u24(&header[1..4]) as usize;
            let tag_time = read_u24(&header[4..7]) | u32::from(header[7]) << 24;
            let body_start = at + AGGREGATE_TAG_HEADER;
            let body_end = body_start + size;
            if body_end + AGGREGATE_BACK_POINTER > payload.len() {
                return Err(malformed);
            }
            let base = *first_timestamp.get_or_insert(tag_time);
            let time = timestamp.wrapping_add(tag_time.wrapping_sub(base));
            let body = payload.slice(body_start..body_end);
            match header[0] {
                type_id::AUDIO => self.on_media(TagKind::Audio, time, body),
                type_id::VIDEO => self.on_media(TagKind::Video, time, body),
                type_id::DATA_AMF0 => self.on_data(time, body),
                _ => return Err(malformed),
            }
            at = body_end + AGGREGATE_BACK_POINTER;
        }
        Ok(())
    }

    fn on_command(&mut self, stream_id: u32, payload: &[u8]) -> Result<(), SessionError> {
        let values =
            amf0::decode_all(payload).map_err(|_| SessionError::Malformed("command (not AMF0)"))?;
        let name = values.first().and_then(Value::as_str).unwrap_or_default();
        let transaction = values.get(1).and_then(Value::as_f64).unwrap_or(0.0);
        if name == "connect" {
            return self.on_connect(transaction, values.get(2));
        }
        if self.state == SessionState::AwaitingConnect {
            return Err(SessionError::OutOfOrder("a command before connect"));
        }
        match name {
            "releaseStream" | "FCPublish" | "FCUnpublish" => {
                if name == "FCUnpublish" {
                    self.unpublish();
                }
                // Transaction 0 means "no answer wanted".
                if transaction != 0.0 {
                    self.command(
                        0,
                        &[
                            "_result".into(),
                            transaction.into(),
                            Value::Null,
                            Value::Undefined,
                        ],
                    );
                }
            }
            "createStream" => {
                let id = f64::from(STREAM_ID);
                self.command(
                    0,
                    &["_result".into(), transaction.into(), Value::Null, id.into()],
                );
            }
            "publish" => self.on_publish(stream_id, values.get(3))?,
            "deleteStream" | "closeStream" => self.unpublish(),
            // _checkbw, getStreamLength, play and the rest: a receiver of publishes has
            // nothing to say, and nginx-rtmp ignores unknown commands too.
            _ => {}
        }
        Ok(())
    }

    fn on_connect(
        &mut self,
        transaction: f64,
        properties: Option<&Value>,
    ) -> Result<(), SessionError> {
        if self.state != SessionState::AwaitingConnect {
            return Err(SessionError::OutOfOrder("a second connect"));
        }
        let app = properties
            .and_then(|p| p.get("app"))
            .and_then(Value::as_str)
            .ok_or(SessionError::Malformed("connect (no app)"))?;
        if app.len() > MAX_NAME_LEN {
            return Err(SessionError::Malformed("connect (app name too long)"));
        }
        // nginx-rtmp drops one trailing slash ("live/" is "live").
        let app = app.strip_suffix('/').unwrap_or(app).to_owned();
        self.control(Control::WindowAckSize(ACK_WINDOW));
        self.control(Control::SetPeerBandwidth {
            size: ACK_WINDOW,
            limit: LimitType::Dynamic,
        });
        // Set Chunk Size goes out in the old size; everything after uses the new one.
        self.control(Control::SetChunkSize(OUTGOING_CHUNK_SIZE));
        self.conn.encoder.set_chunk_size(OUTGOING_CHUNK_SIZE);
        let server = Value::object([
            ("fmsVer", FMS_VERSION.into()),
            ("capabilities", CAPABILITIES.into()),
        ]);
        let info = Value::object([
            ("level", "status".into()),
            ("code", "NetConnection.Connect.Success".into()),
            ("description", "Connection succeeded.".into()),
            ("objectEncoding", 0.0.into()),
        ]);
        self.command(0, &["_result".into(), transaction.into(), server, info]);
        self.state = SessionState::Connected;
        self.events.push_back(SessionEvent::Connected { app });
        Ok(())
    }

    fn on_publish(&mut self, stream_id: u32, name: Option<&Value>) -> Result<(), SessionError> {
        if self.state == SessionState::Publishing {
            return Err(SessionError::OutOfOrder("a second publish"));
        }
        let name = name
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or(SessionError::Malformed("publish (no stream name)"))?;
        if name.len() > MAX_NAME_LEN {
            return Err(SessionError::Malformed("publish (stream name too long)"));
        }
        let name = Secret::new(name);
        self.control(Control::UserControl(UserControl::StreamBegin(stream_id)));
        let info = Value::object([
            ("level", "status".into()),
            ("code", "NetStream.Publish.Start".into()),
            ("description", "Start publishing".into()),
        ]);
        self.command(
            stream_id,
            &["onStatus".into(), 0.0.into(), Value::Null, info],
        );
        self.state = SessionState::Publishing;
        self.events.push_back(SessionEvent::Publishing { name });
        Ok(())
    }

    /// Ends the current publish, once: publishers send both `FCUnpublish` and `deleteStream`.
    fn unpublish(&mut self) {
        if self.state == SessionState::Publishing {
            self.state = SessionState::Connected;
            self.unpublished = true;
            self.events.push_back(SessionEvent::Unpublished);
        }
    }
}

/// What a received tag is, read from its first bytes the way FLV (and Enhanced RTMP)
/// define them, so that a receiver can count frames and find keyframes.
///
/// Everything that is not a coded frame is [`Role::Header`]: metadata, sequence headers, and
/// also the sequence-level messages that are not headers — AVC end of sequence (which
/// ffmpeg's FLV muxer appends to every H.264 stream), video command frames, Enhanced RTMP's
/// SequenceEnd and Metadata. So "frames" are exactly the tags whose role is not `Header`,
/// which is also what ffprobe counts as packets. Unknown or empty bodies are inter frames
/// or audio frames: nothing can start decoding there.
pub fn role_of(kind: TagKind, body: &[u8]) -> Role {
    const CODEC_AVC: u8 = 7;
    const SOUND_AAC: u8 = 10;
    /// Enhanced RTMP: the high bit of a video tag's first byte, and audio sound format 9.
    const VIDEO_EX_HEADER: u8 = 0x80;
    const SOUND_EX_HEADER: u8 = 9;
    /// Video frame types (high nibble, or bits 4-6 with the Enhanced RTMP bit).
    const KEYFRAME: u8 = 1;
    const COMMAND_FRAME: u8 = 5;
    /// AVCPacketType / AACPacketType: 0 is the sequence header, 2 the end of sequence.
    const AVC_SEQUENCE_HEADER: u8 = 0;
    const AVC_END_OF_SEQUENCE: u8 = 2;
    /// Enhanced RTMP packet types that carry no frame: SequenceStart, SequenceEnd,
    /// Metadata, MPEG2TSSequenceStart (video); SequenceStart, SequenceEnd,
    /// MultichannelConfig (audio).
    const EX_VIDEO_NOT_FRAMES: [u8; 4] = [0, 2, 4, 5];
    const EX_AUDIO_NOT_FRAMES: [u8; 3] = [0, 2, 4];
    let Some(&first) = body.first() else {
        return match kind {
            TagKind::Video => Role::Inter,
            TagKind::Audio => Role::Audio,
            TagKind::Script => Role::Header,
        };
    };
    let second = body.get(1).copied();
    match kind {
        TagKind::Script => Role::Header,
        TagKind::Video => {
            let (frame_type, not_a_frame) = if first & VIDEO_EX_HEADER != 0 {
                let packet_type = first & 0x0F;
                (
                    (first >> 4) & 0x07,
                    EX_VIDEO_NOT_FRAMES.contains(&packet_type),
                )
            } else {
                let avc_control = first & 0x0F == CODEC_AVC
                    && matches!(second, Some(AVC_SEQUENCE_HEADER | AVC_END_OF_SEQUENCE));
                (first >> 4, avc_control)
            };
            if not_a_frame || frame_type == COMMAND_FRAME {
                Role::Header
            } else if frame_type == KEYFRAME {
                Role::Keyframe
            } else {
                Role::Inter
            }
        }
        TagKind::Audio => {
            let not_a_frame = match first >> 4 {
                SOUND_AAC => second == Some(AVC_SEQUENCE_HEADER),
                SOUND_EX_HEADER => EX_AUDIO_NOT_FRAMES.contains(&(first & 0x0F)),
                _ => false,
            };
            if not_a_frame {
                Role::Header
            } else {
                Role::Audio
            }
        }
    }
}

/// A big-endian 24-bit number; callers pass slices of a header already length-checked.
fn read_u24(b: &[u8]) -> u32 {
    u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{ChunkDecoder, ChunkEncoder, MAX_INCOMING_MESSAGE, MessageHeader};
    use crate::handshake::{Handshake, Progress};
    use crate::message::csid;

    /// A scripted publisher: encodes what it says, decodes what the session answers.
    struct Publisher {
        encoder: ChunkEncoder,
        decoder: ChunkDecoder,
    }

    impl Publisher {
        fn send(
            &mut self,
            session: &mut Session,
            type_id: u8,
            stream_id: u32,
            ts: u32,
            payload: &[u8],
        ) {
            let chunk_stream = match type_id {
                type_id::AUDIO => csid::AUDIO,
                type_id::VIDEO => csid::VIDEO,
                t if t < type_id::AUDIO => csid::CONTROL,
                _ => csid::COMMAND,
            };
            let header = MessageHeader {
                type_id,
                stream_id,
                timestamp: ts,
            };
            let mut bytes = Vec::new();
            self.encoder
                .encode(chunk_stream, header, payload, &mut bytes);
            session.handle_input(&bytes);
        }

        fn control(&mut self, session: &mut Session, control: Control) {
            self.send(session, control.type_id(), 0, 0, &control.encode());
        }

        fn command(&mut self, session: &mut Session, stream_id: u32, values: &[Value]) {
            let payload = amf0::encode_all(values);
            self.send(session, type_id::COMMAND_AMF0, stream_id, 0, &payload);
        }

        /// Everything the session sent since the last read, as messages.
        fn read(&mut self, session: &mut Session) -> Vec<Message> {
            self.decoder
                .push(&session.poll_transmit().unwrap_or_default());
            let mut out = Vec::new();
            while let Some(m) = self.decoder.next_message().unwrap() {
                self.decoder.apply_control(&m).unwrap();
                out.push(m);
            }
            out
        }

        fn connect(&mut self, session: &mut Session, app: &str) {
            let props = Value::object([("app", app.into()), ("type", "nonprivate".into())]);
            self.command(session, 0, &["connect".into(), 1.0.into(), props]);
        }

        fn publish(&mut self, session: &mut Session, name: &str) {
            self.command(
                session,
                STREAM_ID,
                &[
                    "publish".into(),
                    5.0.into(),
                    Value::Null,
                    name.into(),
                    "live".into(),
                ],
            );
        }
    }

    /// A session past the handshake, and the publisher that did it.
    fn handshaken() -> (Session, Publisher) {
        let mut session = Session::new(&[9; RANDOM_LEN]);
        let (mut hs, c0c1) = Handshake::start(&[1; RANDOM_LEN]);
        session.handle_input(&c0c1);
        let s0s1s2 = session.poll_transmit().unwrap();
        let Ok(Progress::Done { c2, .. }) = hs.feed(&s0s1s2) else {
            panic!("handshake");
        };
        session.handle_input(&c2);
        assert_eq!(session.state(), SessionState::AwaitingConnect);
        let publisher = Publisher {
            encoder: ChunkEncoder::new(),
            decoder: ChunkDecoder::new(),
        };
        (session, publisher)
    }

    /// A session publishing stream "SECRET" of app "live", its events and output drained.
    fn publishing() -> (Session, Publisher) {
        let (mut session, mut publisher) = handshaken();
        publisher.connect(&mut session, "live");
        publisher.publish(&mut session, "SECRET");
        publisher.read(&mut session);
        assert!(events(&mut session).len() == 2 && session.is_publishing());
        (session, publisher)
    }

    fn events(session: &mut Session) -> Vec<SessionEvent> {
        std::iter::from_fn(|| session.poll_event()).collect()
    }

    fn commands(messages: &[Message]) -> Vec<Vec<Value>> {
        messages
            .iter()
            .filter(|m| m.header.type_id == type_id::COMMAND_AMF0)
            .map(|m| amf0::decode_all(&m.payload).unwrap())
            .collect()
    }

    fn controls(messages: &[Message]) -> Vec<Control> {
        let decoded = messages
            .iter()
            .map(|m| Control::decode(m.header.type_id, &m.payload).unwrap());
        decoded.flatten().collect()
    }

    fn media(events: Vec<SessionEvent>) -> Vec<Tag> {
        let tags = events.into_iter().map(|e| match e {
            SessionEvent::Media(tag) => tag,
            other => panic!("not media: {other:?}"),
        });
        tags.collect()
    }

    #[test]
    fn answers_connect_as_nginx_does_with_window_bandwidth_chunk_size_and_success() {
        let (mut session, mut publisher) = handshaken();
        publisher.connect(&mut session, "live/");
        let sent = publisher.read(&mut session);
        let want = [
            Control::WindowAckSize(ACK_WINDOW),
            Control::SetPeerBandwidth {
                size: ACK_WINDOW,
                limit: LimitType::Dynamic,
            },
            Control::SetChunkSize(OUTGOING_CHUNK_SIZE),
        ];
        assert_eq!(controls(&sent), want);
        let result = &commands(&sent)[0];
        assert_eq!(result[0].as_str(), Some("_result"));
        assert_eq!(result[1].as_f64(), Some(1.0));
        assert_eq!(
            result[2].get("fmsVer").and_then(Value::as_str),
            Some(FMS_VERSION)
        );
        let code = result[3].get("code").and_then(Value::as_str);
        assert_eq!(code, Some("NetConnection.Connect.Success"));
        let want = SessionEvent::Connected { app: "live".into() };
        assert_eq!(events(&mut session), [want]);
        assert_eq!(session.state(), SessionState::Connected);
    }

    #[test]
    fn answers_create_stream_with_stream_1_and_publish_with_stream_begin_and_publish_start() {
        let (mut session, mut publisher) = handshaken();
        publisher.connect(&mut session, "live");
        publisher.read(&mut session);
        for (name, txn) in [
            ("releaseStream", 2.0),
            ("FCPublish", 3.0),
            ("createStream", 4.0),
        ] {
            let key = if name == "createStream" {
                Value::Null
            } else {
                "SECRET".into()
            };
            publisher.command(
                &mut session,
                0,
                &[name.into(), txn.into(), Value::Null, key],
            );
        }
        let results = commands(&publisher.read(&mut session));
        let got: Vec<_> = results
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_f64()))
            .collect();
        let want = [
            (Some("_result"), Some(2.0)),
            (Some("_result"), Some(3.0)),
            (Some("_result"), Some(4.0)),
        ];
        assert_eq!(got, want);
        assert_eq!(results[2][3].as_f64(), Some(f64::from(STREAM_ID)));

        publisher.publish(&mut session, "SECRET?x=1");
        let sent = publisher.read(&mut session);
        let begin = Control::UserControl(UserControl::StreamBegin(STREAM_ID));
        assert_eq!(controls(&sent), [begin]);
        let status = &commands(&sent)[0];
        assert_eq!(status[0].as_str(), Some("onStatus"));
        let code = status[3].get("code").and_then(Value::as_str);
        assert_eq!(code, Some("NetStream.Publish.Start"));
        let on_stream = sent
            .iter()
            .find(|m| m.header.type_id == type_id::COMMAND_AMF0);
        assert_eq!(on_stream.unwrap().header.stream_id, STREAM_ID);
        let want = SessionEvent::Publishing {
            name: Secret::new("SECRET?x=1"),
        };
        assert_eq!(events(&mut session)[1..], [want]);
        assert!(session.is_publishing());
    }

    #[test]
    fn reports_audio_video_and_metadata_as_tags_without_set_data_frame() {
        let (mut session, mut publisher) = publishing();
        let mut metadata = amf0::encode_all(&["@setDataFrame".into()]);
        let on_meta_data = amf0::encode_all(&["onMetaData".into(), Value::EcmaArray(vec![])]);
        metadata.extend_from_slice(&on_meta_data);
        publisher.send(&mut session, type_id::DATA_AMF0, 1, 0, &metadata);
        publisher.send(
            &mut session,
            type_id::VIDEO,
            1,
            0,
            &[0x17, 0, 0, 0, 0, 1, 2],
        );
        publisher.send(&mut session, type_id::AUDIO, 1, 0, &[0xAF, 0, 0x11, 0x90]);
        publisher.send(&mut session, type_id::VIDEO, 1, 33, &[0x17, 1, 0, 0, 0, 9]);
        publisher.send(&mut session, type_id::AUDIO, 1, 21, &[0xAF, 1, 7]);
        publisher.send(
            &mut session,
            type_id::VIDEO,
            1,
            0x0100_0000,
            &[0x27, 1, 0, 0, 0, 8],
        );
        let got: Vec<_> = media(events(&mut session))
            .into_iter()
            .map(|t| (t.kind, t.role, t.timestamp.ms(), t.body.to_vec()))
            .collect();
        let want = [
            (TagKind::Script, Role::Header, 0, on_meta_data),
            (
                TagKind::Video,
                Role::Header,
                0,
                vec![0x17, 0, 0, 0, 0, 1, 2],
            ),
            (TagKind::Audio, Role::Header, 0, vec![0xAF, 0, 0x11, 0x90]),
            (
                TagKind::Video,
                Role::Keyframe,
                33,
                vec![0x17, 1, 0, 0, 0, 9],
            ),
            (TagKind::Audio, Role::Audio, 21, vec![0xAF, 1, 7]),
            (
                TagKind::Video,
                Role::Inter,
                0x0100_0000,
                vec![0x27, 1, 0, 0, 0, 8],
            ),
        ];
        assert_eq!(got, want);
        assert_eq!(session.media_messages(), 6);
    }

    #[test]
    fn splits_aggregate_messages_into_tags_at_the_messages_timestamp() {
        let (mut session, mut publisher) = publishing();
        let mut aggregate = Vec::new();
        // Sub-tags at 5000 and 5040 (one in the extended byte's range): relative times count.
        for (kind, time, body) in [
            (9u8, 0x0100_1388u32, &[0x17, 1, 0, 0, 0][..]),
            (8, 0x0100_13B0, &[0xAF, 1, 3]),
        ] {
            let size = (body.len() as u32).to_be_bytes();
            let t = time.to_be_bytes();
            aggregate.extend_from_slice(&[
                kind, size[1], size[2], size[3], t[1], t[2], t[3], t[0], 0, 0, 0,
            ]);
            aggregate.extend_from_slice(body);
            aggregate.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
        }
        publisher.send(&mut session, extra_type::AGGREGATE, 1, 1000, &aggregate);
        let got: Vec<_> = media(events(&mut session))
            .into_iter()
            .map(|t| (t.kind, t.timestamp.ms(), t.body.len()))
            .collect();
        assert_eq!(got, [(TagKind::Video, 1000, 5), (TagKind::Audio, 1040, 3)]);

        aggregate.truncate(aggregate.len() - 1);
        publisher.send(&mut session, extra_type::AGGREGATE, 1, 2000, &aggregate);
        let want = SessionError::Malformed("aggregate message");
        assert_eq!(
            events(&mut session).last(),
            Some(&SessionEvent::Failed(want))
        );
    }

    #[test]
    fn takes_commands_and_data_in_amf3_framing() {
        let (mut session, mut publisher) = handshaken();
        let mut connect = vec![0];
        let props = Value::object([("app", "live".into())]);
        connect.extend(amf0::encode_all(&["connect".into(), 1.0.into(), props]));
        publisher.send(&mut session, extra_type::COMMAND_AMF3, 0, 0, &connect);
        publisher.publish(&mut session, "k");
        let mut data = vec![0];
        data.extend(amf0::encode_all(&["onMetaData".into(), Value::Null]));
        publisher.send(&mut session, extra_type::DATA_AMF3, 1, 0, &data);
        let all = events(&mut session);
        assert_eq!(all[0], SessionEvent::Connected { app: "live".into() });
        let SessionEvent::Media(tag) = &all[2] else {
            panic!("{all:?}");
        };
        assert_eq!((tag.kind, &tag.body[..]), (TagKind::Script, &data[1..]));
    }

    #[test]
    fn drops_media_sent_before_publish_or_after_unpublish() {
        let (mut session, mut publisher) = handshaken();
        publisher.connect(&mut session, "live");
        publisher.send(&mut session, type_id::VIDEO, 1, 0, &[0x17, 1]);
        assert_eq!(events(&mut session).len(), 1, "only Connected");
        publisher.publish(&mut session, "k");
        publisher.command(
            &mut session,
            0,
            &["FCUnpublish".into(), 6.0.into(), Value::Null, "k".into()],
        );
        publisher.send(&mut session, type_id::VIDEO, 1, 0, &[0x17, 1]);
        let got = events(&mut session);
        assert!(
            matches!(
                got[..],
                [SessionEvent::Publishing { .. }, SessionEvent::Unpublished]
            ),
            "{got:?}"
        );
        assert_eq!(session.media_messages(), 0);
    }

    #[test]
    fn fc_unpublish_then_delete_stream_is_one_unpublished_and_a_new_publish_may_follow() {
        let (mut session, mut publisher) = publishing();
        publisher.command(
            &mut session,
            0,
            &[
                "FCUnpublish".into(),
                6.0.into(),
                Value::Null,
                "SECRET".into(),
            ],
        );
        publisher.command(
            &mut session,
            0,
            &["deleteStream".into(), 7.0.into(), Value::Null, 1.0.into()],
        );
        assert_eq!(events(&mut session), [SessionEvent::Unpublished]);
        assert_eq!(session.state(), SessionState::Connected);
        publisher.publish(&mut session, "again");
        publisher.command(
            &mut session,
            1,
            &["closeStream".into(), 0.0.into(), Value::Null],
        );
        let got = events(&mut session);
        assert_eq!(got[1], SessionEvent::Unpublished);
        session.handle_eof();
        assert_eq!(events(&mut session), []);
        assert_eq!(session.state(), SessionState::Closed);
    }

    #[test]
    fn the_end_of_the_connection_without_unpublish_is_a_failure() {
        type MakeSession = fn() -> Session;
        let cases: [(MakeSession, &str); 3] = [
            (|| Session::new(&[0; RANDOM_LEN]), "during the handshake"),
            (|| handshaken().0, "before publishing"),
            (|| publishing().0, "while publishing"),
        ];
        for (make, during) in cases {
            let mut session = make();
            session.handle_eof();
            let want = SessionEvent::Failed(SessionError::Disconnected(during));
            assert_eq!(events(&mut session), [want]);
            session.handle_eof();
            assert_eq!(events(&mut session), [], "reported once");
        }
    }

    #[test]
    fn follows_the_publishers_chunk_size() {
        let (mut session, mut publisher) = publishing();
        publisher.control(&mut session, Control::SetChunkSize(7));
        publisher.encoder.set_chunk_size(7);
        let body: Vec<u8> = (0..100).collect();
        publisher.send(&mut session, type_id::VIDEO, 1, 40, &body);
        let tags = media(events(&mut session));
        assert_eq!(tags[0].body, body);
    }

    #[test]
    fn acknowledges_the_publishers_window_and_answers_pings() {
        let (mut session, mut publisher) = publishing();
        publisher.control(&mut session, Control::WindowAckSize(10_000));
        publisher.control(
            &mut session,
            Control::UserControl(UserControl::PingRequest(77)),
        );
        let sent = publisher.read(&mut session);
        let pong = Control::UserControl(UserControl::PingResponse(77));
        assert_eq!(controls(&sent), [pong]);
        publisher.send(&mut session, type_id::VIDEO, 1, 0, &[0x27; 12_000]);
        let sent = publisher.read(&mut session);
        let received = u32::try_from(session.bytes_received()).unwrap();
        assert_eq!(controls(&sent), [Control::Acknowledgement(received)]);
        // A window of one byte is raised to the minimum, not obeyed.
        publisher.control(&mut session, Control::WindowAckSize(1));
        publisher.send(&mut session, type_id::AUDIO, 1, 0, &[0xAF, 1]);
        assert_eq!(controls(&publisher.read(&mut session)), []);
    }

    #[test]
    fn commands_out_of_order_or_malformed_fail_the_session() {
        type Script = fn(&mut Session, &mut Publisher);
        let cases: [(Script, SessionError); 7] = [
            (
                |s, p| p.publish(s, "k"),
                SessionError::OutOfOrder("a command before connect"),
            ),
            (
                |s, p| {
                    p.connect(s, "live");
                    p.connect(s, "live");
                },
                SessionError::OutOfOrder("a second connect"),
            ),
            (
                |s, p| {
                    p.connect(s, "live");
                    p.publish(s, "k");
                    p.publish(s, "k");
                },
                SessionError::OutOfOrder("a second publish"),
            ),
            (
                |s, p| p.command(s, 0, &["connect".into(), 1.0.into(), Value::Null]),
                SessionError::Malformed("connect (no app)"),
            ),
            (
                |s, p| p.connect(s, &"a".repeat(MAX_NAME_LEN + 1)),
                SessionError::Malformed("connect (app name too long)"),
            ),
            (
                |s, p| {
                    p.connect(s, "live");
                    p.command(
                        s,
                        1,
                        &["publish".into(), 0.0.into(), Value::Null, 5.0.into()],
                    );
                },
                SessionError::Malformed("publish (no stream name)"),
            ),
            (
                |s, p| p.send(s, type_id::COMMAND_AMF0, 0, 0, &[0x02, 0xFF]),
                SessionError::Malformed("command (not AMF0)"),
            ),
        ];
        for (script, want) in cases {
            let (mut session, mut publisher) = handshaken();
            script(&mut session, &mut publisher);
            let got = events(&mut session);
            assert_eq!(
                got.last(),
                Some(&SessionEvent::Failed(want.clone())),
                "{got:?}"
            );
            assert_eq!(session.state(), SessionState::Closed);
            session.handle_input(&[0; 64]);
            assert_eq!(
                session.poll_event(),
                None,
                "input after a failure is ignored"
            );
        }
    }

    #[test]
    fn refuses_messages_larger_than_the_chunk_layer_allows_before_buffering_them() {
        let (mut session, _) = publishing();
        let len = (MAX_INCOMING_MESSAGE as u32 + 1).to_be_bytes();
        session.handle_input(&[0x06, 0, 0, 0, len[1], len[2], len[3], 9, 1, 0, 0, 0]);
        let want = ChunkError::MessageTooLarge(MAX_INCOMING_MESSAGE + 1);
        assert_eq!(events(&mut session), [SessionEvent::Failed(want.into())]);
    }

    #[test]
    fn the_stream_name_never_shows_in_debug_output_or_errors() {
        let (mut session, mut publisher) = handshaken();
        publisher.connect(&mut session, "live");
        publisher.publish(&mut session, "SECRETKEY");
        publisher.publish(&mut session, "SECRETKEY");
        let shown = format!("{session:?} {:?}", events(&mut session));
        assert!(!shown.contains("SECRETKEY"), "{shown}");
        assert!(shown.contains("a second publish"), "{shown}");
    }

    /// xorshift64: reproducible noise without a dependency.
    fn noise(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// A whole publish from C0 on: handshake, connect, createStream, publish, video, with
    /// messages on one chunk stream cut at the default chunk size of 128.
    fn conversation() -> Vec<u8> {
        let (mut hs, c0c1) = Handshake::start(&[1; RANDOM_LEN]);
        let mut server = Session::new(&[9; RANDOM_LEN]);
        server.handle_input(&c0c1);
        let Ok(Progress::Done { c2, .. }) = hs.feed(&server.poll_transmit().unwrap()) else {
            panic!("handshake");
        };
        let mut bytes = [c0c1, c2].concat();
        let mut encoder = ChunkEncoder::new();
        let mut push = |type_id: u8, stream_id: u32, timestamp: u32, payload: &[u8]| {
            let header = MessageHeader {
                type_id,
                stream_id,
                timestamp,
            };
            encoder.encode(csid::COMMAND, header, payload, &mut bytes);
        };
        let props = Value::object([("app", "live".into())]);
        let connect = ["connect".into(), 1.0.into(), props];
        push(20, 0, 0, &amf0::encode_all(&connect));
        let create = ["createStream".into(), 4.0.into(), Value::Null];
        push(20, 0, 0, &amf0::encode_all(&create));
        let publish = ["publish".into(), 5.0.into(), Value::Null, "k".into()];
        push(20, 1, 0, &amf0::encode_all(&publish));
        for i in 0..20u32 {
            push(9, 1, i * 33, &vec![0x27; 300 + i as usize]);
        }
        bytes
    }

    #[test]
    fn the_scripted_conversation_is_valid() {
        let mut session = Session::new(&[9; RANDOM_LEN]);
        session.handle_input(&conversation());
        let got = events(&mut session);
        assert_eq!(got.len(), 2 + 20, "{got:?}");
        assert!(session.is_publishing());
    }

    #[test]
    fn a_conversation_cut_anywhere_ends_in_an_error_at_eof_and_never_panics() {
        let bytes = conversation();
        for cut in (0..bytes.len()).step_by(7) {
            let mut session = Session::new(&[9; RANDOM_LEN]);
            session.handle_input(&bytes[..cut]);
            session.handle_eof();
            let last = events(&mut session).pop();
            assert!(
                matches!(last, Some(SessionEvent::Failed(_))),
                "cut at {cut}: {last:?}"
            );
            assert_eq!(session.state(), SessionState::Closed);
        }
    }

    #[test]
    fn random_bytes_never_panic_and_end_in_an_error() {
        let mut next = noise(0x2545_F491_4F6C_DD1D);
        let valid = conversation();
        // Where the chunk stream starts: after C0+C1 and C2.
        let chunks_start = 1 + 2 * crate::handshake::PACKET_LEN;
        let mut failed_before_eof = 0;
        for round in 0..600 {
            let mut bytes = valid.clone();
            match round % 3 {
                // Noise from the first byte (C0 is rarely 3).
                0 => bytes.iter_mut().for_each(|b| *b = next() as u8),
                // A valid handshake, then noise.
                1 => bytes[chunks_start..]
                    .iter_mut()
                    .for_each(|b| *b = next() as u8),
                // The valid conversation with a few bytes flipped.
                _ => {
                    for _ in 0..1 + next() % 4 {
                        let at = chunks_start + (next() as usize) % (bytes.len() - chunks_start);
                        bytes[at] ^= 1 << (next() % 8);
                    }
                }
            }
            let mut session = Session::new(&[9; RANDOM_LEN]);
            let mut at = 0;
            while at < bytes.len() {
                let step = 1 + (next() as usize) % 700;
                let end = (at + step).min(bytes.len());
                session.handle_input(&bytes[at..end]);
                at = end;
            }
            if session.state() == SessionState::Closed {
                failed_before_eof += 1;
            }
            session.handle_eof();
            let got = events(&mut session);
            assert!(
                matches!(got.last(), Some(SessionEvent::Failed(_))),
                "round {round}: {:?}",
                got.last()
            );
            assert_eq!(
                got.iter()
                    .filter(|e| matches!(e, SessionEvent::Failed(_)))
                    .count(),
                1,
                "round {round}: one failure, once"
            );
        }
        // Most noisy inputs are refused as they arrive, not only at the end.
        assert!(failed_before_eof > 300, "{failed_before_eof}");
    }

    #[test]
    fn role_of_reads_flv_headers_keyframes_and_enhanced_rtmp() {
        let cases: [(TagKind, &[u8], Role); 17] = [
            (TagKind::Video, &[0x17, 0], Role::Header),
            (TagKind::Video, &[0x17, 1], Role::Keyframe),
            (TagKind::Video, &[0x27, 1], Role::Inter),
            (TagKind::Video, &[], Role::Inter),
            // AVC end of sequence, as ffmpeg's FLV muxer ends every H.264 stream.
            (TagKind::Video, &[0x17, 2, 0, 0, 0], Role::Header),
            // A video command frame (frame type 5), and a keyframe of another codec (VP6).
            (TagKind::Video, &[0x57, 0], Role::Header),
            (TagKind::Video, &[0x14, 0xAA], Role::Keyframe),
            // Enhanced RTMP: HEVC sequence start, coded frames of a keyframe and an inter frame.
            (
                TagKind::Video,
                &[0x90, b'h', b'v', b'c', b'1'],
                Role::Header,
            ),
            (
                TagKind::Video,
                &[0x91, b'h', b'v', b'c', b'1'],
                Role::Keyframe,
            ),
            (TagKind::Video, &[0xA1, b'h', b'v', b'c', b'1'], Role::Inter),
            (
                TagKind::Video,
                &[0x92, b'h', b'v', b'c', b'1'],
                Role::Header,
            ), // SequenceEnd
            (TagKind::Audio, &[0xAF, 0, 0x11], Role::Header),
            (TagKind::Audio, &[0xAF, 1, 0x21], Role::Audio),
            (TagKind::Audio, &[0x2F, 0], Role::Audio), // MP3 has no sequence header
            (
                TagKind::Audio,
                &[0x90, b'O', b'p', b'u', b's'],
                Role::Header,
            ),
            (TagKind::Audio, &[0x91, b'O', b'p', b'u', b's'], Role::Audio),
            (TagKind::Script, &[], Role::Header),
        ];
        for (kind, body, want) in cases {
            assert_eq!(role_of(kind, body), want, "{kind:?} {body:x?}");
        }
    }
}
