//! The wall clock, as a value in the state so tests can move time (session expiry, throttling)
//! without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use streamhard_store::Timestamp;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: a manual clock at these Unix seconds.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that only moves when told to (tests).
    pub fn manual(start: Timestamp) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(start.unix_seconds()))),
        }
    }

    pub fn now(&self) -> Timestamp {
        match &self.manual {
            Some(t) => Timestamp::from_unix_seconds(t.load(Ordering::Relaxed)),
            None => Timestamp::now(),
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.manual {
            t.fetch_add(
                i64::try_from(by.as_secs()).unwrap_or(i64::MAX),
                Ordering::Relaxed,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual(Timestamp::from_unix_seconds(1000));
        assert_eq!(clock.now().unix_seconds(), 1000);
        clock.clone().advance(Duration::from_secs(90));
        assert_eq!(clock.now().unix_seconds(), 1090);
    }
}
