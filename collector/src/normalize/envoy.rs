//! Small, pure parsers for the strings Envoy (and Istio on top of it) puts in span tags.
//!
//! Every function here takes arbitrary input and never panics: malformed values give `None`
//! (or an empty path), never an error the caller has to handle.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::span::{PeerAddress, ProxyKind};

/// An Istio proxy's `node_id`: `sidecar~10.244.0.25~productpage-v1-6f89b6c557-sg2bc.bookinfo~bookinfo.svc.cluster.local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId<'a> {
    /// `sidecar` → Sidecar, `router`/`ingress` → Gateway, `waypoint` → Waypoint, other → Envoy.
    pub proxy: ProxyKind,
    /// The proxy's IP, when the second field parses as one.
    pub ip: Option<IpAddr>,
    /// Pod name (`productpage-v1-6f89b6c557-sg2bc`).
    pub pod: &'a str,
    /// Namespace from the third field `<pod>.<namespace>`.
    pub namespace: Option<&'a str>,
    /// DNS domain (`bookinfo.svc.cluster.local`), possibly empty.
    pub domain: &'a str,
}

/// Parses an Istio `node_id` (`<type>~<ip>~<pod>.<namespace>~<domain>`); `None` unless it has
/// exactly four `~`-separated fields with a non-empty type and pod.
pub fn parse_node_id(s: &str) -> Option<NodeId<'_>> {
    let mut fields = trim(s).split('~');
    let (kind, ip, id, domain) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() {
        return None;
    }
    let proxy = match kind {
        "sidecar" => ProxyKind::Sidecar,
        "router" | "ingress" => ProxyKind::Gateway,
        "waypoint" => ProxyKind::Waypoint,
        "" => return None,
        _ => ProxyKind::Envoy,
    };
    // Namespaces never contain dots; pod names may.
    let (pod, namespace) = match id.rsplit_once('.') {
        Some((pod, ns)) if !ns.is_empty() => (pod, Some(ns)),
        Some((pod, _)) => (pod, None),
        None => (id, None),
    };
    if pod.is_empty() {
        return None;
    }
    Some(NodeId {
        proxy,
        ip: ip.parse().ok(),
        pod,
        namespace,
        domain,
    })
}

/// Which way an Envoy cluster points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterDirection {
    /// `inbound|…` (and `InboundPassthroughCluster…`): the sidecar's leg into its own workload.
    Inbound,
    /// `outbound|…`: a call leaving the workload.
    Outbound,
    /// Any other cluster name (`PassthroughCluster`, `BlackHoleCluster`, plain Envoy clusters).
    Other,
}

/// An Envoy `upstream_cluster` value, e.g. `outbound|9080|v1|reviews.bookinfo.svc.cluster.local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamCluster<'a> {
    pub direction: ClusterDirection,
    pub port: Option<u16>,
    /// The subset (`v1`), or the port name in old inbound clusters; `None` when empty.
    pub subset: Option<&'a str>,
    /// The service host (`reviews.bookinfo.svc.cluster.local`, `www.google.com`).
    pub host: Option<&'a str>,
    /// Short service name when the host is cluster-local (`reviews`).
    pub service: Option<&'a str>,
    /// Namespace when the host is cluster-local (`bookinfo`).
    pub namespace: Option<&'a str>,
    /// The whole cluster name, trimmed.
    pub name: &'a str,
}

/// Parses an Envoy cluster name. Istio's `dir|port|subset|host` and the SNI form
/// `outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local` are split into their parts; any
/// other non-empty name gives [`ClusterDirection::Other`] (or `Inbound` for Istio's inbound
/// passthrough clusters) without host. `None` for empty or `-`.
pub fn parse_upstream_cluster(s: &str) -> Option<UpstreamCluster<'_>> {
    let name = trim(s);
    if name.is_empty() || name == "-" {
        return None;
    }
    let other = |direction| UpstreamCluster {
        direction,
        port: None,
        subset: None,
        host: None,
        service: None,
        namespace: None,
        name,
    };
    let parts = if name.contains('|') {
        split4(name, "|")
    } else if name.starts_with("outbound_.") || name.starts_with("inbound_.") {
        split4(name, "_.")
    } else {
        None
    };
    let Some([dir, port, subset, host]) = parts else {
        if name.starts_with("InboundPassthroughCluster") {
            return Some(other(ClusterDirection::Inbound));
        }
        return Some(other(ClusterDirection::Other));
    };
    let direction = match dir {
        "inbound" => ClusterDirection::Inbound,
        "outbound" => ClusterDirection::Outbound,
        _ => return Some(other(ClusterDirection::Other)),
    };
    let host = non_empty(host);
    let (service, namespace) = match host.and_then(cluster_local_service) {
        Some((svc, ns)) => (Some(svc), Some(ns)),
        None => (None, None),
    };
    Some(UpstreamCluster {
        direction,
        port: port.parse().ok(),
        subset: non_empty(subset),
        host,
        service,
        namespace,
        name,
    })
}

