//! One connection to a destination: the sans-IO RTMP [`Client`] driven over a byte stream.
//!
//! [`publish`] connects and runs the conversation up to `NetStream.Publish.Start` within the
//! connect timeout. [`stream`] then sends the sequence headers and media from the queue while
//! reading the server (pings, acknowledgement windows, errors) at the same time, until it is
//! cancelled — then it unpublishes — or the connection fails.
//!
//! Backpressure: media is taken from the queue only while less than [`HIGH_WATER`] bytes wait
//! to be written, so a slow server leaves its backlog in the queue, where the drop policy
//! applies, and a server that stops reading altogether is detected by the write timeout.
//! Above the same mark the server is not read either: every ping it sends adds a reply to our
//! output, so a server that floods pings while it trickle-reads would otherwise grow our memory
//! without bound. Not reading pushes back on it through TCP, and [`MAX_PENDING`] caps the
//! output in any case. The write timeout counts only real progress ([`PROGRESS_BYTES`] at a
//! time), so a server that takes one byte a second is as stalled as one that takes none.
//!
//! Honest state: the destination is `live` while bytes reach the server and `stalled` after
//! [`STALLED_AFTER`] without any (the publisher is gone with no standby, or the server stopped
//! reading), long before the write timeout gives up on the connection.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use streamhard_media::flv::Tag;
use streamhard_rtmp::url::RtmpUrl;
use streamhard_rtmp::{Client, ClientError, Event, RANDOM_LEN};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::transport::{self, ConnectError, Io};
use super::{DestinationSettings, DestinationState, Headers, Shared};
use crate::latency::RELAY_LATENCY;

const READ_BUFFER: usize = 16 * 1024;
/// Most bytes waiting to be written before media is left in the queue.
const HIGH_WATER: usize = 512 * 1024;
/// Bytes of tags taken from the queue at a time.
const BATCH_BYTES: usize = 128 * 1024;
/// How long a stopping destination may take to finish its output and unpublish.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the bitrate is measured (and the live/stalled state decided).
const BITRATE_PERIOD: Duration = Duration::from_secs(1);
/// No byte written for this long: `stalled`. Checked every [`BITRATE_PERIOD`], so a destination
/// is shown stalled within 5 s.
const STALLED_AFTER: Duration = Duration::from_secs(4);
/// Bytes the server must take for the write timeout to start over.
const PROGRESS_BYTES: u64 = 16 * 1024;
/// Output the RTMP client may hold at most (replies to the server included): far above what
/// backpressure lets accumulate — the high-water mark, one batch and the largest message RTMP
/// can carry (a 4K keyframe is legitimate) — so only a server that floods us while it does not
/// read reaches it.
const MAX_PENDING: usize = HIGH_WATER + BATCH_BYTES + (16 << 20);

/// Why a connection attempt or a connection failed. Never contains the key or the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("RTMP: {0}")]
    Rtmp(#[from] ClientError),
    #[error("timed out after {0:?} connecting and starting to publish")]
    Timeout(Duration),
    #[error("the server closed the connection")]
    Closed,
    #[error("network error: {0}")]
    Io(#[from] io::Error),
    #[error("the server stopped reading: nothing could be written for {0:?}")]
    Stalled(Duration),
    #[error("the server sent more than it read back: {0} bytes of replies and media were waiting")]
    Flooded(usize),
}

/// A connection on which publishing has started.
pub struct Publishing {
    io: Box<dyn Io>,
    client: Client,
}

/// How a live connection ended.
#[derive(Debug)]
pub enum Ended {
    /// Cancelled: unpublished (as far as the server let us within the goodbye timeout).
    Stopped,
    Failed(SessionError),
}

/// Connects and publishes: TCP/TLS, handshake, connect, createStream, publish — all within
/// `settings.connect_timeout`.
pub async fn publish(
    url: &RtmpUrl,
    settings: &DestinationSettings,
    shared: &Shared,
) -> Result<Publishing, SessionError> {
    let work = async {
        let mut io = transport::connect(url, settings.allow_private).await?;
        let mut random = [0u8; RANDOM_LEN];
        rand::rng().fill(&mut random[..]);
        let mut client = Client::new(url.clone(), &random);
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            while let Some(bytes) = client.poll_transmit() {
                io.write_all(&bytes).await?;
                shared.add_bytes_sent(bytes.len());
            }
            io.flush().await?;
            while let Some(event) = client.poll_event() {
                match event {
                    Event::Publishing => return Ok(Publishing { io, client }),
                    Event::Failed(e) => return Err(e.into()),
                    _ => {}
                }
            }
            let n = io.read(&mut buf).await?;
            if n == 0 {
                return Err(SessionError::Closed);
            }
            client.handle_input(&buf[..n]);
        }
    };
    let timeout = settings.connect_timeout;
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| SessionError::Timeout(timeout))?
}

