//! The crate's own publish client against its server session, through in-memory byte pipes:
//! the whole conversation, then every tag the client sends must come out of the session
//! unchanged (kind, role, timestamp, body), whatever way the bytes are split on the way.
//!
//! Both ends share the chunk codec, so this alone could hide a bug they agree on; the ffmpeg
//! test (`server_from_ffmpeg.rs`) and the nginx test of the client cover that.

use bytes::Bytes;
use streamhard_media::flv::{self, FlvTime, Metadata, Role, Tag, TagKind};
use streamhard_rtmp::chunk::ChunkDecoder;
use streamhard_rtmp::client::OUTGOING_CHUNK_SIZE;
use streamhard_rtmp::handshake::PACKET_LEN;
use streamhard_rtmp::message::Control;
use streamhard_rtmp::server::ACK_WINDOW;
use streamhard_rtmp::{Client, Event, RANDOM_LEN, RtmpUrl, Session, SessionEvent, SessionState};
use streamhard_testkit::flv_source::FlvMedia;

/// Both ends, and how many bytes at most each pipe carries per delivery.
struct Pipes {
    client: Client,
    session: Session,
    step: usize,
    events: Vec<SessionEvent>,
    /// Everything the session sent, to inspect afterwards.
    from_session: Vec<u8>,
}

impl Pipes {
    fn new(url: &str, step: usize) -> Self {
        let url = RtmpUrl::parse(url).unwrap();
        Self {
            client: Client::new(url, &[3; RANDOM_LEN]),
            session: Session::new(&[4; RANDOM_LEN]),
            step,
            events: Vec::new(),
            from_session: Vec::new(),
        }
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            if let Some(bytes) = self.client.poll_transmit() {
                for piece in bytes.chunks(self.step) {
                    self.session.handle_input(piece);
                }
                moved = true;
            }
            if let Some(bytes) = self.session.poll_transmit() {
                self.from_session.extend_from_slice(&bytes);
                for piece in bytes.chunks(self.step) {
                    self.client.handle_input(piece);
                }
                moved = true;
            }
            self.events
                .extend(std::iter::from_fn(|| self.session.poll_event()));
            if !moved {
                return;
            }
        }
    }

    fn publish(url: &str, step: usize) -> Self {
        let mut pipes = Self::new(url, step);
        pipes.pump();
        assert_eq!(pipes.client.poll_event(), Some(Event::Publishing));
        pipes
    }

    fn send(&mut self, tags: &[Tag]) {
        for tag in tags {
            self.client.send_tag(tag).expect("send tag");
            // Deliver now and then, as a socket would.
            if self.client.pending_bytes() > 64 * 1024 {
                self.pump();
            }
        }
        self.pump();
    }

    fn tags(&self) -> Vec<Tag> {
        let media = self.events.iter().filter_map(|e| match e {
            SessionEvent::Media(tag) => Some(tag.clone()),
            _ => None,
        });
        media.collect()
    }
}

/// Tags exercising every path: metadata bigger than a chunk, sequence headers, video frames
/// spanning several chunks, and timestamps past 0xFFFFFF in every form the chunk layer has —
/// an extended absolute timestamp on a type 0 header repeated on its continuation chunks
/// (the metadata, first on its chunk stream; the video frame going back in time), an
/// extended delta (the jump to near 2^32), and small deltas summing past 24 bits.
fn varied_tags() -> Vec<Tag> {
    let meta = Metadata {
        width: 1280,
        height: 720,
        encoder: "x".repeat(2 * OUTGOING_CHUNK_SIZE as usize),
        ..Metadata::default()
    };
    let big: Vec<u8> = (0..3 * OUTGOING_CHUNK_SIZE + 17).map(|i| i as u8).collect();
    vec![
        flv::metadata(FlvTime::from_ms(0x0100_0000), &meta),
        flv::avc_sequence_header(
            FlvTime::from_ms(0),
            &[1, 0x42, 0xC0, 0x1F, 0xFF, 0xE1, 0, 4, 1, 2, 3, 4],
        ),
        flv::aac_sequence_header(FlvTime::from_ms(0), &[0x11, 0x90]),
        flv::avc_frame(FlvTime::from_ms(0), true, 0, &big),
        flv::aac_frame(FlvTime::from_ms(21), &[1, 2, 3]),
        flv::avc_frame(FlvTime::from_ms(33), false, 0, &[5; 100]),
        flv::avc_frame(FlvTime::from_ms(0xFF_FFFE), false, 0, &big),
        flv::aac_frame(FlvTime::from_ms(0xFF_FFFF), &[4; 300]),
        flv::avc_frame(FlvTime::from_ms(0x0100_0000), true, 0, &big),
        flv::aac_frame(FlvTime::from_ms(0x0100_0015), &[4; 300]),
        flv::avc_frame(FlvTime::from_ms(0x0123_4567), false, 0, &big),
        flv::avc_frame(FlvTime::from_ms(0xFFFF_FF00), false, 0, &[6; 10]),
        flv::avc_frame(FlvTime::from_ms(0x0200_0000), true, 0, &big),
    ]
}

