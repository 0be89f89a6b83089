//! One call through an Istio mesh as its two sidecars trace it: the caller's CLIENT span and
//! the callee's SERVER span, every attribute a string as Envoy sends, each in its emitting
//! workload's resource. Test fixtures, recorded-trace generators and the simulator build
//! traffic from these.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span, status};

use crate::sample::{request_by_service, string_attr};

/// A workload with a sidecar (or a gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer<'a> {
    pub service: &'a str,
    pub namespace: &'a str,
    pub version: &'a str,
    /// An ingress gateway (`router~` node id) instead of a sidecar.
    pub gateway: bool,
}

impl<'a> Peer<'a> {
    pub fn sidecar(service: &'a str, namespace: &'a str, version: &'a str) -> Self {
        Self {
            service,
            namespace,
            version,
            gateway: false,
        }
    }

    fn pod(&self) -> String {
        let hash = self
            .service
            .bytes()
            .chain(self.version.bytes())
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        format!(
            "{}-{}-6f89b6c557-{:05x}",
            self.service,
            self.version,
            hash % 0xfffff
        )
    }

    fn ip(&self) -> String {
        let hash = self
            .pod()
            .bytes()
            .fold(11u32, |h, b| h.wrapping_mul(33).wrapping_add(u32::from(b)));
        format!("10.244.{}.{}", hash % 4, 2 + hash % 250)
    }

    fn node_id(&self) -> String {
        let kind = if self.gateway { "router" } else { "sidecar" };
        format!(
            "{kind}~{}~{}.{}~{}.svc.cluster.local",
            self.ip(),
            self.pod(),
            self.namespace,
            self.namespace
        )
    }
}

/// A call and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyCall<'a> {
    pub caller: Peer<'a>,
    pub callee: Peer<'a>,
    pub port: u16,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    /// Envoy `response_flags` (`UF`, `UO`, …); `-` when none.
    pub response_flags: &'a str,
    /// The callee's sidecar denied it: 403 with `rbac_access_denied_matched_policy[none]` in
    /// its response-code details.
    pub rbac_denied: bool,
    /// The caller's principal as a `%DOWNSTREAM_PEER_URI_SAN%` custom tag on the SERVER span.
    pub peer_principal: Option<&'a str>,
    /// Istio dry-run tags on the SERVER span: (tag suffix, value), e.g.
    /// `("deny_policy.result", "denied")`.
    pub dry_run: Vec<(&'a str, &'a str)>,
    pub start_unix_nanos: u64,
    pub client_duration_nanos: u64,
    pub server_duration_nanos: u64,
    /// Varies trace and span ids.
    pub seed: u64,
    /// The call's place in a larger trace; `None`: a root call whose ids derive from `seed`.
    pub context: Option<CallContext>,
    /// Also the tags a sidecar sends that meshlens does not read or reads only for display
    /// (`upstream_cluster.name`, `user_agent`, sizes, `downstream_cluster`,
    /// `upstream_address`, `istio.cluster_id`, `error`), as a real sidecar does.
    pub all_tags: bool,
}

/// Ids of a call inside a trace: the trace, the caller's CLIENT span (child of
/// `parent_span_id`, the span of the request that made the call) and the callee's SERVER span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    pub trace_id: [u8; 16],
    pub client_span_id: [u8; 8],
    pub server_span_id: [u8; 8],
    /// `None` for a root call (a gateway's CLIENT root span).
    pub parent_span_id: Option<[u8; 8]>,
}

impl<'a> EnvoyCall<'a> {
    /// A successful GET taking 2 ms (1.5 ms in the callee).
    pub fn get(caller: Peer<'a>, callee: Peer<'a>, path: &'a str, seed: u64) -> Self {
        Self {
            caller,
            callee,
            port: 9080,
            method: "GET",
            path,
            status: 200,
            response_flags: "-",
            rbac_denied: false,
            peer_principal: None,
            dry_run: Vec::new(),
            start_unix_nanos: 1_764_230_400_000_000_000 + seed * 10_000_000,
            client_duration_nanos: 2_000_000,
            server_duration_nanos: 1_500_000,
            seed,
            context: None,
            all_tags: false,
        }
    }

    fn ids(&self) -> ([u8; 16], [u8; 8], [u8; 8]) {
        if let Some(context) = &self.context {
            return (
                context.trace_id,
                context.client_span_id,
                context.server_span_id,
            );
        }
        let mut trace = [0u8; 16];
        trace[..8]
            .copy_from_slice(&(self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1).to_be_bytes());
        trace[8..].copy_from_slice(&(self.seed + 1).to_be_bytes());
        let client = (self.seed << 1 | 1 << 56).to_be_bytes();
        let server = (self.seed << 1 | 1 | 1 << 56).to_be_bytes();
        (trace, client, server)
    }

