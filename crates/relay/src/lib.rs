//! The relay runtime: WebRTC ingest on one UDP port, broadcasts, and their RTMP destinations.
//!
//! This crate owns sockets, tasks and timers; the media work itself happens in the pure crates
//! (`streamhard-pipeline`, `streamhard-rtmp`, `streamhard-media`) that it drives.

pub mod broadcast;
pub mod destination;
pub mod ids;
pub mod ingest;
pub mod latency;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use streamhard_rtmp::url::RtmpUrl;
use tokio_util::sync::CancellationToken;

pub use broadcast::{Broadcast, BroadcastState, BroadcastStatus, IngestInfo};
pub use destination::{DestinationSettings, DestinationState, DestinationStatus, is_public};
pub use ids::{BroadcastId, DestinationId, SessionId};
pub use ingest::{
    Accepted, CandidatePolicy, IfMatch, IngestConfig, IngestError, IngestLimits, MAX_SDPFRAG_BYTES,
    OfferError, PatchError, PatchOutcome, SdpFrag,
};

#[derive(Clone, Debug)]
pub struct RelayConfig {
    pub ingest: IngestConfig,
    pub destination: DestinationSettings,
    /// How long a vanished publisher has to come back (a new WHIP session or an ICE restart)
    /// while standby keeps the destinations fed; then the broadcast ends.
    pub publisher_grace: std::time::Duration,
}

/// The live state of this node: broadcasts in memory (with their destination URLs, which
/// never leave memory), and the shared ingest socket.
pub struct Relay {
    ingest: ingest::Ingest,
    destination_settings: DestinationSettings,
    standby: broadcast::StandbySettings,
    broadcasts: Mutex<HashMap<BroadcastId, Arc<Broadcast>>>,
    shutdown: CancellationToken,
}

impl Relay {
    pub async fn start(config: RelayConfig) -> std::io::Result<Arc<Self>> {
        let shutdown = CancellationToken::new();
        // Encoded once: standby repeats it, costing no encoding while the publisher is away.
        let silence = streamhard_pipeline::silent_aac_frame(&config.ingest.pipeline)
            .map_err(std::io::Error::other)?;
        let standby = broadcast::StandbySettings {
            grace: config.publisher_grace,
            silence: streamhard_media::flv::aac_frame(
                streamhard_media::flv::FlvTime::ZERO,
                &silence,
            ),
        };
        let ingest = ingest::Ingest::start(config.ingest, shutdown.clone()).await?;
        Ok(Arc::new(Self {
            ingest,
            destination_settings: config.destination,
            standby,
            broadcasts: Mutex::new(HashMap::new()),
            shutdown,
        }))
    }

    /// The address the ingest UDP socket is bound to.
    pub fn udp_addr(&self) -> std::net::SocketAddr {
        self.ingest.local_addr()
    }

    /// The ICE candidates a session started now would advertise.
    pub fn candidates(&self) -> Vec<std::net::SocketAddr> {
        self.ingest.candidates()
    }

    pub fn ingest_counters(&self) -> &ingest::IngestCounters {
        &self.ingest.counters
    }

    /// WebRTC sessions on this node (bounded by [`IngestLimits::max_sessions`]).
    pub fn sessions(&self) -> usize {
        self.ingest.sessions()
    }

    /// Creates a broadcast and starts its destinations (they connect and wait for media).
    pub fn create_broadcast(&self, destinations: Vec<(String, RtmpUrl)>) -> Arc<Broadcast> {
        let broadcast = Broadcast::new(
            BroadcastId::random(),
            self.destination_settings.clone(),
            self.standby.clone(),
        );
        for (name, url) in destinations {
            broadcast.add_destination(name, url);
        }
        self.lock()
            .insert(broadcast.id.clone(), Arc::clone(&broadcast));
        broadcast
    }

    pub fn broadcast(&self, id: &BroadcastId) -> Option<Arc<Broadcast>> {
        self.lock().get(id).cloned()
    }

    pub fn broadcasts(&self) -> Vec<Arc<Broadcast>> {
        self.lock().values().cloned().collect()
    }

    /// Starts (or replaces) the ingest session of a broadcast from a WHIP offer.
    pub fn accept_offer(
        &self,
        broadcast: &Arc<Broadcast>,
        offer: &str,
    ) -> Result<Accepted, IngestError> {
        self.ingest.accept(broadcast, offer)
    }

    /// Applies a WHIP PATCH (trickle ICE or ICE restart) to `session` of `broadcast`.
    pub async fn patch_session(
        &self,
        broadcast: &Broadcast,
        session: &SessionId,
        if_match: IfMatch,
        frag: SdpFrag,
    ) -> Result<PatchOutcome, PatchError> {
        let control = broadcast.session_control(session).ok_or(PatchError::Gone)?;
        let (reply, outcome) = tokio::sync::oneshot::channel();
        control
            .send(ingest::Patch {
                if_match,
                frag,
                reply,
            })
            .await
            .map_err(|_| PatchError::Gone)?;
        // The session answers within one turn of its loop; a session that ends meanwhile
        // drops the reply.
        tokio::time::timeout(std::time::Duration::from_secs(5), outcome)
            .await
            .map_err(|_| PatchError::Gone)?
            .map_err(|_| PatchError::Gone)?
    }

    /// Stops a broadcast: ends its session and unpublishes every destination.
    pub async fn stop_broadcast(&self, id: &BroadcastId) -> bool {
        let removed = self.lock().remove(id);
        match removed {
            Some(broadcast) => {
                broadcast.stop().await;
                true
            }
            None => false,
        }
    }

    /// Stops everything (graceful shutdown): destinations unpublish cleanly.
    pub async fn shutdown(&self) {
        let all: Vec<_> = self.lock().drain().map(|(_, b)| b).collect();
        for broadcast in all {
            broadcast.stop().await;
        }
        self.shutdown.cancel();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<BroadcastId, Arc<Broadcast>>> {
        // The map has no invariant a panicking holder could break.
        self.broadcasts.lock().unwrap_or_else(|e| e.into_inner())
    }
}
