//! WebRTC ingest: every WHIP session shares ONE UDP port.
//!
//! A single reader task owns the socket's receive side and routes each datagram to its
//! session in O(1) ([`routes`]); each session runs in its own task ([`session`]) so sessions
//! spread over the runtime's worker threads. Sessions send on the shared socket directly.

mod routes;
mod sdp;
mod session;
mod stun;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};
use streamhard_pipeline::PipelineSettings;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use sdp::OfferError;

/// Not an API: datagram routing, reachable from outside the crate only so that
/// `benches/route_datagram.rs` can time it without a socket. The modules stay private.
#[doc(hidden)]
pub mod bench_support {
    pub use super::routes::{Datagram, Routes, Undelivered};
    pub use super::stun::local_ufrag;
}

use crate::broadcast::{Broadcast, IngestSlot};
use crate::ids::SessionId;
use routes::{Datagram, Routes, Undelivered};

/// Datagrams queued per session before the reader drops them (about 1 s of a 2.5 Mbps stream).
const SESSION_QUEUE: usize = 512;
/// Largest datagram we accept; WebRTC stays under ~1200 bytes, anything larger is not ours.
const MAX_DATAGRAM: usize = 2048;
/// RTP packets buffered for reordering before str0m gives up on a gap. A 720p keyframe from
/// a browser spans ~60 packets; 1080p ones more. It must hold the largest keyframe.
const VIDEO_REORDERING_PACKETS: usize = 256;

/// Settings for the ingest side, fixed at start.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Address the UDP socket binds.
    pub udp_bind: SocketAddr,
    /// Address advertised in our ICE candidate (the public IP behind NAT or in a container).
    pub advertised_ip: std::net::IpAddr,
    /// Every destination must see a keyframe at least this often.
    pub keyframe_interval: Duration,
    /// Sent as x-google-start-bitrate so the browser starts at a usable quality.
    pub start_bitrate_kbps: u32,
    pub pipeline: PipelineSettings,
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub datagrams: AtomicU64,
    pub unknown_peer: AtomicU64,
    pub session_busy: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error("the offer could not be negotiated: {0}")]
    Negotiation(String),
    #[error("the server cannot advertise its address: {0}")]
    Candidate(String),
}

pub struct Ingest {
    config: Arc<IngestConfig>,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    routes: Arc<Routes>,
    pub counters: Arc<IngestCounters>,
}

impl Ingest {
    /// Binds the UDP port and starts the reader task.
    pub async fn start(config: IngestConfig, shutdown: CancellationToken) -> std::io::Result<Self> {
        let (socket, receive_buffer) = bind_udp(config.udp_bind)?;
        let socket = Arc::new(socket);
        let bound = socket.local_addr()?;
        let local = SocketAddr::new(config.advertised_ip, bound.port());
        info!(udp = %bound, advertised = %local, receive_buffer, "webrtc ingest listening");
        if receive_buffer < RECEIVE_BUFFER / 2 {
            warn!(
                receive_buffer,
                wanted = RECEIVE_BUFFER,
                "the kernel capped the UDP receive buffer: bursts from many publishers may be \
                 dropped; raise net.core.rmem_max"
            );
        }
        let routes = Arc::new(Routes::default());
        let counters = Arc::new(IngestCounters::default());
        tokio::spawn(read_loop(
            Arc::clone(&socket),
            Arc::clone(&routes),
            Arc::clone(&counters),
            shutdown,
        ));
        Ok(Self {
            config: Arc::new(config),
            socket,
            local,
            routes,
            counters,
        })
    }

