//! Drives a str0m `Rtc` over one tokio UDP socket.
//!
//! str0m's contract: after every mutation (`handle_input`, a write) drain `poll_output` until it
//! yields a timeout, then wait for the first of that timeout, a datagram, or the next thing the
//! application wants to do. [`Driver::drain`] and [`Driver::wait_until`] are those two halves;
//! the publisher calls them alternately.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::media::KeyframeRequestKind;
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;

use crate::error::WhipError;

/// Largest datagram read: str0m's MTU is below 1500, and STUN/DTLS records are smaller still.
const RECEIVE_BUFFER: usize = 2000;

/// Keyframe requests (PLI/FIR) received from the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyframeRequests {
    pub pli: u64,
    pub fir: u64,
}

impl KeyframeRequests {
    pub fn total(&self) -> u64 {
        self.pli + self.fir
    }
}

pub(crate) struct Driver {
    pub rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    buffer: Vec<u8>,
    pub connected: bool,
    pub disconnected: bool,
    pub keyframe_requests: KeyframeRequests,
}

impl Driver {
    pub(crate) fn new(rtc: Rtc, socket: UdpSocket, local: SocketAddr) -> Self {
        Self {
            rtc,
            socket,
            local,
            buffer: vec![0; RECEIVE_BUFFER],
            connected: false,
            disconnected: false,
            keyframe_requests: KeyframeRequests::default(),
        }
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Handles everything str0m has to say and returns when it next wants time to pass.
    pub(crate) async fn drain(&mut self) -> Result<Instant, WhipError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => return Ok(at),
                Output::Transmit(transmit) => {
                    // A lost datagram is what UDP does; str0m retransmits what matters. A
                    // failure here (e.g. a full send buffer) must not end the session.
                    if let Err(e) = self
                        .socket
                        .send_to(&transmit.contents, transmit.destination)
                        .await
                    {
                        tracing::debug!(error = %e, "UDP send failed");
                    }
                }
                Output::Event(event) => self.on_event(event),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => {
                tracing::debug!("ICE and DTLS connected");
                self.connected = true;
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                tracing::debug!("ICE disconnected");
                self.disconnected = true;
            }
            Event::KeyframeRequest(request) => {
                // The media is pre-encoded with an IDR every second: the request is answered
                // by the next scheduled keyframe rather than by skipping ahead in the file,
                // which would break the sync mark's timing.
                match request.kind {
                    KeyframeRequestKind::Pli => self.keyframe_requests.pli += 1,
                    KeyframeRequestKind::Fir => self.keyframe_requests.fir += 1,
                }
                tracing::debug!(kind = ?request.kind, "keyframe requested by the server");
            }
            _ => {}
        }
    }

    /// Lets str0m's clock reach `now` without waiting (one mutation: call [`Driver::drain`]
    /// next).
    pub(crate) fn advance(&mut self, now: Instant) -> Result<(), WhipError> {
        self.rtc.handle_input(Input::Timeout(now))?;
        Ok(())
    }

    /// Waits until `deadline` or an incoming datagram, whichever is first, and feeds it to
    /// str0m (one mutation: call [`Driver::drain`] next).
    pub(crate) async fn wait_until(&mut self, deadline: Instant) -> Result<(), WhipError> {
        let received = tokio::select! {
            received = self.socket.recv_from(&mut self.buffer) => Some(received),
            () = tokio::time::sleep_until(deadline.into()) => None,
        };
        let now = Instant::now();
        let input = match received {
            None => Input::Timeout(now),
            Some(Ok((length, source))) => {
                match (&self.buffer[..length]).try_into() {
                    Ok(contents) => Input::Receive(
                        now,
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: self.local,
                            contents,
                        },
                    ),
                    // Not STUN, DTLS, RTP or RTCP: hostile or stray, and ignored.
                    Err(_) => Input::Timeout(now),
                }
            }
            // E.g. ECONNREFUSED reported for an earlier send: not fatal for UDP.
            Some(Err(e)) => {
                tracing::debug!(error = %e, "UDP receive failed");
                Input::Timeout(now)
            }
        };
        self.rtc.handle_input(input)?;
        Ok(())
    }
}