/// What [`stream`] needs besides the connection.
pub struct Context<'a> {
    pub settings: &'a DestinationSettings,
    pub shared: &'a Shared,
    pub headers: &'a Headers,
    pub request_keyframe: &'a (dyn Fn() + Send + Sync),
    pub cancel: &'a CancellationToken,
}

/// Sends the headers, then media from the queue (from the next keyframe), until cancelled or
/// the connection fails.
pub async fn stream(publishing: Publishing, cx: Context<'_>) -> Ended {
    let Publishing { io, mut client } = publishing;
    let queue = &cx.shared.queue;
    queue.open();
    // Headers carry the current time so the stream's timestamps never go back (see
    // `header_timestamp`: not the newest of any kind, which would put audio behind its header).
    let now = queue.header_timestamp();
    let headers = [&cx.headers.metadata, &cx.headers.video, &cx.headers.audio];
    for tag in headers.into_iter().flatten() {
        let tag = Tag {
            timestamp: now,
            ..tag.clone()
        };
        if let Err(e) = client.send_tag(&tag) {
            return Ended::Failed(e.into());
        }
    }
    (cx.request_keyframe)();

    let (mut reader, mut writer) = tokio::io::split(io);
    let mut read_buf = vec![0u8; READ_BUFFER];
    // The bytes being written and how far we got; refilled from the client when done.
    let mut out: Vec<u8> = Vec::new();
    let mut written = 0;
    let mut needs_flush = false;
    // When the server last took PROGRESS_BYTES, and the output offset it had reached then.
    let mut progress = (Instant::now(), client.bytes_transmitted());
    let mut last_write = Instant::now();
    let mut stalled = false;
    let mut batch = Vec::new();
    // Video frames sent but not yet fully written: (end offset in the output stream, arrival).
    let mut in_flight = InFlight::default();
    let mut meter = (Instant::now(), cx.shared.bytes_sent.load(Ordering::Relaxed));
    // The first measurement after a full period (an interval's first tick is immediate).
    let mut tick = tokio::time::interval_at(Instant::now() + BITRATE_PERIOD, BITRATE_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        if written == out.len()
            && let Some(bytes) = client.poll_transmit()
        {
            if !needs_flush {
                // Output after an idle spell: the stall clock starts now, from the start of
                // this output (the server has all of it and PROGRESS_BYTES more to take).
                progress = (
                    Instant::now(),
                    client.bytes_transmitted() - bytes.len() as u64,
                );
            }
            out = bytes;
            written = 0;
        }
        let writing = written < out.len();
        let backlog = out.len() - written + client.pending_bytes();
        if client.pending_bytes() > MAX_PENDING {
            return Ended::Failed(SessionError::Flooded(client.pending_bytes()));
        }
        let stall_deadline = progress.0 + cx.settings.write_timeout;
        tokio::select! {
            biased;
            _ = cx.cancel.cancelled() => {
                goodbye(client, &mut writer, &out[written..]).await;
                return Ended::Stopped;
            }
            result = write_or_flush(&mut writer, &out[written..]), if writing || needs_flush => {
                match result {
                    Ok(Some(0)) => return Ended::Failed(SessionError::Closed),
                    Ok(Some(n)) => {
                        written += n;
                        cx.shared.add_bytes_sent(n);
                        let unwritten = (out.len() - written) as u64;
                        let offset = client.bytes_transmitted() - unwritten;
                        in_flight.written_up_to(offset);
                        last_write = Instant::now();
                        if offset.saturating_sub(progress.1) >= PROGRESS_BYTES {
                            progress = (last_write, offset);
                        }
                        needs_flush = true;
                    }
                    Ok(None) => needs_flush = false,
                    Err(e) => return Ended::Failed(e.into()),
                }
            }
            // Not read while our output is backed up: each message may add a reply to it.
            result = reader.read(&mut read_buf), if backlog < HIGH_WATER => match result {
                Ok(0) => return Ended::Failed(SessionError::Closed),
                Ok(n) => {
                    client.handle_input(&read_buf[..n]);
                    while let Some(event) = client.poll_event() {
                        match event {
                            Event::Failed(e) => return Ended::Failed(e.into()),
                            Event::Status { code } => info!(%code, "server status"),
                            _ => {}
                        }
                    }
                }
                Err(e) => return Ended::Failed(e.into()),
            },
            _ = queue.ready(), if backlog < HIGH_WATER => {
                queue.pop_batch(BATCH_BYTES, &mut batch);
                for queued in batch.drain(..) {
                    match client.send_tag(&queued.tag) {
                        Ok(()) => {
                            if let Some(received) = queued.received {
                                let end = client.bytes_transmitted() + client.pending_bytes() as u64;
                                in_flight.sent(end, received);
                            }
                        }
                        Err(ClientError::TagTooLarge(len)) => {
                            warn!(len, "tag too large for RTMP, skipped");
                        }
                        Err(e) => return Ended::Failed(e.into()),
                    }
                }
            }
            _ = tokio::time::sleep_until(stall_deadline), if writing || needs_flush => {
                return Ended::Failed(SessionError::Stalled(cx.settings.write_timeout));
            }
            _ = tick.tick() => {
                let (since, before) = meter;
                let total = cx.shared.bytes_sent.load(Ordering::Relaxed);
                let ms = since.elapsed().as_millis().max(1) as u64;
                let bps = total.saturating_sub(before).saturating_mul(8000) / ms;
                cx.shared.bitrate_bps.store(bps, Ordering::Relaxed);
                meter = (Instant::now(), total);
                // Nothing written for a while (nothing to send), or output waiting that the
                // server takes a trickle of at best.
                let now_stalled = last_write.elapsed() >= STALLED_AFTER
                    || ((writing || needs_flush) && progress.0.elapsed() >= STALLED_AFTER);
                if now_stalled != stalled {
                    stalled = now_stalled;
                    let state = if stalled { DestinationState::Stalled } else { DestinationState::Live };
                    if stalled {
                        info!("stalled: no bytes reached the server for {STALLED_AFTER:?}");
                    }
                    cx.shared.set_state(state);
                }
            }
        }
    }
}

