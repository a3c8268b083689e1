//! WebRTC ingest: every WHIP session shares ONE UDP port.
//!
//! A single reader task owns the socket's receive side and routes each datagram to its
//! session in O(1) ([`routes`]); each session runs in its own task ([`session`]) so sessions
//! spread over the runtime's worker threads. Sessions send on the shared socket directly.

mod candidates;
mod peer_rate;
mod routes;
mod sdp;
mod sdpfrag;
mod session;
mod socket;
mod stun;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::media::MediaKind;
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};
use streamhard_pipeline::PipelineSettings;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use candidates::{CandidatePolicy, HostAddress, gather};
pub use peer_rate::PeerRateSettings;
pub use sdp::OfferError;
pub use sdpfrag::{IfMatch, MAX_SDPFRAG_BYTES, PatchError, PatchOutcome, SdpFrag};
pub(crate) use session::Patch;

/// Not an API: datagram routing, reachable from outside the crate only so that
/// `benches/route_datagram.rs` can time it without a socket. The modules stay private.
#[doc(hidden)]
pub mod bench_support {
    pub use super::routes::{Datagram, Routes, Undelivered};
    // The WHIP PATCH rewrites, for the fuzz targets in `fuzz/`.
    pub use super::sdpfrag::{restart_answer, with_credentials};
    pub use super::stun::local_ufrag;
}

use crate::broadcast::{Broadcast, IngestSlot};
use crate::ids::SessionId;
use peer_rate::PeerRate;
use routes::{Datagram, Routes, Undelivered};
use sdp::{NegotiatedMedia, OfferPlan};
use socket::{IngestSocket, RECEIVE_BUFFER, RecvBatch};

/// Datagrams queued per session before the reader drops them (about 1 s of a 2.5 Mbps stream).
const SESSION_QUEUE: usize = 512;
/// Largest datagram we accept; WebRTC stays under ~1200 bytes, anything larger is not ours.
const MAX_DATAGRAM: usize = 2048;
/// RTP packets buffered for reordering before str0m gives up on a gap. A 720p keyframe from
/// a browser spans ~60 packets; 1080p ones more. It must hold the largest keyframe.
const VIDEO_REORDERING_PACKETS: usize = 256;
/// Control messages (PATCH) queued per session.
const CONTROL_QUEUE: usize = 8;
/// Sources the per-peer rate limit remembers (about 50 bytes each). Far more than the
/// publishers of a node; spoofed sources beyond it only push out the stalest.
const PEER_RATE_CAPACITY: usize = 16_384;

/// How much one node takes on, fixed at start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IngestLimits {
    /// Live WebRTC sessions on this node; a new one past it is refused ([`IngestError::Full`]).
    /// Replacing a broadcast's session (a publisher reconnecting) is always allowed: it ends
    /// the one it replaces.
    pub max_sessions: usize,
    /// Datagrams per second one source (IPv4 address, IPv6 /64) may send on the UDP port, with
    /// a burst of one second's worth; `0` turns the limit off.
    pub max_peer_packets_per_second: u32,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_sessions: 200,
            max_peer_packets_per_second: 3000,
        }
    }
}

impl IngestLimits {
    fn peer_rate(&self) -> Option<PeerRateSettings> {
        (self.max_peer_packets_per_second > 0).then_some(PeerRateSettings {
            rate: self.max_peer_packets_per_second,
            burst: self.max_peer_packets_per_second,
            capacity: PEER_RATE_CAPACITY,
        })
    }
}

/// Settings for the ingest side, fixed at start.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// Address the UDP socket binds (`[::]` binds dual-stack, falling back to `0.0.0.0`).
    pub udp_bind: SocketAddr,
    /// Which addresses to advertise as ICE candidates.
    pub candidates: CandidatePolicy,
    /// Every destination must see a keyframe at least this often.
    pub keyframe_interval: Duration,
    /// Sent as x-google-start-bitrate so the browser starts at a usable quality.
    pub start_bitrate_kbps: u32,
    pub pipeline: PipelineSettings,
    pub limits: IngestLimits,
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub datagrams: AtomicU64,
    pub unknown_peer: AtomicU64,
    pub session_busy: AtomicU64,
    /// Datagrams dropped because their source exceeded its packet rate.
    pub rate_limited: AtomicU64,
    /// WHIP offers refused because the node had `max_sessions` sessions.
    pub sessions_refused: AtomicU64,
    /// Offers refused, by [`OfferError::reason`] (same order as [`OfferError::REASONS`]).
    offers_refused: [AtomicU64; OfferError::REASONS.len()],
}

impl IngestCounters {
    /// `(reason, count)` for every reason an offer can be refused, zeros included.
    pub fn offers_refused(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        OfferError::REASONS
            .iter()
            .zip(&self.offers_refused)
            .map(|(reason, n)| (*reason, n.load(Ordering::Relaxed)))
    }

