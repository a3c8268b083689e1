//! Per video frame and destination, the RTMP work: one video message cut into chunks.
//!
//! - `chunk_encoder`: [`ChunkEncoder::encode`] alone, at the chunk size the client uses
//!   ([`OUTGOING_CHUNK_SIZE`], 4096), into a reused buffer;
//! - `client_send_tag`: what a destination's driver does per tag: [`Client::send_tag`] on a
//!   publishing client, then [`Client::poll_transmit`] to take the bytes for the socket.
//!
//! Payloads: FLV video tag bodies the size of a 720p 2.5 Mbit/s P-frame (10 kB) and keyframe
//! (60 kB). Their bytes are synthetic: chunking copies them without reading them. Each frame
//! is 33 ms after the previous one, as at 30 fps.
//!
//! ```text
//! cargo bench -p streamhard-rtmp --bench chunk_frame
//! ```

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use streamhard_media::amf0::{self, Value};
use streamhard_media::flv::{self, FlvTime};
use streamhard_rtmp::chunk::{ChunkEncoder, MessageHeader};
use streamhard_rtmp::client::OUTGOING_CHUNK_SIZE;
use streamhard_rtmp::handshake::PACKET_LEN;
use streamhard_rtmp::message::{csid, type_id};
use streamhard_rtmp::{Client, RANDOM_LEN, RtmpUrl};

/// Milliseconds between frames at 30 fps.
const FRAME_MS: u32 = 33;
/// The message stream the scripted server's createStream hands out.
const STREAM_ID: u32 = 1;

/// A video tag body of `len` bytes: the 5-byte AVC header, then AVCC-shaped filler.
fn video_tag(len: usize, keyframe: bool) -> flv::Tag {
    let avcc: Vec<u8> = (0..len - 5).map(|i| (i * 7 % 251) as u8).collect();
    flv::avc_frame(FlvTime::from_ms(0), keyframe, 0, &avcc)
}

/// A client past connect, createStream and publish, answered by a scripted server the way
/// nginx-rtmp answers, with everything it sent so far taken.
fn publishing_client() -> Client {
    let url = RtmpUrl::parse("rtmp://live.example.com/app/bench-key").expect("a valid URL");
    let mut client = Client::new(url, &[7; RANDOM_LEN]);
    let c0c1 = client.poll_transmit().expect("C0 and C1");
    // S0, S1, and S2 echoing C1.
    let mut s0s1s2 = vec![3];
    s0s1s2.extend_from_slice(&[9; PACKET_LEN]);
    s0s1s2.extend_from_slice(&c0c1[1..]);
    client.handle_input(&s0s1s2);

    let mut server = ChunkEncoder::new();
    let mut reply = |client: &mut Client, values: &[Value]| {
        let header = MessageHeader {
            type_id: type_id::COMMAND_AMF0,
            stream_id: 0,
            timestamp: 0,
        };
        let mut bytes = Vec::new();
        server.encode(csid::COMMAND, header, &amf0::encode_all(values), &mut bytes);
        client.handle_input(&bytes);
    };
    // Transaction ids 1 (connect) and 4 (createStream) are the client's.
    reply(&mut client, &["_result".into(), 1.0.into(), Value::Null]);
    let stream_id = f64::from(STREAM_ID).into();
    reply(
        &mut client,
        &["_result".into(), 4.0.into(), Value::Null, stream_id],
    );
    let start = Value::object([
        ("level", "status".into()),
        ("code", "NetStream.Publish.Start".into()),
    ]);
    reply(
        &mut client,
        &["onStatus".into(), 0.0.into(), Value::Null, start],
    );
    assert!(client.is_publishing(), "{:?}", client.poll_event());
    client.poll_transmit();
    client
}

fn chunk_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunk_frame");
    for (name, tag) in [
        ("p_frame_10kB", video_tag(10_000, false)),
        ("keyframe_60kB", video_tag(60_000, true)),
    ] {
        group.throughput(Throughput::Bytes(tag.body.len() as u64));

        let mut encoder = ChunkEncoder::new();
        encoder.set_chunk_size(OUTGOING_CHUNK_SIZE);
        let mut out = Vec::new();
        let mut header = MessageHeader {
            type_id: type_id::VIDEO,
            stream_id: STREAM_ID,
            timestamp: 0,
        };
        group.bench_function(BenchmarkId::new("chunk_encoder", name), |b| {
            b.iter(|| {
                out.clear();
                header.timestamp = header.timestamp.wrapping_add(FRAME_MS);
                encoder.encode(csid::VIDEO, header, black_box(&tag.body), &mut out);
                black_box(out.len())
            });
        });

        let mut client = publishing_client();
        let mut tag = tag.clone();
        group.bench_function(BenchmarkId::new("client_send_tag", name), |b| {
            b.iter(|| {
                tag.timestamp = tag.timestamp.wrapping_add(FRAME_MS);
                client
                    .send_tag(black_box(&tag))
                    .expect("a publishing client takes media");
                client.poll_transmit()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, chunk_frame);
criterion_main!(benches);
