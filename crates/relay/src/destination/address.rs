//! Which addresses a destination may connect to.
//!
//! A destination makes the server open a connection wherever a user says, so by default only
//! public addresses are allowed — checked on the addresses actually connected to, right before
//! connecting, so a host name that resolves to something else later (DNS rebinding) cannot
//! slip past a check made when the URL was accepted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is reachable on the public internet, for IPv4 and IPv6.
///
/// Everything in the IANA IPv4 and IPv6 Special-Purpose Address Registries is refused, even
/// the few entries marked globally reachable (anycast relays and sinks nobody streams to), and
/// an IPv6 address that carries an IPv4 address (mapped, 6to4, NAT64) is judged by the IPv4
/// address inside it. Outside the registries, IPv6 is public only in 2000::/3, the global
/// unicast space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// The IPv4 special-purpose blocks (RFC 6890 and the registry's later entries), as
/// (network, prefix length).
const SPECIAL_V4: [(u32, u32); 19] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared (carrier-grade NAT)
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local (cloud metadata)
    (0xac10_0000, 12), // 172.16.0.0/12 private
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 documentation
    (0xc01f_c400, 24), // 192.31.196.0/24 AS112-v4
    (0xc034_c100, 24), // 192.52.193.0/24 AMT
    (0xc058_6300, 24), // 192.88.99.0/24 deprecated 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168.0.0/16 private
    (0xc0af_3000, 24), // 192.175.48.0/24 direct delegation AS112
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 documentation
    (0xcb00_7100, 24), // 203.0.113.0/24 documentation
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved
    (0xffff_ffff, 32), // 255.255.255.255 limited broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !SPECIAL_V4
        .iter()
        .any(|&(net, len)| bits >> (32 - len) == net >> (32 - len))
}

/// The IPv6 special-purpose blocks inside 2000::/3 that are refused outright, as (network,
/// prefix length). 2002::/16 (6to4) is not here: it is judged by its embedded IPv4 address.
const SPECIAL_V6_GLOBAL: [(u128, u32); 4] = [
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // IETF protocol assignments: Teredo 2001::/32, benchmarking, AMT, AS112, ORCHID 2001:10::/28, ORCHIDv2, …
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation
    (0x2620_004f_8000_0000_0000_0000_0000_0000, 48), // AS112 direct delegation
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // documentation (RFC 9637)
];

fn in_block(bits: u128, (net, len): (u128, u32)) -> bool {
    bits >> (128 - len) == net >> (128 - len)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let seg = ip.segments();
    // ::ffff:a.b.c.d (IPv4-mapped) and 64:ff9b::a.b.c.d (NAT64 well-known prefix) reach the
    // IPv4 address they carry.
    if in_block(bits, (0xffff_0000_0000, 96))
        || in_block(bits, (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96))
    {
        return is_public_v4(Ipv4Addr::from(bits as u32));
    }
    // 2002:aabb:ccdd::/48 (6to4) reaches aa.bb.cc.dd.
    if seg[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    // Outside 2000::/3 nothing is global unicast: ::/96 (IPv4-compatible, deprecated), ::1,
    // ::, 64:ff9b:1::/48 (local NAT64), 100::/64 (discard), 5f00::/16 (SRv6), fc00::/7,
    // fe80::/10, fec0::/10, ff00::/8 all fall out here.
    if (seg[0] & 0xe000) != 0x2000 {
        return false;
    }
    !SPECIAL_V6_GLOBAL.iter().any(|&block| in_block(bits, block))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn refuses_loopback_private_link_local_and_metadata_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::10.0.0.1",
        ] {
            assert!(!public(ip), "{ip} must not count as public");
        }
    }

    #[test]
    fn refuses_every_special_purpose_range_the_issue_found_accepted() {
        for ip in [
            "2002:7f00:1::1",    // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1", // 6to4 of 169.254.169.254
            "::ffff:0:7f00:1",   // IPv4-translated ::ffff:0:0/96
            "2001::1",           // Teredo
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",      // site-local
            "100::1",       // discard-only
            "2001:10::1",   // ORCHID
            "2001:20::1",   // ORCHIDv2
            "2001:2::1",    // benchmarking
            "192.88.99.1",  // 6to4 relay anycast
            "192.31.196.1", // AS112
            "192.52.193.1", // AMT
            "192.175.48.1", // AS112 direct delegation
            "198.18.0.1",   // benchmarking
            "203.0.113.7",  // documentation
            "240.0.0.1",    // reserved
            "3fff::1",      // documentation (RFC 9637)
            "2620:4f:8000::1",
            "64:ff9b:1::a00:1", // local-use NAT64
            "5f00::1",          // SRv6
            "::8.8.8.8",        // IPv4-compatible (deprecated)
        ] {
            assert!(!public(ip), "{ip} must not count as public");
        }
    }

    #[test]
    fn an_ipv6_address_carrying_a_public_ipv4_is_judged_by_it() {
        assert!(public("2002:808:808::1"), "6to4 of 8.8.8.8");
        assert!(public("64:ff9b::808:808"), "NAT64 of 8.8.8.8");
        assert!(!public("64:ff9b::c0a8:101"), "NAT64 of 192.168.1.1");
        assert!(!public("2002:c0a8:101::1"), "6to4 of 192.168.1.1");
    }

    #[test]
    fn the_edges_of_each_ipv4_block_are_exact() {
        assert!(public("100.63.255.255") && !public("100.64.0.0") && !public("100.127.255.255"));
        assert!(public("100.128.0.0"));
        assert!(public("172.15.255.255") && !public("172.16.0.0") && !public("172.31.255.255"));
        assert!(public("172.32.0.0"));
        assert!(public("198.17.255.255") && !public("198.18.0.0") && !public("198.19.255.255"));
        assert!(public("198.20.0.0"));
        assert!(public("223.255.255.255") && !public("224.0.0.0"));
    }

    #[test]
    fn accepts_public_addresses() {
        for ip in [
            "8.8.8.8",
            "52.223.200.1",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2a03:2880:f10d:83:face:b00c:0:25de",
            "::ffff:8.8.8.8",
            "1.1.1.1",
            "192.0.3.1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }
}
