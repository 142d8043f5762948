//! Which webhook targets point into a private network.
//!
//! A webhook makes the server send a request wherever a customer says; a
//! target inside the server's own network (a database, a cloud metadata
//! service) must not be reachable that way. Names are judged here by their
//! spelling; the delivery engine calls [`is_forbidden_ip`] again on every
//! address a name resolves to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether a request to `ip` must be refused: anything not on the public
/// internet (loopback, private, link-local with the cloud metadata address,
/// unique-local, CGNAT, unspecified, multicast, broadcast, reserved,
/// documentation), and every IPv4-mapped or IPv4-compatible IPv6 address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, 169.254.169.254 (metadata) included
        || (a == 100 && (64..128).contains(&b)) // 100.64/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24, IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // 192.0.2/24, documentation
        || (a == 198 && (b == 18 || b == 19)) // 198.18/15, benchmarking
        || (a == 198 && b == 51 && c == 100) // 198.51.100/24, documentation
        || (a == 203 && b == 0 && c == 113) // 203.0.113/24, documentation
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, 255.255.255.255 (broadcast) included
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // ::/96 holds ::, ::1 and the IPv4-compatible addresses; ::ffff:0:0/96 the IPv4-mapped ones.
    let embeds_v4 = s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff);
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && forbidden_v4(v4_from(s[6], s[7]));
    let six_to_four = s[0] == 0x2002 && forbidden_v4(v4_from(s[1], s[2]));
    embeds_v4
        || nat64
        || six_to_four
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique-local, fd00:ec2::254 (metadata) included
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // ff00::/8 multicast
        || s[..4] == [0x100, 0, 0, 0] // 100::/64 discard-only
        || (s[0] == 0x2001 && s[1] == 0) // 2001::/32 Teredo
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32 documentation
}

fn v4_from(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Why a host name (lowercase, as the `url` crate gives it) names a private
/// target, or `None` when it may be public.
pub(crate) fn forbidden_host_name(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host == "localhost" || host.ends_with(".localhost") {
        Some("`localhost` names this machine")
    } else if host == "local" || host.ends_with(".local") {
        Some("`.local` names are resolved only on the local network")
    } else if host == "internal" || host.ends_with(".internal") {
        Some("`.internal` names (such as metadata.google.internal) are private to a network")
    } else if !host.contains('.') {
        Some("a name without a dot is resolved only inside a private network")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden_ip(s.parse().unwrap())
    }

    #[test]
    fn private_ipv4_ranges_are_forbidden() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "100.100.100.200",
            "192.0.0.192",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
    }

    #[test]
    fn public_ipv4_is_allowed() {
        for ip in ["1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "192.169.0.1"]
        {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn ipv6_ranges_and_embedded_ipv4() {
        for ip in [
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            // Every IPv4-mapped address is refused, public ones too: no webhook needs that
            // spelling, and refusing it closes every way of disguising an IPv4 target.
            "::ffff:8.8.8.8",
            // Teredo, discard-only and documentation ranges.
            "2001:0:4136:e378::1",
            "100::1",
            "2001:db8::1",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
        for ip in ["2606:4700:4700::1111", "2001:4860:4860::8888", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn private_host_names() {
        for host in [
            "localhost",
            "localhost.",
            "api.localhost",
            "printer.local",
            "metadata.google.internal",
            "db.internal",
            "metadata",
            "intranet",
        ] {
            assert!(forbidden_host_name(host).is_some(), "{host} should be forbidden");
        }
        for host in ["example.com", "hooks.slack.com", "localhost.example.com", "internal.example.com", "example.com."]
        {
            assert_eq!(forbidden_host_name(host), None, "{host} should be allowed");
        }
    }
}
