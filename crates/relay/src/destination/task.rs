//! The life of one destination: connect, publish, stream, reconnect with backoff, give up,
//! stop. Everything it reports goes through [`Shared`]: state, last error, counters.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::Rng;
use streamhard_rtmp::url::RtmpUrl;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::driver::{self, Context, Ended, SessionError};
use super::{DestinationSettings, DestinationState, Headers, Shared, backoff};

pub(super) struct Task {
    pub url: RtmpUrl,
    pub settings: DestinationSettings,
    pub shared: Arc<Shared>,
    pub headers: watch::Receiver<Headers>,
    pub request_keyframe: Arc<dyn Fn() + Send + Sync>,
    pub cancel: CancellationToken,
}

impl Task {
    pub async fn run(self) {
        let shared = &self.shared;
        let max_failures = self.settings.max_failures.max(1);
        let mut failures = 0u32;
        // Refusals in a row and since when, and whether this destination ever published.
        let mut refusals = 0u32;
        let mut refused_since: Option<Instant> = None;
        let mut ever_live = false;
        loop {
            let attempt = tokio::select! {
                _ = self.cancel.cancelled() => break,
                attempt = driver::publish(&self.url, &self.settings, shared) => attempt,
            };
            let error = match attempt {
                Ok(publishing) => {
                    ever_live = true;
                    refusals = 0;
                    refused_since = None;
                    shared.set_state(DestinationState::Live);
                    info!("publishing");
                    let since = Instant::now();
                    let headers = self.headers.borrow().clone();
                    let cx = Context {
                        settings: &self.settings,
                        shared,
                        headers: &headers,
                        request_keyframe: &*self.request_keyframe,
                        cancel: &self.cancel,
                    };
                    let ended = driver::stream(publishing, cx).await;
                    shared.queue.close();
                    shared.bitrate_bps.store(0, Ordering::Relaxed);
                    match ended {
                        Ended::Stopped => break,
                        Ended::Failed(error) => {
                            // A connection that worked for a while was not a failed attempt
                            // in a row: platforms drop healthy streams now and then.
                            if since.elapsed() >= self.settings.healthy_after {
                                failures = 0;
                            }
                            error
                        }
                    }
                }
                Err(error) => error,
            };
            failures += 1;
            let refused = is_refusal(&error);
            if refused {
                refusals += 1;
                refused_since.get_or_insert_with(Instant::now);
            } else {
                refusals = 0;
                refused_since = None;
            }
            // A platform that keeps refusing the stream before it ever went live is refusing
            // the key: retrying cannot help and only hammers it. After a live spell a refusal
            // may be the platform still holding our previous connection (a crash, a network
            // change), so refusals are retried for a while before they count as the key's.
            let refused_for_good = refused
                && if ever_live {
                    refused_since.is_some_and(|at| at.elapsed() >= REFUSALS_AFTER_LIVE)
                } else {
                    refusals >= MAX_REFUSALS
                };
            if refused_for_good || (refused && failures >= max_failures) {
                let error = format!(
                    "{error}; the platform rejected the stream: check the stream key (not retrying)"
                );
                warn!(%error, "giving up");
                shared.set_error(error);
                shared.set_state(DestinationState::Failed);
                return;
            }
            let error = error.to_string();
            warn!(%error, failures, "destination failed");
            shared.set_error(error);
            if failures >= max_failures {
                warn!(failures, "giving up");
                shared.set_state(DestinationState::Failed);
                return;
            }
            shared.set_state(DestinationState::Retrying);
            let jitter = rand::rng().random_range(0.0..1.0);
            let delay = backoff::delay(
                self.settings.backoff_initial,
                self.settings.backoff_max,
                failures,
                jitter,
            );
            shared.set_retry_at(Some(tokio::time::Instant::now() + delay));
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
            }
            shared.set_retry_at(None);
            shared.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        shared.set_state(DestinationState::Stopped);
    }
}

/// Refusals in a row after which a destination that never went live gives up (a few seconds
/// with the backoff: a stale connection the platform still holds gets that long to go).
const MAX_REFUSALS: u32 = 3;
/// How long a destination that was live keeps retrying refusals.
const REFUSALS_AFTER_LIVE: std::time::Duration = std::time::Duration::from_secs(60);

/// The server answered the connect or publish command with a refusal (e.g.
/// `NetStream.Publish.BadName`, `NetConnection.Connect.Rejected`), as opposed to a network
/// failure.
fn is_refusal(error: &SessionError) -> bool {
    matches!(
        error,
        SessionError::Rtmp(streamhard_rtmp::ClientError::Refused { .. })
    )
}
