//! How long to wait before reconnecting.
//!
//! Exponential so a platform that is down is not hammered, capped so a destination comes back
//! within `backoff_max` of the platform recovering, and jittered so the destinations of many
//! broadcasts do not reconnect in lockstep after a shared outage. The jitter is an input:
//! the caller draws it, the tests pick it.

use std::time::Duration;

/// The delay before the attempt following the `failures`-th consecutive failure (1-based):
/// `initial × 2^(failures-1)`, capped at `max`, then scaled into `[½, 1)` of itself by
/// `jitter ∈ [0, 1)`. With the default 500 ms initial delay the first retry comes within
/// 500 ms.
pub fn delay(initial: Duration, max: Duration, failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    let exponential = initial.saturating_mul(1 << doublings);
    let capped = exponential.min(max);
    capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INITIAL: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn the_first_retry_comes_within_the_initial_delay() {
        assert!(delay(INITIAL, MAX, 1, 0.999) < Duration::from_secs(1));
        assert_eq!(delay(INITIAL, MAX, 1, 0.0), Duration::from_millis(250));
        assert_eq!(delay(INITIAL, MAX, 0, 0.0), Duration::from_millis(250));
    }

    #[test]
    fn doubles_per_failure_until_the_cap() {
        let at = |failures| delay(INITIAL, MAX, failures, 0.0);
        assert_eq!(at(2), Duration::from_millis(500));
        assert_eq!(at(3), Duration::from_millis(1000));
        assert_eq!(at(4), Duration::from_millis(2000));
        assert_eq!(
            at(8),
            Duration::from_secs(15),
            "32 s capped to 30 s, then halved"
        );
        assert_eq!(at(u32::MAX), Duration::from_secs(15));
        assert!(delay(INITIAL, MAX, 40, 1.0) <= MAX);
    }

    #[test]
    fn jitter_spreads_the_delay_over_its_upper_half() {
        let low = delay(INITIAL, MAX, 3, 0.0);
        let high = delay(INITIAL, MAX, 3, 0.99);
        assert_eq!(low, Duration::from_millis(1000));
        assert!(high > Duration::from_millis(1900) && high < Duration::from_millis(2000));
        assert_eq!(
            delay(INITIAL, MAX, 3, -5.0),
            low,
            "out-of-range jitter is clamped"
        );
    }
}
