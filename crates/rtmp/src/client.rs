//! The publish client: what OBS says to a platform, as a state machine without I/O.
//!
//! Bytes from the server go in ([`Client::handle_input`]); bytes for the server come out of
//! [`Client::poll_transmit`]; what happened comes out of [`Client::poll_event`]. No socket, no
//! clock: the handshake's random bytes are an input, and timeouts belong to the driver.
//!
//! The conversation, as OBS (librtmp) and ffmpeg have it with every platform:
//! 1. handshake (C0/C1 → S0/S1/S2 → C2), then Set Chunk Size and `connect(app, tcUrl, ...)`;
//! 2. on `_result` of connect: `releaseStream(key)`, `FCPublish(key)`, `createStream`;
//! 3. on `_result` of createStream (the stream id): `publish(key, "live")` on that stream;
//! 4. on `onStatus NetStream.Publish.Start`: media may flow. FLV tags become audio (8) and
//!    video (9) messages, and onMetaData a data message prefixed with `@setDataFrame`;
//! 5. [`Client::close`]: `FCUnpublish` and `deleteStream`, so the platform ends the stream at
//!    once instead of waiting for a timeout.
//!
//! Meanwhile the client answers pings, acknowledges the server's window and follows its chunk
//! size. A refusal (`_error`, or an `onStatus` of level `error` such as
//! `NetStream.Publish.BadName`) ends the session with [`ClientError::Refused`], which carries
//! the status code and never the description: servers echo the key in descriptions.

use std::collections::VecDeque;

use streamhard_media::amf0::{self, Value};
use streamhard_media::flv::{Tag, TagKind};

use crate::chunk::{ChunkError, MAX_MESSAGE_LEN, Message, MessageHeader};
use crate::connection::Connection;
use crate::handshake::{Handshake, HandshakeError, Progress, RANDOM_LEN};
use crate::message::{Control, MessageError, UserControl, csid, type_id};
use crate::url::RtmpUrl;

/// Our chunk size: large chunks mean few chunk headers per video frame. OBS uses 4096 too.
pub const OUTGOING_CHUNK_SIZE: u32 = 4096;
/// Acknowledgement window assumed until the server sets one (librtmp's default).
const DEFAULT_WINDOW: u32 = 2_500_000;
/// The Flash version string of FMLE, which platforms recognise as an encoder.
pub const FLASH_VERSION: &str = "FMLE/3.0 (compatible; FMSc/1.0)";
/// Status codes longer than this are not status codes.
const MAX_CODE_LEN: usize = 80;

/// Transaction ids of our commands, so replies can be told apart.
mod txn {
    pub const CONNECT: f64 = 1.0;
    pub const RELEASE_STREAM: f64 = 2.0;
    pub const FC_PUBLISH: f64 = 3.0;
    pub const CREATE_STREAM: f64 = 4.0;
    pub const PUBLISH: f64 = 5.0;
    pub const FC_UNPUBLISH: f64 = 6.0;
    pub const DELETE_STREAM: f64 = 7.0;
}

