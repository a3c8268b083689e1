//! The RTMP publish client as a destination server drives it: the server's S0+S1+S2, then
//! arbitrary chunk-stream bytes in arbitrary split points.
//!
//! Input: `[split seed] [mode] rest`. Mode bit 0 clear: `rest` is raw chunk-stream bytes.
//! Set: `rest` is a list of messages, `[csid] [type id] [stream id] [timestamp: u16]
//! [length: u16] payload`, chunked by our own encoder (following any Set Chunk Size it
//! sends), so mutations reach the command layer (AMF0 `_result`, `onStatus`, ...) without
//! having to keep the chunk framing valid.
//!
//! Invariants: no panic; the stream key never appears in an event, an error or the client's
//! Debug output; a status code is at most 80 characters; after `Failed` the client is closed
//! and stays so; what the client sends stays proportional to what it received; a publishing
//! client accepts media.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use streamhard_fuzz::Pieces;
use streamhard_media::flv::{FlvTime, Role, Tag, TagKind};
use streamhard_rtmp::chunk::{ChunkEncoder, MAX_CHUNK_SIZE, MessageHeader};
use streamhard_rtmp::handshake::PACKET_LEN;
use streamhard_rtmp::{Client, Event, RANDOM_LEN, RtmpUrl, State};

const KEY: &str = "live_fuzzKEY_9f3a";

fn messages(mut rest: &[u8]) -> Vec<u8> {
    let mut encoder = ChunkEncoder::new();
    let mut out = Vec::new();
    while rest.len() >= 7 {
        let (head, tail) = rest.split_at(7);
        let len = usize::from(u16::from_be_bytes([head[5], head[6]])).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        // Chunk stream ids 2..=65599 are valid; map the byte onto the low end and a far one.
        let csid = match head[0] {
            0xFF => 65_599,
            0xFE => 320,
            b => 2 + u32::from(b % 64),
        };
        let header = MessageHeader {
            type_id: head[1],
            stream_id: u32::from(head[2]),
            timestamp: u32::from(u16::from_be_bytes([head[3], head[4]])),
        };
        encoder.encode(csid, header, payload, &mut out);
        // A server that changes its chunk size chunks everything after at the new size.
        if head[1] == 1 && payload.len() >= 4 {
            let size = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            let size = size & 0x7FFF_FFFF;
            if (1..=MAX_CHUNK_SIZE).contains(&size) {
                encoder.set_chunk_size(size);
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [seed, mode, rest @ ..] = data else {
        return;
    };
    let url = RtmpUrl::parse(&format!("rtmp://ingest.example.com/app/{KEY}")).unwrap();
    let mut client = Client::new(url, &[0x5A; RANDOM_LEN]);
    let c0c1 = client.poll_transmit().unwrap();
    let mut stream = vec![3];
    stream.extend_from_slice(&[0x11; PACKET_LEN]);
    stream.extend_from_slice(&c0c1[1..]);
    if mode & 1 == 0 {
        stream.extend_from_slice(rest);
    } else {
        stream.extend_from_slice(&messages(rest));
    }

    let mut received = 0usize;
    let mut sent = c0c1.len();
    let mut failed = false;
    for piece in Pieces::new(&stream, *seed) {
        client.handle_input(piece);
        received += piece.len();
        while let Some(event) = client.poll_event() {
            match event {
                Event::Failed(e) => {
                    assert!(!failed, "a client fails once");
                    failed = true;
                    assert!(!format!("{e} {e:?}").contains(KEY), "the key in an error");
                }
                Event::Status { code } => {
                    assert!(!code.contains(KEY), "the key in a status");
                    assert!(code.len() <= 80);
                }
                Event::Publishing => {}
                other => assert!(!format!("{other:?}").contains(KEY)),
            }
        }
        if failed {
            assert_eq!(client.state(), State::Closed);
        }
        if client.is_publishing() {
            let tag = Tag {
                kind: TagKind::Video,
                timestamp: FlvTime::from_ms(40),
                role: Role::Inter,
                body: Bytes::from_static(&[0x27, 1, 0, 0, 0, 0, 0, 0, 1, 0x41]),
            };
            client
                .send_tag(&tag)
                .expect("a publishing client sends media");
        }
        if let Some(out) = client.poll_transmit() {
            sent += out.len();
        }
        // Replies (acknowledgements, pongs, the next command) are small and each is caused by
        // a message that took some input: output never runs away from input.
        assert!(
            sent <= 8 * received + 64 * 1024,
            "sent {sent} bytes for {received} received"
        );
    }
    assert!(!format!("{client:?}").contains(KEY), "the key in Debug");
    client.close();
    let _ = client.poll_transmit();
    client.handle_input(b"\x03after close");
    assert_eq!(client.state(), State::Closed);
    assert!(client.poll_event().is_none(), "nothing happens after close");
});
