//! Where a call went (destination), and the request's protocol, path and host.

use std::cell::RefCell;

use crate::intern::{Interner, OVERFLOW, Sym, ThreadMemo};
use crate::span::{Destination, Protocol, SpanKind};

use super::attrs::RequestAttrs;
use super::envoy::{
    ClusterDirection, authority_from_url, cluster_local_service, host_port_from_span_name,
    parse_upstream_cluster, path_from_url, split_host_port, strip_query,
};

/// Envoy's `upstream_cluster`, parsed and interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClusterFacts {
    host: Option<Sym>,
    port: Option<u16>,
    /// Service and namespace of a cluster-local host, both or neither.
    service_namespace: Option<(Sym, Sym)>,
    inbound: bool,
}

pub(crate) fn cluster_facts(cluster: &str, interner: &Interner) -> Option<ClusterFacts> {
    let parsed = parse_upstream_cluster(cluster)?;
    Some(ClusterFacts {
        host: parsed.host.map(|h| interner.intern(h)),
        port: parsed.port,
        service_namespace: parsed
            .service
            .zip(parsed.namespace)
            .map(|(s, n)| (interner.intern(s), interner.intern(n))),
        inbound: parsed.direction == ClusterDirection::Inbound,
    })
}

thread_local! {
    static CLUSTERS: RefCell<ThreadMemo<Option<ClusterFacts>>> = RefCell::default();
    static SPAN_NAMES: RefCell<ThreadMemo<Option<NameFacts>>> = RefCell::default();
}

/// [`cluster_facts`], remembered per thread: the resources of a batch share their clusters.
pub(crate) fn cluster_facts_memoized(cluster: &str, interner: &Interner) -> Option<ClusterFacts> {
    interner.memoized(&CLUSTERS, cluster.as_bytes(), || {
        cluster_facts(cluster, interner)
    })
}

/// [`name_facts`], remembered per thread: the resources of a batch share their span names.
pub(crate) fn name_facts_memoized(span_name: &str, interner: &Interner) -> Option<NameFacts> {
    interner.memoized(&SPAN_NAMES, span_name.as_bytes(), || {
        name_facts(span_name, interner)
    })
}

/// The longest key a [`Memo`] copies.
const MEMO_KEY_LIMIT: usize = 1024;

/// A few strings a proxy's batch repeats over and over (its upstream clusters, its own span
/// name), each remembered with what parsing and interning it gave: comparing a string costs
/// less than parsing it again.
#[derive(Debug)]
pub(crate) struct Memo<T> {
    entries: [Option<(String, T)>; 4],
    next: usize,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self {
            entries: Default::default(),
            next: 0,
        }
    }
}

impl<T: Copy> Memo<T> {
    pub(crate) fn get_or(&mut self, key: &str, compute: impl FnOnce(&str) -> T) -> T {
        // Keys are span names and cluster names: an absurdly long one is not worth a copy.
        if key.len() > MEMO_KEY_LIMIT {
            return compute(key);
        }
        for (name, value) in self.entries.iter().flatten() {
            if name == key {
                return *value;
            }
        }
        let value = compute(key);
        let slot = self.next % self.entries.len();
        self.entries[slot] = Some((key.to_owned(), value));
        self.next = self.next.wrapping_add(1);
        value
    }
}

/// What an Envoy span name `<host>:<port>/…` says of the destination, interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameFacts {
    host: Sym,
    port: u16,
    service_namespace: Option<(Sym, Sym)>,
}

pub(crate) fn name_facts(span_name: &str, interner: &Interner) -> Option<NameFacts> {
    let (host, port) = host_port_from_span_name(span_name)?;
    Some(NameFacts {
        host: interner.intern(host),
        port,
        service_namespace: cluster_local_service(host)
            .map(|(s, n)| (interner.intern(s), interner.intern(n))),
    })
}

