//! The RTMP handshake, both roles: the "simple" handshake of the RTMP 1.0 spec §5.2, which
//! OBS uses and every ingest we target accepts (no digest, no encryption).
//!
//! Client ([`Handshake`]): C0+C1 go out at once; the server answers S0+S1+S2; we echo S1 as
//! C2. Server ([`ServerHandshake`]): on C0+C1 we answer S0+S1+S2 (S2 echoes C1), then wait for
//! C2. The random bytes of C1 and S1 are inputs, so the exchange is reproducible in tests and
//! the crate never touches an RNG.
//!
//! The server side answers ffmpeg's digest ("complex") C1 too: a publishing ffmpeg only
//! validates the server's digest when it plays, and librtmp (OBS) only warns when S2 is not
//! an exact echo. S1's version field is zero, which tells a client that checks that no digest
//! is present.

/// The only protocol version there is (S0 must say it too).
pub const VERSION: u8 = 3;
/// Length of C1, C2, S1 and S2.
pub const PACKET_LEN: usize = 1536;
/// Random bytes in C1: the packet minus its time and zero fields.
pub const RANDOM_LEN: usize = PACKET_LEN - 8;
/// S0 + S1 + S2.
const SERVER_LEN: usize = 1 + 2 * PACKET_LEN;
/// C0 + C1.
const CLIENT_FIRST_LEN: usize = 1 + PACKET_LEN;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    #[error("the server speaks RTMP version {0}, not 3 (is it an RTMP server?)")]
    Version(u8),
    /// C0 asked for another version: 6 is RTMPE (encrypted), which we do not speak, and
    /// anything else is usually not RTMP at all (`G` of an HTTP `GET`, `0x16` of TLS).
    #[error("the client speaks RTMP version {0}, not 3 (is it an RTMP client?)")]
    ClientVersion(u8),
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

/// The server's half of the handshake: reads C0+C1, answers S0+S1+S2, reads C2.
#[derive(Debug)]
pub struct ServerHandshake {
    /// S1's random bytes, until S0+S1+S2 are written.
    random: [u8; RANDOM_LEN],
    /// C0+C1 collected so far; once answered, only its length is used.
    first: Vec<u8>,
    /// Bytes of C2 received so far (C2 is read and ignored, as nginx-rtmp does).
    c2_received: usize,
}

/// What feeding client bytes to the server handshake produced.
#[derive(Debug, PartialEq, Eq)]
pub enum ServerProgress {
    /// More client bytes are needed; all of the input was used.
    NeedMore,
    /// Done. The first `consumed` bytes of the last input were the handshake's; whatever
    /// follows belongs to the chunk stream.
    Done { consumed: usize },
}

impl ServerHandshake {
    /// A server handshake whose S1 carries `random`. S1's time field is 0, as for C1.
    pub fn new(random: &[u8; RANDOM_LEN]) -> Self {
        Self {
            random: *random,
            first: Vec::with_capacity(CLIENT_FIRST_LEN),
            c2_received: 0,
        }
    }

    /// Feeds bytes from the client, appending S0+S1+S2 to `out` once C0+C1 are complete.
    /// Call it until it says `Done`, then stop.
    pub fn feed(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<ServerProgress, HandshakeError> {
        let mut used = 0;
        if self.first.len() < CLIENT_FIRST_LEN {
            used = data.len().min(CLIENT_FIRST_LEN - self.first.len());
            self.first.extend_from_slice(&data[..used]);
            if let Some(&version) = self.first.first()
                && version != VERSION
            {
                return Err(HandshakeError::ClientVersion(version));
            }
            if self.first.len() < CLIENT_FIRST_LEN {
                return Ok(ServerProgress::NeedMore);
            }
            out.reserve(SERVER_LEN);
            out.push(VERSION);
            out.extend_from_slice(&[0; 8]); // time, then the zero (version) field
            out.extend_from_slice(&self.random);
            // S2 echoes C1 whole: its time, its second field and its random bytes.
            out.extend_from_slice(&self.first[1..]);
        }
        let rest = &data[used..];
        let take = rest.len().min(PACKET_LEN - self.c2_received);
        self.c2_received += take;
        if self.c2_received < PACKET_LEN {
            return Ok(ServerProgress::NeedMore);
        }
        Ok(ServerProgress::Done {
            consumed: used + take,
        })
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

    #[test]
    fn the_server_answers_c0_c1_with_s0_s1_s2_and_finishes_after_c2() {
        let random: [u8; RANDOM_LEN] = std::array::from_fn(|i| (i * 3) as u8);
        let (_, c0c1) = Handshake::start(&[5; RANDOM_LEN]);
        let mut client = c0c1.clone();
        client.extend_from_slice(&[7; PACKET_LEN]); // C2
        client.extend_from_slice(&[0xAA, 0xBB]); // first chunk-stream bytes
        // Splits at or past this point deliver C0, C1 and C2 in the first call.
        const ALL_OF_IT: usize = 1 + 2 * PACKET_LEN;
        for split in [1, 2, 1536, 1537, 1538, 3072, 3073, client.len()] {
            let mut hs = ServerHandshake::new(&random);
            let mut out = Vec::new();
            let first = hs.feed(&client[..split], &mut out).unwrap();
            let done = if split >= ALL_OF_IT {
                first
            } else {
                assert_eq!(first, ServerProgress::NeedMore, "split at {split}");
                hs.feed(&client[split..], &mut out).unwrap()
            };
            let consumed = match done {
                ServerProgress::Done { consumed } => consumed,
                other => panic!("split at {split}: {other:?}"),
            };
            let fed_before = if split >= ALL_OF_IT { 0 } else { split };
            assert_eq!(
                &client[fed_before + consumed..],
                &[0xAA, 0xBB],
                "split at {split}"
            );
            assert_eq!(out.len(), SERVER_LEN, "split at {split}");
            assert_eq!(&out[..9], &[3, 0, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(
                &out[9..1 + PACKET_LEN],
                &random[..],
                "S1 carries the random bytes"
            );
            assert_eq!(&out[1 + PACKET_LEN..], &c0c1[1..], "S2 echoes C1");
        }
    }

    #[test]
    fn client_and_server_handshakes_complete_against_each_other() {
        let (mut client, c0c1) = Handshake::start(&[1; RANDOM_LEN]);
        let mut server = ServerHandshake::new(&[2; RANDOM_LEN]);
        let mut s0s1s2 = Vec::new();
        assert_eq!(
            server.feed(&c0c1, &mut s0s1s2),
            Ok(ServerProgress::NeedMore)
        );
        let Ok(Progress::Done { c2, consumed }) = client.feed(&s0s1s2) else {
            panic!("client handshake did not finish");
        };
        assert_eq!(consumed, s0s1s2.len());
        let mut nothing = Vec::new();
        assert_eq!(
            server.feed(&c2, &mut nothing),
            Ok(ServerProgress::Done {
                consumed: PACKET_LEN
            })
        );
        assert!(nothing.is_empty(), "S0+S1+S2 are sent once");
    }

    #[test]
    fn the_server_refuses_a_client_of_another_version_at_its_first_byte() {
        let mut hs = ServerHandshake::new(&[0; RANDOM_LEN]);
        let mut out = Vec::new();
        assert_eq!(
            hs.feed(&[6], &mut out),
            Err(HandshakeError::ClientVersion(6))
        );
        let mut hs = ServerHandshake::new(&[0; RANDOM_LEN]);
        assert_eq!(
            hs.feed(b"GET / HTTP/1.1", &mut out),
            Err(HandshakeError::ClientVersion(b'G'))
        );
        assert!(out.is_empty());
    }
}
