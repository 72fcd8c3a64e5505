//! Who is on the other end of a request (SPEC §10): the peer itself, or, when the peer is a
//! proxy listed in `TRUSTED_PROXIES`, the address that proxy put in `X-Forwarded-For`.
//!
//! A proxy appends the address it was connected from to whatever `X-Forwarded-For` the client
//! sent, so only the right end of the list is the proxies' word; anything to the left of it is
//! the client's own claim and proves nothing. The client is therefore the rightmost entry that
//! is not itself a trusted proxy. From a peer that is not trusted the header is ignored, so a
//! laptop on the venue Wi-Fi cannot pick the address its failed logins are counted under.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The proxies whose `X-Forwarded-For` is believed: addresses and CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<Block>,
}

/// One address block: the network address and the length of its prefix in bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

/// Why a `TRUSTED_PROXIES` entry was refused: its place in the list (1-based, empty entries
/// counted), since configuration errors never echo a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProxy {
    /// Which entry.
    pub position: usize,
}

impl fmt::Display for BadProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entry {} is not an IP address or a CIDR block (such as 172.30.81.2 or 10.0.0.0/8)",
            self.position
        )
    }
}

impl std::error::Error for BadProxy {}

impl TrustedProxies {
    /// No proxy is trusted: every request's client is its peer.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Parses a comma-separated list of addresses and CIDR blocks (`10.0.0.1, fd00::/8`); empty
    /// entries are skipped.
    pub fn parse(text: &str) -> Result<TrustedProxies, BadProxy> {
        let blocks = text
            .split(',')
            .map(str::trim)
            .enumerate()
            .filter(|(_, entry)| !entry.is_empty())
            .map(|(index, entry)| {
                Block::parse(entry).ok_or(BadProxy {
                    position: index + 1,
                })
            })
            .collect::<Result<Vec<Block>, BadProxy>>()?;
        Ok(TrustedProxies { blocks })
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.blocks.iter().any(|block| block.contains(ip))
    }

    /// The client of a request from `peer` carrying these `X-Forwarded-For` header values (in
    /// the order received).
    ///
    /// From an untrusted peer: the peer. From a trusted one: the rightmost entry that is not a
    /// trusted proxy; if every entry is one (or there is none), the leftmost trusted hop; if an
    /// entry cannot be read, the trusted hop that passed it on, since nothing to its left can
    /// be believed.
    pub fn client_of<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut hop = canonical(peer);
        if !self.contains(hop) {
            return hop;
        }
        for value in forwarded_for.rev() {
            for entry in value.rsplit(',') {
                let Some(ip) = parse_entry(entry.trim()) else {
                    return hop;
                };
                if !self.contains(ip) {
                    return ip;
                }
                hop = ip;
            }
        }
        hop
    }
}

impl Block {
    fn parse(entry: &str) -> Option<Block> {
        let (address, prefix) = match entry.split_once('/') {
            Some((address, bits)) => (address, Some(bits)),
            None => (entry, None),
        };
        let network = canonical(address.parse::<IpAddr>().ok()?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(bits) if bits.bytes().all(|b| b.is_ascii_digit()) => bits.parse().ok()?,
            Some(_) => return None,
        };
        (prefix <= max).then_some(Block { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An `X-Forwarded-For` entry: an address, or an address with a port (`192.0.2.1:5000`,
/// `[2001:db8::1]:5000`), as some proxies write them.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key a client address is limited under: an IPv4 address itself (also when written as
/// IPv4-mapped IPv6), an IPv6 address by its /64 (one device can hold a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let network = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{network}/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_blocks() {
        let trusted = TrustedProxies::parse(" 172.30.81.2, 10.0.0.0/8 ,fd00::/8,,::1").unwrap();
        assert!(trusted.contains(ip("172.30.81.2")));
        assert!(!trusted.contains(ip("172.30.81.3")));
        assert!(trusted.contains(ip("10.200.1.1")));
        assert!(trusted.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped");
        assert!(trusted.contains(ip("fdab::1")));
        assert!(!trusted.contains(ip("fe80::1")));
        assert!(trusted.contains(ip("::1")));
        assert!(TrustedProxies::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("8.8.8.8")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        for bad in [
            "edge",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "10.0.0.1:80",
        ] {
            let list = format!("10.0.0.1,,{bad}");
            assert_eq!(
                TrustedProxies::parse(&list),
                Err(BadProxy { position: 3 }),
                "{bad}"
            );
        }
        let message = BadProxy { position: 3 }.to_string();
        assert!(message.starts_with("entry 3 "), "{message}");
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_entry() {
        let trusted = TrustedProxies::parse("172.30.81.2, 10.0.0.0/8").unwrap();
        let edge = ip("172.30.81.2");
        let client = |headers: &[&str]| trusted.client_of(edge, headers.iter().copied());
        assert_eq!(client(&[]), edge, "no header: the proxy itself");
        assert_eq!(client(&["192.0.2.7"]), ip("192.0.2.7"));
        assert_eq!(
            client(&["6.6.6.6, 192.0.2.7"]),
            ip("192.0.2.7"),
            "what the client sent in front proves nothing"
        );
        assert_eq!(client(&["192.0.2.7, 10.1.1.1"]), ip("192.0.2.7"));
        assert_eq!(client(&["6.6.6.6", "192.0.2.7"]), ip("192.0.2.7"));
        assert_eq!(client(&["10.1.1.1, 10.2.2.2"]), ip("10.1.1.1"));
        assert_eq!(
            client(&["6.6.6.6, junk"]),
            edge,
            "unreadable: the hop that sent it"
        );
        assert_eq!(client(&["junk, 10.1.1.1"]), ip("10.1.1.1"));
        assert_eq!(client(&["[2001:db8::7]:443"]), ip("2001:db8::7"));
        assert_eq!(client(&["192.0.2.7:5000"]), ip("192.0.2.7"));
        assert_eq!(client(&["::ffff:192.0.2.7"]), ip("192.0.2.7"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = TrustedProxies::parse("172.30.81.2").unwrap();
        let laptop = ip("192.0.2.66");
        assert_eq!(trusted.client_of(laptop, ["192.0.2.1"].into_iter()), laptop);
        let nobody = TrustedProxies::none();
        assert_eq!(nobody.client_of(laptop, ["192.0.2.1"].into_iter()), laptop);
    }

    #[test]
    fn address_keys() {
        assert_eq!(address_key(ip("192.0.2.7")), "192.0.2.7");
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(address_key(ip("2001:db8:1:2::10")), "2001:db8:1:2::/64");
        assert_eq!(
            address_key(ip("2001:db8:1:2:ffff::1")),
            address_key(ip("2001:db8:1:2::10"))
        );
    }
}
