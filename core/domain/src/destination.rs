//! Where a webhook may be delivered: the rule that keeps an admin's webhook from probing the
//! inside (cloud metadata, private ranges, link-local, loopback). Plain data: the services
//! resolve names and apply [`Destinations::permits`] to every address they would connect to.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// A network in CIDR notation, `127.0.0.1/32` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a network in CIDR notation (such as 127.0.0.1/32 or fd00::/8)")]
pub struct BadNetwork(pub String);

impl FromStr for Network {
    type Err = BadNetwork;

    fn from_str(text: &str) -> Result<Network, BadNetwork> {
        let bad = || BadNetwork(text.to_owned());
        let (address, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        if prefix > width {
            return Err(bad());
        }
        Ok(Network { address, prefix })
    }
}

impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Network, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches(u128::from(u32::from(net)) << 96, u128::from(u32::from(ip)) << 96, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_matches(u128::from(net), u128::from(ip), self.prefix),
            _ => false,
        }
    }
}

fn prefix_matches(a: u128, b: u128, prefix: u8) -> bool {
    prefix == 0 || (a ^ b) >> (128 - u32::from(prefix)) == 0
}

/// An IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`) is judged as that IPv4
/// address, so `[::ffff:127.0.0.1]` is loopback.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| IpAddr::V4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
        [0, 0, 0, 0, 0, 0, hi, lo] if u32::from(hi) << 16 | u32::from(lo) > 1 => embedded(hi, lo),
        [0x2002, hi, lo, ..] => embedded(hi, lo),
        _ => IpAddr::V6(v6),
    }
}

/// Whether an address is inside: not a public unicast address on the internet.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_unspecified()
                || a == 0                               // "this network"
                || v4.is_loopback()                     // 127/8
                || v4.is_private()                      // 10/8, 172.16/12, 192.168/16
                || v4.is_link_local()                   // 169.254/16: cloud metadata lives here
                || (a == 100 && (64..128).contains(&b)) // 100.64/10 shared address space
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // 192.0.0/24 protocol assignments
                || (a == 198 && (b == 18 || b == 19))   // 198.18/15 benchmarking
                || v4.is_documentation()
                || v4.is_multicast()
                || a >= 240 // 240/4 reserved and the broadcast address
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
                || (first & 0xffc0) == 0xfe80 // fe80::/10 link-local
                || (first & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

/// The operator's rule: inside addresses are refused unless an allowed network contains them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    allow_private: Vec<Network>,
}

impl Destinations {
    pub fn new(allow_private: Vec<Network>) -> Destinations {
        Destinations { allow_private }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow_private.iter().any(|net| net.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn inside_addresses_are_internal_in_every_disguise() {
        for inside in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(is_internal(ip(inside)), "{inside}");
            assert!(!Destinations::default().permits(ip(inside)), "{inside}");
        }
        for outside in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip(outside)), "{outside}");
        }
    }

    #[test]
    fn the_allow_list_opens_only_its_networks() {
        let rule = Destinations::new(vec!["127.0.0.1/32".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        assert!(rule.permits(ip("127.0.0.1")));
        assert!(rule.permits(ip("::ffff:127.0.0.1")), "a mapped address is its IPv4 address");
        assert!(rule.permits(ip("fd12::1")));
        assert!(!rule.permits(ip("127.0.0.2")));
        assert!(!rule.permits(ip("169.254.169.254")));
        assert!(!rule.permits(ip("::1")));
    }

    #[test]
    fn networks_parse_in_cidr_notation_only() {
        assert_eq!("10.0.0.0/8".parse::<Network>().unwrap().to_string(), "10.0.0.0/8");
        assert!("0.0.0.0/0".parse::<Network>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0", "10.0.0.0/33", "::/129", "localhost/8", ""] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }
}
