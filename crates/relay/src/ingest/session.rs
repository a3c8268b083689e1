//! One WHIP session: a str0m `Rtc` and the broadcast pipeline, driven by one tokio task.
//!
//! The task owns everything mutable about the session, so nothing here is shared or locked on
//! the per-packet path: datagrams arrive on a channel from the UDP reader, str0m's output is
//! drained after every input (as str0m requires), and the pipeline's FLV tags go straight to
//! the broadcast's destination queues.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use str0m::change::SdpOffer;
use str0m::media::{KeyframeRequestKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use streamhard_media::flv::{Role, Tag, TagKind};
use streamhard_media::time::RtpTime;
use streamhard_pipeline::{Pipeline, Track};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::candidates::candidate_for;
use super::routes::{Datagram, Routes};
use super::sdpfrag::{self, IfMatch, PatchError, PatchOutcome, SdpFrag};
use super::socket::IngestSocket;
use super::stun;
use super::{IngestConfig, etag_of};
use crate::broadcast::{Broadcast, IngestInfo, Origin};
use crate::ids::SessionId;

/// How often the session looks at its keyframe clock and refreshes the broadcast's ingest info.
const TICK: Duration = Duration::from_millis(100);
/// Peers whose arrival address a session remembers (routes pin at most 8 per session).
const MAX_PEERS: usize = 16;

/// A WHIP `PATCH` handed to the session's task, which alone owns the `Rtc`.
#[derive(Debug)]
pub(crate) struct Patch {
    pub if_match: IfMatch,
    pub frag: SdpFrag,
    pub reply: oneshot::Sender<Result<PatchOutcome, PatchError>>,
}

/// A PLI that produced no keyframe within this time is repeated as a FIR.
const PLI_PATIENCE: Duration = Duration::from_millis(800);
/// The browser needs roughly an RTT plus an encode to answer a request: ask this much early.
const REQUEST_LEAD: Duration = Duration::from_millis(400);

pub(crate) struct Session {
    pub id: SessionId,
    pub rtc: Rtc,
    pub config: Arc<IngestConfig>,
    pub broadcast: Arc<Broadcast>,
    pub socket: Arc<IngestSocket>,
    /// The host candidates we advertised; str0m matches each datagram to one of them.
    pub candidates: Vec<SocketAddr>,
    pub port: u16,
    pub rx: mpsc::Receiver<Datagram>,
    /// Our own route's sender, registered again under the new ufrag of an ICE restart.
    pub tx: mpsc::Sender<Datagram>,
    pub control: mpsc::Receiver<Patch>,
    /// The publisher's offer as it now stands (an ICE restart renegotiates it).
    pub offer: String,
    /// Our current ICE ufrag (the session's entity tag).
    pub ufrag: String,
    pub remote_ufrag: Option<String>,
    /// The first media section of the BUNDLE group (ICE restart answers name it).
    pub first_mid: Mid,
    pub video_mid: Mid,
    /// SPS/PPS from the offer's `sprop-parameter-sets`, for publishers that send none in-band.
    pub sprop: Vec<Vec<u8>>,
    pub routes: Arc<Routes>,
    pub cancel: CancellationToken,
}

/// Where each peer's datagrams arrived, so replies leave from that same address.
#[derive(Debug, Default)]
struct Arrivals(Vec<(SocketAddr, IpAddr)>);

impl Arrivals {
    fn saw(&mut self, peer: SocketAddr, local: IpAddr) {
        if let Some(entry) = self.0.iter_mut().find(|(p, _)| *p == peer) {
            entry.1 = local;
        } else if self.0.len() < MAX_PEERS {
            self.0.push((peer, local));
        }
    }

    fn local_for(&self, peer: SocketAddr) -> Option<IpAddr> {
        self.0.iter().find(|(p, _)| *p == peer).map(|(_, l)| *l)
    }
}

struct State {
    pipeline: Pipeline,
    video_mid: Option<Mid>,
    epoch: Instant,
    /// Media arrived on this session at least once.
    had_media: bool,
    tags: Vec<Tag>,
    keyframes: KeyframeClock,
    sender_reports: [Option<SystemTime>; 2],
    bytes_in: u64,
    bitrate_window: (Instant, u64),
    bitrate_bps: u64,
    arrivals: Arrivals,
    /// Addresses this session asked the routes to pin (asked once each).
    pinned: std::collections::HashSet<SocketAddr>,
}

impl Session {
    pub async fn run(self) {
        // Instrumented, not entered: a span entered across `.await` would label whatever else
        // runs on this worker thread meanwhile.
        let span =
            tracing::info_span!("session", broadcast = %self.broadcast.id, session = %self.id);
        tracing::Instrument::instrument(self.serve(), span).await;
    }

    async fn serve(mut self) {
        let pipeline = match Pipeline::new(self.config.pipeline.clone()) {
            Ok(mut p) => {
                p.set_out_of_band_parameter_sets(&self.sprop);
                p
            }
            Err(e) => {
                warn!(error = %e, "cannot start the pipeline");
                self.finish();
                return;
            }
        };
        let now = Instant::now();
        let mut state = State {
            pipeline,
            video_mid: Some(self.video_mid),
            epoch: now,
            had_media: false,
            tags: Vec::with_capacity(8),
            keyframes: KeyframeClock::new(self.config.keyframe_interval),
            sender_reports: [None, None],
            bytes_in: 0,
            bitrate_window: (now, 0),
            bitrate_bps: 0,
            arrivals: Arrivals::default(),
            pinned: Default::default(),
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let keyframe = Arc::clone(&self.broadcast.keyframe);
        let stopped = self.broadcast.stopped().clone();

        while let Some(deadline) = self.drain(&mut state) {
            let input_result = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                _ = stopped.cancelled() => break,
                datagram = self.rx.recv() => {
                    let Some(datagram) = datagram else { break };
                    let Some(destination) = self.destination_of(&mut state, &datagram) else {
                        continue; // Arrived on no address we advertise for this family.
                    };
                    let Ok(contents) = datagram.data.as_slice().try_into() else {
                        continue; // Not a datagram str0m can classify: drop it.
                    };
                    let receive = Receive { proto: Protocol::Udp, source: datagram.source, destination, contents };
                    self.rtc.handle_input(Input::Receive(datagram.received, receive))
                }
                patch = self.control.recv() => {
                    if let Some(patch) = patch {
                        let outcome = self.patch(patch.if_match, patch.frag);
                        let _ = patch.reply.send(outcome);
                    }
                    Ok(())
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    self.rtc.handle_input(Input::Timeout(Instant::now()))
                }
                _ = keyframe.wait() => {
                    state.keyframes.wanted = true;
                    Ok(())
                }
                _ = tick.tick() => {
                    self.on_tick(&mut state);
                    Ok(())
                }
            };
            if let Err(e) = input_result {
                debug!(error = %e, "str0m refused input");
            }
        }
        self.rtc.disconnect();
        let _ = self.drain(&mut state);
        self.finish();
    }

    fn finish(&self) {
        self.routes.unregister(&self.id);
        self.broadcast.clear_ingest(&self.id);
        info!("session ended");
    }

    /// Drains str0m until it asks for a timeout. Returns None when the session is over.
    fn drain(&mut self, state: &mut State) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => return Some(at),
                Ok(Output::Transmit(t)) => {
                    // str0m answers only STUN requests whose integrity it verified: the
                    // address is the publisher's, route it here from now on (routes.rs).
                    if stun::is_binding_success(&t.contents) && state.pinned.insert(t.destination) {
                        self.routes.pin(&self.id, t.destination);
                    }
                    // UDP is lossy anyway: a full socket buffer drops, it never stalls the session.
                    let source = state.arrivals.local_for(t.destination);
                    let _ = self.socket.try_send(t.destination, source, &t.contents);
                }
                Ok(Output::Event(event)) => {
                    if !self.on_event(state, event) {
                        return None;
                    }
                }
                Err(e) => {
                    warn!(error = %e, "webrtc session failed");
                    return None;
                }
            }
        }
    }

    fn on_event(&mut self, state: &mut State, event: Event) -> bool {
        match event {
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                // Not the end: the broadcast goes on standby, and the publisher may restart
                // ICE on this session (WHIP PATCH) within the grace period. The session ends
                // when it is replaced, deleted, or the broadcast ends. One that never brought
                // media ends now: nothing is waiting for it (a broadcast without media never
                // times out), and its ICE never worked.
                if !state.had_media {
                    info!("publisher disconnected before sending media");
                    return false;
                }
                info!("publisher disconnected; waiting for an ICE restart or a new session");
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => {
                state.keyframes.wanted = true;
            }
            Event::Connected => {
                info!("publisher connected");
                state.keyframes.wanted = true;
            }
            Event::MediaData(data) => {
                state.had_media = true;
                self.broadcast.media_arrived(&self.id, data.network_time);
                let arrival_us = data
                    .network_time
                    .saturating_duration_since(state.epoch)
                    .as_micros() as u64;
                // str0m's extended RTP time, as is: the pipeline never re-extends a 32-bit one.
                let rtp = RtpTime::from_extended(data.time.numer());
                let track = if data.params.spec().codec.is_video() {
                    Track::Video
                } else {
                    Track::Audio
                };
                if let Some(sr) = &data.last_sender_info {
                    let slot = &mut state.sender_reports[track as usize];
                    if *slot != Some(sr.ntp_time) {
                        *slot = Some(sr.ntp_time);
                        let ntp_us = sr
                            .ntp_time
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_micros() as i64)
                            .unwrap_or(0);
                        // The report's wire timestamp: str0m extends report times on a count
                        // of their own, which the timeline does not share (see there).
                        let wire = RtpTime::from_extended(sr.rtp_time.numer()).wire();
                        state.pipeline.sender_report(track, wire, ntp_us);
                    }
                }
                state.bytes_in += data.data.len() as u64;
                state.tags.clear();
                let clock_made = match track {
                    Track::Video => {
                        state
                            .pipeline
                            .push_video(rtp, arrival_us, &data.data, &mut state.tags);
                        0
                    }
                    Track::Audio => {
                        state
                            .pipeline
                            .push_audio(rtp, arrival_us, &data.data, &mut state.tags)
                    }
                };
                // Only video frames are timed: audio waits in the AAC encoder's 1024-sample
                // frames by design, which is not relay delay.
                let received = (track == Track::Video).then_some(data.network_time);
                self.publish(state, received, clock_made);
            }
            _ => {}
        }
        true
    }

    /// Hands the pipeline's tags to the broadcast, which places them on its timeline; the
    /// first `clock_made` are the session's clock's (silence, frames from before a gap), the
    /// rest the publisher's.
    fn publish(&mut self, state: &mut State, received: Option<Instant>, clock_made: usize) {
        for (i, tag) in state.tags.drain(..).enumerate() {
            let origin = if i < clock_made {
                Origin::Clock
            } else {
                Origin::Packets
            };
            if tag.role == Role::Keyframe {
                state.keyframes.saw_keyframe(Instant::now());
            }
            let received =
                received.filter(|_| tag.kind == TagKind::Video && tag.role != Role::Header);
            self.broadcast.publish(&self.id, tag, received, origin);
        }
    }

    /// The candidate a datagram was sent to, as str0m must be told (it drops STUN that did not
    /// arrive on one of its candidates); remembers the arrival address for the replies.
    fn destination_of(&self, state: &mut State, datagram: &Datagram) -> Option<SocketAddr> {
        let arrived_on = match datagram.local {
            Some(ip) => ip,
            // The platform cannot tell: assume the first candidate of the peer's family.
            None => self
                .candidates
                .iter()
                .find(|c| c.is_ipv4() == datagram.source.is_ipv4())?
                .ip(),
        };
        state.arrivals.saw(datagram.source, arrived_on);
        candidate_for(arrived_on, self.port, &self.candidates)
    }

    /// A WHIP PATCH: trickled candidates, or an ICE restart on this same session (the
    /// broadcast and its destinations are untouched; DTLS and SRTP carry on).
    fn patch(&mut self, if_match: IfMatch, frag: SdpFrag) -> Result<PatchOutcome, PatchError> {
        let current = etag_of(&self.ufrag);
        if frag.is_restart(self.remote_ufrag.as_deref()) {
            if if_match != IfMatch::Any {
                return Err(PatchError::RestartWithoutWildcard);
            }
            let (Some(ufrag), Some(pwd)) = (&frag.ufrag, &frag.pwd) else {
                return Err(PatchError::IncompleteRestart);
            };
            let reoffer = sdpfrag::with_credentials(&self.offer, ufrag, pwd);
            let offer = SdpOffer::from_sdp_string(&reoffer)
                .map_err(|e| PatchError::Malformed(e.to_string()))?;
            // str0m sees new remote credentials in an offer: it restarts ICE and picks new
            // local ones, keeping our candidates.
            self.rtc
                .sdp_api()
                .accept_offer(offer)
                .map_err(|e| PatchError::Malformed(e.to_string()))?;
            let local = self.rtc.direct_api().local_ice_credentials();
            self.routes
                .register(local.ufrag.clone(), self.id.clone(), self.tx.clone());
            self.routes.forget_ufrag(&self.ufrag);
            self.offer = reoffer;
            self.remote_ufrag = Some(ufrag.clone());
            self.ufrag = local.ufrag.clone();
            self.add_remote_candidates(&frag);
            self.broadcast.ice_restarted();
            info!("ICE restarted by the publisher");
            let lines = sdpfrag::candidate_lines(&self.candidates);
            return Ok(PatchOutcome::Restarted {
                fragment: sdpfrag::restart_answer(
                    &local.ufrag,
                    &local.pass,
                    &self.first_mid.to_string(),
                    &lines,
                ),
                etag: etag_of(&self.ufrag),
            });
        }
        if let IfMatch::Tag(tag) = &if_match
            && *tag != current
        {
            return Err(PatchError::Stale);
        }
        self.add_remote_candidates(&frag);
        Ok(PatchOutcome::Trickled)
    }

    fn add_remote_candidates(&mut self, frag: &SdpFrag) {
        for line in &frag.candidates {
            match Candidate::from_sdp_string(line) {
                Ok(c) => self.rtc.add_remote_candidate(c),
                Err(e) => debug!(error = %e, "ignoring a trickled candidate str0m cannot read"),
            }
        }
    }

    fn on_tick(&mut self, state: &mut State) {
        let now = Instant::now();
        if let Some(kind) = state.keyframes.request_due(now)
            && let Some(mid) = state.video_mid
            && let Some(mut writer) = self.rtc.writer(mid)
            && writer.request_keyframe(None, kind).is_ok()
        {
            debug!(?kind, "requested a keyframe");
            state.keyframes.requested(now, kind);
        }
        // Audio with no packets at all (no track, muted, lost) still needs a continuous track.
        state.tags.clear();
        let media_us = now.saturating_duration_since(state.epoch).as_micros() as u64;
        state.pipeline.tick(media_us, &mut state.tags);
        self.publish(state, None, usize::MAX);

        let (since, bytes) = state.bitrate_window;
        let elapsed = now.saturating_duration_since(since);
        if elapsed >= Duration::from_secs(1) {
            state.bitrate_bps =
                (state.bytes_in - bytes) * 8 * 1000 / elapsed.as_millis().max(1) as u64;
            state.bitrate_window = (now, state.bytes_in);
            let stream = state.pipeline.info();
            self.broadcast.set_ingest_info(IngestInfo {
                video_codec: stream.video_codec,
                audio_codec: stream.audio_codec,
                width: stream.width,
                height: stream.height,
                fps: stream.fps,
                bitrate_bps: state.bitrate_bps,
            });
        }
    }
}

