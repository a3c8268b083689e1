//! The sans-IO client driven over a plain blocking `TcpStream` against a real nginx-rtmp that
//! records to FLV; ffprobe then reads the recording. nginx is an independent implementation
//! of the other side, so this checks the handshake, chunking (including extended timestamps
//! on continuation chunks), the command sequence, acknowledgements and pings for real.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use streamhard_media::flv::{self, FlvTime, Metadata, Tag};
use streamhard_rtmp::client::OUTGOING_CHUNK_SIZE;
use streamhard_rtmp::{Client, ClientError, Event, RANDOM_LEN, RtmpUrl};
use streamhard_testkit::ffprobe;
use streamhard_testkit::flv_source::FlvMedia;
use streamhard_testkit::nginx::{NginxOptions, NginxRtmp};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A client and its socket: the smallest possible driver.
struct Connection {
    stream: TcpStream,
    client: Client,
}

impl Connection {
    fn open(url: &str) -> Self {
        let url = RtmpUrl::parse(url).expect("url");
        let stream = TcpStream::connect((url.host(), url.port())).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        // Any bytes do for C1; these are not secret.
        let random: [u8; RANDOM_LEN] = std::array::from_fn(|i| (i * 31 % 251) as u8);
        Self {
            stream,
            client: Client::new(url, &random),
        }
    }

    fn flush(&mut self) {
        while let Some(bytes) = self.client.poll_transmit() {
            self.stream.write_all(&bytes).expect("write");
        }
    }

    /// Writes, reads and feeds until the client reports an event.
    fn next_event(&mut self) -> Event {
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = [0u8; 16 * 1024];
        loop {
            self.flush();
            if let Some(event) = self.client.poll_event() {
                return event;
            }
            assert!(Instant::now() < deadline, "no event from the server");
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(n) => self.client.handle_input(&buf[..n]),
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Feeds whatever the server sent meanwhile (pings, window changes), without waiting.
    fn poll_server(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        self.stream.set_nonblocking(true).unwrap();
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the server closed the connection"),
                Ok(n) => self.client.handle_input(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        self.stream.set_nonblocking(false).unwrap();
        if let Some(Event::Failed(e)) = self.client.poll_event() {
            panic!("session failed: {e}");
        }
    }

    fn publish(url: &str) -> Self {
        let mut connection = Self::open(url);
        assert_eq!(connection.next_event(), Event::Publishing);
        connection
    }

    fn send(&mut self, tags: &[&Tag], offset_ms: u32) {
        for (i, tag) in tags.iter().enumerate() {
            let shifted = Tag {
                timestamp: tag.timestamp.wrapping_add(offset_ms),
                ..(*tag).clone()
            };
            self.client.send_tag(&shifted).expect("send tag");
            if i % 16 == 0 {
                self.flush();
                self.poll_server();
            }
        }
        self.flush();
    }

    /// Unpublishes, then closes once the server has seen it all.
    fn close(mut self) {
        self.client.close();
        self.flush();
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        // nginx closes its side once it has processed everything.
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
    }
}

fn publish_media(nginx: &NginxRtmp, stream: &str, media: &FlvMedia, offset_ms: u32) {
    let mut connection = Connection::publish(&nginx.url(stream));
    let headers = media.headers().map(|h| Tag {
        timestamp: FlvTime::from_ms(offset_ms),
        ..h.clone()
    });
    connection.send(&headers.iter().collect::<Vec<_>>(), 0);
    connection.send(&media.frames.iter().collect::<Vec<_>>(), offset_ms);
    connection.close();
}

#[track_caller]
fn assert_recording_is_the_media(nginx: &NginxRtmp, stream: &str, media: &FlvMedia) {
    let files = nginx
        .wait_for_recordings(stream, 1, 100_000, TIMEOUT)
        .expect("recording");
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = ffprobe::probe(&files[0]).expect("ffprobe");
    let video = rec.video().expect("video stream");
    assert_eq!(video.codec_name, "h264");
    assert_eq!(
        (video.width, video.height),
        (Some(media.width), Some(media.height))
    );
    let audio = rec.audio().expect("audio stream");
    assert_eq!(audio.codec_name, "aac");
    assert_eq!((audio.sample_rate, audio.channels), (Some(48_000), Some(2)));
    assert_eq!(
        rec.video_packets.len(),
        media.video_frames,
        "every video frame arrived"
    );
    assert_eq!(
        rec.video_frame_count(),
        media.video_frames,
        "and every one decodes"
    );
    assert_eq!(
        rec.audio_packets.len(),
        media.audio_frames,
        "every audio frame arrived"
    );
    assert!(rec.first_video_frame_is_key());
    assert!(
        rec.timestamps_monotonic(),
        "{:?}",
        rec.first_non_monotonic()
    );
    let duration = rec.video_duration_ms();
    let want = f64::from(media.duration_ms());
    assert!(
        (duration - want).abs() < 100.0,
        "video lasts {duration} ms, sent {want} ms"
    );
}

#[test]
fn publishes_h264_and_aac_that_nginx_records_and_ffprobe_reads() {
    // Small server chunks, frequent acknowledgements and pings: the client must follow all.
    let nginx = NginxRtmp::start_with(NginxOptions {
        chunk_size: 128,
        ack_window: Some(64 * 1024),
        ping: Some(Duration::from_millis(200)),
        ..NginxOptions::default()
    })
    .expect("nginx");
    let media = FlvMedia::generate(3).expect("media");
    publish_media(&nginx, "plain", &media, 0);
    assert_recording_is_the_media(&nginx, "plain", &media);
    assert!(
        nginx.error_log().contains("publish: name='plain'"),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn timestamps_past_24_bits_survive_extended_timestamp_encoding() {
    // Media starts just under 0xFFFFFF ms (4.66 h) and crosses into 32-bit timestamps. The
    // metadata goes first, at 0xFFFFFF exactly, and is larger than a chunk: its type 0 header
    // carries an extended timestamp, which its continuation chunk must repeat — a server that
    // read it differently would lose track of the chunk stream and the recording would break.
    let nginx = NginxRtmp::start().expect("nginx");
    let mut media = FlvMedia::generate(3).expect("media");
    let offset = 0xFF_FFFF - 1500;
    let meta = Metadata {
        width: media.width,
        height: media.height,
        encoder: "x".repeat(2 * OUTGOING_CHUNK_SIZE as usize),
        ..Metadata::default()
    };
    media.metadata = flv::metadata(FlvTime::from_ms(0), &meta);
    let mut connection = Connection::publish(&nginx.url("extended"));
    let big_metadata = Tag {
        timestamp: FlvTime::from_ms(0xFF_FFFF),
        ..media.metadata.clone()
    };
    connection.send(&[&big_metadata], 0);
    connection.send(&[&media.video_header, &media.audio_header], offset);
    connection.send(&media.frames.iter().collect::<Vec<_>>(), offset);
    connection.close();
    assert_recording_is_the_media(&nginx, "extended", &media);
}

#[test]
fn a_second_publisher_of_the_same_name_is_refused_with_bad_name() {
    let nginx = NginxRtmp::start().expect("nginx");
    let first = Connection::publish(&nginx.url("taken"));
    let mut second = Connection::open(&nginx.url("taken"));
    match second.next_event() {
        Event::Failed(ClientError::Refused { command, code }) => {
            assert_eq!(
                (command, code.as_str()),
                ("publish", "NetStream.Publish.BadName")
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    first.close();
}
