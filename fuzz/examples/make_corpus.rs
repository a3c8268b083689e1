//! Writes the committed seed corpus, `fuzz/corpus/<target>/seed-*`: real server bytes (our
//! `streamhard_rtmp::Session`, which answers as nginx-rtmp does), real Opus packets (ropus),
//! the publishers' offers of `crates/relay/fixtures/offers/`, the RFC 9725 PATCH examples, and
//! the H.264 parameter sets of the media crate's tests. Deterministic: running it again
//! rewrites the same files.
//!
//! ```text
//! cd fuzz && cargo run --example make_corpus
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use ropus::{Application, Channels, Encoder};
use streamhard_media::amf0::{self, Value};
use streamhard_media::flv;
use streamhard_rtmp::chunk::{ChunkDecoder, ChunkEncoder, Message, MessageHeader};
use streamhard_rtmp::handshake::PACKET_LEN;
use streamhard_rtmp::message::{Control, UserControl};
use streamhard_rtmp::{Client, RANDOM_LEN, RtmpUrl, Session};

const KEY: &str = "live_fuzzKEY_9f3a";
const AU_SEPARATOR: &[u8] = b"\xFF\xFF--AU--";
const NAL_SEPARATOR: &[u8] = b"\xFF\xFF--NAL--";
const FRAGMENT_END: &[u8] = b"\n--OFFER--\n";

const SPS_720P: [u8; 25] = [
    0x67, 0x42, 0xC0, 0x1F, 0xD9, 0x00, 0x50, 0x05, 0xBB, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
    0x00, 0x00, 0x03, 0x03, 0xC0, 0xF1, 0x83, 0x24, 0x80,
];
const PPS_720P: [u8; 5] = [0x68, 0xCB, 0x83, 0xCB, 0x20];
const SPS_1080P: [u8; 27] = [
    0x67, 0x64, 0x00, 0x28, 0xAC, 0xD9, 0x40, 0x78, 0x02, 0x27, 0xE5, 0xC0, 0x44, 0x00, 0x00, 0x03,
    0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xF0, 0x3C, 0x60, 0xC6, 0x58,
];
const PPS_1080P: [u8; 6] = [0x68, 0xEB, 0xE3, 0xCB, 0x22, 0xC0];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

/// What a server (our Session) sends a publishing client after the handshake.
fn server_conversation() -> Vec<u8> {
    let url = RtmpUrl::parse(&format!("rtmp://ingest.example.com/app/{KEY}")).unwrap();
    let mut client = Client::new(url, &[0x5A; RANDOM_LEN]);
    let mut session = Session::new(&[0x33; RANDOM_LEN]);
    let mut from_server = Vec::new();
    for _ in 0..32 {
        if let Some(bytes) = client.poll_transmit() {
            session.handle_input(&bytes);
        }
        while session.poll_event().is_some() {}
        if let Some(bytes) = session.poll_transmit() {
            from_server.extend_from_slice(&bytes);
            client.handle_input(&bytes);
        }
        while client.poll_event().is_some() {}
        if client.is_publishing() {
            break;
        }
    }
    assert!(
        client.is_publishing(),
        "the seed conversation reaches publishing"
    );
    from_server.split_off(1 + 2 * PACKET_LEN)
}

fn messages_of(chunks: &[u8]) -> Vec<Message> {
    let mut decoder = ChunkDecoder::new();
    decoder.push(chunks);
    let mut out = Vec::new();
    while let Some(m) = decoder.next_message().unwrap() {
        decoder.apply_control(&m).unwrap();
        out.push(m);
    }
    out
}

