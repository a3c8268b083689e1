//! The RTMP handshake, client side: the "simple" handshake of the RTMP 1.0 spec §5.2, which
//! OBS uses and every ingest we target accepts (no digest, no encryption).
//!
//! C0+C1 go out at once; the server answers S0+S1+S2; we echo S1 as C2. The random bytes of
//! C1 are an input, so the exchange is reproducible in tests and the crate never touches an
//! RNG.

/// The only protocol version there is (S0 must say it too).
pub const VERSION: u8 = 3;
/// Length of C1, C2, S1 and S2.
pub const PACKET_LEN: usize = 1536;
/// Random bytes in C1: the packet minus its time and zero fields.
pub const RANDOM_LEN: usize = PACKET_LEN - 8;
/// S0 + S1 + S2.
const SERVER_LEN: usize = 1 + 2 * PACKET_LEN;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    #[error("the server speaks RTMP version {0}, not 3 (is it an RTMP server?)")]
    Version(u8),
}

/// The client's half of the handshake, collecting S0+S1+S2.
#[derive(Debug)]
pub struct Handshake {
    received: Vec<u8>,
}

/// What feeding server bytes to the handshake produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// More server bytes are needed; all of the input was used.
    NeedMore,
    /// Done: send `c2`. The first `consumed` bytes of the last input were the handshake's;
    /// whatever follows belongs to the chunk stream.
    Done { c2: Vec<u8>, consumed: usize },
}

impl Handshake {
    /// Starts a handshake: returns it and C0+C1 to send. C1's time field is 0, which the
    /// spec allows and servers ignore.
    pub fn start(random: &[u8; RANDOM_LEN]) -> (Self, Vec<u8>) {
        let mut c0c1 = Vec::with_capacity(1 + PACKET_LEN);
        c0c1.push(VERSION);
        c0c1.extend_from_slice(&[0; 8]); // time, then the zero field
        c0c1.extend_from_slice(random);
        let handshake = Self {
            received: Vec::with_capacity(SERVER_LEN),
        };
        (handshake, c0c1)
    }

    /// Feeds bytes from the server. Call it until it says `Done`, then stop.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, HandshakeError> {
        let take = data.len().min(SERVER_LEN - self.received.len());
        self.received.extend_from_slice(&data[..take]);
        if let Some(&version) = self.received.first()
            && version != VERSION
        {
            return Err(HandshakeError::Version(version));
        }
        if self.received.len() < SERVER_LEN {
            return Ok(Progress::NeedMore);
        }
        // C2 echoes S1 (its time and random bytes). S2 should echo our C1, but servers differ
        // in what they put in its time fields and clients (OBS, ffmpeg) do not check it.
        let c2 = self.received[1..1 + PACKET_LEN].to_vec();
        Ok(Progress::Done { c2, consumed: take })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_reply(c0c1: &[u8]) -> Vec<u8> {
        let mut s = vec![3];
        s.extend((0..PACKET_LEN).map(|i| (i * 7) as u8)); // S1
        s.extend_from_slice(&c0c1[1..]); // S2 echoes C1
        s
    }

    #[test]
    fn c0_c1_are_version_3_a_zero_time_and_the_given_random_bytes() {
        let (_, c0c1) = Handshake::start(&[7; RANDOM_LEN]);
        assert_eq!(c0c1.len(), 1 + PACKET_LEN);
        assert_eq!(&c0c1[..9], &[3, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&c0c1[9..], &[7; RANDOM_LEN][..]);
    }

    #[test]
    fn echoes_s1_as_c2_whatever_way_the_server_bytes_are_split() {
        let (_, c0c1) = Handshake::start(&[1; RANDOM_LEN]);
        let mut server = server_reply(&c0c1);
        server.extend_from_slice(&[0xAA, 0xBB]); // first chunk-stream bytes
        for split in [1, 2, 100, 1537, 3072] {
            let (mut hs, _) = Handshake::start(&[1; RANDOM_LEN]);
            assert_eq!(
                hs.feed(&server[..split]).unwrap(),
                Progress::NeedMore,
                "{split}"
            );
            match hs.feed(&server[split..]).unwrap() {
                Progress::Done { c2, consumed } => {
                    assert_eq!(c2, server[1..1 + PACKET_LEN], "split at {split}");
                    assert_eq!(
                        &server[split + consumed..],
                        &[0xAA, 0xBB],
                        "split at {split}"
                    );
                }
                other => panic!("split at {split}: {other:?}"),
            }
        }
        let (mut hs, _) = Handshake::start(&[1; RANDOM_LEN]);
        match hs.feed(&server).unwrap() {
            Progress::Done { consumed, .. } => assert_eq!(consumed, 1 + 2 * PACKET_LEN),
            other => panic!("all at once: {other:?}"),
        }
    }

    #[test]
    fn refuses_a_server_of_another_version_at_its_first_byte() {
        let (mut hs, _) = Handshake::start(&[0; RANDOM_LEN]);
        assert_eq!(hs.feed(&[6]), Err(HandshakeError::Version(6)));
        let (mut hs, _) = Handshake::start(&[0; RANDOM_LEN]);
        // An HTTP server answering our bytes.
        assert_eq!(hs.feed(b"HTTP/1.1 400"), Err(HandshakeError::Version(b'H')));
    }
}
