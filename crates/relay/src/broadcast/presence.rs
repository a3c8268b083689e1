//! Is the publisher there? What a broadcast's state is, when standby starts, when it ends.
//!
//! Pure: every time is an input. A broadcast is `live` only while media arrives. When media
//! stops without the publisher saying goodbye (no WHIP DELETE: an ICE/DTLS timeout, a network
//! change, a crashed browser), the broadcast goes on air with standby and waits for the
//! publisher for the grace period; a new WHIP session or an ICE restart within it resumes the
//! same RTMP publishes. After the grace period — or the same time after a deliberate goodbye —
//! the broadcast is abandoned and ends, freeing the user's broadcast slot.
//!
//! A broadcast that never received media is not abandoned: a streamer may take minutes to
//! paste the WHIP URL into OBS.

use std::time::{Duration, Instant};

/// No media at all (audio or video) for this long: the publisher is gone. Browsers send audio
/// 50 times and video ~30 times a second, so this is far beyond any jitter, and short enough
/// that standby's first picture follows the last real one within a second.
pub(crate) const LOST_AFTER: Duration = Duration::from_millis(600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BroadcastState {
    /// No media yet, or the publisher ended its session and none has started since.
    Waiting,
    /// Media is arriving.
    Live,
    /// The publisher vanished; standby is on air until it comes back or the grace period ends.
    Reconnecting,
}

impl BroadcastState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Presence {
    grace: Duration,
    /// When media last arrived.
    last_media: Option<Instant>,
    /// The last sign of a publisher: media, or a new session starting (its media follows).
    last_activity: Option<Instant>,
    /// The publisher ended its session itself (WHIP DELETE).
    left: bool,
}

impl Presence {
    pub fn new(grace: Duration) -> Self {
        Self {
            // Never shorter than the loss detection: a grace of 0 ends the broadcast as soon
            // as the publisher is gone.
            grace: grace.max(LOST_AFTER),
            last_media: None,
            last_activity: None,
            left: false,
        }
    }

    /// Media of the current session arrived (a deleted session's late packets are not
    /// counted by the caller, so a goodbye stays a goodbye).
    pub fn media(&mut self, at: Instant) {
        self.last_media = Some(at);
        self.last_activity = Some(at);
    }

    /// A new ingest session was accepted: it gets the grace period to bring media.
    pub fn session_started(&mut self, at: Instant) {
        self.left = false;
        if self.last_media.is_some() {
            self.last_activity = Some(at);
        }
    }

    /// The publisher ended its session (WHIP DELETE): no standby, but the same time to return.
    pub fn session_ended_by_publisher(&mut self, at: Instant) {
        self.left = true;
        if self.last_media.is_some() {
            self.last_activity = Some(at);
        }
    }

    fn media_recent(&self, now: Instant) -> bool {
        self.last_media
            .is_some_and(|at| now.saturating_duration_since(at) < LOST_AFTER)
    }

    pub fn state(&self, now: Instant) -> BroadcastState {
        if self.media_recent(now) {
            BroadcastState::Live
        } else if self.last_media.is_some() && !self.left {
            BroadcastState::Reconnecting
        } else {
            BroadcastState::Waiting
        }
    }

    /// Standby should be on air: the publisher had media, vanished, and did not say goodbye.
    pub fn standby_wanted(&self, now: Instant) -> bool {
        self.state(now) == BroadcastState::Reconnecting
    }

    /// When the broadcast is abandoned unless the publisher returns; None while it is live or
    /// never had media.
    pub fn ends_at(&self, now: Instant) -> Option<Instant> {
        if self.media_recent(now) {
            return None;
        }
        self.last_activity.map(|at| at + self.grace)
    }

    pub fn abandoned(&self, now: Instant) -> bool {
        self.ends_at(now).is_some_and(|at| now >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(30);

    #[test]
    fn waits_without_end_until_the_first_media() {
        let t0 = Instant::now();
        let mut p = Presence::new(GRACE);
        assert_eq!(p.state(t0), BroadcastState::Waiting);
        p.session_started(t0);
        assert_eq!(p.ends_at(t0 + Duration::from_secs(3600)), None);
        assert!(!p.abandoned(t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn live_only_while_media_arrives_then_reconnecting_for_the_grace_period() {
        let t0 = Instant::now();
        let mut p = Presence::new(GRACE);
        p.media(t0);
        assert_eq!(
            p.state(t0 + Duration::from_millis(500)),
            BroadcastState::Live
        );
        let lost = t0 + LOST_AFTER;
        assert_eq!(p.state(lost), BroadcastState::Reconnecting);
        assert!(p.standby_wanted(lost));
        assert_eq!(p.ends_at(lost), Some(t0 + GRACE));
        assert!(!p.abandoned(t0 + GRACE - Duration::from_millis(1)));
        assert!(p.abandoned(t0 + GRACE));
    }

    #[test]
    fn a_publisher_back_within_the_grace_period_is_live_again() {
        let t0 = Instant::now();
        let mut p = Presence::new(GRACE);
        p.media(t0);
        let back = t0 + Duration::from_secs(20);
        p.session_started(back);
        // The new session's media is still on its way: standby stays, the clock restarts.
        assert_eq!(p.state(back), BroadcastState::Reconnecting);
        assert_eq!(p.ends_at(back), Some(back + GRACE));
        p.media(back + Duration::from_secs(1));
        assert_eq!(p.state(back + Duration::from_secs(1)), BroadcastState::Live);
        assert!(!p.abandoned(t0 + GRACE + Duration::from_secs(1)));
    }

    #[test]
    fn a_goodbye_waits_without_standby_and_ends_after_the_same_time() {
        let t0 = Instant::now();
        let mut p = Presence::new(GRACE);
        p.media(t0);
        let bye = t0 + Duration::from_secs(1);
        p.session_ended_by_publisher(bye);
        assert_eq!(p.state(bye + LOST_AFTER), BroadcastState::Waiting);
        assert!(!p.standby_wanted(bye + LOST_AFTER));
        assert!(p.abandoned(bye + GRACE));
    }

    #[test]
    fn a_grace_of_zero_ends_as_soon_as_the_publisher_is_gone() {
        let t0 = Instant::now();
        let mut p = Presence::new(Duration::ZERO);
        p.media(t0);
        assert!(!p.abandoned(t0 + LOST_AFTER / 2));
        assert!(p.abandoned(t0 + LOST_AFTER));
    }
}
