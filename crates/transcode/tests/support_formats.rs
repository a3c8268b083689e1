//! The test support's own file formats, checked once here rather than in every test binary.

mod support;

use support::ogg::{crc, read_packets};

/// An Ogg page of serial 7 carrying `packets`, laced per RFC 3533, with a valid CRC.
fn page(packets: &[&[u8]]) -> Vec<u8> {
    let mut lacing = Vec::new();
    for p in packets {
        lacing.extend(std::iter::repeat_n(255u8, p.len() / 255));
        lacing.push((p.len() % 255) as u8);
    }
    let mut page = b"OggS".to_vec();
    page.extend([0, 0x02]); // version 0, beginning of stream
    page.extend(0u64.to_le_bytes()); // granule position
    page.extend(7u32.to_le_bytes()); // serial
    page.extend(0u32.to_le_bytes()); // sequence
    page.extend([0; 4]); // CRC, filled below
    page.push(lacing.len() as u8);
    page.extend(&lacing);
    for p in packets {
        page.extend(*p);
    }
    let c = crc(&page);
    page[22..26].copy_from_slice(&c.to_le_bytes());
    page
}

#[test]
fn ogg_crc_matches_the_published_check_value() {
    // CRC-32/CKSUM's check value is 0x765E7680; Ogg's is the same CRC without the final XOR.
    assert_eq!(crc(b"123456789"), !0x765E_7680);
}

#[test]
fn ogg_reader_reassembles_packets_across_lacing_values() {
    let long = vec![9u8; 510];
    let bytes = page(&[b"abc", &long, b""]);
    assert_eq!(
        read_packets(&bytes),
        vec![b"abc".to_vec(), long, Vec::new()]
    );
}

#[test]
#[should_panic(expected = "CRC")]
fn ogg_reader_refuses_a_page_with_a_bad_crc() {
    let mut bytes = page(&[b"abc"]);
    bytes[28] ^= 1;
    read_packets(&bytes);
}

#[test]
fn adts_header_describes_an_lc_48k_stereo_unit() {
    let framed = support::adts::frame(&[0xAB; 10]);
    // Sync, MPEG-4, no CRC; LC, 48 kHz; 2 channels; length 17; fullness 0x7FF; one block.
    assert_eq!(&framed[..7], &[0xFF, 0xF1, 0x4C, 0x80, 0x02, 0x3F, 0xFC]);
    assert_eq!(&framed[7..], &[0xAB; 10]);
}