/// Splits into exactly four parts on `sep`; the last part keeps any further separators.
fn split4<'a>(s: &'a str, sep: &str) -> Option<[&'a str; 4]> {
    // A one-character separator splits on the char: a substring searcher costs more to set up
    // than Istio's short cluster names take to scan, and this runs for every span.
    let mut chars = sep.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        let mut it = s.splitn(4, c);
        return Some([it.next()?, it.next()?, it.next()?, it.next()?]);
    }
    let mut it = s.splitn(4, sep);
    Some([it.next()?, it.next()?, it.next()?, it.next()?])
}

/// The first ASCII delimiter in `s`: a byte loop, where a `char` pattern decodes UTF-8 as it
/// goes (URL delimiters are ASCII, and UTF-8 never repeats ASCII bytes inside a character).
fn find_byte(s: &str, is_delimiter: impl Fn(u8) -> bool) -> Option<usize> {
    s.bytes().position(is_delimiter)
}

/// Where `://` starts in a URL (`url.find("://")`), by a byte loop: a substring searcher
/// costs more to set up than a short URL takes to scan.
fn scheme_separator(url: &str) -> Option<usize> {
    url.as_bytes()
        .windows(3)
        .position(|w| matches!(w, [b':', b'/', b'/']))
}

/// [`str::trim`], without its Unicode machinery for the usual value that has no whitespace
/// at either end (an ASCII graphic byte there is a whole character, and not whitespace).
pub(crate) fn trim(s: &str) -> &str {
    let graphic = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
    if graphic(s.as_bytes().first()) && graphic(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() { None } else { Some(s) }
}

/// `(service, namespace)` of a Kubernetes service host `<svc>.<ns>.svc[.<cluster domain>]`
/// (an optional trailing dot is accepted).
pub fn cluster_local_service(host: &str) -> Option<(&str, &str)> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let mut labels = host.splitn(4, '.');
    let (svc, ns, svc_label) = (labels.next()?, labels.next()?, labels.next()?);
    if svc.is_empty() || ns.is_empty() || !svc_label.eq_ignore_ascii_case("svc") {
        return None;
    }
    match labels.next() {
        Some("") => None,
        _ => Some((svc, ns)),
    }
}

