//! The caller's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
//! untrusted hop of `X-Forwarded-For`. Pure functions.

use std::net::IpAddr;

use ipnet::IpNet;

/// The address the allow-list is checked against.
///
/// `X-Forwarded-For` is read from the right, skipping trusted proxies; the first hop that is not
/// trusted is the client. A malformed hop stops the walk at the last address known to be real.
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',').map(str::trim) {
        let Ok(address) = hop.parse::<IpAddr>() else {
            break;
        };
        client = address.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// Whether `address` may call a webhook with this allow-list (empty allows everyone).
pub fn is_allowed(address: IpAddr, allowed: &[IpNet]) -> bool {
    allowed.is_empty() || allowed.iter().any(|net| net.contains(&address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("198.51.100.1"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_hands_over_to_the_nearest_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let chain = "1.1.1.1, 198.51.100.7, 10.1.2.3";
        assert_eq!(
            client_address(ip("10.0.0.5"), Some(chain), &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_spoofed_leftmost_hop_is_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        let chain = "192.0.2.1, 203.0.113.50";
        assert_eq!(
            client_address(ip("10.0.0.5"), Some(chain), &trusted),
            ip("203.0.113.50")
        );
    }

    #[test]
    fn a_malformed_hop_stops_at_the_last_real_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), Some("garbage"), &trusted),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_address(ip("10.0.0.5"), None, &trusted),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_peers_match_ipv4_networks() {
        let allowed = nets(&["192.0.2.0/24"]);
        let peer = client_address(ip("::ffff:192.0.2.10"), None, &[]);
        assert!(is_allowed(peer, &allowed));
    }

    #[test]
    fn allow_lists_admit_only_their_networks() {
        let allowed = nets(&["192.0.2.0/24", "2001:db8::/32"]);
        assert!(is_allowed(ip("192.0.2.77"), &allowed));
        assert!(is_allowed(ip("2001:db8::1"), &allowed));
        assert!(!is_allowed(ip("192.0.3.1"), &allowed));
        assert!(is_allowed(ip("192.0.3.1"), &[]));
    }
}
