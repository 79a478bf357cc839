//! The payer's client address as the limits see it. Per-address rate limits, risk budgets and
//! the block list count an IPv6 client by its network (a /64 by default: a household or a phone
//! is given a whole /64 and can change addresses in it at will), an IPv4 client by its address;
//! addresses and block-list entries are compared as parsed addresses, never as text, so
//! `2001:DB8::1` and `2001:db8:0:0::1` are one client.

use std::net::{IpAddr, Ipv6Addr};

use crate::Error;

/// The IPv6 prefix length a client is counted by, unless configured otherwise.
pub const DEFAULT_V6_PREFIX: u8 = 64;

/// A client as the limits count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress {
    /// The address as sent (IPv4-mapped IPv6 read as IPv4); `None` when it did not parse.
    pub ip: Option<IpAddr>,
    /// What its hits and attempts are counted under: `203.0.113.7`, `2001:db8:1:2::/64`, or
    /// `unknown` for an address that does not parse.
    pub key: String,
}

impl ClientAddress {
    /// `raw` as Cloudflare gives it (`CF-Connecting-IP`); IPv6 counted by its first `v6_prefix`
    /// bits.
    pub fn parse(raw: &str, v6_prefix: u8) -> Self {
        let Ok(ip) = raw.trim().parse::<IpAddr>() else {
            return ClientAddress {
                ip: None,
                key: "unknown".into(),
            };
        };
        let ip = ip.to_canonical();
        let key = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) if v6_prefix >= 128 => v6.to_string(),
            IpAddr::V6(v6) => format!("{}/{v6_prefix}", network(v6, v6_prefix)),
        };
        ClientAddress { ip: Some(ip), key }
    }
}

/// The first `prefix` bits of `ip`, the rest zero.
fn network(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let bits = u128::from(ip);
    let mask = match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    };
    Ipv6Addr::from(bits & mask)
}

/// One entry of the IP block list: an address, or a network written `address/length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidField {
            field: "RISK_BLOCKED_IPS",
            reason: format!("{text}: {reason}"),
        };
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let ip = address
            .parse::<IpAddr>()
            .map_err(|_| bad("not an IP address"))?
            .to_canonical();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad("the prefix length is out of range"))?,
        };
        Ok(IpBlock {
            network: mask(ip, prefix),
            prefix,
        })
    }

    /// Whether `ip` lies in this entry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = match prefix {
                0 => 0,
                p => u32::MAX << (32 - u32::from(p.min(32))),
            };
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v6) => IpAddr::V6(network(v6, prefix)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_however_it_writes_its_address() {
        let keys: Vec<String> = [
            "2001:db8:1:2::1",
            "2001:DB8:1:2:ffff:ffff:ffff:ffff",
            "2001:0db8:0001:0002:0000:0000:0000:0009",
            " 2001:db8:1:2::abcd ",
        ]
        .iter()
        .map(|a| ClientAddress::parse(a, DEFAULT_V6_PREFIX).key)
        .collect();
        assert!(keys.iter().all(|k| k == "2001:db8:1:2::/64"), "{keys:?}");
        assert_eq!(
            ClientAddress::parse("2001:db8:1:3::1", 64).key,
            "2001:db8:1:3::/64",
            "the next /64 is another client"
        );
        assert_eq!(
            ClientAddress::parse("2001:db8:1:3::1", 48).key,
            "2001:db8:1::/48"
        );
        assert_eq!(ClientAddress::parse("2001:db8::1", 128).key, "2001:db8::1");
    }

    #[test]
    fn ipv4_and_mapped_ipv4_are_one_address_and_junk_is_unknown() {
        assert_eq!(ClientAddress::parse("203.0.113.7", 64).key, "203.0.113.7");
        assert_eq!(
            ClientAddress::parse("::ffff:203.0.113.7", 64).key,
            "203.0.113.7"
        );
        for junk in ["", "unknown", "203.0.113", "1.2.3.4.5", "2001:db8::1::2"] {
            let c = ClientAddress::parse(junk, 64);
            assert_eq!((c.ip, c.key.as_str()), (None, "unknown"), "{junk:?}");
        }
    }

    #[test]
    fn block_list_entries_are_addresses_or_networks_compared_as_parsed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let one = IpBlock::parse("10.9.9.9").unwrap();
        assert!(one.contains(ip("10.9.9.9")));
        assert!(one.contains(ip("::ffff:10.9.9.9")));
        assert!(!one.contains(ip("10.9.9.10")));
        let v4net = IpBlock::parse("198.51.100.0/24").unwrap();
        assert!(v4net.contains(ip("198.51.100.200")));
        assert!(!v4net.contains(ip("198.51.101.1")));
        let v6net = IpBlock::parse("2001:DB8:BAD::/48").unwrap();
        assert!(v6net.contains(ip("2001:db8:bad:1::5")));
        assert!(!v6net.contains(ip("2001:db8:bae::5")));
        assert!(!v6net.contains(ip("10.9.9.9")));
        let v6one = IpBlock::parse("2001:0db8:0000:0000:0000:0000:0000:0001").unwrap();
        assert!(v6one.contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.9.9",
            "10.9.9.9/33",
            "2001:db8::/129",
            "host.example",
            "10.0.0.0/x",
        ] {
            assert!(IpBlock::parse(bad).is_err(), "{bad:?}");
        }
    }
}
