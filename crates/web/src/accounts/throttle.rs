//! Login throttling: a bounded number of failures per account and per client address within a
//! window, then `429 Too Many Requests` with `Retry-After` until the window ends.
//!
//! Kept in memory on each node (not in the database): it is cheap, needs no write per failed
//! login, and a restart only forgives a few minutes of failures. With several nodes each
//! node counts on its own, so an attacker gets at most `nodes ×` the attempts.
//!
//! Pure: time is an argument, so the rules are tested without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use streamhard_store::Timestamp;

/// How many failures a key may have in one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub failures: u32,
    pub window: Duration,
}

/// What is counted: an account (by normalised email) or a client address. IPv6 clients are
/// counted per /64, since one host usually owns a whole /64.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Account(String),
    Address(IpAddr),
    Signup(IpAddr),
}

impl Key {
    pub fn address(ip: IpAddr) -> Self {
        Key::Address(prefix(ip))
    }

    pub fn signup(ip: IpAddr) -> Self {
        Key::Signup(prefix(ip))
    }
}

fn prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Timestamp,
    failures: u32,
}

/// The failure counts. Bounded: past `capacity` keys, expired windows are dropped, then the
/// oldest, so a flood of addresses cannot grow memory without limit.
#[derive(Debug)]
pub struct Throttle {
    capacity: usize,
    windows: HashMap<Key, (Limit, Window)>,
}

impl Throttle {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            windows: HashMap::new(),
        }
    }

    /// `Some(wait)` if `key` used up its failures and must wait before trying again.
    pub fn blocked(&self, key: &Key, limit: Limit, now: Timestamp) -> Option<Duration> {
        let (_, window) = self.windows.get(key)?;
        let end = window.start.saturating_add(limit.window);
        (window.failures >= limit.failures && now < end)
            .then(|| end.since(now).max(Duration::from_secs(1)))
    }

    /// Counts one failure for `key`.
    pub fn fail(&mut self, key: Key, limit: Limit, now: Timestamp) {
        if !self.windows.contains_key(&key) && self.windows.len() >= self.capacity {
            self.make_room(now);
        }
        let (_, window) = self.windows.entry(key).or_insert((
            limit,
            Window {
                start: now,
                failures: 0,
            },
        ));
        if now >= window.start.saturating_add(limit.window) {
            *window = Window {
                start: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    /// Forgets the failures of `key` (an account after a successful login).
    pub fn clear(&mut self, key: &Key) {
        self.windows.remove(key);
    }

    fn make_room(&mut self, now: Timestamp) {
        self.windows
            .retain(|_, (limit, w)| now < w.start.saturating_add(limit.window));
        if self.windows.len() >= self.capacity {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, (_, w))| w.start)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.windows.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        failures: 3,
        window: Duration::from_secs(600),
    };

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_000_000 + s)
    }

    fn account() -> Key {
        Key::Account("ann@example.com".into())
    }

    #[test]
    fn blocks_after_the_allowed_failures_until_the_window_ends() {
        let mut t = Throttle::new(100);
        for s in 0..3 {
            assert_eq!(t.blocked(&account(), LIMIT, at(s)), None);
            t.fail(account(), LIMIT, at(s));
        }
        assert_eq!(
            t.blocked(&account(), LIMIT, at(100)),
            Some(Duration::from_secs(500))
        );
        assert_eq!(
            t.blocked(&account(), LIMIT, at(599)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(t.blocked(&account(), LIMIT, at(600)), None);
        // A new window starts with the next failure.
        t.fail(account(), LIMIT, at(601));
        assert_eq!(t.blocked(&account(), LIMIT, at(601)), None);
    }

    #[test]
    fn keys_are_counted_separately_and_clearing_forgets_one() {
        let mut t = Throttle::new(100);
        let addr = Key::address("203.0.113.9".parse().unwrap());
        for _ in 0..3 {
            t.fail(account(), LIMIT, at(0));
            t.fail(addr.clone(), LIMIT, at(0));
        }
        assert!(
            t.blocked(&Key::Account("bob@example.com".into()), LIMIT, at(1))
                .is_none()
        );
        t.clear(&account());
        assert!(t.blocked(&account(), LIMIT, at(1)).is_none());
        assert!(t.blocked(&addr, LIMIT, at(1)).is_some());
    }

    #[test]
    fn ipv6_clients_share_a_slash_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            Key::address("2001:db8:1:2:aaaa::1".parse().unwrap()),
            Key::address("2001:db8:1:2::ffff".parse().unwrap())
        );
        assert_ne!(
            Key::address("2001:db8:1:2::1".parse().unwrap()),
            Key::address("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            Key::address("::ffff:203.0.113.9".parse().unwrap()),
            Key::address("203.0.113.9".parse().unwrap())
        );
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let mut t = Throttle::new(10);
        for i in 0..1000u32 {
            t.fail(
                Key::address(std::net::Ipv4Addr::from(i).into()),
                LIMIT,
                at(i64::from(i)),
            );
        }
        assert!(t.len() <= 10, "{}", t.len());
        // The most recent key is still counted.
        assert!(
            t.windows
                .contains_key(&Key::address(std::net::Ipv4Addr::from(999u32).into()))
        );
    }
}
