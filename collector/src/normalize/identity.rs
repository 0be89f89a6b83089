//! The workload that emitted a span: service, namespace, version, pod and proxy kind, from
//! Istio/Envoy tags, linkerd2-proxy labels or OTel resource attributes.

use std::cell::RefCell;

use crate::intern::{Interner, Sym, ThreadMemo};
use crate::span::{ProxyKind, Workload};

use super::envoy::parse_node_id;

/// The OTel default service name, used when nothing names the service.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// Borrowed identity attributes of a resource, or of a resource merged with one span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Identity<'a> {
    pub canonical_service: Option<&'a str>,
    pub canonical_revision: Option<&'a str>,
    pub istio_namespace: Option<&'a str>,
    pub node_id: Option<&'a str>,
    pub service_name: Option<&'a str>,
    pub service_namespace: Option<&'a str>,
    pub service_version: Option<&'a str>,
    pub k8s_namespace: Option<&'a str>,
    pub k8s_pod: Option<&'a str>,
    pub k8s_deployment: Option<&'a str>,
    pub host_name: Option<&'a str>,
    /// `app` / `app.kubernetes.io/name` label (linkerd).
    pub app: Option<&'a str>,
    /// `version` label (linkerd).
    pub version_label: Option<&'a str>,
    /// `linkerd.io/workload-ns` label.
    pub linkerd_ns: Option<&'a str>,
    /// linkerd2-proxy's `direction` attribute is present (its value does not matter here).
    pub direction: bool,
    /// Some `linkerd.io/*` label is present.
    pub linkerd_label: bool,
}

const STR_FIELDS: usize = 14;

impl<'a> Identity<'a> {
    fn strs(&self) -> [Option<&'a str>; STR_FIELDS] {
        [
            self.canonical_service,
            self.canonical_revision,
            self.istio_namespace,
            self.node_id,
            self.service_name,
            self.service_namespace,
            self.service_version,
            self.k8s_namespace,
            self.k8s_pod,
            self.k8s_deployment,
            self.host_name,
            self.app,
            self.version_label,
            self.linkerd_ns,
        ]
    }

    /// The identity as one byte string, to key a memo: each field as a presence byte, its
    /// length and its bytes, then the flags.
    fn write_key(&self, key: &mut Vec<u8>) {
        for value in self.strs() {
            match value {
                Some(v) => {
                    key.push(1);
                    key.extend_from_slice(&v.len().to_le_bytes());
                    key.extend_from_slice(v.as_bytes());
                }
                None => key.push(0),
            }
        }
        key.extend([u8::from(self.direction), u8::from(self.linkerd_label)]);
    }

    fn is_linkerd(&self) -> bool {
        self.service_name == Some("linkerd-proxy") || (self.direction && self.linkerd_label)
    }
}

/// The workload as borrowed strings, before interning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResolvedWorkload<'a> {
    /// `None` means [`UNKNOWN_SERVICE`].
    pub service: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub version: Option<&'a str>,
    pub pod: Option<&'a str>,
    pub proxy: ProxyKind,
}

/// Applies the identity rules (see DESIGN.md, "Normalising proxy spans").
pub(crate) fn resolve<'a>(id: &Identity<'a>) -> ResolvedWorkload<'a> {
    let node = id.node_id.and_then(parse_node_id);
    let linkerd = id.is_linkerd();

    // Istio's `service.name` is `<app>.<namespace>`: a namespace source of last resort.
    let istio_service_name_ns = || {
        id.node_id?;
        let (_, ns) = id.service_name?.rsplit_once('.')?;
        (!ns.is_empty()).then_some(ns)
    };
    let namespace = id
        .istio_namespace
        .or(id.k8s_namespace)
        .or(id.service_namespace)
        .or(id.linkerd_ns)
        .or(node.and_then(|n| n.namespace))
        .or_else(istio_service_name_ns);

    let pod = node
        .map(|n| n.pod)
        .or(id.k8s_pod)
        .or(if linkerd { id.host_name } else { None });

    // OTel SDKs default to `unknown_service[:<process>]`: weaker than any other source.
    let (named, sdk_default) = match id.service_name {
        _ if linkerd => (None, None),
        Some(s) if s.starts_with(UNKNOWN_SERVICE) => (None, Some(s)),
        Some(s) => (Some(strip_namespace(s, namespace)), None),
        None => (None, None),
    };
    let linkerd_service = || {
        if !linkerd {
            return None;
        }
        id.app
            .or(id.k8s_deployment)
            .or_else(|| pod.map(workload_from_pod))
    };
    let service = id
        .canonical_service
        .or_else(linkerd_service)
        .or(named)
        .or_else(|| node.map(|n| workload_from_pod(n.pod)))
        .or(id.k8s_deployment)
        .or_else(|| id.k8s_pod.map(workload_from_pod))
        .or(sdk_default)
        .filter(|s| !s.is_empty());

    let version = id.canonical_revision.or(id.service_version).or(if linkerd {
        id.version_label
    } else {
        None
    });

    let proxy = match node {
        Some(n) => n.proxy,
        None if linkerd => ProxyKind::Linkerd,
        None => ProxyKind::None,
    };
    ResolvedWorkload {
        service,
        namespace,
        version,
        pod,
        proxy,
    }
}