/// Resolves the destination of a span. Envoy's `upstream_cluster` comes first; then, for
/// CLIENT/PRODUCER spans, `server.address`/`net.peer.name`, `http.host` and the URL
/// authority; then an Envoy span name `<host>:<port>/…`.
pub(crate) fn destination(
    req: &RequestAttrs<'_>,
    kind: SpanKind,
    cluster: Option<ClusterFacts>,
    span_name: impl FnOnce() -> Option<NameFacts>,
    interner: &Interner,
) -> Destination {
    let cluster_host = cluster.and_then(|c| c.host);
    // A host from the fallbacks below, when the cluster names none.
    let mut host: Option<&str> = None;
    let mut port = cluster.and_then(|c| c.port);

    // The fallbacks cost URL parsing: only look when upstream_cluster left a gap.
    let client = matches!(kind, SpanKind::Client | SpanKind::Producer);
    if client && (cluster_host.is_none() || port.is_none()) {
        let (authority_host, authority_port) = match req
            .http_host
            .or_else(|| req.url.and_then(authority_from_url))
        {
            Some(authority) => {
                let (h, p) = split_host_port(authority);
                (Some(h).filter(|h| !h.is_empty()), p)
            }
            None => (None, None),
        };
        if cluster_host.is_none() {
            host = req.server_address.or(req.net_peer_name).or(authority_host);
        }
        port = port
            .or(req.server_port)
            .or(req.net_peer_port)
            .or(authority_port);
    }
    // The span name is the last resort, for a host only when nothing else named one.
    let mut name_host = None;
    if ((cluster_host.is_none() && host.is_none()) || port.is_none())
        && let Some(name) = span_name()
    {
        if cluster_host.is_none() && host.is_none() {
            name_host = Some(name);
        }
        port = port.or(Some(name.port));
    }

    let service_namespace = cluster
        .and_then(|c| c.service_namespace)
        .or_else(|| {
            let host = cluster_host.map(|h| interner.resolve(h)).or(host)?;
            let (service, namespace) = cluster_local_service(host)?;
            Some((interner.intern(service), interner.intern(namespace)))
        })
        .or_else(|| name_host.and_then(|n| n.service_namespace));

    let sym = |s: Option<&str>| s.map(|s| interner.intern(s));
    Destination {
        host: cluster_host
            .or_else(|| sym(host))
            .or(name_host.map(|n| n.host)),
        port,
        service: service_namespace.map(|(s, _)| s),
        namespace: service_namespace.map(|(_, n)| n),
        peer_service: sym(req.peer_service),
        db_system: sym(req.db_system),
        db_name: sym(req.db_name),
        messaging_system: sym(req.messaging_system),
        inbound: cluster.is_some_and(|c| c.inbound),
    }
}

pub(crate) fn protocol(req: &RequestAttrs<'_>, kind: SpanKind) -> Protocol {
    if req.grpc {
        Protocol::Grpc
    } else if req.db_system.is_some() {
        Protocol::Db
    } else if req.messaging_system.is_some() {
        Protocol::Messaging
    } else if req.has_http_facts() {
        Protocol::Http
    } else if req.tcp || req.upstream_cluster.is_some() {
        // `network.transport=tcp`, or an Envoy (tcp_proxy) span without HTTP facts.
        Protocol::Tcp
    } else if matches!(kind, SpanKind::Producer | SpanKind::Consumer) {
        // Only messaging has producers and consumers (Zipkin's Kafka spans name no system).
        Protocol::Messaging
    } else {
        Protocol::Unknown
    }
}

/// The request path without query: an explicit path attribute first, then the URL.
pub(crate) fn path<'a>(req: &RequestAttrs<'a>) -> Option<&'a str> {
    req.url_path
        .map(strip_query)
        .or(req.http_target.map(strip_query))
        .or(req.grpc_path)
        .or(req.url.map(path_from_url))
        // A value too long to read (see `attrs::MAX_VALUE_LEN`) leaves the path unknown.
        .filter(|p| !p.is_empty() && *p != OVERFLOW)
}

