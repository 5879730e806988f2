//! `--source-ip`: an IP address or a CIDR network (IPv4 or IPv6).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An address block: `192.0.2.0/24`, `2001:db8::/32`, or one address (a
/// full-length prefix). Host bits given in the text are cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network {
    /// The first address of the block.
    base: IpAddr,
    /// Leading bits that must match (at most 32 for IPv4, 128 for IPv6).
    prefix: u8,
}

impl Network {
    /// Whether `address` lies in this block. An IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`) is in both its IPv6 blocks and its IPv4 address's;
    /// IPv4 and IPv6 never match each other otherwise.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.holds(address) || self.holds(address.to_canonical())
    }

    fn holds(&self, address: IpAddr) -> bool {
        match (self.base, address) {
            (IpAddr::V4(base), IpAddr::V4(address)) => {
                let mask = mask32(self.prefix);
                u32::from(address) & mask == u32::from(base)
            }
            (IpAddr::V6(base), IpAddr::V6(address)) => {
                let mask = mask128(self.prefix);
                u128::from(address) & mask == u128::from(base)
            }
            _ => false,
        }
    }

    /// Whether `text` is an address in this block (text that is no address
    /// is not).
    pub fn contains_text(&self, text: &str) -> bool {
        text.trim()
            .parse::<IpAddr>()
            .is_ok_and(|address| self.contains(address))
    }

    fn full_length(&self) -> u8 {
        if self.base.is_ipv4() { 32 } else { 128 }
    }
}

/// The leading `prefix` bits of 32 set.
fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

/// The leading `prefix` bits of 128 set.
fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not an IP address or CIDR network: use e.g. 192.0.2.7, \
                 192.0.2.0/24 or 2001:db8::/32"
            )
        };
        let trimmed = text.trim();
        let (address, prefix) = match trimmed.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (trimmed, None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let full = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => full,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                match digits.parse::<u8>() {
                    Ok(prefix) if prefix <= full => prefix,
                    _ => return Err(bad()),
                }
            }
            Some(_) => return Err(bad()),
        };
        let base = match address {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask32(prefix)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask128(prefix)).into()),
        };
        Ok(Network { base, prefix })
    }
}

impl fmt::Display for Network {
    /// `192.0.2.0/24`; a single address without its prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == self.full_length() {
            write!(f, "{}", self.base)
        } else {
            write!(f, "{}/{}", self.base, self.prefix)
        }
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(text: &str) -> Network {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_blocks_contain_their_addresses_only() {
        let block = network("192.0.2.0/24");
        assert!(block.contains_text("192.0.2.0"));
        assert!(block.contains_text("192.0.2.255"));
        assert!(!block.contains_text("192.0.3.0"));
        assert!(!block.contains_text("192.0.1.255"));
        assert!(network("10.1.2.3/8").contains_text("10.200.0.1"));
        assert!(network("0.0.0.0/0").contains_text("203.0.113.9"));
        assert!(!network("0.0.0.0/0").contains_text("2001:db8::1"));
    }

    #[test]
    fn a_plain_address_matches_itself() {
        let one = network("192.0.2.7");
        assert!(one.contains_text("192.0.2.7"));
        assert!(!one.contains_text("192.0.2.8"));
        assert_eq!(one.to_string(), "192.0.2.7");
        assert!(network("2001:db8::1").contains_text("2001:DB8:0:0::1"));
    }

    #[test]
    fn ipv6_blocks_and_mapped_ipv4() {
        let block = network("2001:db8::/32");
        assert!(block.contains_text("2001:db8:ffff::1"));
        assert!(!block.contains_text("2001:db9::1"));
        assert!(!block.contains_text("192.0.2.1"));
        assert!(network("::/0").contains_text("::1"));
        assert!(network("192.0.2.0/24").contains_text("::ffff:192.0.2.9"));
        assert!(network("::ffff:0:0/96").contains_text("::ffff:192.0.2.9"));
        assert!(!network("::ffff:0:0/96").contains_text("192.0.2.9"));
        assert!(network("2001:db8:abcd:12::/63").contains_text("2001:db8:abcd:13::9"));
        assert!(!network("2001:db8:abcd:12::/63").contains_text("2001:db8:abcd:14::"));
    }

    #[test]
    fn host_bits_are_cleared_and_shown_normalized() {
        assert_eq!(network("192.0.2.77/24").to_string(), "192.0.2.0/24");
        assert_eq!(network(" 2001:db8::1/32 ").to_string(), "2001:db8::/32");
        assert_eq!(network("10.0.0.1/32").to_string(), "10.0.0.1");
    }

    #[test]
    fn bad_text_is_refused_with_a_hint() {
        for bad in [
            "",
            "/",
            "192.0.2.0/",
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2",
            "host",
            "192.0.2.0/+8",
            "192.0.2.0/-1",
            "192.0.2.0/24/1",
            "1.2.3.4/ 8",
            "[::1]",
            "192.0.2.0/999999999999",
        ] {
            let error = bad.parse::<Network>().unwrap_err();
            assert!(error.contains("CIDR"), "{bad}: {error}");
        }
    }

    #[test]
    fn text_that_is_no_address_never_matches() {
        assert!(!network("0.0.0.0/0").contains_text("unknown"));
        assert!(!network("::/0").contains_text(""));
    }

    #[test]
    fn serializes_as_text_and_back() {
        let block = network("2001:db8::/32");
        let json = serde_json::to_string(&block).unwrap();
        assert_eq!(json, "\"2001:db8::/32\"");
        assert_eq!(serde_json::from_str::<Network>(&json).unwrap(), block);
        assert!(serde_json::from_str::<Network>("\"nope\"").is_err());
    }
}
