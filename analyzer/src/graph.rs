//! The service graph: a petgraph of nodes (workloads, virtual destinations, `user`) and edges
//! keyed by (source, target, protocol), each edge carrying its windowed RED data. Both are
//! capped; what a cap turns away is counted, so memory is bounded by edges, never by spans.

use std::collections::HashMap;

use meshlens_collector::Sym;
use meshlens_collector::span::{Protocol, TraceId};
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};

use crate::metrics::{Observation, RedBucket};
use crate::paths::PathId;
use crate::servicegraph::ServiceGraphHistograms;
use crate::snapshot::NodeKind;
use crate::window::Ring;

/// Versions, ports and methods kept per node or edge; more are ignored.
const MAX_SMALL_SET: usize = 16;
/// Recent trace ids kept per edge as evidence.
pub const TRACE_IDS_PER_EDGE: usize = 5;

/// A node as a request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef {
    pub id: Sym,
    pub service: Sym,
    pub namespace: Option<Sym>,
    pub kind: NodeKind,
    pub version: Option<Sym>,
}

#[derive(Debug)]
pub struct NodeData {
    pub id: Sym,
    pub service: Sym,
    pub namespace: Option<Sym>,
    pub kind: NodeKind,
    pub versions: Vec<Sym>,
}

/// How an edge's requests were observed, over the whole run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub paired: u64,
    pub client_only: u64,
    pub server_only: u64,
}

#[derive(Debug)]
pub struct EdgeData {
    pub protocol: Protocol,
    pub red: Ring<RedBucket>,
    pub ports: Vec<u16>,
    pub methods: Vec<Sym>,
    pub paths: Vec<PathId>,
    /// Templates not kept because the edge had `max_paths_per_edge` already.
    pub paths_overflow: u64,
    /// Most recent last.
    pub trace_ids: Vec<TraceId>,
    pub seen: Seen,
    /// Whole-run latency histograms with the servicegraph connector's buckets, for
    /// `traces_service_graph_request_{client,server}_seconds` on /metrics.
    pub histograms: ServiceGraphHistograms,
    /// The (kind, version) the endpoints last came with: node updates only when they change.
    last_refs: [(NodeKind, Option<Sym>); 2],
}

/// Everything one request adds to its edge.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub at_ms: u64,
    pub observation: Observation,
    pub port: Option<u16>,
    pub method: Option<Sym>,
    pub path: Option<PathId>,
    pub trace_id: TraceId,
    pub how: How,
}

/// Which halves made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    Paired,
    ClientOnly,
    ServerOnly,
}

/// Limits of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_nodes: usize,
    pub max_edges: usize,
    pub max_paths_per_edge: usize,
}

/// What the caps turned away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Requests not recorded because a new node would pass `max_nodes`.
    pub node_cap: u64,
    /// Requests not recorded because a new edge would pass `max_edges`.
    pub edge_cap: u64,
}

#[derive(Debug)]
pub struct ServiceGraph {
    graph: DiGraph<NodeData, EdgeData>,
    nodes: HashMap<Sym, NodeIndex, ahash::RandomState>,
    /// Keyed by node ids, so a request on a known edge needs one lookup.
    edges: HashMap<(Sym, Sym, Protocol), EdgeIndex, ahash::RandomState>,
    caps: Caps,
    dropped: Dropped,
}

fn kind_rank(kind: NodeKind) -> u8 {
    match kind {
        NodeKind::Virtual => 0,
        NodeKind::User => 1,
        NodeKind::Database | NodeKind::Messaging => 2,
        NodeKind::Service => 3,
    }
}

fn push_capped<T: PartialEq>(set: &mut Vec<T>, value: T, cap: usize) -> bool {
    if set.contains(&value) {
        return true;
    }
    if set.len() >= cap {
        return false;
    }
    set.push(value);
    true
}

impl ServiceGraph {
    pub fn new(caps: Caps) -> Self {
        Self {
            graph: DiGraph::default(),
            nodes: HashMap::default(),
            edges: HashMap::default(),
            caps,
            dropped: Dropped::default(),
        }
    }