/// The HTTP Host/authority: `http.host`, `server.address` on SERVER spans, the URL authority.
pub(crate) fn host<'a>(req: &RequestAttrs<'a>, kind: SpanKind) -> Option<&'a str> {
    req.http_host
        .or(if kind == SpanKind::Server {
            req.server_address
        } else {
            None
        })
        .or_else(|| req.url.and_then(authority_from_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(
        req: &RequestAttrs<'_>,
        kind: SpanKind,
        name: &str,
    ) -> (
        Option<String>,
        Option<u16>,
        Option<String>,
        Option<String>,
        bool,
    ) {
        let interner = Interner::new();
        let cluster = req
            .upstream_cluster
            .and_then(|c| cluster_facts(c, &interner));
        let d = destination(
            req,
            kind,
            cluster,
            || name_facts(name, &interner),
            &interner,
        );
        let s = |sym: Option<Sym>| sym.map(|s| interner.resolve(s).to_owned());
        (s(d.host), d.port, s(d.service), s(d.namespace), d.inbound)
    }

    #[test]
    fn from_upstream_cluster() {
        let req = RequestAttrs {
            upstream_cluster: Some("outbound|9080||reviews.bookinfo.svc.cluster.local"),
            url: Some("http://reviews:9080/reviews/0"),
            ..RequestAttrs::default()
        };
        let got = resolved(
            &req,
            SpanKind::Client,
            "reviews.bookinfo.svc.cluster.local:9080/*",
        );
        assert_eq!(
            got,
            (
                Some("reviews.bookinfo.svc.cluster.local".into()),
                Some(9080),
                Some("reviews".into()),
                Some("bookinfo".into()),
                false
            )
        );
    }

    #[test]
    fn inbound_uses_span_name_for_host() {
        let req = RequestAttrs {
            upstream_cluster: Some("inbound|9080||"),
            ..RequestAttrs::default()
        };
        let got = resolved(
            &req,
            SpanKind::Server,
            "details.bookinfo.svc.cluster.local:9080/*",
        );
        assert_eq!(
            got,
            (
                Some("details.bookinfo.svc.cluster.local".into()),
                Some(9080),
                Some("details".into()),
                Some("bookinfo".into()),
                true
            )
        );
    }

    #[test]
    fn passthrough_and_external() {
        let req = RequestAttrs {
            upstream_cluster: Some("PassthroughCluster"),
            url: Some("https://www.google.com/search?q=x"),
            ..RequestAttrs::default()
        };
        let got = resolved(&req, SpanKind::Client, "egress www.google.com");
        assert_eq!(
            got,
            (Some("www.google.com".into()), None, None, None, false)
        );
        let req = RequestAttrs {
            upstream_cluster: Some("outbound|443||www.google.com"),
            ..RequestAttrs::default()
        };
        let got = resolved(&req, SpanKind::Client, "x");
        assert_eq!(
            got,
            (Some("www.google.com".into()), Some(443), None, None, false)
        );
    }

    #[test]
    fn otel_client_and_server() {
        let req = RequestAttrs {
            server_address: Some("web.emojivoto.svc.cluster.local"),
            server_port: Some(8080),
            url: Some("http://other:1/x"),
            ..RequestAttrs::default()
        };
        let got = resolved(&req, SpanKind::Client, "GET");
        assert_eq!(
            got,
            (
                Some("web.emojivoto.svc.cluster.local".into()),
                Some(8080),
                Some("web".into()),
                Some("emojivoto".into()),
                false
            )
        );
        // On a SERVER span server.address is the span's own host, not a destination.
        assert_eq!(
            resolved(&req, SpanKind::Server, "GET"),
            (None, None, None, None, false)
        );
        let req = RequestAttrs {
            net_peer_name: Some("db1"),
            net_peer_port: Some(5432),
            ..RequestAttrs::default()
        };
        assert_eq!(
            resolved(&req, SpanKind::Client, "SELECT"),
            (Some("db1".into()), Some(5432), None, None, false)
        );
    }

    #[test]
    fn paths_and_hosts() {
        let mut req = RequestAttrs {
            url: Some("http://reviews:9080/reviews/0?x=1"),
            ..RequestAttrs::default()
        };
        assert_eq!(path(&req), Some("/reviews/0"));
        assert_eq!(host(&req, SpanKind::Client), Some("reviews:9080"));
        req.http_target = Some("/t?q");
        assert_eq!(path(&req), Some("/t"));
        req.url_path = Some("/explicit");
        assert_eq!(path(&req), Some("/explicit"));
        req.http_host = Some("h");
        assert_eq!(host(&req, SpanKind::Client), Some("h"));
        let req = RequestAttrs {
            server_address: Some("web"),
            grpc_path: Some("/pkg.Svc/Method"),
            ..RequestAttrs::default()
        };
        assert_eq!(host(&req, SpanKind::Server), Some("web"));
        assert_eq!(host(&req, SpanKind::Client), None);
        assert_eq!(path(&req), Some("/pkg.Svc/Method"));
        assert_eq!(path(&RequestAttrs::default()), None);
    }

    #[test]
    fn protocols() {
        let http = RequestAttrs {
            method: Some("GET"),
            tcp: true,
            ..RequestAttrs::default()
        };
        assert_eq!(protocol(&http, SpanKind::Client), Protocol::Http);
        let grpc = RequestAttrs { grpc: true, ..http };
        assert_eq!(protocol(&grpc, SpanKind::Client), Protocol::Grpc);
        let db = RequestAttrs {
            db_system: Some("postgresql"),
            ..RequestAttrs::default()
        };
        assert_eq!(protocol(&db, SpanKind::Client), Protocol::Db);
        let msg = RequestAttrs {
            messaging_system: Some("kafka"),
            ..RequestAttrs::default()
        };
        assert_eq!(protocol(&msg, SpanKind::Client), Protocol::Messaging);
        let tcp = RequestAttrs {
            upstream_cluster: Some("outbound|3306||mysql.db.svc.cluster.local"),
            ..RequestAttrs::default()
        };
        assert_eq!(protocol(&tcp, SpanKind::Client), Protocol::Tcp);
        assert_eq!(
            protocol(&RequestAttrs::default(), SpanKind::Client),
            Protocol::Unknown
        );
        assert_eq!(
            protocol(&RequestAttrs::default(), SpanKind::Producer),
            Protocol::Messaging
        );
    }
}
