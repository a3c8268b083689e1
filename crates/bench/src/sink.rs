//! RTMP sinks inside the bench process: they accept the relay's publish connections, parse
//! everything with our sans-IO server session, count video frames and keyframes, and check
//! that timestamps never go back — what a platform's ingest would notice.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use streamhard_media::flv::{FlvTime, Role, TagKind};
use streamhard_rtmp::RANDOM_LEN;
use streamhard_rtmp::server::{Session, SessionEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What one stream name received, over all its connections.
#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    pub connections: u32,
    pub video_frames: u64,
    pub keyframes: u64,
    pub audio_frames: u64,
    pub first_keyframe_at: Option<Instant>,
    /// Video or audio tags whose timestamp is below the previous one of the same kind.
    pub timestamp_errors: u64,
    /// Connections that ended with a protocol error or without unpublishing.
    pub failures: u32,
}

type Shared = Arc<Mutex<HashMap<String, Arc<Mutex<StreamStats>>>>>;

/// A listening sink; every stream published to it is counted under its name.
pub struct Sinks {
    pub addr: SocketAddr,
    streams: Shared,
}

impl Sinks {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let streams = Shared::default();
        let shared = Arc::clone(&streams);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&shared)));
            }
        });
        Ok(Self { addr, streams })
    }

    /// `rtmp://` URL of stream `name` on this sink.
    pub fn url(&self, app: &str, name: &str) -> String {
        format!("rtmp://{}/{app}/{name}", self.addr)
    }

    /// A copy of the figures of stream `name` (default if nothing arrived).
    pub fn stats(&self, name: &str) -> StreamStats {
        let streams = lock(&self.streams);
        streams
            .get(name)
            .map(|s| lock(s).clone())
            .unwrap_or_default()
    }

    /// How many stream names are being published right now or were.
    pub fn streams_seen(&self) -> usize {
        lock(&self.streams).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Last timestamps of one connection, per kind.
#[derive(Default)]
struct Order {
    video: Option<FlvTime>,
    audio: Option<FlvTime>,
}

async fn serve(mut socket: TcpStream, streams: Shared) {
    let _ = socket.set_nodelay(true);
    let random: [u8; RANDOM_LEN] = std::array::from_fn(|_| rand::random());
    let mut session = Session::new(&random);
    let mut buf = vec![0u8; 64 * 1024];
    let mut stream: Option<Arc<Mutex<StreamStats>>> = None;
    let mut order = Order::default();
    let mut clean_end = false;
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) | Err(_) => {
                session.handle_eof();
                0
            }
            Ok(n) => {
                session.handle_input(&buf[..n]);
                n
            }
        };
        while let Some(bytes) = session.poll_transmit() {
            if socket.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let mut failed = false;
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Publishing { name } => {
                    let entry =
                        Arc::clone(lock(&streams).entry(name.expose().to_owned()).or_default());
                    lock(&entry).connections += 1;
                    stream = Some(entry);
                }
                SessionEvent::Media(tag) => {
                    let Some(stats) = &stream else { continue };
                    let mut stats = lock(stats);
                    let last = match tag.kind {
                        TagKind::Video => &mut order.video,
                        TagKind::Audio => &mut order.audio,
                        TagKind::Script => continue,
                    };
                    if last.is_some_and(|l| tag.timestamp.before(l)) {
                        stats.timestamp_errors += 1;
                    }
                    *last = Some(tag.timestamp);
                    match (tag.kind, tag.role) {
                        (_, Role::Header) => {}
                        (TagKind::Video, role) => {
                            stats.video_frames += 1;
                            if role == Role::Keyframe {
                                stats.keyframes += 1;
                                stats.first_keyframe_at.get_or_insert_with(Instant::now);
                            }
                        }
                        (TagKind::Audio, _) => stats.audio_frames += 1,
                        _ => {}
                    }
                }
                SessionEvent::Unpublished => clean_end = true,
                SessionEvent::Failed(_) => failed = true,
                _ => {}
            }
        }
        if n == 0 || failed {
            if (failed || !clean_end)
                && let Some(stats) = &stream
            {
                lock(stats).failures += 1;
            }
            return;
        }
    }
}