/// The rtmp_client target's message-mode record of one message.
fn record(csid_byte: u8, type_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![csid_byte, type_id, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn command(values: &[Value]) -> Vec<u8> {
    record(1, 20, &amf0::encode_all(values))
}

fn control(c: Control) -> Vec<u8> {
    record(0, c.type_id(), &c.encode())
}

fn status(level: &str, code: &str, description: &str) -> Value {
    Value::object([
        ("level", level.into()),
        ("code", code.into()),
        ("description", description.into()),
    ])
}

fn rtmp() {
    let conversation = server_conversation();
    write(
        "rtmp_client",
        "nginx-like-raw",
        &[[7, 0].as_slice(), &conversation].concat(),
    );
    write(
        "rtmp_client",
        "nginx-like-raw-bytewise",
        &[[1, 0].as_slice(), &conversation].concat(),
    );
    write(
        "rtmp_chunk",
        "nginx-like",
        &[[7].as_slice(), &conversation].concat(),
    );

    let mut as_records = vec![3, 1];
    for m in messages_of(&conversation) {
        as_records.extend(record(0, m.header.type_id, &m.payload));
    }
    write("rtmp_client", "nginx-like-messages", &as_records);

    let connected = command(&[
        "_result".into(),
        1.0.into(),
        Value::Null,
        status(
            "status",
            "NetConnection.Connect.Success",
            "Connection succeeded.",
        ),
    ]);
    let created = command(&["_result".into(), 4.0.into(), Value::Null, 1.0.into()]);
    let started = command(&[
        "onStatus".into(),
        0.0.into(),
        Value::Null,
        status(
            "status",
            "NetStream.Publish.Start",
            &format!("{KEY} is now published"),
        ),
    ]);
    let publish = [connected.clone(), created.clone(), started.clone()].concat();
    let chatter = [
        control(Control::WindowAckSize(2_500_000)),
        control(Control::SetPeerBandwidth {
            size: 2_500_000,
            limit: streamhard_rtmp::message::LimitType::Dynamic,
        }),
        control(Control::SetChunkSize(4096)),
        control(Control::UserControl(UserControl::StreamBegin(0))),
    ]
    .concat();
    let mut seed = vec![9, 1];
    seed.extend_from_slice(&chatter);
    seed.extend_from_slice(&publish);
    seed.extend(control(Control::UserControl(UserControl::PingRequest(
        1234,
    ))));
    seed.extend(command(&[
        "onStatus".into(),
        0.0.into(),
        Value::Null,
        status("status", "NetStream.Publish.Idle", "idle"),
    ]));
    write("rtmp_client", "publish-ping-status", &seed);

    let mut refused = vec![5, 1];
    refused.extend_from_slice(&connected);
    refused.extend(command(&[
        "_error".into(),
        4.0.into(),
        Value::Null,
        status("error", KEY, &format!("bad key {KEY}")),
    ]));
    write("rtmp_client", "refused-key-as-code", &refused);
    let mut bad_name = vec![11, 1];
    bad_name.extend_from_slice(&connected);
    bad_name.extend_from_slice(&created);
    bad_name.extend(command(&[
        "onStatus".into(),
        0.0.into(),
        Value::Null,
        status(
            "error",
            "NetStream.Publish.BadName",
            &format!("{KEY} already publishing"),
        ),
    ]));
    write("rtmp_client", "bad-name", &bad_name);

    // The same conversation chunked with extended timestamps and a large chunk size.
    let mut encoder = ChunkEncoder::new();
    let mut chunks = Vec::new();
    for (i, m) in messages_of(&conversation).iter().enumerate() {
        let header = MessageHeader {
            timestamp: 0x00FF_FFF0 + i as u32 * 7,
            ..m.header
        };
        encoder.encode(3 + i as u32 % 3, header, &m.payload, &mut chunks);
    }
    write(
        "rtmp_chunk",
        "extended-timestamps",
        &[[2].as_slice(), &chunks].concat(),
    );

    for (i, m) in messages_of(&conversation).iter().enumerate() {
        if m.header.type_id == 20 {
            write("amf0", &format!("server-command-{i}"), &m.payload);
        }
    }
    let meta = flv::metadata(
        flv::FlvTime::ZERO,
        &flv::Metadata {
            width: 1280,
            height: 720,
            framerate: 30.0,
            video_data_rate_kbps: 2500,
            audio_sample_rate: 48_000,
            audio_channels: 2,
            audio_data_rate_kbps: 128,
            encoder: "Stream-Hard".into(),
        },
    );
    write("amf0", "onmetadata", &meta.body);
}

fn annexb(units: &[&[u8]]) -> Vec<u8> {
    units
        .iter()
        .flat_map(|unit| [&[0, 0, 0, 1][..], unit].concat())
        .collect()
}

fn h264() -> Vec<Vec<u8>> {
    let idr: Vec<u8> = [0x65, 0x88, 0x84, 0x21].into_iter().chain(0..60).collect();
    let inter: Vec<u8> = [0x41, 0x9A, 0x02].into_iter().chain(0..40).collect();
    let sei = [0x06, 0x05, 0x80];
    let aud = [0x09, 0xF0];
    let aus = vec![
        annexb(&[&aud, &SPS_720P, &PPS_720P, &sei, &idr]),
        annexb(&[&inter]),
        annexb(&[&aud, &inter]),
        annexb(&[&SPS_1080P, &PPS_1080P, &idr]),
        [&[0, 0, 1][..], &inter, &[0, 0, 1], &inter].concat(),
    ];
    write("h264_avcc", "720p-then-1080p", &aus.join(AU_SEPARATOR));
    write("h264_avcc", "keyframe", &aus[0]);
    write("h264_avcc", "sps-only", &annexb(&[&SPS_1080P]));
    aus
}

fn opus_packets() -> Vec<Vec<u8>> {
    let mut encoder = Encoder::builder(48_000, Channels::Stereo, Application::Audio)
        .build()
        .unwrap();
    (0..6)
        .map(|n| {
            // A 440 Hz tone, 20 ms per packet.
            let pcm: Vec<i16> = (0..960)
                .flat_map(|i| {
                    let t = (n * 960 + i) as f32 / 48_000.0;
                    let s = ((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16;
                    [s, s]
                })
                .collect();
            let mut out = vec![0; 1500];
            let len = encoder.encode(&pcm, &mut out).unwrap();
            out.truncate(len);
            out
        })
        .collect()
}

fn opus(packets: &[Vec<u8>]) {
    // Contiguous packets (op 0, delta 0), then one lost (a 20 ms step from the origin), a
    // duplicate, and silence.
    let mut seed = Vec::new();
    for p in &packets[..3] {
        seed.extend([0, 0, 0, p.len() as u8]);
        seed.extend_from_slice(p);
    }
    seed.extend([1, 0, 4, packets[3].len() as u8]);
    seed.extend_from_slice(&packets[3]);
    seed.extend([1, 0, 4, packets[3].len() as u8]);
    seed.extend_from_slice(&packets[3]);
    seed.extend([2, 0, 100, 0]);
    seed.extend([0, 0, 0, packets[4].len() as u8]);
    seed.extend_from_slice(&packets[4]);
    write("opus_transcode", "tone-loss-silence", &seed);
}

fn pipeline(aus: &[Vec<u8>], packets: &[Vec<u8>]) {
    let rec = |op: u8, elapsed: u8, step: i16, payload: &[u8]| {
        let mut r = vec![op, elapsed];
        r.extend(step.to_be_bytes());
        r.extend((payload.len() as u16).to_be_bytes());
        r.extend_from_slice(payload);
        r
    };
    let mut seed = Vec::new();
    for (i, au) in aus.iter().take(3).enumerate() {
        seed.extend(rec(0, 33, 33, au));
        seed.extend(rec(1, 0, 20, &packets[i]));
        seed.extend(rec(1, 0, 20, &packets[i + 1]));
    }
    seed.extend(rec(2, 0, 0, &0x0006_0000_0000_0000u64.to_be_bytes()));
    seed.extend(rec(3, 200, 0, &[]));
    write("pipeline", "av", &seed);

    let mut video_only = rec(4, 0, 0, &[&SPS_720P[..], &PPS_720P].join(NAL_SEPARATOR));
    video_only.extend(rec(0, 33, 33, &annexb(&[&[0x65, 0x88, 0x84, 0x21]])));
    for _ in 0..30 {
        video_only.extend(rec(0, 33, 33, &aus[1]));
    }
    video_only.extend(rec(3, 100, 0, &[]));
    write("pipeline", "video-only-out-of-band-sets", &video_only);
}

fn stun() {
    let rec = |op: u8, addr: u8, payload: &[u8]| {
        let mut r = vec![op, addr, payload.len() as u8];
        r.extend_from_slice(payload);
        r
    };
    let mut seed = Vec::new();
    seed.extend(rec(1, 3, b"Br0w")); // STUN for session 0 from address 3
    seed.extend(rec(2, 3, b"")); // pinned
    seed.extend(rec(0, 3, &[0x80; 40])); // media from the pinned address
    seed.extend(rec(0, 4, &[0x80; 40])); // from an unknown one
    seed.extend(rec(1 + 4, 0x85, b"v6")); // STUN for session 1 over IPv6
    seed.extend(rec(3, 0, b"")); // ICE restart of session 0
    seed.extend(rec(1, 9, b"Br0w")); // the new ufrag
    seed.extend(rec(1 | 0x80, 9, b"nocolon")); // USERNAME without a colon
    write("stun_routes", "pin-restart", &seed);
}

fn whip() {
    let offers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/relay/fixtures/offers");
    let mut names: Vec<_> = fs::read_dir(&offers)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sdp"))
        .collect();
    names.sort();
    for path in &names {
        let name = path.file_stem().unwrap().to_str().unwrap();
        write("whip_offer", name, &fs::read(path).unwrap());
    }
    let trickle = "a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
        a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
        a=end-of-candidates\r\n";
    let restart = "a=ice-options:trickle ice2\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
        a=ice-ufrag:ysXw\r\na=ice-pwd:vw5LmwG4y/e6dPP/zAP9Gp5k\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag ysXw network-id 1\r\n";
    write("whip_patch", "trickle", trickle.as_bytes());
    write("whip_patch", "restart", restart.as_bytes());
    let firefox = fs::read(offers.join("firefox_max_bundle.sdp")).unwrap();
    write(
        "whip_patch",
        "restart-firefox",
        &[restart.as_bytes(), FRAGMENT_END, &firefox].concat(),
    );
}

fn web() {
    let bodies: [(u8, &str, &str); 7] = [
        (
            0,
            "signup",
            r##"{"name":"Ann Lee","email":" Ann.Lee@Example.COM ","password":"correct horse battery"}"##,
        ),
        (
            1,
            "login",
            r##"{"email":"ann@example.com","password":"correct horse battery"}"##,
        ),
        (
            2,
            "broadcast",
            r##"{"destinations":[{"name":"Twitch","url":"rtmp://live.twitch.tv/app/live_123_abc"},{"name":"YouTube","url":"rtmps://a.rtmp.youtube.com:443/live2/abcd-efgh-ijkl"}]}"##,
        ),
        (
            2,
            "broadcast-userinfo",
            r##"{"destinations":[{"name":"own","url":"rtmp://user:pass@[2001:db8::1]:1935/live/KEY/extra?token=t"}]}"##,
        ),
        (
            3,
            "settings",
            r##"{"scene":"pip","bar":{"text":"Live now","color":"#c0ffee"},"ticker":["a","b"],"logo":{"x":0.9,"size":1e2}}"##,
        ),
        (
            3,
            "settings-deep",
            r##"{"a":{"b":{"c":{"d":{"e":{"f":{"g":[1]}}}}}}}"##,
        ),
        (
            0,
            "signup-unknown-field",
            r##"{"name":"x","email":"x@y.z","password":"0123456789","admin":true}"##,
        ),
    ];
    for (kind, name, body) in bodies {
        write(
            "web_json",
            name,
            &[[kind].as_slice(), body.as_bytes()].concat(),
        );
    }
}

fn main() {
    rtmp();
    let aus = h264();
    let packets = opus_packets();
    opus(&packets);
    pipeline(&aus, &packets);
    stun();
    whip();
    web();
    println!("corpus written to {}", root().display());
}