    /// The node for `r`, created if new (unless the node cap is reached). A node first known
    /// from a caller's span becomes a service once it emits spans itself.
    fn node(&mut self, r: &NodeRef) -> Option<NodeIndex> {
        let index = match self.nodes.get(&r.id) {
            Some(&index) => index,
            None => {
                if self.graph.node_count() >= self.caps.max_nodes {
                    return None;
                }
                let index = self.graph.add_node(NodeData {
                    id: r.id,
                    service: r.service,
                    namespace: r.namespace,
                    kind: r.kind,
                    versions: Vec::new(),
                });
                self.nodes.insert(r.id, index);
                index
            }
        };
        let node = &mut self.graph[index];
        if kind_rank(r.kind) > kind_rank(node.kind) {
            node.kind = r.kind;
            node.service = r.service;
            node.namespace = r.namespace.or(node.namespace);
        }
        if let Some(version) = r.version {
            push_capped(&mut node.versions, version, MAX_SMALL_SET);
        }
        Some(index)
    }

    /// Records one request on the edge source → target; false when a cap turned it away.
    pub fn record(
        &mut self,
        source: &NodeRef,
        target: &NodeRef,
        protocol: Protocol,
        req: &Request,
    ) -> bool {
        let key = (source.id, target.id, protocol);
        let refs = [(source.kind, source.version), (target.kind, target.version)];
        let index = match self.edges.get(&key) {
            Some(&index) => {
                if self.graph[index].last_refs != refs {
                    // A version or kind not seen on this edge yet: update the nodes.
                    self.node(source);
                    self.node(target);
                    self.graph[index].last_refs = refs;
                }
                index
            }
            None => {
                let (Some(s), Some(t)) = (self.node(source), self.node(target)) else {
                    self.dropped.node_cap += 1;
                    return false;
                };
                if self.graph.edge_count() >= self.caps.max_edges {
                    self.dropped.edge_cap += 1;
                    return false;
                }
                let index = self.graph.add_edge(
                    s,
                    t,
                    EdgeData {
                        protocol,
                        red: Ring::default(),
                        ports: Vec::new(),
                        methods: Vec::new(),
                        paths: Vec::new(),
                        paths_overflow: 0,
                        trace_ids: Vec::with_capacity(TRACE_IDS_PER_EDGE),
                        seen: Seen::default(),
                        histograms: ServiceGraphHistograms::default(),
                        last_refs: refs,
                    },
                );
                self.edges.insert(key, index);
                index
            }
        };
        let max_paths = self.caps.max_paths_per_edge;
        let edge = &mut self.graph[index];
        edge.red.record(req.at_ms, |b| b.add(&req.observation));
        edge.histograms.observe(&req.observation);
        if let Some(port) = req.port {
            push_capped(&mut edge.ports, port, MAX_SMALL_SET);
        }
        if let Some(method) = req.method {
            push_capped(&mut edge.methods, method, MAX_SMALL_SET);
        }
        if let Some(path) = req.path
            && !push_capped(&mut edge.paths, path, max_paths)
        {
            edge.paths_overflow += 1;
        }
        if edge.trace_ids.last() != Some(&req.trace_id) {
            if edge.trace_ids.len() >= TRACE_IDS_PER_EDGE {
                edge.trace_ids.remove(0);
            }
            edge.trace_ids.push(req.trace_id);
        }
        match req.how {
            How::Paired => edge.seen.paired += 1,
            How::ClientOnly => edge.seen.client_only += 1,
            How::ServerOnly => edge.seen.server_only += 1,
        }
        true
    }

    pub fn nodes(&self) -> impl Iterator<Item = (NodeIndex, &NodeData)> {
        self.graph.node_indices().map(move |i| (i, &self.graph[i]))
    }

    /// Every edge as (source, target, data).
    pub fn edges(&self) -> impl Iterator<Item = (NodeIndex, NodeIndex, &EdgeData)> {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| (e.source(), e.target(), &e.weight))
    }

    pub fn node_data(&self, index: NodeIndex) -> Option<&NodeData> {
        self.graph.node_weight(index)
    }

    /// The petgraph itself, for graph algorithms (reachability, cycles, …).
    pub fn petgraph(&self) -> &DiGraph<NodeData, EdgeData> {
        &self.graph
    }

    pub fn dropped(&self) -> Dropped {
        self.dropped
    }
}
