//! Which addresses the server advertises as its ICE candidates, and which of them a datagram
//! was meant for.
//!
//! Browsers never gather loopback candidates: a Chromium on the same machine sends its STUN
//! checks from the machine's LAN address. So advertising only the `--listen` address (127.0.0.1
//! by default) can never connect. Like MediaMTX, we advertise a host candidate for every address
//! of every interface that is up and that the UDP socket can answer from (loopback, IPv4 and
//! IPv6), plus the operator's `--public-ip`s for NAT and containers. The socket then answers
//! each datagram from the address it arrived on ([`super::socket`]), so the reply matches the
//! candidate pair the browser checks.
//!
//! Gathering is pure: [`gather`] takes the interface list as input; [`system_interfaces`] reads
//! it from the kernel. It runs for every new session, so a laptop that changed networks since
//! the server started still advertises its current addresses.

use std::net::{IpAddr, SocketAddr};

/// One address of one network interface, as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAddress {
    pub interface: String,
    pub ip: IpAddr,
    /// The interface is up and running (has carrier).
    pub up: bool,
}

/// What the operator asked to advertise.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidatePolicy {
    /// Advertise the addresses of this host's interfaces (`--no-interface-candidates` clears it).
    pub interfaces: bool,
    /// Only these interfaces, by name (`--ice-interfaces`); empty means all.
    pub only: Vec<String>,
    /// Addresses added as they are (`--public-ip`): NAT, containers, a load balancer.
    pub public_ips: Vec<IpAddr>,
}

impl CandidatePolicy {
    /// Every interface, no public address: what `streamhard serve` does with no flags.
    pub fn all_interfaces() -> Self {
        Self {
            interfaces: true,
            ..Self::default()
        }
    }
}

/// The candidate addresses for a socket bound to `bound`, in advertising order: public
/// addresses first (they are what a remote publisher can reach), then interface addresses,
/// without duplicates.
pub fn gather(
    bound: SocketAddr,
    host: &[HostAddress],
    policy: &CandidatePolicy,
) -> Vec<SocketAddr> {
    let port = bound.port();
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut push = |ip: IpAddr| {
        let addr = SocketAddr::new(ip, port);
        if !out.contains(&addr) {
            out.push(addr);
        }
    };
    for &ip in &policy.public_ips {
        push(ip.to_canonical());
    }
    if policy.interfaces {
        for address in host {
            let ip = address.ip.to_canonical();
            let named = policy.only.is_empty() || policy.only.contains(&address.interface);
            if address.up && named && answerable(bound.ip(), ip) {
                push(ip);
            }
        }
    }
    out
}

/// Whether a socket bound to `bound` receives and answers datagrams sent to `ip`, and whether
/// a browser could use `ip` as a candidate at all.
fn answerable(bound: IpAddr, ip: IpAddr) -> bool {
    if !usable(ip) {
        return false;
    }
    match bound {
        // 0.0.0.0 answers every IPv4 address of the host.
        IpAddr::V4(b) if b.is_unspecified() => ip.is_ipv4(),
        // [::] is dual-stack (we bind it with IPV6_V6ONLY off): every address.
        IpAddr::V6(b) if b.is_unspecified() => true,
        specific => specific.to_canonical() == ip,
    }
}

/// Addresses that make no sense as a host candidate: IPv6 link-local needs a scope id that
/// SDP cannot carry; IPv4 link-local, multicast and unspecified are refused by ICE itself.
fn usable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast() || v6.is_unicast_link_local()),
    }
}

/// The candidate a datagram that arrived on local address `arrived_on` belongs to, as str0m
/// must be told it (it drops STUN that did not arrive "on" one of its candidates).
///
/// Usually the arrival address is a candidate itself. Behind NAT it is not: the publisher sent
/// to the advertised `--public-ip` and the NAT rewrote the destination to our private address.
/// That datagram belongs to a public candidate of the same family.
pub fn candidate_for(
    arrived_on: IpAddr,
    port: u16,
    candidates: &[SocketAddr],
) -> Option<SocketAddr> {
    let arrived = SocketAddr::new(arrived_on.to_canonical(), port);
    if candidates.contains(&arrived) {
        return Some(arrived);
    }
    candidates
        .iter()
        .copied()
        .find(|c| c.is_ipv4() == arrived.is_ipv4())
}

