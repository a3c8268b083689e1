//! The runtime side of standby and the grace period: one small task per broadcast that looks
//! at the publisher's presence ten times a second, sends standby's due tags, and marks the
//! broadcast abandoned when the grace period runs out. The decisions are in the pure
//! [`super::presence`] and [`super::standby`]; this only supplies the clock.

use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Broadcast;

/// Standby's audio is sent in batches of this much (AAC frames are 21 ms; destinations queue
/// them, and RTMP servers buffer far more than this).
const TICK: Duration = Duration::from_millis(100);

pub(super) async fn run(broadcast: Weak<Broadcast>, stopped: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stopped.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Holding only a weak reference: a broadcast dropped without stop() ends this too.
        let Some(broadcast) = broadcast.upgrade() else {
            return;
        };
        if !broadcast.watch(Instant::now()) {
            return;
        }
    }
}
