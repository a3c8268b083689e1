//! A small, bounded Ogg reader (RFC 3533) for the Ogg Opus files ffmpeg makes in tests
//! (RFC 7845): pages are checked (capture pattern, version, CRC) and packets reassembled from
//! their lacing values.

/// Ogg Opus packets are at most a few kB; anything larger means the file is not what we made.
const MAX_PACKET_BYTES: usize = 64 * 1024;

/// The packets of the first logical stream, in order, with the headers parsed.
pub struct OpusFile {
    pub channels: u8,
    /// Samples (48 kHz) the decoder output must drop at the start (RFC 7845 §4.2).
    pub pre_skip: u16,
    /// Audio packets, headers excluded.
    pub packets: Vec<Vec<u8>>,
}

pub fn read_opus(bytes: &[u8]) -> OpusFile {
    let packets = read_packets(bytes);
    assert!(packets.len() >= 2, "no Opus headers");
    let head = &packets[0];
    assert!(
        head.len() >= 19 && head.starts_with(b"OpusHead"),
        "no OpusHead"
    );
    assert!(packets[1].starts_with(b"OpusTags"), "no OpusTags");
    OpusFile {
        channels: head[9],
        pre_skip: u16::from_le_bytes([head[10], head[11]]),
        packets: packets[2..].to_vec(),
    }
}

pub fn read_packets(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut serial = None;
    while !bytes.is_empty() {
        assert!(bytes.len() >= 27, "truncated page header");
        assert_eq!(&bytes[..4], b"OggS", "lost page sync");
        assert_eq!(bytes[4], 0, "unknown Ogg version");
        let page_serial = u32::from_le_bytes(bytes[14..18].try_into().unwrap());
        let segments = usize::from(bytes[26]);
        let header_len = 27 + segments;
        assert!(bytes.len() >= header_len, "truncated segment table");
        let lacing = &bytes[27..header_len];
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let page_len = header_len + body_len;
        assert!(bytes.len() >= page_len, "truncated page body");
        let page = &bytes[..page_len];
        let stored_crc = u32::from_le_bytes(page[22..26].try_into().unwrap());
        assert_eq!(crc(page), stored_crc, "page CRC mismatch");
        if *serial.get_or_insert(page_serial) == page_serial {
            let mut body = &page[header_len..];
            for &l in lacing {
                partial.extend_from_slice(&body[..usize::from(l)]);
                body = &body[usize::from(l)..];
                assert!(partial.len() <= MAX_PACKET_BYTES, "packet too large");
                if l < 255 {
                    packets.push(std::mem::take(&mut partial));
                }
            }
        }
        bytes = &bytes[page_len..];
    }
    packets
}

/// Ogg's CRC-32: polynomial 0x04C11DB7, MSB first, no reflection, zero init and final XOR,
/// computed with the CRC field itself zeroed.
pub fn crc(page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for (i, &byte) in page.iter().enumerate() {
        let byte = if (22..26).contains(&i) { 0 } else { byte };
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}