    fn refused(&self, error: &OfferError) {
        if let Some(i) = OfferError::REASONS
            .iter()
            .position(|r| *r == error.reason())
        {
            self.offers_refused[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error("the offer could not be negotiated: {0}")]
    Negotiation(String),
    #[error("the server has no address to advertise: {0}")]
    Candidate(String),
    #[error(
        "this server already carries {0} sessions, its limit; try again later or another server"
    )]
    Full(usize),
}

/// What a new session hands back to the WHIP handler.
#[derive(Debug)]
pub struct Accepted {
    pub session: SessionId,
    pub answer: String,
    /// The session's ICE entity tag (changes with every ICE restart).
    pub etag: String,
}

pub struct Ingest {
    config: Arc<IngestConfig>,
    socket: Arc<IngestSocket>,
    bound: SocketAddr,
    routes: Arc<Routes>,
    /// Held from the session count check to the new session's registration, so concurrent
    /// offers cannot both take the last slot.
    admission: std::sync::Mutex<()>,
    pub counters: Arc<IngestCounters>,
}

impl Ingest {
    /// Binds the UDP port, logs the candidates it will advertise, and starts the reader task.
    pub async fn start(config: IngestConfig, shutdown: CancellationToken) -> std::io::Result<Self> {
        let (socket, receive_buffer) = IngestSocket::bind(config.udp_bind)?;
        let socket = Arc::new(socket);
        let bound = socket.local_addr()?;
        info!(udp = %bound, receive_buffer, "webrtc ingest listening");
        if receive_buffer < RECEIVE_BUFFER / 2 {
            warn!(
                receive_buffer,
                wanted = RECEIVE_BUFFER,
                "the kernel capped the UDP receive buffer: bursts from many publishers may be \
                 dropped; raise net.core.rmem_max"
            );
        }
        let ingest = Self {
            config: Arc::new(config),
            socket: Arc::clone(&socket),
            bound,
            routes: Arc::new(Routes::default()),
            admission: std::sync::Mutex::new(()),
            counters: Arc::new(IngestCounters::default()),
        };
        let advertised = ingest.candidates();
        if advertised.is_empty() {
            warn!("no ICE candidate to advertise: no interface is up and no --public-ip is set");
        } else {
            let list: Vec<String> = advertised.iter().map(ToString::to_string).collect();
            info!(candidates = %list.join(" "), "advertising these ICE candidates (gathered again for every session)");
        }
        tokio::spawn(read_loop(
            socket,
            Arc::clone(&ingest.routes),
            Arc::clone(&ingest.counters),
            ingest.config.limits.peer_rate().map(PeerRate::new),
            shutdown,
        ));
        Ok(ingest)
    }