#[test]
fn the_client_publishes_to_the_session_and_every_tag_arrives_unchanged() {
    for step in [1, 13, 4096, usize::MAX] {
        let mut pipes = Pipes::publish("rtmp://bench.invalid/live/SECRET_KEY?x=1", step);
        match &pipes.events[..] {
            [
                SessionEvent::Connected { app },
                SessionEvent::Publishing { name },
            ] => {
                assert_eq!(app, "live");
                assert_eq!(name.expose(), "SECRET_KEY?x=1");
            }
            other => panic!("step {step}: {other:?}"),
        }
        let sent = varied_tags();
        pipes.send(&sent);
        assert_eq!(pipes.tags(), sent, "step {step}");
        assert_eq!(pipes.session.media_messages(), sent.len() as u64);
        assert_eq!(pipes.session.state(), SessionState::Publishing);
        assert_eq!(pipes.client.poll_event(), None, "step {step}");

        pipes.client.close();
        pipes.pump();
        let last = pipes.events.last();
        assert_eq!(last, Some(&SessionEvent::Unpublished), "step {step}");
        let unpublished = pipes
            .events
            .iter()
            .filter(|e| **e == SessionEvent::Unpublished);
        assert_eq!(
            unpublished.count(),
            1,
            "FCUnpublish and deleteStream: one event"
        );
        pipes.session.handle_eof();
        assert_eq!(pipes.session.poll_event(), None, "a clean end");
        assert_eq!(pipes.session.state(), SessionState::Closed);
    }
}

#[test]
fn the_session_acknowledges_each_window_of_bytes_and_the_client_keeps_publishing() {
    let mut pipes = Pipes::publish("rtmp://h/live/k", usize::MAX);
    let frame = Bytes::from(vec![0x27; 200_000]);
    let tags: Vec<Tag> = (0..60)
        .map(|i| Tag {
            kind: TagKind::Video,
            role: Role::Inter,
            timestamp: FlvTime::from_ms(i * 33),
            body: frame.clone(),
        })
        .collect();
    pipes.send(&tags);
    assert_eq!(pipes.tags().len(), 60);
    assert!(pipes.client.is_publishing());

    // Decode what the session said after S0+S1+S2 and pick out the acknowledgements.
    let mut decoder = ChunkDecoder::new();
    decoder.push(&pipes.from_session[1 + 2 * PACKET_LEN..]);
    let mut acks = Vec::new();
    while let Some(message) = decoder.next_message().unwrap() {
        decoder.apply_control(&message).unwrap();
        if let Ok(Some(Control::Acknowledgement(n))) =
            Control::decode(message.header.type_id, &message.payload)
        {
            acks.push(u64::from(n));
        }
    }
    // 12 MB received against a 5 MB window: two acknowledgements, a window apart at least,
    // each no more than what had arrived.
    let received = pipes.session.bytes_received();
    assert_eq!(
        acks.len() as u64,
        received / u64::from(ACK_WINDOW),
        "{acks:?}"
    );
    assert!(acks[0] >= u64::from(ACK_WINDOW), "{acks:?}");
    assert!(
        acks.windows(2)
            .all(|w| w[1] - w[0] >= u64::from(ACK_WINDOW)),
        "{acks:?}"
    );
    assert!(*acks.last().unwrap() <= received);
}

#[test]
fn real_h264_and_aac_tags_cross_the_24_bit_timestamp_boundary_intact() {
    let media = FlvMedia::generate(2).expect("media");
    // Start 1 s before 0xFFFFFF ms so the stream crosses into extended timestamps.
    let offset = 0xFF_FFFF - 1000;
    let shifted: Vec<Tag> = media
        .headers()
        .into_iter()
        .chain(&media.frames)
        .map(|tag| Tag {
            timestamp: tag.timestamp.wrapping_add(offset),
            ..tag.clone()
        })
        .collect();
    let mut pipes = Pipes::publish("rtmp://h/live/k", 1400);
    pipes.send(&shifted);
    let got = pipes.tags();
    assert_eq!(got.len(), shifted.len());
    assert!(
        got == shifted,
        "tags differ after the relay through the session"
    );
    let video = got
        .iter()
        .filter(|t| t.kind == TagKind::Video && t.role != Role::Header);
    assert_eq!(video.count(), media.video_frames);
    assert!(got.iter().any(|t| t.timestamp.ms() > 0xFF_FFFF));
}
