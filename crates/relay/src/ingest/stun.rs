//! Just enough STUN (RFC 8489) to route a datagram from an address we have not seen yet.
//!
//! With one UDP port for every peer, the first packet of a new peer is a STUN binding request
//! whose USERNAME is `<our ufrag>:<their ufrag>`; our ufrag names the session. Everything after
//! that first packet is routed by the source address alone. str0m verifies the message
//! integrity itself; this parser only has to be safe on hostile bytes.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;
/// RFC 8489 caps USERNAME at 513 bytes; ICE ufrags are far shorter.
const MAX_USERNAME: usize = 513;

/// Whether the datagram looks like STUN: first byte 0–3 (RFC 7983's demultiplexing range; DTLS
/// starts at 20, so its records never pass), magic cookie, length fits.
/// Whether `datagram` is a STUN Binding success response (what str0m sends only to a request
/// whose MESSAGE-INTEGRITY matched the session's password).
pub fn is_binding_success(datagram: &[u8]) -> bool {
    is_stun(datagram) && datagram[..2] == [0x01, 0x01]
}

pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN
        && datagram[0] <= 3
        && datagram[4..8] == MAGIC_COOKIE
        && usize::from(u16::from_be_bytes([datagram[2], datagram[3]])) + HEADER_LEN
            == datagram.len()
}

/// The local (our) ufrag of a STUN binding request: the part of USERNAME before the colon.
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) {
        return None;
    }
    let mut attrs = &datagram[HEADER_LEN..];
    while attrs.len() >= 4 {
        let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let value = attrs.get(4..4 + len)?;
        if kind == ATTR_USERNAME {
            if len > MAX_USERNAME {
                return None;
            }
            let username = std::str::from_utf8(value).ok()?;
            return username.split_once(':').map(|(ours, _theirs)| ours);
        }
        // Attributes are padded to 4 bytes.
        let padded = (4 + len + 3) & !3;
        attrs = attrs.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &[u8]) -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
        // A PRIORITY attribute after USERNAME, as browsers send.
        attrs.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&attrs);
        msg
    }

    #[test]
    fn finds_our_ufrag_in_a_binding_request() {
        let msg = binding_request(b"srvUfrag:browserUfrag");
        assert_eq!(local_ufrag(&msg), Some("srvUfrag"));
    }

    #[test]
    fn finds_the_ufrag_when_username_needs_padding() {
        let msg = binding_request(b"abc:de");
        assert_eq!(local_ufrag(&msg), Some("abc"));
    }

    #[test]
    fn rejects_rtp_dtls_and_truncated_messages() {
        let msg = binding_request(b"abc:def");
        assert_eq!(local_ufrag(&msg[..msg.len() - 1]), None);
        assert_eq!(
            local_ufrag(&[0x80, 0x60, 0, 1, 0x21, 0x12, 0xA4, 0x42]),
            None
        );
        let mut dtls = msg.clone();
        dtls[0] = 22;
        assert_eq!(local_ufrag(&dtls), None);
    }

    #[test]
    fn survives_an_attribute_length_pointing_past_the_end() {
        let mut msg = binding_request(b"abc:def");
        msg[HEADER_LEN + 2] = 0xFF;
        assert_eq!(local_ufrag(&msg), None);
    }

    #[test]
    fn message_without_username_has_no_ufrag() {
        let mut msg = vec![0x00, 0x01, 0x00, 0x08];
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[0; 12]);
        msg.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
        assert!(is_stun(&msg));
        assert_eq!(local_ufrag(&msg), None);
    }
}
