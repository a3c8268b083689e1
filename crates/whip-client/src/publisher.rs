//! A WHIP publisher: signalling, connection, and real-time sending of test media.
//!
//! The publisher owns its `Rtc`, one UDP socket and one HTTP client, and has no global state,
//! so a benchmark can run hundreds of them in one process. str0m only makes progress while one
//! of the async methods runs (`connect`, `send`, `idle`); between calls nothing is lost but
//! nothing is answered either, so keep gaps short (ICE consent lasts ~30 s).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::HeaderValue;
use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
use streamhard_testkit::fixtures::TestMedia;
use tokio::net::UdpSocket;

use crate::driver::{Driver, KeyframeRequests};
use crate::error::WhipError;
use crate::offer::{make_offer, negotiated_pt};
use crate::schedule::{Item, RtpOffsets, Schedule};
use crate::signaling::{bearer_header, delete_session, parse_endpoint, post_offer};

/// How a publisher connects and what it offers.
#[derive(Clone, Debug)]
pub struct PublisherOptions {
    /// Offer an Opus track. Without it the offer has video only: the relay must then make the
    /// silent AAC track platforms require.
    pub audio: bool,
    /// Address the UDP socket binds to, announced as the one host candidate.
    pub bind_ip: IpAddr,
    /// Time allowed for ICE and DTLS after the answer arrives.
    pub connect_timeout: Duration,
    /// Time allowed for each HTTP request.
    pub http_timeout: Duration,
    /// RTP times of the first frames; `None` picks them at random as RFC 3550 asks.
    pub rtp_offsets: Option<RtpOffsets>,
    /// The client for the WHIP requests, e.g. one that trusts a test's own CA for an
    /// `https://` endpoint. `None` builds one with `http_timeout`; a client given here keeps
    /// its own timeouts.
    pub http_client: Option<reqwest::Client>,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        Self {
            audio: true,
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            connect_timeout: Duration::from_secs(10),
            http_timeout: Duration::from_secs(10),
            rtp_offsets: None,
            http_client: None,
        }
    }
}

/// What one call to [`Publisher::send`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    pub video_frames: u64,
    pub audio_packets: u64,
    /// How far behind schedule the most late frame was written (a loaded machine shows here).
    pub max_lateness: Duration,
}

/// A connected WHIP session.
pub struct Publisher {
    driver: Driver,
    http: reqwest::Client,
    bearer: Option<HeaderValue>,
    location: Url,
    video: (Mid, Pt),
    audio: Option<(Mid, Pt)>,
    offsets: RtpOffsets,
    /// Frames already sent by earlier `send` calls, so that the next call continues the
    /// timeline instead of restarting RTP times.
    sent_until: Duration,
    started: Option<Instant>,
    answered_at: Instant,
}