/// Writes some of `buf`, or flushes when it is empty (TLS may hold written bytes back until
/// flushed): `Some(bytes written)` or `None` for a flush. One future for both, because both
/// need the writer.
async fn write_or_flush(
    writer: &mut (impl AsyncWrite + Unpin),
    buf: &[u8],
) -> io::Result<Option<usize>> {
    if buf.is_empty() {
        writer.flush().await.map(|()| None)
    } else {
        writer.write(buf).await.map(Some)
    }
}

/// Finishes the message being written, unpublishes and closes, within [`GOODBYE_TIMEOUT`].
async fn goodbye(mut client: Client, writer: &mut (impl AsyncWrite + Unpin), unwritten: &[u8]) {
    client.close();
    let work = async {
        // The unwritten rest may end mid-chunk; the server must get all of it before the
        // commands make sense.
        writer.write_all(unwritten).await?;
        while let Some(bytes) = client.poll_transmit() {
            writer.write_all(&bytes).await?;
        }
        writer.flush().await?;
        writer.shutdown().await
    };
    match tokio::time::timeout(GOODBYE_TIMEOUT, work).await {
        Ok(Ok(())) => info!("unpublished"),
        Ok(Err(error)) => info!(%error, "could not unpublish cleanly"),
        Err(_) => info!("the server took too long to take the unpublish"),
    }
}

/// Video frames handed to the RTMP client whose bytes are not all on the socket yet. A frame
/// counts as relayed when the write that carries its last byte returns, so the latency
/// includes time spent behind earlier frames in this connection's output.
#[derive(Default)]
struct InFlight(std::collections::VecDeque<(u64, std::time::Instant)>);

impl InFlight {
    /// A frame whose last byte is at `end` in the connection's output stream.
    fn sent(&mut self, end: u64, received: std::time::Instant) {
        // A connection that stops writing would otherwise grow this without bound; the
        // write timeout ends it long before, but keep the bound explicit.
        if self.0.len() < 4096 {
            self.0.push_back((end, received));
        }
    }

    /// The socket has taken the stream up to `offset`.
    fn written_up_to(&mut self, offset: u64) {
        while let Some(&(end, received)) = self.0.front() {
            if end > offset {
                break;
            }
            self.0.pop_front();
            RELAY_LATENCY.observe(received.elapsed());
        }
    }
}
