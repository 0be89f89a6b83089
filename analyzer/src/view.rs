//! Snapshots: the graph over one window, in the API's shape, sorted so equal inputs give
//! byte-equal JSON.

use std::collections::HashSet;

use petgraph::graph::NodeIndex;

use crate::engine::{Analyzer, PairingBucket};
use crate::graph::{EdgeData, NodeData};
use crate::metrics::{RedBucket, quantiles};
use crate::snapshot::{EdgePairing, EdgeSnapshot, GraphSnapshot, NodeSnapshot, PairingStats};
use crate::window::{self, Bucket, Window};

/// Rates never divide by less than this (a single-span input has no duration).
const MIN_ELAPSED_MS: u64 = 1;

impl Analyzer {
    /// The graph over `window` as of `now_ms`: edges with requests in the window and the nodes
    /// they join, nodes sorted by id, edges by (source, target, protocol).
    pub fn snapshot(&self, window: Window, now_ms: u64) -> GraphSnapshot {
        let span = window::Span::of(window, now_ms);
        let elapsed_ms = now_ms
            .saturating_sub(self.run_start_ms.unwrap_or(now_ms))
            .max(MIN_ELAPSED_MS);
        let (window_seconds, covered_ms) = match window.length() {
            None => (elapsed_ms as f64 / 1000.0, elapsed_ms),
            Some(length) => {
                let covered = now_ms.saturating_sub(span.from_ms).max(MIN_ELAPSED_MS);
                (length.as_secs_f64(), covered.min(elapsed_ms))
            }
        };
        let seconds = covered_ms as f64 / 1000.0;

        let mut edges = Vec::new();
        let mut joined: HashSet<NodeIndex> = HashSet::new();
        for (source, target, data) in self.graph.edges() {
            let mut red = RedBucket::default();
            data.red
                .visit(span, now_ms, |b| Bucket::merge_from(&mut red, b));
            if red.requests <= 0.0 {
                continue;
            }
            let (Some(s), Some(t)) = (self.graph.node_data(source), self.graph.node_data(target))
            else {
                continue;
            };
            edges.push(self.edge_snapshot(s, t, data, &red, seconds));
            joined.extend([source, target]);
        }
        edges.sort_by(|a, b| {
            (&a.source, &a.target, &a.protocol).cmp(&(&b.source, &b.target, &b.protocol))
        });

        let mut nodes: Vec<NodeSnapshot> = self
            .graph
            .nodes()
            .filter(|(index, _)| joined.contains(index))
            .map(|(_, node)| self.node_snapshot(node))
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));

        let mut pairing = PairingBucket::default();
        self.pairing
            .visit(span, now_ms, |b| Bucket::merge_from(&mut pairing, b));
        let mut snapshot = GraphSnapshot {
            window_seconds,
            generated_at_unix_ms: now_ms,
            nodes,
            edges,
            pairing: self.pairing_stats(&pairing),
        };
        snapshot.total_nodes();
        snapshot
    }

    /// The node with zero totals: [`GraphSnapshot::total_nodes`] sums its edges.
    fn node_snapshot(&self, node: &NodeData) -> NodeSnapshot {
        let mut versions: Vec<String> = node
            .versions
            .iter()
            .map(|v| self.resolve(*v).to_owned())
            .collect();
        versions.sort();
        NodeSnapshot {
            id: self.resolve(node.id).to_owned(),
            service: self.resolve(node.service).to_owned(),
            namespace: node.namespace.map(|n| self.resolve(n).to_owned()),
            kind: node.kind,
            versions,
            requests: 0.0,
            errors: 0.0,
            rps: 0.0,
            error_rate: 0.0,
        }
    }

    fn edge_snapshot(
        &self,
        source: &NodeData,
        target: &NodeData,
        data: &EdgeData,
        red: &RedBucket,
        seconds: f64,
    ) -> EdgeSnapshot {
        let client = quantiles(red.client.as_deref());
        let server = quantiles(red.server.as_deref());
        let mut ports = data.ports.clone();
        ports.sort_unstable();
        let mut methods: Vec<String> = data
            .methods
            .iter()
            .map(|m| self.resolve(*m).to_owned())
            .collect();
        methods.sort();
        let mut paths: Vec<String> = data
            .paths
            .iter()
            .map(|p| self.paths.resolve(*p).to_owned())
            .collect();
        paths.sort();
        let seen = data.seen;
        let pairing = if seen.paired > 0 {
            EdgePairing::Paired
        } else if seen.client_only >= seen.server_only {
            EdgePairing::ClientOnly
        } else {
            EdgePairing::ServerOnly
        };
        EdgeSnapshot {
            source: self.resolve(source.id).to_owned(),
            target: self.resolve(target.id).to_owned(),
            protocol: data.protocol.as_str().to_owned(),
            requests: red.requests,
            errors: red.errors,
            rps: rate(red.requests, seconds),
            error_rate: ratio(red.errors, red.requests),
            latency_ms: client.or(server).unwrap_or_default(),
            client_latency_ms: client,
            server_latency_ms: server,
            client_errors: red.client_errors,
            authz_denials: red.authz_denials,
            estimated: red.estimated,
            ports,
            methods,
            paths,
            pairing,
            trace_ids: data.trace_ids.iter().rev().map(hex::encode).collect(),
        }
    }

    /// Counters of pairing over `window` (pending is always the current count).
    pub fn window_stats(&self, window: Window, now_ms: u64) -> PairingStats {
        let mut pairing = PairingBucket::default();
        self.pairing
            .visit(window::Span::of(window, now_ms), now_ms, |b| {
                Bucket::merge_from(&mut pairing, b)
            });
        self.pairing_stats(&pairing)
    }
}

pub(crate) fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// Per second, to a thousandth: stable in golden files, finer than any dashboard shows.
pub(crate) fn rate(count: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        ((count / seconds) * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}
