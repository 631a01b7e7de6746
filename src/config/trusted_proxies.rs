//! `TRUSTED_PROXIES` and the client address it implies.
//!
//! Behind a load balancer every TCP peer is the balancer, so the client's address comes
//! from `X-Forwarded-For`, which anyone can write. It is believed only as far as the
//! proxies that appended to it are trusted: reading from the right (the entry the last
//! proxy added), each entry written by a trusted hop is the next hop back; the first
//! address not itself trusted is the client. This is nginx's `set_real_ip_from` with
//! `real_ip_recursive on`.

use std::net::IpAddr;

use ipnet::IpNet;

/// Proxies whose `X-Forwarded-For` is believed: IPs and CIDR ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of IPs (`10.0.0.5`, `::1`) and CIDRs (`10.0.0.0/8`); empty
    /// for none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "expected IPs or CIDRs separated by commas, such as 10.0.0.0/8,127.0.0.1; {entry:?} is neither"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For` values in the
    /// order they came. From an untrusted peer the header changes nothing; an entry that
    /// is not an address ends the walk at the hop that sent it. Never an error.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = canonical(peer);
        if self.is_empty() {
            return client;
        }
        let hops = forwarded_for.rev().flat_map(|value| value.rsplit(','));
        for hop in hops {
            if !self.trusts(client) {
                break;
            }
            match parse_hop(hop) {
                Some(address) => client = address,
                None => break,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[::1]:80`), as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| {
            hop.parse::<std::net::SocketAddr>()
                .ok()
                .map(|addr| addr.ip())
        })
        .map(canonical)
}

/// IPv4 peers of a dual-stack socket arrive as `::ffff:a.b.c.d`; compare them as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    fn client(trusted: &str, peer: &str, headers: &[&str]) -> IpAddr {
        TrustedProxies::parse(trusted)
            .unwrap()
            .client_address(ip(peer), headers.iter().copied())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        assert_eq!(
            client("", "203.0.113.9", &["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let trusted = "10.0.0.0/8,127.0.0.1";
        assert_eq!(
            client(trusted, "127.0.0.1", &["198.51.100.7"]),
            ip("198.51.100.7")
        );
        // A forged entry to the left of the real one is never reached.
        assert_eq!(
            client(trusted, "127.0.0.1", &["6.6.6.6, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Through two trusted proxies.
        assert_eq!(
            client(trusted, "127.0.0.1", &["198.51.100.7, 10.1.2.3"]),
            ip("198.51.100.7")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            client(trusted, "127.0.0.1", &["6.6.6.6", "198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Every entry trusted: the left-most is as far back as anyone can tell.
        assert_eq!(client(trusted, "127.0.0.1", &["10.0.0.1"]), ip("10.0.0.1"));
        assert_eq!(
            client(trusted, "127.0.0.1", &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        assert_eq!(
            client("127.0.0.1", "203.0.113.9", &["127.0.0.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn malformed_entries_end_the_walk_and_are_never_an_error() {
        let trusted = "127.0.0.1";
        assert_eq!(client(trusted, "127.0.0.1", &["garbage"]), ip("127.0.0.1"));
        assert_eq!(
            client(trusted, "127.0.0.1", &["garbage, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        assert_eq!(client(trusted, "127.0.0.1", &[""]), ip("127.0.0.1"));
        assert_eq!(
            client(trusted, "::ffff:127.0.0.1", &["198.51.100.7"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn the_list_is_checked_at_start() {
        assert!(TrustedProxies::parse("10.0.0.0/8, ::1").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nginx").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