    /// The UDP address sessions advertise (its port is the real bound port, also when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn sessions(&self) -> usize {
        self.routes.sessions()
    }

    /// Accepts a WHIP offer for `broadcast`: negotiates, registers the session for routing
    /// BEFORE the answer is returned, starts it, and makes it the broadcast's session
    /// (replacing and ending any previous one).
    pub fn accept(
        &self,
        broadcast: &Arc<Broadcast>,
        offer: &str,
    ) -> Result<(SessionId, String), IngestError> {
        sdp::check_offer(offer)?;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| OfferError::Malformed(e.to_string()))?;

        let creds = IceCreds::new();
        let ufrag = creds.ufrag.clone();
        let mut rtc_config = RtcConfig::new()
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .clear_codecs()
            .enable_opus(true, false)
            .set_reordering_size_video(VIDEO_REORDERING_PACKETS)
            // No urn:3gpp:video-orientation: without it the browser rotates frames before
            // encoding, so a phone held sideways is never relayed sideways.
            .clear_extension_map();
        for (id, ext) in [
            (1, str0m::rtp::Extension::AudioLevel),
            (2, str0m::rtp::Extension::AbsoluteSendTime),
            (3, str0m::rtp::Extension::TransportSequenceNumber),
            (4, str0m::rtp::Extension::RtpMid),
        ] {
            rtc_config = rtc_config.set_extension(id, ext);
        }
        // H.264 only, packetization-mode 1 first (fragmented units; what browsers prefer),
        // mode 0 as a fallback. Constrained baseline, baseline, main, high.
        let codecs = rtc_config.codec_config();
        for (pt, rtx, mode1, profile) in [
            (102, 103, true, 0x42e01f),
            (104, 105, true, 0x42001f),
            (106, 107, true, 0x4d001f),
            (108, 109, true, 0x64001f),
            (110, 111, false, 0x42e01f),
            (112, 113, false, 0x42001f),
        ] {
            codecs.add_h264(pt.into(), Some(rtx.into()), mode1, profile);
        }
        let mut rtc: Rtc = rtc_config.build(Instant::now());
        let candidate = Candidate::host(self.local, "udp")
            .map_err(|e| IngestError::Candidate(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| IngestError::Negotiation(e.to_string()))?;
        let answer =
            sdp::add_start_bitrate(&answer.to_sdp_string(), self.config.start_bitrate_kbps);

        let id = SessionId::random();
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        self.routes.register(ufrag, id.clone(), tx);
        let cancel = CancellationToken::new();
        broadcast.replace_ingest(IngestSlot {
            session: id.clone(),
            cancel: cancel.clone(),
        });
        let session = session::Session {
            id: id.clone(),
            rtc,
            config: Arc::clone(&self.config),
            broadcast: Arc::clone(broadcast),
            socket: Arc::clone(&self.socket),
            local: self.local,
            rx,
            routes: Arc::clone(&self.routes),
            cancel,
        };
        tokio::spawn(session.run());
        Ok((id, answer))
    }
}

async fn read_loop(
    socket: Arc<UdpSocket>,
    routes: Arc<Routes>,
    counters: Arc<IngestCounters>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, source) = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    // ICMP port-unreachable from a vanished peer surfaces here on Linux; keep going.
                    debug!(error = %e, "udp receive error");
                    continue;
                }
            },
        };
        counters.datagrams.fetch_add(1, Ordering::Relaxed);
        let datagram = Datagram {
            source,
            received: Instant::now(),
            data: buf[..len].to_vec(),
        };
        match routes.deliver(datagram) {
            Ok(()) => {}
            Err(Undelivered::UnknownPeer | Undelivered::SessionGone) => {
                counters.unknown_peer.fetch_add(1, Ordering::Relaxed);
            }
            Err(Undelivered::SessionBusy) => {
                counters.session_busy.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Receive buffer asked for the shared UDP port. Every publisher's packets queue in this one
/// buffer while the reader task waits for a CPU: Linux's default (208 KiB) holds ~170 full
/// datagrams, about 6 ms of 100 streams at 2.5 Mbit/s, and the kernel silently drops the rest
/// (`RcvbufErrors` in /proc/net/snmp). 8 MiB holds a quarter of a second of that load. Linux
/// caps it at `net.core.rmem_max` (4 MiB on Debian 12 by default, which still helps).
const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;

/// Binds the ingest socket with a large receive buffer; returns it and the size granted
/// (Linux reports double what it books, for its own bookkeeping).
fn bind_udp(addr: SocketAddr) -> std::io::Result<(UdpSocket, usize)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer still works, and the warning above says what to do.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    let granted = socket.recv_buffer_size().unwrap_or(0) / 2;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok((UdpSocket::from_std(socket.into())?, granted))
}