/// Manual so that the token and the session URL never reach logs.
impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("audio", &self.audio.is_some())
            .field("connected", &self.driver.connected)
            .field("keyframe_requests", &self.driver.keyframe_requests)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Offers H.264 (+ Opus) to `whip_url`, applies the answer and waits until ICE and DTLS are
    /// connected, so that media written next is not dropped.
    pub async fn connect(
        whip_url: &str,
        bearer_token: Option<&str>,
        options: PublisherOptions,
    ) -> Result<Self, WhipError> {
        let endpoint = parse_endpoint(whip_url)?;
        let bearer = bearer_token.map(bearer_header).transpose()?;
        let http = match options.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .timeout(options.http_timeout)
                .build()
                .map_err(|source| WhipError::Http {
                    request: "client setup",
                    source: source.without_url(),
                })?,
        };
        let socket = UdpSocket::bind(SocketAddr::new(options.bind_ip, 0))
            .await
            .map_err(WhipError::Socket)?;
        let local = socket.local_addr().map_err(WhipError::Socket)?;

        let offer = make_offer(local, options.audio, Instant::now())?;
        let created =
            post_offer(&http, &endpoint, bearer.as_ref(), offer.sdp.to_sdp_string()).await?;
        let answered_at = Instant::now();
        let answer = SdpAnswer::from_sdp_string(&created.answer)
            .map_err(|e| WhipError::InvalidAnswer(e.to_string()))?;
        let mut rtc = offer.rtc;
        rtc.sdp_api().accept_answer(offer.pending, answer)?;

        let video_pt = negotiated_pt(&mut rtc, offer.video, Codec::H264)
            .ok_or(WhipError::Rejected("H.264 video"))?;
        let audio = match offer.audio {
            Some(mid) => Some((
                mid,
                negotiated_pt(&mut rtc, mid, Codec::Opus)
                    .ok_or(WhipError::Rejected("Opus audio"))?,
            )),
            None => None,
        };
        let mut publisher = Self {
            driver: Driver::new(rtc, socket, local),
            http,
            bearer,
            location: created.location,
            video: (offer.video, video_pt),
            audio,
            offsets: options.rtp_offsets.unwrap_or_else(|| RtpOffsets {
                video: rand::random(),
                audio: rand::random(),
            }),
            sent_until: Duration::ZERO,
            started: None,
            answered_at,
        };
        publisher.wait_connected(options.connect_timeout).await?;
        Ok(publisher)
    }

    async fn wait_connected(&mut self, limit: Duration) -> Result<(), WhipError> {
        let give_up = Instant::now() + limit;
        loop {
            let timeout = self.driver.drain().await?;
            if self.driver.connected {
                return Ok(());
            }
            let now = Instant::now();
            if now >= give_up {
                return Err(WhipError::ConnectTimeout(limit));
            }
            self.driver.wait_until(timeout.min(give_up)).await?;
        }
    }

    /// Sends `media` in real time for `duration`, looping it as needed: video frames at their
    /// 30 fps times, audio every 20 ms, each with the RTP time of its place in one continuous
    /// stream. A second call continues where the first stopped.
    pub async fn send(
        &mut self,
        media: &TestMedia,
        duration: Duration,
    ) -> Result<SendReport, WhipError> {
        if media.video.is_empty() || media.fps == 0 {
            return Err(WhipError::Rejected("test media without video"));
        }
        let from = self.sent_until;
        let until = from + duration;
        // The capture clock: frame times count from the first send, and a later call resumes
        // on the same clock (real time that passed in between is simply skipped over).
        let now = Instant::now();
        let origin = match (self.started, now.checked_sub(from)) {
            (Some(origin), Some(resume)) => origin.max(resume),
            (Some(origin), None) => origin,
            (None, _) => now,
        };
        self.started = Some(origin);
        // Skipped here rather than with `skip_while`: a closure stored in the iterator held
        // across `.await` makes this future fail rustc's higher-ranked `Send` check, and the
        // benchmark spawns publishers on a multi-threaded runtime.
        let mut schedule =
            Schedule::new(media, self.audio.is_some(), until, self.offsets).peekable();
        while schedule.next_if(|due| due.at < from).is_some() {}
        let mut report = SendReport::default();
        // At most one catch-up of str0m's clock per frame, so a timer that is always due
        // cannot stall sending.
        let mut advanced = false;
        loop {
            let timeout = self.driver.drain().await?;
            if self.driver.disconnected {
                return Err(WhipError::Disconnected);
            }
            let Some(due) = schedule.peek().copied() else {
                break;
            };
            let due_at = origin + due.at;
            let now = Instant::now();
            if due_at > now {
                self.driver.wait_until(timeout.min(due_at)).await?;
                continue;
            }
            if timeout <= now && !advanced {
                // Behind schedule: let str0m's own timers run before the next write so a
                // burst of late frames does not starve STUN and RTCP.
                self.driver.advance(now)?;
                advanced = true;
                continue;
            }
            advanced = false;
            schedule.next();
            report.max_lateness = report.max_lateness.max(now - due_at);
            let (mid, pt, rtp_time, data) = match (due.item, self.audio) {
                (Item::Video(unit), _) => {
                    report.video_frames += 1;
                    let (mid, pt) = self.video;
                    (mid, pt, MediaTime::from_90khz(due.rtp_time), &unit.data)
                }
                (Item::Audio(packet), Some((mid, pt))) => {
                    report.audio_packets += 1;
                    let rtp_time = MediaTime::new(due.rtp_time, Frequency::FORTY_EIGHT_KHZ);
                    (mid, pt, rtp_time, &packet.data)
                }
                // The schedule yields audio only when built with it, i.e. when negotiated.
                (Item::Audio(_), None) => continue,
            };
            let writer = self
                .driver
                .rtc
                .writer(mid)
                .ok_or(WhipError::Rejected("a track the answer removed"))?;
            writer.write(pt, due_at, rtp_time, Arc::<[u8]>::from(&data[..]))?;
        }
        self.sent_until = until;
        Ok(report)
    }

    /// Keeps the connection serviced (STUN, RTCP, keyframe requests) for `duration` without
    /// sending media.
    pub async fn idle(&mut self, duration: Duration) -> Result<(), WhipError> {
        let until = Instant::now() + duration;
        loop {
            let timeout = self.driver.drain().await?;
            if self.driver.disconnected {
                return Err(WhipError::Disconnected);
            }
            if Instant::now() >= until {
                return Ok(());
            }
            self.driver.wait_until(timeout.min(until)).await?;
        }
    }

    /// PLI and FIR received so far.
    pub fn keyframe_requests(&self) -> KeyframeRequests {
        self.driver.keyframe_requests
    }

    /// The local UDP address (the host candidate offered).
    /// When the WHIP answer arrived (before ICE and DTLS): where "time to first keyframe at
    /// the destinations" starts counting.
    pub fn answered_at(&self) -> Instant {
        self.answered_at
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.driver.local_addr()
    }

    /// Ends the session: `DELETE` on the Location the server returned.
    pub async fn delete(mut self) -> Result<(), WhipError> {
        self.driver.rtc.disconnect();
        // Flush whatever str0m wants to say on the way out (nothing is awaited after this).
        let _ = self.driver.drain().await;
        delete_session(&self.http, &self.location, self.bearer.as_ref()).await
    }
}
