//! A packet-rate limit per source on the shared UDP port, applied before routing.
//!
//! One reader task serves every publisher, so a single host sending as fast as it can would
//! take the reader's time (and the receive buffer) from everyone else. Each source gets a
//! token bucket: `rate` datagrams per second, up to `burst` at once; the excess is dropped
//! before it costs a route lookup, a copy or a session's turn.
//!
//! A source is an IPv4 address or an IPv6 /64 (one host or one network's worth of addresses;
//! a host given a /64 could otherwise use a new address per packet). Publishers behind one NAT
//! share their bucket, so the default rate leaves room for several full-HD streams.
//!
//! The table is bounded (spoofed sources cost at most `capacity` entries) without a scan: two
//! generations of buckets. A source is looked up in the current one, then in the previous one
//! (and moved forward); when the current one is full it becomes the previous one and the
//! previous one is forgotten. So a forgotten bucket is one whose source sent nothing for a whole
//! generation, the stalest ones; an active flooder always keeps its (empty) bucket, and a
//! source forgotten and seen again starts with a full one. Time is an input: no clock inside.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// What identifies a source: an IPv4 address, or the first 64 bits of an IPv6 one.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Source {
    V4(u32),
    V6(u64),
}

impl Source {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source::V4(u32::from(v4)),
            // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: the same host.
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source::V4(u32::from(v4)),
                None => Source::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The settings of [`PeerRate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerRateSettings {
    /// Datagrams per second each source may send on average.
    pub rate: u32,
    /// How many it may send at once (the bucket's size).
    pub burst: u32,
    /// Sources remembered at most (both generations together).
    pub capacity: usize,
}

/// Token buckets per source, in a table of bounded size.
#[derive(Debug)]
pub struct PeerRate {
    rate: f64,
    burst: f64,
    /// Entries per generation.
    generation: usize,
    current: HashMap<Source, Bucket>,
    previous: HashMap<Source, Bucket>,
}

impl PeerRate {
    pub fn new(settings: PeerRateSettings) -> Self {
        let generation = (settings.capacity / 2).max(1);
        Self {
            rate: f64::from(settings.rate),
            burst: f64::from(settings.burst.max(1)),
            generation,
            current: HashMap::with_capacity(generation),
            previous: HashMap::with_capacity(generation),
        }
    }

    /// Whether a datagram from `ip` arriving at `now` is within its source's rate (and takes
    /// a token if so).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        let source = Source::of(ip);
        let bucket = match self.current.get_mut(&source) {
            Some(bucket) => bucket,
            None => {
                let carried = self.previous.remove(&source);
                if self.current.len() >= self.generation {
                    std::mem::swap(&mut self.current, &mut self.previous);
                    self.current.clear();
                }
                let fresh = Bucket {
                    tokens: self.burst,
                    at: now,
                };
                self.current
                    .entry(source)
                    .or_insert(carried.unwrap_or(fresh))
            }
        };
        // Refill for the time since the last datagram; a clock that went back adds nothing.
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = bucket.at.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Sources currently remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    fn limiter(rate: u32, burst: u32, capacity: usize) -> PeerRate {
        PeerRate::new(PeerRateSettings {
            rate,
            burst,
            capacity,
        })
    }

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    /// Sends `n` datagrams from `ip` spread evenly over `over`, starting at `from`; how many
    /// were allowed.
    fn send(limit: &mut PeerRate, ip: IpAddr, from: Instant, over: Duration, n: u32) -> u32 {
        (0..n)
            .filter(|i| limit.allow(ip, from + over.mul_f64(f64::from(*i) / f64::from(n))))
            .count() as u32
    }

    #[test]
    fn a_burst_passes_then_the_excess_is_dropped() {
        let mut limit = limiter(100, 50, 16);
        let t0 = Instant::now();
        let allowed = (0..80).filter(|_| limit.allow(v4(1), t0)).count();
        assert_eq!(allowed, 50, "exactly the burst at one instant");
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let mut limit = limiter(100, 100, 16);
        let t0 = Instant::now();
        assert_eq!(send(&mut limit, v4(1), t0, Duration::ZERO, 100), 100);
        assert!(!limit.allow(v4(1), t0));
        // 15 ms later one and a half tokens are back: one datagram, not two.
        let later = t0 + Duration::from_millis(15);
        assert!(limit.allow(v4(1), later));
        assert!(!limit.allow(v4(1), later));
        // A source sending at its rate for a long time loses nothing.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(
            send(&mut limit, v4(1), t1, Duration::from_secs(10), 1000),
            1000
        );
    }

    #[test]
    fn a_flood_gets_the_rate_and_no_more() {
        let mut limit = limiter(3000, 3000, 1024);
        let t0 = Instant::now();
        // 50 000 datagrams/s for 4 s: the burst, then 3000 a second.
        let allowed = send(&mut limit, v4(9), t0, Duration::from_secs(4), 200_000);
        assert!(
            (3000 + 4 * 3000 - 2..=3000 + 4 * 3000).contains(&allowed),
            "{allowed}"
        );
    }

    #[test]
    fn sources_do_not_share_a_bucket() {
        let mut limit = limiter(10, 10, 16);
        let t0 = Instant::now();
        assert_eq!(send(&mut limit, v4(1), t0, Duration::ZERO, 100), 10);
        assert_eq!(send(&mut limit, v4(2), t0, Duration::ZERO, 10), 10);
    }

    #[test]
    fn an_ipv4_host_is_one_source_on_a_dual_stack_socket_and_an_ipv6_one_is_its_64() {
        let mut limit = limiter(10, 10, 16);
        let t0 = Instant::now();
        let plain = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 7).to_ipv6_mapped());
        assert_eq!(send(&mut limit, plain, t0, Duration::ZERO, 5), 5);
        assert_eq!(send(&mut limit, mapped, t0, Duration::ZERO, 10), 5);

        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(send(&mut limit, a.into(), t0, Duration::ZERO, 6), 6);
        assert_eq!(send(&mut limit, b.into(), t0, Duration::ZERO, 10), 4);
        assert_eq!(send(&mut limit, other.into(), t0, Duration::ZERO, 10), 10);
    }

    #[test]
    fn spoofed_sources_cannot_grow_the_table_nor_free_an_active_flooder() {
        let mut limit = limiter(10, 10, 64);
        let t0 = Instant::now();
        let flooder = v4(0xC000_0201);
        assert_eq!(send(&mut limit, flooder, t0, Duration::ZERO, 20), 10);
        for i in 0..100_000u32 {
            limit.allow(v4(0x0A00_0000 + i), t0);
            assert!(
                limit.remembered() <= 64,
                "{} sources remembered",
                limit.remembered()
            );
            // The flooder keeps sending throughout: it keeps its empty bucket.
            if i % 16 == 0 {
                assert!(!limit.allow(flooder, t0), "after {i} spoofed sources");
            }
        }
    }

    #[test]
    fn a_quiet_source_is_the_one_forgotten_and_starts_full_when_it_returns() {
        let mut limit = limiter(10, 10, 8);
        let t0 = Instant::now();
        assert_eq!(send(&mut limit, v4(1), t0, Duration::ZERO, 10), 10);
        // Two generations of other sources while source 1 is silent.
        for i in 0..8 {
            limit.allow(v4(100 + i), t0);
        }
        assert_eq!(send(&mut limit, v4(1), t0, Duration::ZERO, 20), 10);
    }

    #[test]
    fn time_going_backwards_adds_no_tokens() {
        let mut limit = limiter(1000, 1, 8);
        let t1 = Instant::now() + Duration::from_secs(10);
        assert!(limit.allow(v4(1), t1));
        assert!(!limit.allow(v4(1), t1 - Duration::from_secs(5)));
        assert!(!limit.allow(v4(1), t1));
    }
}
