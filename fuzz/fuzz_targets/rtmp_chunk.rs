//! The RTMP chunk-stream reader alone, on a server's bytes in arbitrary split points, with
//! Set Chunk Size and Abort applied as the client applies them, and every message read on
//! as the client reads it (protocol control, user control, AMF0 commands and data).
//!
//! Input: `[split seed] stream`.
//!
//! Invariants: no panic; no message over `MAX_INCOMING_MESSAGE`; a split never changes what
//! is read (the same stream read whole gives the same messages); every message read,
//! chunked again by our encoder, reads back identical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamhard_fuzz::Pieces;
use streamhard_media::amf0;
use streamhard_rtmp::chunk::{ChunkDecoder, ChunkEncoder, MAX_INCOMING_MESSAGE, Message};
use streamhard_rtmp::message::Control;

/// Reads `pieces` as the client does; returns the messages and whether the stream failed.
fn read<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> (Vec<Message>, bool) {
    let mut decoder = ChunkDecoder::new();
    let mut messages = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    assert!(message.payload.len() <= MAX_INCOMING_MESSAGE);
                    if decoder.apply_control(&message).is_err() {
                        messages.push(message);
                        return (messages, true);
                    }
                    messages.push(message);
                }
                Ok(None) => break,
                Err(_) => return (messages, true),
            }
        }
    }
    (messages, false)
}

fuzz_target!(|data: &[u8]| {
    let [seed, stream @ ..] = data else {
        return;
    };
    let (messages, failed) = read(Pieces::new(stream, *seed));
    let (whole, whole_failed) = read(std::iter::once(stream));
    assert_eq!(messages, whole, "the split changed the messages");
    assert_eq!(failed, whole_failed, "the split changed the outcome");

    for message in &messages {
        // What the client does with each message: none of it may panic.
        let _ = Control::decode(message.header.type_id, &message.payload);
        if matches!(message.header.type_id, 18 | 20) {
            let _ = amf0::decode_all(&message.payload);
        }
    }

    // Our encoder's chunking of what was read reads back identical. Set Chunk Size and
    // Abort are left out: they would change how the copy is read.
    let plain: Vec<&Message> = messages
        .iter()
        .filter(|m| !matches!(m.header.type_id, 1 | 2))
        .collect();
    let mut encoder = ChunkEncoder::new();
    let mut bytes = Vec::new();
    for (i, message) in plain.iter().enumerate() {
        let csid = 3 + (i as u32 % 5);
        encoder.encode(csid, message.header, &message.payload, &mut bytes);
    }
    let (again, again_failed) = read(std::iter::once(&bytes[..]));
    assert!(!again_failed, "our own chunk stream failed to read");
    let again: Vec<&Message> = again.iter().collect();
    assert_eq!(plain, again, "a message changed through our encoder");
});
