//! Points in time as stored: whole Unix seconds.
//!
//! Every store method that depends on time takes it as an argument, so expiry is tested by
//! passing a later `now` rather than by sleeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds)
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The wall clock. Only the outermost layers call this; everything below takes a `Timestamp`.
    pub fn now() -> Self {
        let seconds = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970 is broken; treat it as the epoch rather than panic.
            Err(_) => 0,
        };
        Self(seconds)
    }

    /// `self + d`, saturating instead of overflowing (a huge configured lifetime means "never").
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_secs(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_huge_duration_saturates_instead_of_wrapping() {
        let t = Timestamp::from_unix_seconds(1_700_000_000);
        assert_eq!(
            t.saturating_add(Duration::from_secs(u64::MAX)),
            Timestamp::from_unix_seconds(i64::MAX)
        );
        assert_eq!(
            t.saturating_add(Duration::from_secs(60)).unix_seconds(),
            1_700_000_060
        );
    }

    #[test]
    fn elapsed_time_is_never_negative() {
        let a = Timestamp::from_unix_seconds(100);
        let b = Timestamp::from_unix_seconds(130);
        assert_eq!(b.since(a), Duration::from_secs(30));
        assert_eq!(a.since(b), Duration::ZERO);
    }

    #[test]
    fn the_wall_clock_is_after_2020() {
        assert!(Timestamp::now().unix_seconds() > 1_577_836_800);
    }
}
