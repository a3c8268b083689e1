//! Shared by the destination tests: settings for loopback servers, a destination with a
//! keyframe-request counter, and a player that pushes FLV tags in real time.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

pub mod isolated;
pub mod reset_proxy;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use streamhard_media::flv::Tag;
use streamhard_relay::destination::{
    Destination, DestinationSettings, DestinationState, DestinationStatus, Headers,
};
use streamhard_rtmp::RtmpUrl;
use streamhard_testkit::flv_source::FlvMedia;
use tokio::sync::watch;
use tokio::time::Instant;

/// Loopback servers are private addresses; retries are quick so tests are short.
pub fn settings() -> DestinationSettings {
    DestinationSettings {
        allow_private: true,
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(3),
        ..DestinationSettings::default()
    }
}

pub fn headers(media: &FlvMedia) -> Headers {
    Headers {
        metadata: Some(media.metadata.clone()),
        video: Some(media.video_header.clone()),
        audio: Some(media.audio_header.clone()),
    }
}

/// A running destination and what the test observes of it.
pub struct Spawned {
    pub destination: Destination,
    pub keyframe_requests: Arc<AtomicUsize>,
    /// Kept so the destination's headers stay available.
    pub headers: watch::Sender<Headers>,
}

impl Spawned {
    pub fn keyframe_requests(&self) -> usize {
        self.keyframe_requests.load(Ordering::SeqCst)
    }
}

pub fn spawn(url: &str, settings: DestinationSettings, headers: Headers) -> Spawned {
    let url = RtmpUrl::parse(url).expect("url");
    let (tx, rx) = watch::channel(headers);
    let keyframe_requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&keyframe_requests);
    let destination = Destination::spawn(
        "test".into(),
        url,
        settings,
        rx,
        Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
    );
    Spawned {
        destination,
        keyframe_requests,
        headers: tx,
    }
}

/// Waits (without pushing media) until `done` holds for the destination's status.
pub async fn wait_for(
    destination: &Destination,
    timeout: Duration,
    done: impl Fn(&DestinationStatus) -> bool,
) -> DestinationStatus {
    let deadline = Instant::now() + timeout;
    loop {
        let status = destination.status();
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting after {timeout:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn is(state: DestinationState) -> impl Fn(&DestinationStatus) -> bool {
    move |status| status.state == state
}

/// Pushes a stream's frames at their real pace, looping it with ever increasing timestamps
/// (each loop starts on a keyframe), as the broadcast would.
pub struct Player<'a> {
    media: &'a FlvMedia,
    next: usize,
    loop_offset: u32,
    /// When the first frame was pushed, and its timestamp.
    origin: Option<(Instant, streamhard_media::flv::FlvTime)>,
    pub pushed_video: usize,
}

impl<'a> Player<'a> {
    pub fn new(media: &'a FlvMedia) -> Self {
        Self {
            media,
            next: 0,
            loop_offset: 0,
            origin: None,
            pushed_video: 0,
        }
    }

    /// Plays for `duration`, also stopping early once `done` holds for the status; returns
    /// the last status seen.
    pub async fn play_until(
        &mut self,
        destination: &Destination,
        duration: Duration,
        done: impl Fn(&DestinationStatus) -> bool,
    ) -> DestinationStatus {
        let end = Instant::now() + duration;
        loop {
            let status = destination.status();
            if done(&status) || Instant::now() >= end {
                return status;
            }
            let tag = self.next_tag();
            let (start, first) = *self.origin.get_or_insert((Instant::now(), tag.timestamp));
            let due = start + Duration::from_millis(u64::from(tag.timestamp.wrapping_since(first)));
            tokio::time::sleep_until(due.min(end)).await;
            if Instant::now() >= end {
                return destination.status();
            }
            if tag.kind == streamhard_media::flv::TagKind::Video {
                self.pushed_video += 1;
            }
            destination.push(&tag);
            self.advance();
        }
    }

    /// Plays for `duration`.
    pub async fn play(&mut self, destination: &Destination, duration: Duration) {
        self.play_until(destination, duration, |_| false).await;
    }

    /// Plays to every destination at once, each getting the same tags at the same moment as
    /// a broadcast fans out, for `duration` or until `done` holds for all their statuses.
    pub async fn play_all_until(
        &mut self,
        destinations: &[&Destination],
        duration: Duration,
        done: impl Fn(&[DestinationStatus]) -> bool,
    ) -> Vec<DestinationStatus> {
        let statuses = |d: &[&Destination]| d.iter().map(|d| d.status()).collect::<Vec<_>>();
        let end = Instant::now() + duration;
        loop {
            let status = statuses(destinations);
            if done(&status) || Instant::now() >= end {
                return status;
            }
            let tag = self.next_tag();
            let (start, first) = *self.origin.get_or_insert((Instant::now(), tag.timestamp));
            let due = start + Duration::from_millis(u64::from(tag.timestamp.wrapping_since(first)));
            tokio::time::sleep_until(due.min(end)).await;
            if Instant::now() >= end {
                return statuses(destinations);
            }
            if tag.kind == streamhard_media::flv::TagKind::Video {
                self.pushed_video += 1;
            }
            for destination in destinations {
                destination.push(&tag);
            }
            self.advance();
        }
    }

    fn next_tag(&self) -> Tag {
        let frame = &self.media.frames[self.next];
        Tag {
            timestamp: frame.timestamp.wrapping_add(self.loop_offset),
            ..frame.clone()
        }
    }

    fn advance(&mut self) {
        self.next += 1;
        if self.next == self.media.frames.len() {
            self.next = 0;
            self.loop_offset += self.media.duration_ms() + 1000 / self.media.fps;
        }
    }
}
