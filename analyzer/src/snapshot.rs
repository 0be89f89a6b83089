//! What the analyzer shows the world: a point-in-time view of the service graph over one
//! window. The API (`GET /api/v1/graph`), `meshlens graph`, the anomaly detector and the
//! dashboard all read this; its JSON field names are an interface others rely on, so fields
//! may be added but never renamed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The graph over one window, as of `generated_at_unix_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GraphSnapshot {
    /// The window the rates and counts cover; the whole run (or input) for offline graphs.
    pub window_seconds: f64,
    /// When the snapshot was taken (wall clock of the analyzer, or the input's last span
    /// end for offline graphs).
    pub generated_at_unix_ms: u64,
    pub nodes: Vec<NodeSnapshot>,
    pub edges: Vec<EdgeSnapshot>,
    /// How pairing went over the window: the telemetry-gap signal.
    pub pairing: PairingStats,
}

impl GraphSnapshot {
    /// Sets each node's requests, errors, rate and error ratio to the sums over the edges
    /// into it (what it served).
    pub fn total_nodes(&mut self) {
        let mut incoming: HashMap<&str, (f64, f64, f64)> = HashMap::new();
        for edge in &self.edges {
            let totals = incoming.entry(edge.target.as_str()).or_default();
            totals.0 += edge.requests;
            totals.1 += edge.errors;
            totals.2 += edge.rps;
        }
        for node in &mut self.nodes {
            let (requests, errors, rps) =
                incoming.get(node.id.as_str()).copied().unwrap_or_default();
            node.requests = requests;
            node.errors = errors;
            node.rps = rps;
            node.error_rate = if requests > 0.0 {
                errors / requests
            } else {
                0.0
            };
        }
    }
}

/// Counters of the pairing store over a window (or the whole run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PairingStats {
    /// Client and server halves that met.
    pub paired: u64,
    /// Halves that waited past `--pair-ttl` and became edges to virtual or user nodes.
    pub expired_client: u64,
    pub expired_server: u64,
    /// Halves dropped because the store was full (`--pair-max-items`).
    pub dropped_store_full: u64,
    /// Halves that could never pair (no parent and not a SERVER root, INTERNAL spans…).
    pub unpairable: u64,
    /// Halves waiting right now.
    pub pending: u64,
}

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A workload that emitted spans.
    Service,
    /// A destination known only from callers' spans (an external host, an uninstrumented
    /// service), named from `peer.service`, `server.address`, the Envoy cluster host, …
    Virtual,
    /// Where root SERVER spans' callers are: outside the mesh.
    User,
    /// A database (`db.system`).
    Database,
    /// A message broker (`messaging.system`).
    Messaging,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    /// `<service>.<namespace>`, or the service / virtual name.
    pub id: String,
    pub service: String,
    pub namespace: Option<String>,
    pub kind: NodeKind,
    /// Versions seen (`istio.canonical_revision`, `service.version`).
    pub versions: Vec<String>,
    /// Requests this node served in the window (sum over incoming edges).
    pub requests: f64,
    pub errors: f64,
    pub rps: f64,
    pub error_rate: f64,
}

/// Latency quantiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeSnapshot {
    pub source: String,
    pub target: String,
    /// http, grpc, tcp, db, messaging, unknown.
    pub protocol: String,
    /// Requests in the window; scaled by sampling when spans say how (see `estimated`).
    pub requests: f64,
    /// Failures: 5xx, gRPC non-OK, Envoy response flags, transport failures (4xx and RBAC
    /// denials are counted apart).
    pub errors: f64,
    pub rps: f64,
    pub error_rate: f64,
    /// Client-side latency when the client half was seen, else server-side.
    pub latency_ms: Quantiles,
    pub client_latency_ms: Option<Quantiles>,
    pub server_latency_ms: Option<Quantiles>,
    /// 4xx other than authorization denials.
    pub client_errors: f64,
    /// 403 authorization (RBAC) denials.
    pub authz_denials: f64,
    /// Counts are scaled from sampled spans, not exact.
    pub estimated: bool,
    /// Destination ports seen.
    pub ports: Vec<u16>,
    pub methods: Vec<String>,
    /// Path templates seen (ids collapsed), capped per edge.
    pub paths: Vec<String>,
    /// How the edge was observed: both halves paired, or only one side.
    pub pairing: EdgePairing,
    /// A few recent trace ids on this edge (hex), as evidence and for drill-down.
    pub trace_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EdgePairing {
    /// Client and server halves met.
    #[default]
    Paired,
    /// Only the caller's span was seen (destination named from it).
    ClientOnly,
    /// Only the callee's span was seen (a root SERVER span: the caller is `user`).
    ServerOnly,
}