    fn common(&self, me: &Peer<'_>, upstream_cluster: String) -> Vec<KeyValue> {
        let host = format!(
            "{}.{}.svc.cluster.local",
            self.callee.service, self.callee.namespace
        );
        vec![
            string_attr("node_id", me.node_id()),
            string_attr(
                "guid:x-request-id",
                format!("{:032x}", self.seed.wrapping_mul(31)),
            ),
            string_attr(
                "http.url",
                format!("http://{host}:{}{}", self.port, self.path),
            ),
            string_attr("http.method", self.method),
            string_attr("http.protocol", "HTTP/1.1"),
            string_attr("upstream_cluster", upstream_cluster),
            string_attr("http.status_code", self.status.to_string()),
            string_attr("response_flags", self.response_flags),
            string_attr("istio.canonical_service", me.service),
            string_attr("istio.canonical_revision", me.version),
            string_attr("istio.namespace", me.namespace),
            string_attr("istio.mesh_id", "cluster.local"),
            string_attr("component", "proxy"),
        ]
    }

    fn span(&self, kind: span::SpanKind, attributes: Vec<KeyValue>) -> Span {
        let (trace, client, server) = self.ids();
        let client_side = kind == span::SpanKind::Client;
        let duration = if client_side {
            self.client_duration_nanos
        } else {
            self.server_duration_nanos
        };
        let start = if client_side {
            self.start_unix_nanos
        } else {
            self.start_unix_nanos + self.client_duration_nanos.saturating_sub(duration) / 2
        };
        let failed = self.status >= 500 || (client_side && self.status >= 400);
        Span {
            trace_id: trace.to_vec(),
            span_id: if client_side { client } else { server }.to_vec(),
            parent_span_id: if client_side {
                self.context
                    .and_then(|c| c.parent_span_id)
                    .map_or_else(Vec::new, |p| p.to_vec())
            } else {
                client.to_vec()
            },
            name: format!(
                "{}.{}.svc.cluster.local:{}/*",
                self.callee.service, self.callee.namespace, self.port
            ),
            kind: kind as i32,
            start_time_unix_nano: start,
            end_time_unix_nano: start + duration,
            attributes,
            status: failed.then(|| Status {
                code: status::StatusCode::Error as i32,
                message: String::new(),
            }),
            ..Default::default()
        }
    }

    /// The caller's CLIENT span.
    pub fn client_span(&self) -> Span {
        let host = format!(
            "{}.{}.svc.cluster.local",
            self.callee.service, self.callee.namespace
        );
        let cluster = format!("outbound|{}||{host}", self.port);
        let mut attributes = self.common(&self.caller, cluster.clone());
        attributes.push(string_attr("peer.address", self.callee.ip()));
        if self.all_tags {
            self.push_incidental(&mut attributes, &self.caller, cluster, true);
        }
        self.span(span::SpanKind::Client, attributes)
    }

    /// The callee's SERVER span.
    pub fn server_span(&self) -> Span {
        let cluster = format!("inbound|{}||", self.port);
        let mut attributes = self.common(&self.callee, cluster.clone());
        attributes.push(string_attr("peer.address", self.caller.ip()));
        if self.all_tags {
            self.push_incidental(&mut attributes, &self.callee, cluster, false);
        }
        if self.rbac_denied {
            attributes.push(string_attr(
                "response_code_details",
                "rbac_access_denied_matched_policy[none]",
            ));
        }
        if let Some(principal) = self.peer_principal {
            attributes.push(string_attr(
                "downstream_peer_uri_san",
                format!("spiffe://{principal}"),
            ));
        }
        for (suffix, value) in &self.dry_run {
            attributes.push(string_attr(
                &format!("istio.authorization.dry_run.{suffix}"),
                *value,
            ));
        }
        self.span(span::SpanKind::Server, attributes)
    }
}

impl EnvoyCall<'_> {
    /// The tags [`EnvoyCall::all_tags`] adds.
    fn push_incidental(
        &self,
        attributes: &mut Vec<KeyValue>,
        me: &Peer<'_>,
        cluster: String,
        client_side: bool,
    ) {
        let response_size = if self.rbac_denied {
            "19" // "RBAC: access denied"
        } else if self.status >= 500 {
            "95"
        } else {
            "1843"
        };
        let user_agent = if self.caller.gateway || client_side && me.gateway {
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
        } else {
            "python-requests/2.31.0"
        };
        let upstream_address = if client_side {
            format!("{}:{}", self.callee.ip(), self.port)
        } else {
            format!("{}:{}", me.ip(), self.port)
        };
        attributes.extend([
            string_attr("upstream_cluster.name", cluster),
            string_attr("downstream_cluster", "-"),
            string_attr("user_agent", user_agent),
            string_attr("request_size", "0"),
            string_attr("response_size", response_size),
            string_attr("upstream_address", upstream_address),
            string_attr("istio.cluster_id", "Kubernetes"),
        ]);
        let failed = self.status >= 500 || (client_side && self.status >= 400);
        if failed {
            attributes.push(string_attr("error", "true"));
        }
    }
}

/// The calls' spans as one request, one resource per emitting workload (`service.name`
/// `<service>.<namespace>`, as Istio sets it), in first-seen order.
pub fn request_of(calls: &[EnvoyCall<'_>]) -> ExportTraceServiceRequest {
    let service = |peer: &Peer<'_>| format!("{}.{}", peer.service, peer.namespace);
    request_by_service(calls.iter().flat_map(|call| {
        [
            (service(&call.caller), call.client_span()),
            (service(&call.callee), call.server_span()),
        ]
    }))
}