/// When to ask the browser for a keyframe. Browsers send one only when asked, and platforms
/// want one at least every 2 s; destinations also ask when they (re)connect.
#[derive(Debug)]
struct KeyframeClock {
    interval: Duration,
    last_keyframe: Option<Instant>,
    last_request: Option<(Instant, KeyframeRequestKind)>,
    /// A destination (or the session start) wants one now.
    wanted: bool,
}

impl KeyframeClock {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_keyframe: None,
            last_request: None,
            wanted: true,
        }
    }

    fn saw_keyframe(&mut self, at: Instant) {
        self.last_keyframe = Some(at);
        self.last_request = None;
        self.wanted = false;
    }

    /// The request to send now, if any: PLI first, FIR when a PLI went unanswered.
    fn request_due(&self, now: Instant) -> Option<KeyframeRequestKind> {
        let overdue = match self.last_keyframe {
            None => true,
            Some(at) => now.saturating_duration_since(at) + REQUEST_LEAD >= self.interval,
        };
        if !(self.wanted || overdue) {
            return None;
        }
        match self.last_request {
            None => Some(KeyframeRequestKind::Pli),
            // A request is in flight: its answer serves any want that came since. If it goes
            // unanswered, alternate PLI and FIR: some encoders honour only one of the two.
            Some((at, kind)) if now.saturating_duration_since(at) >= PLI_PATIENCE => {
                Some(match kind {
                    KeyframeRequestKind::Pli => KeyframeRequestKind::Fir,
                    _ => KeyframeRequestKind::Pli,
                })
            }
            Some(_) => None,
        }
    }

    fn requested(&mut self, at: Instant, kind: KeyframeRequestKind) {
        self.last_request = Some((at, kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_for_a_keyframe_at_start() {
        let clock = KeyframeClock::new(Duration::from_secs(2));
        assert_eq!(
            clock.request_due(Instant::now()),
            Some(KeyframeRequestKind::Pli)
        );
    }

    #[test]
    fn asks_again_before_the_interval_runs_out() {
        let t0 = Instant::now();
        let mut clock = KeyframeClock::new(Duration::from_secs(2));
        clock.saw_keyframe(t0);
        assert_eq!(clock.request_due(t0 + Duration::from_millis(1000)), None);
        assert_eq!(
            clock.request_due(t0 + Duration::from_millis(1600)),
            Some(KeyframeRequestKind::Pli)
        );
    }

    #[test]
    fn falls_back_to_fir_when_a_pli_is_ignored() {
        let t0 = Instant::now();
        let mut clock = KeyframeClock::new(Duration::from_secs(2));
        clock.requested(t0, KeyframeRequestKind::Pli);
        assert_eq!(clock.request_due(t0 + Duration::from_millis(100)), None);
        assert_eq!(
            clock.request_due(t0 + PLI_PATIENCE),
            Some(KeyframeRequestKind::Fir)
        );
    }

    #[test]
    fn a_destination_asking_gets_a_request_right_away() {
        let t0 = Instant::now();
        let mut clock = KeyframeClock::new(Duration::from_secs(2));
        clock.saw_keyframe(t0);
        clock.wanted = true;
        assert_eq!(
            clock.request_due(t0 + Duration::from_millis(10)),
            Some(KeyframeRequestKind::Pli)
        );
    }
}