/// Parses a peer address as proxies report it: `10.0.0.1`, `10.0.0.1:8080`, `[::1]:80`,
/// `[::1]`, `::1`. Anything else (host names, zones, garbage) gives `None`.
pub fn parse_peer_address(s: &str) -> Option<PeerAddress> {
    let s = trim(s);
    if let Some(ip) = dotted_quad(s) {
        return Some(PeerAddress {
            ip: IpAddr::V4(ip),
            port: None,
        });
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(PeerAddress { ip, port: None });
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(PeerAddress {
            ip: sa.ip(),
            port: Some(sa.port()),
        });
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .parse::<IpAddr>()
        .ok()
        .map(|ip| PeerAddress { ip, port: None })
}

/// The common `10.0.0.1`, as `IpAddr::from_str` reads it (four dot-separated decimal octets,
/// no leading zeros), in a fraction of its time; `None` leaves anything else to it.
fn dotted_quad(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let (mut index, mut digits, mut value) = (0, 0, 0u16);
    for &b in s.as_bytes() {
        match b {
            b'0'..=b'9' => {
                if digits == 3 || (digits == 1 && value == 0) {
                    return None;
                }
                value = value * 10 + u16::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 => {
                *octets.get_mut(index)? = u8::try_from(value).ok()?;
                (index, digits, value) = (index + 1, 0, 0);
            }
            _ => return None,
        }
    }
    if index != 3 || digits == 0 {
        return None;
    }
    *octets.get_mut(index)? = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// The `URI=` value of the **last** element of an `x-forwarded-client-cert` header (the
/// immediate downstream), without surrounding quotes: `spiffe://cluster.local/ns/foo/sa/bar`.
///
/// Elements are separated by `,` and key/value pairs by `;`, both only outside double quotes
/// (a quoted value may contain `,`, `;` and `\"`). `None` when the last element has no URI.
pub fn xfcc_uri(header: &str) -> Option<&str> {
    let last = split_unquoted(header, b',').last()?;
    split_unquoted(last, b';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("uri") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        non_empty(value)
    })
}

/// Splits `s` on the ASCII byte `sep` where it is not inside a double-quoted run (honouring
/// backslash escapes inside quotes).
fn split_unquoted(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut in_quotes = false;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while i < bytes.len() {
            let b = bytes[i];
            if in_quotes && b == b'\\' {
                i += 2;
                continue;
            }
            if b == b'"' {
                in_quotes = !in_quotes;
            } else if b == sep && !in_quotes {
                // `sep` is ASCII, so both slice bounds are char boundaries.
                let part = s.get(start..i);
                i += 1;
                start = i;
                return part;
            }
            i += 1;
        }
        done = true;
        s.get(start..)
    })
}

/// The request path of a URL: scheme and authority removed, query and fragment stripped.
/// `http://reviews:9080/reviews/0?x=1` → `/reviews/0`; `http://host` → `/`; a bare path
/// `/a?b` → `/a`; a value with neither scheme nor leading `/` is treated as `authority/path`
/// (empty when it has no `/`).
pub fn path_from_url(url: &str) -> &str {
    let url = trim(url);
    let rest = match scheme_separator(url) {
        Some(i) => url.get(i + 3..).unwrap_or(""),
        None if url.starts_with("//") => url.get(2..).unwrap_or(""),
        None if url.starts_with('/') => return strip_query(url),
        // `authority/path` without a scheme; no '/' at all means there is no path.
        None => match find_byte(url, |b| b == b'/') {
            Some(i) => return strip_query(url.get(i..).unwrap_or("")),
            None => return "",
        },
    };
    // Skip the authority: up to the first '/', '?' or '#'.
    let path_start = find_byte(rest, |b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let path = strip_query(rest.get(path_start..).unwrap_or(""));
    if path.is_empty() { "/" } else { path }
}

/// Cuts a path at the first `?` or `#`.
pub fn strip_query(path: &str) -> &str {
    match find_byte(path, |b| matches!(b, b'?' | b'#')) {
        Some(i) => path.get(..i).unwrap_or(""),
        None => path,
    }
}

/// The authority (`host[:port]`, user info removed) of an absolute URL, `None` for a bare path.
pub fn authority_from_url(url: &str) -> Option<&str> {
    let url = trim(url);
    let rest = match scheme_separator(url) {
        Some(i) => url.get(i + 3..)?,
        None => url.strip_prefix("//")?,
    };
    let end = find_byte(rest, |b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    let authority = match authority.bytes().rposition(|b| b == b'@') {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    non_empty(authority)
}

/// Splits `host:port` (also `[v6]:port`); a missing or invalid port gives `None` for the port,
/// and a bare IPv6 address is returned whole.
pub fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host, port);
        }
        return (authority, None);
    }
    match authority.rsplit_once(':') {
        // More than one colon: an unbracketed IPv6 address, no port.
        Some((host, _)) if host.contains(':') => (authority, None),
        Some((host, port)) => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (authority, None),
        },
        None => (authority, None),
    }
}