/// This host's interface addresses, from `getifaddrs(3)`. An error leaves only the public
/// addresses (the caller logs it).
pub fn system_interfaces() -> std::io::Result<Vec<HostAddress>> {
    Ok(if_addrs::get_if_addrs()?
        .into_iter()
        .map(|i| HostAddress {
            up: i.is_oper_up(),
            ip: i.ip(),
            interface: i.name,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(interface: &str, ip: &str, up: bool) -> HostAddress {
        HostAddress {
            interface: interface.into(),
            ip: ip.parse().unwrap(),
            up,
        }
    }

    fn host() -> Vec<HostAddress> {
        vec![
            addr("lo", "127.0.0.1", true),
            addr("lo", "::1", true),
            addr("eth0", "192.168.1.5", true),
            addr("eth0", "2001:db8::5", true),
            addr("eth0", "fe80::1", true),
            addr("wlan0", "10.0.0.7", false),
            addr("docker0", "172.17.0.1", true),
        ]
    }

    fn ips(candidates: &[SocketAddr]) -> Vec<String> {
        candidates.iter().map(|c| c.ip().to_string()).collect()
    }

    #[test]
    fn a_wildcard_ipv4_socket_advertises_every_up_ipv4_address_loopback_included() {
        let got = gather(
            "0.0.0.0:8189".parse().unwrap(),
            &host(),
            &CandidatePolicy::all_interfaces(),
        );
        assert_eq!(ips(&got), ["127.0.0.1", "192.168.1.5", "172.17.0.1"]);
        assert!(got.iter().all(|c| c.port() == 8189));
    }

    #[test]
    fn a_dual_stack_socket_adds_ipv6_but_never_link_local() {
        let got = gather(
            "[::]:8189".parse().unwrap(),
            &host(),
            &CandidatePolicy::all_interfaces(),
        );
        assert_eq!(
            ips(&got),
            [
                "127.0.0.1",
                "::1",
                "192.168.1.5",
                "2001:db8::5",
                "172.17.0.1"
            ]
        );
    }

    #[test]
    fn interfaces_that_are_down_are_skipped_and_come_back_when_up() {
        let policy = CandidatePolicy::all_interfaces();
        let bound = "0.0.0.0:1".parse().unwrap();
        assert!(!ips(&gather(bound, &host(), &policy)).contains(&"10.0.0.7".to_owned()));
        let mut up = host();
        up[5].up = true;
        assert!(ips(&gather(bound, &up, &policy)).contains(&"10.0.0.7".to_owned()));
    }

    #[test]
    fn a_socket_bound_to_one_address_advertises_only_that_address() {
        let got = gather(
            "192.168.1.5:9".parse().unwrap(),
            &host(),
            &CandidatePolicy::all_interfaces(),
        );
        assert_eq!(ips(&got), ["192.168.1.5"]);
    }

    #[test]
    fn public_ips_come_first_and_may_be_the_only_candidates() {
        let policy = CandidatePolicy {
            interfaces: true,
            only: vec!["eth0".into()],
            public_ips: vec![
                "203.0.113.7".parse().unwrap(),
                "2001:db8:ffff::1".parse().unwrap(),
            ],
        };
        let got = gather("[::]:8189".parse().unwrap(), &host(), &policy);
        assert_eq!(
            ips(&got),
            [
                "203.0.113.7",
                "2001:db8:ffff::1",
                "192.168.1.5",
                "2001:db8::5"
            ]
        );
        let public_only = CandidatePolicy {
            interfaces: false,
            ..policy
        };
        let got = gather("[::]:8189".parse().unwrap(), &host(), &public_only);
        assert_eq!(ips(&got), ["203.0.113.7", "2001:db8:ffff::1"]);
    }

    #[test]
    fn a_public_ip_that_is_also_an_interface_address_is_advertised_once() {
        let policy = CandidatePolicy {
            public_ips: vec!["192.168.1.5".parse().unwrap()],
            ..CandidatePolicy::all_interfaces()
        };
        let got = gather("0.0.0.0:1".parse().unwrap(), &host(), &policy);
        assert_eq!(ips(&got), ["192.168.1.5", "127.0.0.1", "172.17.0.1"]);
    }

    #[test]
    fn ipv4_mapped_addresses_are_treated_as_ipv4() {
        let mapped = vec![addr("eth0", "::ffff:192.168.1.5", true)];
        let got = gather(
            "0.0.0.0:1".parse().unwrap(),
            &mapped,
            &CandidatePolicy::all_interfaces(),
        );
        assert_eq!(ips(&got), ["192.168.1.5"]);
    }

    #[test]
    fn a_datagram_belongs_to_the_candidate_it_arrived_on() {
        let candidates: Vec<SocketAddr> = vec![
            "127.0.0.1:5".parse().unwrap(),
            "192.168.1.5:5".parse().unwrap(),
        ];
        assert_eq!(
            candidate_for("192.168.1.5".parse().unwrap(), 5, &candidates),
            Some(candidates[1])
        );
        assert_eq!(
            candidate_for("::ffff:127.0.0.1".parse().unwrap(), 5, &candidates),
            Some(candidates[0])
        );
    }

    #[test]
    fn behind_nat_a_datagram_belongs_to_the_public_candidate_of_its_family() {
        let candidates: Vec<SocketAddr> = vec![
            "203.0.113.7:5".parse().unwrap(),
            "[2001:db8::1]:5".parse().unwrap(),
        ];
        assert_eq!(
            candidate_for("172.17.0.2".parse().unwrap(), 5, &candidates),
            Some(candidates[0])
        );
        assert_eq!(
            candidate_for("fd00::2".parse().unwrap(), 5, &candidates),
            Some(candidates[1])
        );
        assert_eq!(
            candidate_for("fd00::2".parse().unwrap(), 5, &candidates[..1]),
            None
        );
    }
}
