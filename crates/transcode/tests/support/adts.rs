//! ADTS framing (ISO 14496-3 §1.A.2) so ffprobe and ffmpeg can read our raw AAC units from a
//! file: a 7-byte header per unit, AAC-LC, 48 kHz, stereo, no CRC.

pub fn frame(unit: &[u8]) -> Vec<u8> {
    let len = unit.len() + 7;
    assert!(len < 1 << 13, "ADTS frame too long");
    let mut out = vec![
        0xFF,
        0xF1,                                  // sync, MPEG-4, layer 0, no CRC
        (1 << 6) | (3 << 2), // profile LC (object type 2 - 1), frequency index 3 = 48 kHz
        (2 << 6) | ((len >> 11) as u8 & 0x03), // channel configuration 2, length high bits
        (len >> 3) as u8,
        ((len as u8 & 0x07) << 5) | 0x1F, // length low bits, buffer fullness 0x7FF (VBR)
        0xFC,
    ];
    out.extend_from_slice(unit);
    out
}