/// `productpage.bookinfo` → `productpage` when the namespace is `bookinfo`.
fn strip_namespace<'a>(service: &'a str, namespace: Option<&str>) -> &'a str {
    namespace
        .and_then(|ns| service.strip_suffix(ns))
        .and_then(|rest| rest.strip_suffix('.'))
        .filter(|s| !s.is_empty())
        .unwrap_or(service)
}

/// Characters Kubernetes uses in generated name suffixes (`rand.SafeEncodeString`).
fn is_k8s_hash(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// The owning workload's name from a pod name: `web-6d7b9f8c9d-x2kq4` → `web` (Deployment:
/// ReplicaSet hash and pod suffix), `node-exporter-x2kq4` → `node-exporter` (DaemonSet, Job),
/// `redis-0` → `redis` (StatefulSet); anything else is returned unchanged.
pub fn workload_from_pod(pod: &str) -> &str {
    let Some((rest, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    if rest.is_empty() {
        return pod;
    }
    if is_k8s_hash(last, 5, 5) {
        if let Some((base, rs_hash)) = rest.rsplit_once('-')
            && !base.is_empty()
            && is_k8s_hash(rs_hash, 6, 10)
        {
            return base;
        }
        return rest;
    }
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return rest;
    }
    pod
}

/// Interns a resolved workload. `unknown` is the pre-interned [`UNKNOWN_SERVICE`].
pub(crate) fn intern_workload(
    r: &ResolvedWorkload<'_>,
    interner: &Interner,
    unknown: Sym,
) -> Workload {
    let service_str = r.service.unwrap_or(UNKNOWN_SERVICE);
    let service = match r.service {
        Some(s) => interner.intern(s),
        None => unknown,
    };
    let namespace = r.namespace.map(|ns| interner.intern(ns));
    let node = match r.namespace {
        Some(ns) => intern_joined(interner, service_str, ns),
        None => service,
    };
    Workload {
        node,
        service,
        namespace,
        version: r.version.map(|v| interner.intern(v)),
        pod: r.pod.map(|p| interner.intern(p)),
        proxy: r.proxy,
    }
}

thread_local! {
    static WORKLOADS: RefCell<ThreadMemo<Workload>> = RefCell::default();
}

/// The interned workload of an identity, remembered per thread: the resources of a batch
/// (one per proxy) come back request after request.
pub(crate) fn workload_memoized(id: &Identity<'_>, interner: &Interner, unknown: Sym) -> Workload {
    let mut key = Vec::with_capacity(256);
    id.write_key(&mut key);
    interner.memoized(&WORKLOADS, &key, || {
        intern_workload(&resolve(id), interner, unknown)
    })
}

/// Interns `<a>.<b>` without a heap allocation for the usual short names.
fn intern_joined(interner: &Interner, a: &str, b: &str) -> Sym {
    let mut buf = [0u8; 128];
    let len = a.len() + 1 + b.len();
    if let Some(dst) = buf.get_mut(..len) {
        let (head, tail) = dst.split_at_mut(a.len());
        head.copy_from_slice(a.as_bytes());
        if let Some((dot, rest)) = tail.split_first_mut() {
            *dot = b'.';
            rest.copy_from_slice(b.as_bytes());
        }
        if let Ok(joined) = std::str::from_utf8(dst) {
            return interner.intern(joined);
        }
    }
    interner.intern(&format!("{a}.{b}"))
}

/// The last identity (owned, so [`super::ResourceFacts`] stays covariant in its lifetime)
/// and the workload computed from it. Envoy repeats the same identity tags on every span of
/// a batch, so one entry catches nearly all of them.
#[derive(Debug, Default)]
pub(crate) struct WorkloadMemo {
    buf: String,
    fields: [Option<(usize, usize)>; STR_FIELDS],
    flags: (bool, bool),
    workload: Option<Workload>,
}

impl WorkloadMemo {
    pub fn get(&self, id: &Identity<'_>) -> Option<Workload> {
        let workload = self.workload?;
        if self.flags != (id.direction, id.linkerd_label) {
            return None;
        }
        let same = id
            .strs()
            .iter()
            .zip(&self.fields)
            .all(|(value, range)| match (value, range) {
                (None, None) => true,
                // Bytes, not `str` slices: no char boundary checks.
                (Some(v), Some((start, end))) => {
                    self.buf.as_bytes().get(*start..*end) == Some(v.as_bytes())
                }
                _ => false,
            });
        same.then_some(workload)
    }

    pub fn put(&mut self, id: &Identity<'_>, workload: Workload) {
        self.buf.clear();
        for (slot, value) in self.fields.iter_mut().zip(id.strs()) {
            *slot = value.map(|v| {
                let start = self.buf.len();
                self.buf.push_str(v);
                (start, self.buf.len())
            });
        }
        self.flags = (id.direction, id.linkerd_label);
        self.workload = Some(workload);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pods_to_workloads() {
        let cases = [
            ("web-6d7b9f8c9d-x2kq4", "web"),
            ("productpage-v1-6f89b6c557-sg2bc", "productpage-v1"),
            (
                "istio-ingressgateway-79788cd94-wgmsp",
                "istio-ingressgateway",
            ),
            ("node-exporter-x2kq4", "node-exporter"),
            ("my-app-v2-x2kq4", "my-app-v2"),
            ("redis-0", "redis"),
            ("redis-12", "redis"),
            ("plainname", "plainname"),
            ("-x2kq4", "-x2kq4"),
            ("a-", "a-"),
            ("web-abcde", "web-abcde"),
            ("", ""),
            ("ü-ö", "ü-ö"),
        ];
        for (pod, want) in cases {
            assert_eq!(workload_from_pod(pod), want, "{pod:?}");
        }
    }

    #[test]
    fn strip_ns() {
        assert_eq!(
            strip_namespace("productpage.bookinfo", Some("bookinfo")),
            "productpage"
        );
        assert_eq!(
            strip_namespace("productpage.bookinfo", Some("other")),
            "productpage.bookinfo"
        );
        assert_eq!(strip_namespace("xbookinfo", Some("bookinfo")), "xbookinfo");
        assert_eq!(strip_namespace(".bookinfo", Some("bookinfo")), ".bookinfo");
        assert_eq!(strip_namespace("a.b", None), "a.b");
    }

    #[test]
    fn istio_service_name_gives_namespace_only_with_node_id() {
        let mut id = Identity {
            service_name: Some("productpage.bookinfo"),
            ..Identity::default()
        };
        let r = resolve(&id);
        assert_eq!(
            (r.service, r.namespace),
            (Some("productpage.bookinfo"), None)
        );
        id.node_id = Some("sidecar~1.2.3.4~productpage-v1-6f89b6c557-sg2bc~cluster.local");
        let r = resolve(&id);
        assert_eq!(
            (r.service, r.namespace),
            (Some("productpage"), Some("bookinfo"))
        );
        assert_eq!(r.pod, Some("productpage-v1-6f89b6c557-sg2bc"));
        assert_eq!(r.proxy, ProxyKind::Sidecar);
    }

    #[test]
    fn sdk_default_service_name_is_weakest() {
        let id = Identity {
            service_name: Some("unknown_service:java"),
            k8s_deployment: Some("checkout"),
            ..Identity::default()
        };
        assert_eq!(resolve(&id).service, Some("checkout"));
        let id = Identity {
            service_name: Some("unknown_service:java"),
            ..Identity::default()
        };
        assert_eq!(resolve(&id).service, Some("unknown_service:java"));
        assert_eq!(resolve(&Identity::default()).service, None);
    }

    #[test]
    fn joined_names() {
        let interner = Interner::new();
        let sym = intern_joined(&interner, "productpage", "bookinfo");
        assert_eq!(interner.resolve(sym), "productpage.bookinfo");
        let long = "x".repeat(200);
        let sym = intern_joined(&interner, &long, "ns");
        assert_eq!(interner.resolve(sym), format!("{long}.ns"));
    }

    #[test]
    fn memo_matches_only_identical_identities() {
        let interner = Interner::new();
        let w = intern_workload(
            &resolve(&Identity::default()),
            &interner,
            interner.intern(UNKNOWN_SERVICE),
        );
        let a = Identity {
            node_id: Some("sidecar~1~p.ns~d"),
            canonical_service: Some("svc"),
            ..Identity::default()
        };
        let mut memo = WorkloadMemo::default();
        assert_eq!(memo.get(&a), None);
        memo.put(&a, w);
        assert_eq!(memo.get(&a), Some(w));
        let b = Identity {
            canonical_service: Some("svd"),
            ..a
        };
        assert_eq!(memo.get(&b), None);
        let c = Identity {
            canonical_service: None,
            service_name: Some("svc"),
            ..a
        };
        assert_eq!(memo.get(&c), None);
        let d = Identity {
            direction: true,
            ..a
        };
        assert_eq!(memo.get(&d), None);
    }
}
