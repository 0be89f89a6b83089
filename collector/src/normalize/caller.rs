//! Facts about the caller: its network address and its mTLS principal.

use crate::intern::Interner;
use crate::span::{PeerAddress, Principal, PrincipalSource, SpanKind};

use super::attrs::RequestAttrs;
use super::envoy::{parse_peer_address, xfcc_uri};

/// The peer address: `peer.address`, `network.peer.address` (+ `network.peer.port`),
/// `net.peer.ip` (+ `net.peer.port`), `net.sock.peer.addr` (+ `net.sock.peer.port`), and
/// `client.address` (+ `client.port`) on SERVER spans; the first that parses wins.
pub(crate) fn peer(req: &RequestAttrs<'_>, kind: SpanKind) -> Option<PeerAddress> {
    let with_port = |addr: Option<&str>, port: Option<u16>| {
        let mut peer = parse_peer_address(addr?)?;
        peer.port = peer.port.or(port);
        Some(peer)
    };
    with_port(req.peer_address, None)
        .or_else(|| with_port(req.network_peer_address, req.network_peer_port))
        .or_else(|| with_port(req.net_peer_ip, req.net_peer_port))
        .or_else(|| with_port(req.net_sock_peer_addr, req.net_sock_peer_port))
        .or_else(|| {
            if kind == SpanKind::Server {
                with_port(req.client_address, req.client_port)
            } else {
                None
            }
        })
}

/// A principal without the `spiffe://` scheme; `-` (Envoy's empty value) and blanks are none.
/// A `%DOWNSTREAM_PEER_URI_SAN%` with several SANs is comma-separated: the first is used.
pub fn principal_name(value: &str) -> Option<&str> {
    let first = value.split(',').next().unwrap_or("").trim();
    let name = first.strip_prefix("spiffe://").unwrap_or(first);
    if name.is_empty() || name == "-" {
        None
    } else {
        Some(name)
    }
}

/// The caller's principal: a peer URI SAN tag first, then an XFCC header tag.
pub(crate) fn principal(req: &RequestAttrs<'_>, interner: &Interner) -> Option<Principal> {
    let (name, source) = req
        .peer_uri_san
        .and_then(principal_name)
        .map(|n| (n, PrincipalSource::PeerUriSan))
        .or_else(|| {
            let uri = xfcc_uri(req.xfcc?)?;
            Some((principal_name(uri)?, PrincipalSource::Xfcc))
        })?;
    Some(Principal {
        name: interner.intern(name),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn peers() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
        let req = RequestAttrs {
            peer_address: Some("not an ip"),
            network_peer_address: Some("10.0.0.7"),
            network_peer_port: Some(4242),
            ..RequestAttrs::default()
        };
        assert_eq!(
            peer(&req, SpanKind::Client),
            Some(PeerAddress {
                ip,
                port: Some(4242)
            })
        );
        let req = RequestAttrs {
            client_address: Some("10.0.0.7"),
            ..RequestAttrs::default()
        };
        assert_eq!(peer(&req, SpanKind::Client), None);
        assert_eq!(
            peer(&req, SpanKind::Server),
            Some(PeerAddress { ip, port: None })
        );
        let req = RequestAttrs {
            peer_address: Some("10.0.0.7:80"),
            network_peer_port: Some(1),
            ..RequestAttrs::default()
        };
        assert_eq!(peer(&req, SpanKind::Server).unwrap().port, Some(80));
    }

    #[test]
    fn principals() {
        let interner = Interner::new();
        assert_eq!(
            principal_name("spiffe://cluster.local/ns/a/sa/b"),
            Some("cluster.local/ns/a/sa/b")
        );
        assert_eq!(
            principal_name("cluster.local/ns/a/sa/b"),
            Some("cluster.local/ns/a/sa/b")
        );
        assert_eq!(
            principal_name("spiffe://x/ns/a/sa/b,spiffe://y"),
            Some("x/ns/a/sa/b")
        );
        assert_eq!(principal_name("-"), None);
        assert_eq!(principal_name("spiffe://"), None);
        let req = RequestAttrs {
            peer_uri_san: Some("-"),
            xfcc: Some("By=spiffe://x/ns/s/sa/srv;URI=spiffe://cluster.local/ns/c/sa/cli"),
            ..RequestAttrs::default()
        };
        let p = principal(&req, &interner).unwrap();
        assert_eq!(p.source, PrincipalSource::Xfcc);
        assert_eq!(interner.resolve(p.name), "cluster.local/ns/c/sa/cli");
        let req = RequestAttrs {
            peer_uri_san: Some("spiffe://cluster.local/ns/p/sa/q"),
            ..req
        };
        let p = principal(&req, &interner).unwrap();
        assert_eq!(p.source, PrincipalSource::PeerUriSan);
        assert_eq!(interner.resolve(p.name), "cluster.local/ns/p/sa/q");
        assert_eq!(principal(&RequestAttrs::default(), &interner), None);
    }
}