/// Why a session ended. Never contains the stream key or the URL.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("chunk stream: {0}")]
    Chunk(#[from] ChunkError),
    #[error("control message: {0}")]
    Control(#[from] MessageError),
    /// The server refused a command: its status code (e.g. `NetConnection.Connect.Rejected`,
    /// `NetStream.Publish.BadName`).
    #[error("the server refused {command}: {code}")]
    Refused { command: &'static str, code: String },
    #[error("the server sent a malformed {0}")]
    Malformed(&'static str),
    #[error("media can only be sent while publishing")]
    NotPublishing,
    #[error("a {0}-byte tag is larger than an RTMP message can be")]
    TagTooLarge(usize),
}

/// What the session reports to its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `NetStream.Publish.Start`: media may flow.
    Publishing,
    /// An informational `onStatus` after publishing started (e.g. `NetStream.Publish.Idle`).
    Status { code: String },
    /// The server refused or broke the protocol; the connection is unusable.
    Failed(ClientError),
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Handshaking,
    Connecting,
    CreatingStream,
    StartingPublish,
    Publishing,
    Closed,
}

/// An RTMP publish session to one URL.
pub struct Client {
    url: RtmpUrl,
    state: State,
    handshake: Handshake,
    conn: Connection,
    events: VecDeque<Event>,
    /// The message stream `createStream` gave us.
    stream_id: u32,
    /// The window we last announced, so Set Peer Bandwidth is answered only on a change.
    announced_window: Option<u32>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("state", &self.state)
            .field("stream_id", &self.stream_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a publish session to `url`; C0+C1 are ready in [`Self::poll_transmit`].
    /// `random` fills C1 (any bytes do; the runtime passes random ones as the spec asks).
    pub fn new(url: RtmpUrl, random: &[u8; RANDOM_LEN]) -> Self {
        let (handshake, c0c1) = Handshake::start(random);
        Self {
            url,
            state: State::Handshaking,
            handshake,
            conn: Connection::new(c0c1, DEFAULT_WINDOW),
            events: VecDeque::new(),
            stream_id: 0,
            announced_window: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_publishing(&self) -> bool {
        self.state == State::Publishing
    }

    /// Bytes for the server, all that are pending; `None` when there are none.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.conn.poll_transmit()
    }

    /// Bytes produced but not yet taken by [`Self::poll_transmit`].
    pub fn pending_bytes(&self) -> usize {
        self.conn.pending_bytes()
    }

    /// Bytes handed out by [`Self::poll_transmit`] so far.
    pub fn bytes_transmitted(&self) -> u64 {
        self.conn.bytes_transmitted()
    }

    /// Bytes received from the server so far.
    pub fn bytes_received(&self) -> u64 {
        self.conn.bytes_received()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Feeds bytes read from the server. Errors surface as [`Event::Failed`]; after one, or
    /// after [`Self::close`], input is ignored.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        self.conn.count_received(data.len());
        if let Err(e) = self.process(data) {
            self.fail(e);
        }
    }

    /// Queues one FLV tag. Script tags (onMetaData) go as `@setDataFrame` data messages.
    pub fn send_tag(&mut self, tag: &Tag) -> Result<(), ClientError> {
        if self.state != State::Publishing {
            return Err(ClientError::NotPublishing);
        }
        let (chunk_stream, type_id) = match tag.kind {
            TagKind::Audio => (csid::AUDIO, type_id::AUDIO),
            TagKind::Video => (csid::VIDEO, type_id::VIDEO),
            TagKind::Script => (csid::DATA, type_id::DATA_AMF0),
        };
        let header = MessageHeader {
            type_id,
            stream_id: self.stream_id,
            timestamp: tag.timestamp.ms(),
        };
        if tag.kind == TagKind::Script {
            let mut payload = amf0::encode_all(&["@setDataFrame".into()]);
            payload.extend_from_slice(&tag.body);
            if payload.len() > MAX_MESSAGE_LEN {
                return Err(ClientError::TagTooLarge(payload.len()));
            }
            self.conn
                .encoder
                .encode(chunk_stream, header, &payload, &mut self.conn.out);
        } else {
            if tag.body.len() > MAX_MESSAGE_LEN {
                return Err(ClientError::TagTooLarge(tag.body.len()));
            }
            self.conn
                .encoder
                .encode(chunk_stream, header, &tag.body, &mut self.conn.out);
        }
        Ok(())
    }

    /// Ends publishing politely (`FCUnpublish`, `deleteStream`). Send what
    /// [`Self::poll_transmit`] returns, then close the connection.
    pub fn close(&mut self) {
        if matches!(self.state, State::StartingPublish | State::Publishing) {
            let key = self.url.stream_key().expose().to_owned();
            self.command(
                0,
                &[
                    "FCUnpublish".into(),
                    txn::FC_UNPUBLISH.into(),
                    Value::Null,
                    key.into(),
                ],
            );
            let stream = f64::from(self.stream_id);
            self.command(
                0,
                &[
                    "deleteStream".into(),
                    txn::DELETE_STREAM.into(),
                    Value::Null,
                    stream.into(),
                ],
            );
        }
        self.state = State::Closed;
    }

    fn fail(&mut self, e: ClientError) {
        self.state = State::Closed;
        self.events.push_back(Event::Failed(e));
    }

    fn process(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let data = if self.state == State::Handshaking {
            match self.handshake.feed(data)? {
                Progress::NeedMore => return Ok(()),
                Progress::Done { c2, consumed } => {
                    self.conn.out.extend_from_slice(&c2);
                    self.state = State::Connecting;
                    self.send_connect();
                    &data[consumed..]
                }
            }
        } else {
            data
        };
        self.conn.decoder.push(data);
        while let Some(message) = self.conn.decoder.next_message()? {
            self.on_message(message)?;
            if self.state == State::Closed {
                return Ok(());
            }
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

    fn send_connect(&mut self) {
        // Set Chunk Size goes out in the old size; everything after uses the new one.
        self.control(Control::SetChunkSize(OUTGOING_CHUNK_SIZE));
        self.conn.encoder.set_chunk_size(OUTGOING_CHUNK_SIZE);
        let tc_url = self.url.tc_url();
        let properties = Value::object([
            ("app", Value::from(self.url.app())),
            ("type", "nonprivate".into()),
            ("flashVer", FLASH_VERSION.into()),
            ("swfUrl", tc_url.as_str().into()),
            ("tcUrl", tc_url.as_str().into()),
        ]);
        self.command(0, &["connect".into(), txn::CONNECT.into(), properties]);
    }

    fn on_message(&mut self, message: Message) -> Result<(), ClientError> {
        if self.conn.decoder.apply_control(&message)? {
            return Ok(());
        }
        let kind = message.header.type_id;
        if let Some(control) = Control::decode(kind, &message.payload)? {
            self.on_control(control);
            return Ok(());
        }
        if kind == type_id::COMMAND_AMF0 {
            let values = amf0::decode_all(&message.payload)
                .map_err(|_| ClientError::Malformed("command (not AMF0)"))?;
            self.on_command(&values)?;
        }
        // Data and media messages mean nothing to a publisher.
        Ok(())
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::WindowAckSize(size) => self.conn.set_window(size),
            // The spec asks the receiver to answer with its window when it changes.
            Control::SetPeerBandwidth { size, .. } if self.announced_window != Some(size) => {
                self.announced_window = Some(size);
                self.control(Control::WindowAckSize(size));
            }
            Control::UserControl(UserControl::PingRequest(time)) => {
                self.control(Control::UserControl(UserControl::PingResponse(time)));
            }
            // Chunk size and abort were applied by the decoder; acknowledgements, stream
            // begin and the rest need nothing from a publisher.
            _ => {}
        }
    }

    fn on_command(&mut self, values: &[Value]) -> Result<(), ClientError> {
        let name = values.first().and_then(Value::as_str).unwrap_or_default();
        let transaction = values.get(1).and_then(Value::as_f64).unwrap_or(0.0);
        let info = values.get(3);
        match (name, self.state) {
            ("_result", State::Connecting) if transaction == txn::CONNECT => {
                let key = self.url.stream_key().expose().to_owned();
                let release = txn::RELEASE_STREAM.into();
                self.command(
                    0,
                    &[
                        "releaseStream".into(),
                        release,
                        Value::Null,
                        key.as_str().into(),
                    ],
                );
                let fc_publish = txn::FC_PUBLISH.into();
                self.command(
                    0,
                    &[
                        "FCPublish".into(),
                        fc_publish,
                        Value::Null,
                        key.as_str().into(),
                    ],
                );
                self.command(
                    0,
                    &[
                        "createStream".into(),
                        txn::CREATE_STREAM.into(),
                        Value::Null,
                    ],
                );
                self.state = State::CreatingStream;
            }
            ("_result", State::CreatingStream) if transaction == txn::CREATE_STREAM => {
                let id = info
                    .and_then(Value::as_f64)
                    .ok_or(ClientError::Malformed("createStream result (no stream id)"))?;
                // A stream id is a small positive integer; anything else is a broken server.
                if !(id >= 1.0 && id <= f64::from(u32::MAX) && id.fract() == 0.0) {
                    return Err(ClientError::Malformed(
                        "createStream result (bad stream id)",
                    ));
                }
                self.stream_id = id as u32;
                let key = self.url.stream_key().expose().to_owned();
                let publish = [
                    "publish".into(),
                    txn::PUBLISH.into(),
                    Value::Null,
                    key.into(),
                    "live".into(),
                ];
                self.command(self.stream_id, &publish);
                self.state = State::StartingPublish;
            }
            ("_error", _) => {
                let command = match transaction {
                    t if t == txn::CONNECT => "connect",
                    t if t == txn::CREATE_STREAM => "createStream",
                    t if t == txn::PUBLISH => "publish",
                    // releaseStream and FCPublish are FMS extensions that many servers answer
                    // with an error; OBS and ffmpeg carry on, and so do we.
                    _ => return Ok(()),
                };
                let code = self.status_code(info);
                return Err(ClientError::Refused { command, code });
            }
            ("onStatus", _) => {
                let level = info.and_then(|i| i.get("level")).and_then(Value::as_str);
                let code = self.status_code(info);
                if level == Some("error") {
                    return Err(ClientError::Refused {
                        command: "publish",
                        code,
                    });
                }
                if code == "NetStream.Publish.Start" && self.state == State::StartingPublish {
                    self.state = State::Publishing;
                    self.events.push_back(Event::Publishing);
                } else if self.state == State::Publishing {
                    self.events.push_back(Event::Status { code });
                }
            }
            // onBWDone, onFCPublish, _result of releaseStream/FCPublish, _checkbw, ...
            _ => {}
        }
        Ok(())
    }

    /// The `code` of a status object, if it looks like one; a server can put anything there,
    /// including the key it was given, and this string ends up in logs and the API.
    fn status_code(&self, info: Option<&Value>) -> String {
        let code = info
            .and_then(|i| i.get("code"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = self.url.stream_key().expose();
        let plausible = !code.is_empty()
            && code.len() <= MAX_CODE_LEN
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            && !code.contains(key);
        if plausible {
            code.to_owned()
        } else {
            "(no status code)".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{ChunkDecoder, ChunkEncoder};
    use crate::handshake::PACKET_LEN;
    use bytes::Bytes;
    use streamhard_media::flv::{FlvTime, Role};

    /// A scripted server: decodes what the client sends, encodes replies.
    struct Server {
        decoder: ChunkDecoder,
        encoder: ChunkEncoder,
    }

    impl Server {
        fn new() -> Self {
            Self {
                decoder: ChunkDecoder::new(),
                encoder: ChunkEncoder::new(),
            }
        }

        /// Everything the client has sent since the last read, as messages.
        fn read(&mut self, client: &mut Client) -> Vec<Message> {
            let bytes = client.poll_transmit().unwrap_or_default();
            self.decoder.push(&bytes);
            let mut out = Vec::new();
            while let Some(m) = self.decoder.next_message().unwrap() {
                self.decoder.apply_control(&m).unwrap();
                out.push(m);
            }
            out
        }

        fn send(&mut self, client: &mut Client, csid: u32, type_id: u8, payload: &[u8]) {
            let mut bytes = Vec::new();
            let header = MessageHeader {
                type_id,
                stream_id: 0,
                timestamp: 0,
            };
            self.encoder.encode(csid, header, payload, &mut bytes);
            client.handle_input(&bytes);
        }

        fn control(&mut self, client: &mut Client, control: Control) {
            self.send(client, 2, control.type_id(), &control.encode());
        }

        fn reply(&mut self, client: &mut Client, values: &[Value]) {
            self.send(client, 3, type_id::COMMAND_AMF0, &amf0::encode_all(values));
        }
    }

    fn commands(messages: &[Message]) -> Vec<Vec<Value>> {
        messages
            .iter()
            .filter(|m| m.header.type_id == type_id::COMMAND_AMF0)
            .map(|m| amf0::decode_all(&m.payload).unwrap())
            .collect()
    }

    fn command_names(messages: &[Message]) -> Vec<String> {
        let names = commands(messages)
            .into_iter()
            .map(|c| c[0].as_str().map(str::to_owned));
        names.map(Option::unwrap).collect()
    }

    fn status(level: &str, code: &str) -> Value {
        Value::object([("level", level.into()), ("code", code.into())])
    }

    /// A client past the handshake, with its C2 and connect waiting in the output.
    fn handshaken(url: &str) -> (Client, Server) {
        let mut client = Client::new(RtmpUrl::parse(url).unwrap(), &[1; RANDOM_LEN]);
        let c0c1 = client.poll_transmit().unwrap();
        assert_eq!(c0c1.len(), 1 + PACKET_LEN);
        let mut s0s1s2 = vec![3];
        s0s1s2.extend_from_slice(&[9; PACKET_LEN]);
        s0s1s2.extend_from_slice(&c0c1[1..]);
        client.handle_input(&s0s1s2);
        assert_eq!(client.state(), State::Connecting);
        let mut out = client.poll_transmit().unwrap();
        assert_eq!(&out[..PACKET_LEN], &[9; PACKET_LEN][..], "C2 echoes S1");
        // Put the rest (Set Chunk Size, connect) back for the server to read.
        client.conn.out = out.split_off(PACKET_LEN);
        (client, Server::new())
    }

    fn published() -> (Client, Server) {
        let (mut client, mut server) = handshaken("rtmp://example.com/live/SECRET");
        server.read(&mut client);
        let ok = status("status", "NetConnection.Connect.Success");
        server.reply(
            &mut client,
            &["_result".into(), 1.0.into(), Value::Null, ok],
        );
        server.read(&mut client);
        server.reply(
            &mut client,
            &["_result".into(), 4.0.into(), Value::Null, 1.0.into()],
        );
        server.read(&mut client);
        let start = status("status", "NetStream.Publish.Start");
        server.reply(
            &mut client,
            &["onStatus".into(), 0.0.into(), Value::Null, start],
        );
        assert_eq!(client.poll_event(), Some(Event::Publishing));
        (client, server)
    }

    fn tag(kind: TagKind, timestamp: u32, body: &'static [u8]) -> Tag {
        let role = match kind {
            TagKind::Audio => Role::Audio,
            _ => Role::Inter,
        };
        Tag {
            kind,
            role,
            timestamp: FlvTime::from_ms(timestamp),
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn publishes_with_the_command_sequence_obs_uses() {
        let (mut client, mut server) = handshaken("rtmp://example.com/live/SECRET?x=1");
        let sent = server.read(&mut client);
        assert_eq!(sent[0].header.type_id, type_id::SET_CHUNK_SIZE);
        assert_eq!(sent[0].payload, OUTGOING_CHUNK_SIZE.to_be_bytes());
        assert_eq!(command_names(&sent), ["connect"]);
        let connect = &commands(&sent)[0];
        assert_eq!(connect[1].as_f64(), Some(1.0));
        let props = &connect[2];
        let prop = |key: &str| props.get(key).and_then(Value::as_str);
        assert_eq!(prop("app"), Some("live"));
        assert_eq!(prop("type"), Some("nonprivate"));
        assert_eq!(prop("flashVer"), Some("FMLE/3.0 (compatible; FMSc/1.0)"));
        assert_eq!(prop("tcUrl"), Some("rtmp://example.com/live"));
        assert_eq!(prop("swfUrl"), Some("rtmp://example.com/live"));

        let ok = status("status", "NetConnection.Connect.Success");
        server.reply(
            &mut client,
            &["_result".into(), 1.0.into(), Value::Null, ok],
        );
        let sent = server.read(&mut client);
        assert_eq!(
            command_names(&sent),
            ["releaseStream", "FCPublish", "createStream"]
        );
        for command in &commands(&sent)[..2] {
            assert_eq!(command[3].as_str(), Some("SECRET?x=1"));
        }
        assert_eq!(client.state(), State::CreatingStream);

        // Replies to releaseStream and FCPublish change nothing.
        server.reply(&mut client, &["_result".into(), 2.0.into(), Value::Null]);
        server.reply(
            &mut client,
            &["onFCPublish".into(), 0.0.into(), Value::Null],
        );
        assert!(server.read(&mut client).is_empty());

        server.reply(
            &mut client,
            &["_result".into(), 4.0.into(), Value::Null, 7.0.into()],
        );
        let sent = server.read(&mut client);
        assert_eq!(command_names(&sent), ["publish"]);
        let publish = &commands(&sent)[0];
        assert_eq!(publish[3].as_str(), Some("SECRET?x=1"));
        assert_eq!(publish[4].as_str(), Some("live"));
        assert_eq!(
            sent[0].header.stream_id, 7,
            "publish goes on the created stream"
        );
        assert_eq!(client.poll_event(), None);

        let start = status("status", "NetStream.Publish.Start");
        server.reply(
            &mut client,
            &["onStatus".into(), 0.0.into(), Value::Null, start],
        );
        assert_eq!(client.poll_event(), Some(Event::Publishing));
        assert!(client.is_publishing());
    }

    #[test]
    fn sends_media_as_messages_8_and_9_and_metadata_as_set_data_frame() {
        let (mut client, mut server) = published();
        client
            .send_tag(&tag(TagKind::Script, 0, b"\x02\x00\x0aonMetaData"))
            .unwrap();
        client
            .send_tag(&tag(TagKind::Video, 33, &[0x17, 1, 0, 0, 0]))
            .unwrap();
        client
            .send_tag(&tag(TagKind::Audio, 0x0100_0000, &[0xAF, 1, 9]))
            .unwrap();
        let sent = server.read(&mut client);
        let got: Vec<_> = sent
            .iter()
            .map(|m| (m.header.type_id, m.header.timestamp, m.header.stream_id))
            .collect();
        assert_eq!(got, [(18, 0, 1), (9, 33, 1), (8, 0x0100_0000, 1)]);
        let data = amf0::decode_all(&sent[0].payload).unwrap();
        assert_eq!(data[0].as_str(), Some("@setDataFrame"));
        assert_eq!(data[1].as_str(), Some("onMetaData"));
        assert_eq!(sent[1].payload, [0x17, 1, 0, 0, 0]);
        assert_eq!(sent[2].payload, [0xAF, 1, 9]);
    }

    #[test]
    fn media_goes_on_its_own_chunk_stream_per_type() {
        let (mut client, mut server) = published();
        server.read(&mut client);
        client
            .send_tag(&tag(TagKind::Audio, 0, &[0xAF, 1]))
            .unwrap();
        client
            .send_tag(&tag(TagKind::Video, 0, &[0x27, 1]))
            .unwrap();
        client
            .send_tag(&tag(TagKind::Script, 0, b"\x02\x00\x01x"))
            .unwrap();
        let bytes = client.poll_transmit().unwrap();
        // Each message is a single type 0 chunk whose first byte is the chunk stream id.
        let audio = 0;
        let video = audio + 12 + 2;
        let data = video + 12 + 2;
        assert_eq!([bytes[audio], bytes[video], bytes[data]], [4, 6, 5]);
    }

    #[test]
    fn refuses_media_before_publishing_and_tags_too_large_for_a_message() {
        let (mut client, _) = handshaken("rtmp://h/live/k");
        let audio = tag(TagKind::Audio, 0, &[0xAF, 1]);
        assert_eq!(client.send_tag(&audio), Err(ClientError::NotPublishing));
        let (mut client, _) = published();
        let huge = Tag {
            body: Bytes::from(vec![0; MAX_MESSAGE_LEN + 1]),
            ..audio
        };
        assert_eq!(
            client.send_tag(&huge),
            Err(ClientError::TagTooLarge(MAX_MESSAGE_LEN + 1))
        );
    }

    #[test]
    fn closing_sends_fcunpublish_and_delete_stream_then_ignores_everything() {
        let (mut client, mut server) = published();
        server.read(&mut client);
        client.close();
        let sent = server.read(&mut client);
        assert_eq!(command_names(&sent), ["FCUnpublish", "deleteStream"]);
        let delete = &commands(&sent)[1];
        assert_eq!(delete[3].as_f64(), Some(1.0));
        let audio = tag(TagKind::Audio, 0, &[0xAF, 1]);
        assert_eq!(client.send_tag(&audio), Err(ClientError::NotPublishing));
        server.control(
            &mut client,
            Control::UserControl(UserControl::PingRequest(1)),
        );
        assert_eq!(client.poll_transmit(), None);
    }

    #[test]
    fn a_refused_connect_fails_with_the_code_but_not_the_key() {
        let (mut client, mut server) = handshaken("rtmp://example.com/live/SECRET");
        server.read(&mut client);
        let bad = Value::object([
            ("level", "error".into()),
            ("code", "NetConnection.Connect.Rejected".into()),
            ("description", "stream SECRET rejected".into()),
        ]);
        server.reply(
            &mut client,
            &["_error".into(), 1.0.into(), Value::Null, bad],
        );
        let Some(Event::Failed(e)) = client.poll_event() else {
            panic!("no failure");
        };
        let want = ClientError::Refused {
            command: "connect",
            code: "NetConnection.Connect.Rejected".into(),
        };
        assert_eq!(e, want);
        assert!(!e.to_string().contains("SECRET") && !format!("{e:?}").contains("SECRET"));
        assert_eq!(client.state(), State::Closed);
    }

    #[test]
    fn a_bad_name_status_fails_the_publish() {
        let (mut client, mut server) = handshaken("rtmp://example.com/live/SECRET");
        server.read(&mut client);
        server.reply(
            &mut client,
            &["_result".into(), 1.0.into(), Value::Null, Value::Null],
        );
        server.reply(
            &mut client,
            &["_result".into(), 4.0.into(), Value::Null, 1.0.into()],
        );
        let bad = status("error", "NetStream.Publish.BadName");
        server.reply(
            &mut client,
            &["onStatus".into(), 0.0.into(), Value::Null, bad],
        );
        let want = ClientError::Refused {
            command: "publish",
            code: "NetStream.Publish.BadName".into(),
        };
        assert_eq!(client.poll_event(), Some(Event::Failed(want)));
    }

    #[test]
    fn errors_for_release_stream_and_fc_publish_are_not_fatal() {
        let (mut client, mut server) = handshaken("rtmp://h/live/k");
        server.read(&mut client);
        server.reply(
            &mut client,
            &["_result".into(), 1.0.into(), Value::Null, Value::Null],
        );
        let err = status("error", "NetConnection.Call.Failed");
        server.reply(
            &mut client,
            &["_error".into(), 2.0.into(), Value::Null, err.clone()],
        );
        server.reply(
            &mut client,
            &["_error".into(), 3.0.into(), Value::Null, err],
        );
        assert_eq!(client.poll_event(), None);
        assert_eq!(client.state(), State::CreatingStream);
    }

    #[test]
    fn a_status_code_that_is_not_one_is_never_repeated() {
        let (mut client, mut server) = handshaken("rtmp://h/live/SECRETKEY");
        server.read(&mut client);
        let echo = status("error", "NetStream.Publish.BadName.SECRETKEY");
        server.reply(
            &mut client,
            &["_error".into(), 1.0.into(), Value::Null, echo],
        );
        let Some(Event::Failed(ClientError::Refused { code, .. })) = client.poll_event() else {
            panic!("no refusal");
        };
        assert_eq!(code, "(no status code)");
    }

    #[test]
    fn reports_informational_status_after_publishing_started() {
        let (mut client, mut server) = published();
        let idle = status("status", "NetStream.Publish.Idle");
        server.reply(
            &mut client,
            &["onStatus".into(), 0.0.into(), Value::Null, idle],
        );
        let want = Event::Status {
            code: "NetStream.Publish.Idle".into(),
        };
        assert_eq!(client.poll_event(), Some(want));
    }

    #[test]
    fn answers_pings_and_acknowledges_the_servers_window() {
        let (mut client, mut server) = published();
        server.read(&mut client);
        server.control(&mut client, Control::WindowAckSize(5000));
        server.control(
            &mut client,
            Control::UserControl(UserControl::PingRequest(42)),
        );
        let sent = server.read(&mut client);
        let pong = Control::UserControl(UserControl::PingResponse(42));
        assert!(
            sent.iter()
                .any(|m| Control::decode(m.header.type_id, &m.payload) == Ok(Some(pong)))
        );
        assert!(
            !sent
                .iter()
                .any(|m| m.header.type_id == type_id::ACKNOWLEDGEMENT)
        );
        // Push past the 5000-byte window with a harmless command: an acknowledgement follows.
        let filler = "x".repeat(5000);
        server.reply(
            &mut client,
            &["onBWDone".into(), 0.0.into(), Value::Null, filler.into()],
        );
        let sent = server.read(&mut client);
        let ack = sent
            .iter()
            .find(|m| m.header.type_id == type_id::ACKNOWLEDGEMENT)
            .unwrap();
        let received = u32::try_from(client.bytes_received()).unwrap();
        assert_eq!(ack.payload, received.to_be_bytes());
    }

    #[test]
    fn answers_set_peer_bandwidth_with_its_window_once_per_change() {
        let (mut client, mut server) = handshaken("rtmp://h/live/k");
        server.read(&mut client);
        let bandwidth = |size| Control::SetPeerBandwidth {
            size,
            limit: crate::message::LimitType::Dynamic,
        };
        server.control(&mut client, bandwidth(2_500_000));
        server.control(&mut client, bandwidth(2_500_000));
        server.control(&mut client, bandwidth(5_000_000));
        let sent = server.read(&mut client);
        let windows: Vec<_> = sent
            .iter()
            .filter_map(|m| Control::decode(m.header.type_id, &m.payload).ok().flatten())
            .collect();
        let want = [
            Control::WindowAckSize(2_500_000),
            Control::WindowAckSize(5_000_000),
        ];
        assert_eq!(windows, want);
    }

    #[test]
    fn follows_the_servers_chunk_size() {
        let (mut client, mut server) = handshaken("rtmp://h/live/k");
        server.read(&mut client);
        server.control(&mut client, Control::SetChunkSize(16));
        server.encoder.set_chunk_size(16);
        let ok = status(
            "status",
            &format!("NetConnection.Connect.Success{}", "_".repeat(40)),
        );
        server.reply(
            &mut client,
            &["_result".into(), 1.0.into(), Value::Null, ok],
        );
        assert_eq!(client.state(), State::CreatingStream);
    }

    #[test]
    fn refuses_a_stream_id_that_is_not_a_small_positive_integer() {
        for id in [f64::NAN, -1.0, 0.0, 1.5, 1e12, f64::INFINITY] {
            let (mut client, mut server) = handshaken("rtmp://h/live/k");
            server.read(&mut client);
            server.reply(
                &mut client,
                &["_result".into(), 1.0.into(), Value::Null, Value::Null],
            );
            server.reply(
                &mut client,
                &["_result".into(), 4.0.into(), Value::Null, id.into()],
            );
            let want = ClientError::Malformed("createStream result (bad stream id)");
            assert_eq!(client.poll_event(), Some(Event::Failed(want)), "{id}");
        }
    }

    #[test]
    fn hostile_server_bytes_fail_the_session_instead_of_panicking() {
        let cases: [&[u8]; 4] = [
            // A command that is not AMF0.
            &[0x03, 0, 0, 0, 0, 0, 2, 20, 0, 0, 0, 0, 0x11, 0x22],
            // Set Chunk Size 0.
            &[0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            // A truncated Window Ack Size.
            &[0x02, 0, 0, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0],
            // A type 1 chunk on a chunk stream never started.
            &[0x45, 0, 0, 0, 0, 0, 1, 20, 0],
        ];
        for bytes in cases {
            let (mut client, mut server) = handshaken("rtmp://h/live/k");
            server.read(&mut client);
            client.handle_input(bytes);
            assert!(
                matches!(client.poll_event(), Some(Event::Failed(_))),
                "{bytes:?}"
            );
            assert_eq!(client.state(), State::Closed);
        }
    }

    #[test]
    fn counts_the_bytes_it_hands_out() {
        let (mut client, mut server) = published();
        let before = client.bytes_transmitted();
        client
            .send_tag(&tag(TagKind::Audio, 0, &[0xAF, 1, 2, 3]))
            .unwrap();
        assert_eq!(client.pending_bytes(), 12 + 4);
        server.read(&mut client);
        assert_eq!(client.bytes_transmitted() - before, 16);
        assert_eq!(client.pending_bytes(), 0);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let (client, _) = handshaken("rtmp://user:pass@h/live/SECRET");
        let shown = format!("{client:?}");
        assert!(
            shown.contains("rtmp://h/live/…") && !shown.contains("SECRET"),
            "{shown}"
        );
        assert!(!shown.contains("pass"), "{shown}");
    }
}