    /// The address the UDP socket is bound to (its port is the real one, also when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound
    }

    /// The host candidates a session started now advertises.
    pub fn candidates(&self) -> Vec<SocketAddr> {
        let host = if self.config.candidates.interfaces {
            candidates::system_interfaces().unwrap_or_else(|e| {
                warn!(error = %e, "cannot list network interfaces; advertising --public-ip only");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        gather(self.bound, &host, &self.config.candidates)
    }

    /// Sessions registered for routing: live ones, and replaced or ended ones until their
    /// task has finished (moments).
    pub fn sessions(&self) -> usize {
        self.routes.sessions()
    }

    /// Refuses a new session when the node is full. A broadcast that already has a session
    /// may always replace it (the publisher reconnecting), so its count does not grow.
    fn admit(&self, broadcast: &Broadcast) -> Result<(), IngestError> {
        let max = self.config.limits.max_sessions;
        let replacing = broadcast
            .ingest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !replacing && self.sessions() >= max {
            self.counters
                .sessions_refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(IngestError::Full(max));
        }
        Ok(())
    }

    /// Accepts a WHIP offer for `broadcast`: negotiates, registers the session for routing
    /// BEFORE the answer is returned, starts it, and makes it the broadcast's session
    /// (replacing and ending any previous one).
    pub fn accept(&self, broadcast: &Arc<Broadcast>, offer: &str) -> Result<Accepted, IngestError> {
        // Before the work of negotiating, and again under the admission lock before
        // registering (the count may have moved meanwhile).
        self.admit(broadcast)?;
        let result = self.negotiate(offer);
        if let Err(IngestError::Offer(e)) = &result {
            self.counters.refused(e);
        }
        let negotiated = result?;
        let Negotiated {
            rtc,
            ufrag,
            answer,
            video_mid,
            first_mid,
            remote_ufrag,
            sprop,
            candidates,
        } = negotiated;

        let id = SessionId::random();
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
        {
            let _admission = self.admission.lock().unwrap_or_else(|e| e.into_inner());
            self.admit(broadcast)?;
            self.routes.register(ufrag.clone(), id.clone(), tx.clone());
        }
        let cancel = CancellationToken::new();
        broadcast.replace_ingest(IngestSlot {
            session: id.clone(),
            cancel: cancel.clone(),
            control: control_tx,
        });
        debug!(session = %id, candidates = ?candidates, "new session");
        let session = session::Session {
            id: id.clone(),
            rtc,
            config: Arc::clone(&self.config),
            broadcast: Arc::clone(broadcast),
            socket: Arc::clone(&self.socket),
            candidates,
            port: self.bound.port(),
            rx,
            tx,
            control: control_rx,
            offer: offer.to_owned(),
            ufrag: ufrag.clone(),
            remote_ufrag,
            first_mid,
            video_mid,
            sprop,
            routes: Arc::clone(&self.routes),
            cancel,
        };
        tokio::spawn(session.run());
        Ok(Accepted {
            session: id,
            answer,
            etag: etag_of(&ufrag),
        })
    }

    fn negotiate(&self, offer_text: &str) -> Result<Negotiated, IngestError> {
        let offer = SdpOffer::from_sdp_string(offer_text)
            .map_err(|e| OfferError::Malformed(e.to_string()))?;
        let plan = OfferPlan::read(&offer, offer_text);

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
        // Exactly the H.264 formats the publisher offered that we can relay, with its own
        // payload types and profile-level-id: the answer then never forces a profile on it.
        let codecs = rtc_config.codec_config();
        for format in &plan.h264 {
            codecs.add_h264(
                format.pt,
                format.rtx,
                format.packetization_mode_1,
                format.profile_level_id,
            );
        }
        let mut rtc: Rtc = rtc_config.build(Instant::now());
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Err(IngestError::Candidate(
                "no network interface is up and no --public-ip is set".into(),
            ));
        }
        for addr in &candidates {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => debug!(%addr, error = %e, "not a usable candidate"),
            }
        }
        // str0m consumes the offer it negotiates; `offer` (the same text, parsed once more)
        // stays to name the sections it opened.
        let negotiated = SdpOffer::from_sdp_string(offer_text)
            .map_err(|e| OfferError::Malformed(e.to_string()))?;
        let answer = rtc
            .sdp_api()
            .accept_offer(negotiated)
            .map_err(|e| IngestError::Negotiation(e.to_string()))?;

        // What str0m opened from the offer, after its reading of BUNDLE and bundle-only:
        // sections it rejected (port 0 outside the BUNDLE group) are stopped.
        let media: Vec<NegotiatedMedia> = offer
            .media_lines
            .iter()
            .filter(|line| line.typ.is_media())
            // `mid()` cannot panic here: str0m refuses offers with a section without a=mid.
            .filter_map(|line| {
                let mid = line.mid();
                let m = rtc.media(mid).filter(|m| !m.stopped())?;
                Some(NegotiatedMedia {
                    mid,
                    kind: m.kind(),
                    direction: m.direction(),
                    pts: m.remote_pts().to_vec(),
                })
            })
            .collect();
        let video_mid = sdp::check_negotiated(&plan, &media)?;
        let first_mid = media.first().map_or(video_mid, |m| m.mid);
        let video_pts: Vec<_> = media
            .iter()
            .filter(|m| m.kind == MediaKind::Video)
            .flat_map(|m| m.pts.iter().copied())
            .collect();
        let sprop = video_pts
            .iter()
            .find_map(|pt| plan.sprop_for(*pt))
            .map(<[Vec<u8>]>::to_vec)
            .unwrap_or_default();
        let answer = sdp::add_start_bitrate(
            &answer.to_sdp_string(),
            &video_pts,
            self.config.start_bitrate_kbps,
        );
        Ok(Negotiated {
            rtc,
            ufrag,
            answer,
            video_mid,
            first_mid,
            remote_ufrag: plan.remote_ufrag,
            sprop,
            candidates,
        })
    }
}

/// A negotiated session, not yet started.
struct Negotiated {
    rtc: Rtc,
    ufrag: String,
    answer: String,
    video_mid: str0m::media::Mid,
    first_mid: str0m::media::Mid,
    remote_ufrag: Option<String>,
    sprop: Vec<Vec<u8>>,
    candidates: Vec<SocketAddr>,
}

/// The entity tag of an ICE session: its local ufrag, which every ICE restart replaces.
fn etag_of(ufrag: &str) -> String {
    format!("\"{ufrag}\"")
}

async fn read_loop(
    socket: Arc<IngestSocket>,
    routes: Arc<Routes>,
    counters: Arc<IngestCounters>,
    mut peer_rate: Option<PeerRate>,
    shutdown: CancellationToken,
) {
    let mut batch = RecvBatch::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = socket.recv(&mut batch) => if let Err(e) = r {
                // ICMP port-unreachable from a vanished peer surfaces here on Linux; keep going.
                debug!(error = %e, "udp receive error");
                continue;
            },
        }
        let received = Instant::now();
        for (from, data) in batch.datagrams() {
            counters.datagrams.fetch_add(1, Ordering::Relaxed);
            if data.len() > MAX_DATAGRAM {
                counters.unknown_peer.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // Before routing: a flooding source costs one table lookup per datagram, no more.
            if let Some(limit) = &mut peer_rate
                && !limit.allow(from.source.ip(), received)
            {
                counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let datagram = Datagram {
                source: from.source,
                local: from.local,
                received,
                data: data.to_vec(),
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
}