/// Host and port from an Envoy span name: `reviews.bookinfo.svc.cluster.local:9080/*`
/// (any path after the port) or the older `egress reviews:9080`.
pub fn host_port_from_span_name(name: &str) -> Option<(&str, u16)> {
    let (hostport, needs_slash) = match name.strip_prefix("egress ") {
        Some(rest) => (rest.trim(), false),
        None => (name, true),
    };
    let (host, rest) = hostport.split_once(':')?;
    let digits_end = rest
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    let (port, after) = rest.split_at(digits_end);
    if (needs_slash && !after.starts_with('/')) || (!needs_slash && !after.is_empty()) {
        return None;
    }
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid_host {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// Envoy response flags that mean the request failed in transport or was failed by the proxy.
const FAILURE_FLAGS: &[&str] = &[
    "UH", "UF", "UO", "NR", "URX", "UC", "UT", "LR", "RL", "UAEX", "RLSE", "DC", "LH", "DI", "FI",
    "IH", "SI", "DPE", "UPE", "UMSDR", "OM", "DF", "NC",
];

/// Whether an Envoy `response_flags` value (one flag or a comma-separated list) contains a
/// failure flag.
pub fn has_failure_flag(flags: &str) -> bool {
    flags
        .split(',')
        .any(|flag| FAILURE_FLAGS.contains(&flag.trim()))
}

/// Whether a `response_flags` value contains Envoy's `RBAC` flag (denied by the RBAC filter).
pub fn has_rbac_flag(flags: &str) -> bool {
    flags.split(',').any(|flag| flag.trim() == "RBAC")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn dotted_quads_agree_with_std() {
        for s in [
            "10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.4.",
            ".1.2.3.4",
            "1234.1.1.1",
            "1.2.3.a",
            "",
            "1.2.3.4:80",
            " 1.2.3.4",
        ] {
            assert_eq!(dotted_quad(s), s.parse::<Ipv4Addr>().ok(), "{s:?}");
        }
    }

    #[test]
    fn node_id_sidecar() {
        let n = parse_node_id(
            "sidecar~10.244.0.25~productpage-v1-6f89b6c557-sg2bc.bookinfo~bookinfo.svc.cluster.local",
        )
        .unwrap();
        assert_eq!(n.proxy, ProxyKind::Sidecar);
        assert_eq!(n.ip, Some(IpAddr::V4(Ipv4Addr::new(10, 244, 0, 25))));
        assert_eq!(n.pod, "productpage-v1-6f89b6c557-sg2bc");
        assert_eq!(n.namespace, Some("bookinfo"));
        assert_eq!(n.domain, "bookinfo.svc.cluster.local");
    }

    #[test]
    fn node_id_router_waypoint_and_unknown() {
        let n = parse_node_id("router~10.244.0.14~istio-ingressgateway-79788cd94-wgmsp.istio-system~istio-system.svc.cluster.local").unwrap();
        assert_eq!(n.proxy, ProxyKind::Gateway);
        assert_eq!(n.namespace, Some("istio-system"));
        let n =
            parse_node_id("waypoint~10.0.0.3~waypoint-7d9c4d8b5-abcde.ns1~ns1.svc.cluster.local")
                .unwrap();
        assert_eq!(n.proxy, ProxyKind::Waypoint);
        let n = parse_node_id("custom~not-an-ip~pod~").unwrap();
        assert_eq!(n.proxy, ProxyKind::Envoy);
        assert_eq!(n.ip, None);
        assert_eq!(n.pod, "pod");
        assert_eq!(n.namespace, None);
        assert_eq!(n.domain, "");
    }

    #[test]
    fn node_id_malformed() {
        for s in [
            "",
            "~",
            "sidecar",
            "sidecar~1.2.3.4~pod.ns",
            "sidecar~1.2.3.4~pod.ns~d~extra",
            "~1.2.3.4~pod.ns~d",
            "sidecar~1.2.3.4~~d",
            "sidecar~1.2.3.4~.ns~d",
            "ünïcode~~~",
        ] {
            assert_eq!(parse_node_id(s), None, "{s:?}");
        }
        let n = parse_node_id("sidecar~::1~pod.~d").unwrap();
        assert_eq!(n.ip, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!((n.pod, n.namespace), ("pod", None));
    }

    #[test]
    fn upstream_cluster_outbound() {
        let c =
            parse_upstream_cluster("outbound|9080||reviews.bookinfo.svc.cluster.local").unwrap();
        assert_eq!(c.direction, ClusterDirection::Outbound);
        assert_eq!(c.port, Some(9080));
        assert_eq!(c.subset, None);
        assert_eq!(c.host, Some("reviews.bookinfo.svc.cluster.local"));
        assert_eq!(c.service, Some("reviews"));
        assert_eq!(c.namespace, Some("bookinfo"));

        let c =
            parse_upstream_cluster("outbound|9080|v1|reviews.bookinfo.svc.cluster.local").unwrap();
        assert_eq!(c.subset, Some("v1"));
        assert_eq!(c.service, Some("reviews"));

        let c = parse_upstream_cluster("outbound|443||www.google.com").unwrap();
        assert_eq!(c.host, Some("www.google.com"));
        assert_eq!(c.port, Some(443));
        assert_eq!((c.service, c.namespace), (None, None));

        let c = parse_upstream_cluster("outbound_.9080_.v2_.reviews.bookinfo.svc.cluster.local")
            .unwrap();
        assert_eq!(c.direction, ClusterDirection::Outbound);
        assert_eq!((c.port, c.subset), (Some(9080), Some("v2")));
        assert_eq!(c.namespace, Some("bookinfo"));
    }

    #[test]
    fn upstream_cluster_inbound_and_others() {
        let c = parse_upstream_cluster("inbound|9080||").unwrap();
        assert_eq!(c.direction, ClusterDirection::Inbound);
        assert_eq!(c.port, Some(9080));
        assert_eq!((c.host, c.service), (None, None));

        let c =
            parse_upstream_cluster("inbound|9080|http|reviews.default.svc.cluster.local").unwrap();
        assert_eq!(c.direction, ClusterDirection::Inbound);
        assert_eq!(c.service, Some("reviews"));

        for (name, dir) in [
            ("BlackHoleCluster", ClusterDirection::Other),
            ("PassthroughCluster", ClusterDirection::Other),
            ("InboundPassthroughClusterIpv4", ClusterDirection::Inbound),
            ("service_google", ClusterDirection::Other),
            ("weird|x|y|z", ClusterDirection::Other),
            ("outbound|x", ClusterDirection::Other),
        ] {
            let c = parse_upstream_cluster(name).unwrap();
            assert_eq!(c.direction, dir, "{name}");
            assert_eq!((c.host, c.port), (None, None), "{name}");
            assert_eq!(c.name, name);
        }
        let c = parse_upstream_cluster("outbound|notaport||h|x").unwrap();
        assert_eq!(c.port, None);
        assert_eq!(c.host, Some("h|x"));
        assert_eq!(parse_upstream_cluster(""), None);
        assert_eq!(parse_upstream_cluster(" - "), None);
    }

    #[test]
    fn cluster_local() {
        assert_eq!(
            cluster_local_service("reviews.bookinfo.svc.cluster.local"),
            Some(("reviews", "bookinfo"))
        );
        assert_eq!(
            cluster_local_service("reviews.bookinfo.svc"),
            Some(("reviews", "bookinfo"))
        );
        assert_eq!(
            cluster_local_service("a.b.SVC.example.org."),
            Some(("a", "b"))
        );
        for h in [
            "www.google.com",
            "reviews",
            "reviews.bookinfo",
            ".b.svc.x",
            "a..svc",
            "a.b.svc..",
            "a.b.svcx",
        ] {
            assert_eq!(cluster_local_service(h), None, "{h}");
        }
    }

    #[test]
    fn peer_addresses() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let cases = [
            ("10.0.0.1", Some((v4, None))),
            (" 10.0.0.1:8080 ", Some((v4, Some(8080)))),
            ("[::1]:80", Some((v6, Some(80)))),
            ("[::1]", Some((v6, None))),
            ("::1", Some((v6, None))),
            ("10.0.0.1:99999", None),
            ("10.0.0", None),
            ("reviews:9080", None),
            ("fe80::1%eth0", None),
            ("[::1", None),
            ("", None),
            ("-", None),
        ];
        for (s, want) in cases {
            let got = parse_peer_address(s).map(|p| (p.ip, p.port));
            assert_eq!(got, want, "{s:?}");
        }
    }

    #[test]
    fn xfcc() {
        assert_eq!(
            xfcc_uri(
                "By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=abc;Subject=\"\";URI=spiffe://cluster.local/ns/foo/sa/sleep"
            ),
            Some("spiffe://cluster.local/ns/foo/sa/sleep")
        );
        // Multiple elements: the last one is the immediate downstream.
        let h = "By=spiffe://a;URI=spiffe://cluster.local/ns/a/sa/first,By=spiffe://b;URI=spiffe://cluster.local/ns/b/sa/second";
        assert_eq!(xfcc_uri(h), Some("spiffe://cluster.local/ns/b/sa/second"));
        // Quoted values containing separators and escaped quotes.
        let h = "URI=spiffe://x/ns/a/sa/one;Subject=\"CN=a,O=b;c\",Hash=1;Subject=\"/C=US/CN=\\\"q,;\\\"\";URI=\"spiffe://cluster.local/ns/c/sa/three\"";
        assert_eq!(xfcc_uri(h), Some("spiffe://cluster.local/ns/c/sa/three"));
        // Last element without URI.
        assert_eq!(xfcc_uri("URI=spiffe://x/ns/a/sa/one,Hash=abc"), None);
        assert_eq!(xfcc_uri("uri = spiffe://x "), Some("spiffe://x"));
        for s in ["", ",", "URI=", "\"", "URI=\"", ";;,,", "\\", "\"\\"] {
            let _ = xfcc_uri(s);
        }
        assert_eq!(xfcc_uri("URI="), None);
    }

    #[test]
    fn paths() {
        let cases = [
            ("http://reviews:9080/reviews/0", "/reviews/0"),
            (
                "http://192.168.49.2:31653/productpage?u=normal#frag",
                "/productpage",
            ),
            ("https://user@host/a/b#x", "/a/b"),
            ("http://www.google.com/", "/"),
            ("http://host", "/"),
            ("http://host?x=1", "/"),
            ("/api/v1?x=y", "/api/v1"),
            ("//host/p", "/p"),
            ("reviews:9080/reviews/0", "/reviews/0"),
            ("*", ""),
            ("", ""),
            ("http://", "/"),
            ("héllo://wörld/pâth?q", "/pâth"),
        ];
        for (url, want) in cases {
            assert_eq!(path_from_url(url), want, "{url:?}");
        }
        assert_eq!(strip_query("/a?b#c"), "/a");
    }

    #[test]
    fn authorities() {
        assert_eq!(
            authority_from_url("http://192.168.49.2:31653/productpage"),
            Some("192.168.49.2:31653")
        );
        assert_eq!(authority_from_url("https://u:p@host.x?q"), Some("host.x"));
        assert_eq!(authority_from_url("/path"), None);
        assert_eq!(authority_from_url("http:///path"), None);
        assert_eq!(split_host_port("reviews:9080"), ("reviews", Some(9080)));
        assert_eq!(split_host_port("reviews"), ("reviews", None));
        assert_eq!(split_host_port("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("h:xx"), ("h:xx", None));
        assert_eq!(split_host_port("[::1"), ("[::1", None));
    }

    #[test]
    fn span_names() {
        assert_eq!(
            host_port_from_span_name("reviews.bookinfo.svc.cluster.local:9080/*"),
            Some(("reviews.bookinfo.svc.cluster.local", 9080))
        );
        assert_eq!(
            host_port_from_span_name("productpage.bookinfo.svc.cluster.local:9080/productpage"),
            Some(("productpage.bookinfo.svc.cluster.local", 9080))
        );
        assert_eq!(
            host_port_from_span_name("egress reviews:9080"),
            Some(("reviews", 9080))
        );
        for name in [
            "GET /api",
            "localhost:10000",
            "ingress",
            "http://x:80/",
            "a b:80/",
            ":80/",
            "h:/x",
            "h:99999/",
            "egress reviews:9080/x",
        ] {
            assert_eq!(host_port_from_span_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn response_flags() {
        assert!(has_failure_flag("UF"));
        assert!(has_failure_flag("UF,URX"));
        assert!(has_failure_flag("RBAC, UH"));
        assert!(!has_failure_flag("-"));
        assert!(!has_failure_flag(""));
        assert!(!has_failure_flag("RBAC"));
        assert!(!has_failure_flag("UFX"));
        assert!(has_rbac_flag("UAEX,RBAC"));
        assert!(!has_rbac_flag("-"));
    }
}
