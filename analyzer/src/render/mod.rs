//! Renderings of a [`GraphSnapshot`]: JSON (the API's shape), Graphviz DOT and Mermaid, with
//! edges labelled by rate, error % and p99 and coloured by health.
//!
//! Every renderer is deterministic: nodes are ordered by id and edges by (source, target,
//! protocol) whatever order the snapshot holds them in, and numbers are formatted by
//! [`fmt_rps`], [`fmt_percent`] and [`fmt_ms`].

mod dot;
mod format;
mod health;
mod json;
mod mermaid;

pub use dot::{DotOptions, dot};
pub use format::{fmt_ms, fmt_ms_compact, fmt_percent, fmt_rps};
pub use health::{Health, HealthThresholds, edge_health, node_health};
pub use json::json;
pub use mermaid::{MermaidOptions, mermaid};

use crate::snapshot::{EdgeSnapshot, GraphSnapshot, NodeSnapshot};

/// Nodes ordered by id.
fn sorted_nodes(graph: &GraphSnapshot) -> Vec<&NodeSnapshot> {
    let mut nodes: Vec<&NodeSnapshot> = graph.nodes.iter().collect();
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    nodes
}

/// Edges ordered by (source, target, protocol); the sort is stable for exact ties.
fn sorted_edges(graph: &GraphSnapshot) -> Vec<&EdgeSnapshot> {
    let mut edges: Vec<&EdgeSnapshot> = graph.edges.iter().collect();
    edges.sort_by(|a, b| {
        (&a.source, &a.target, &a.protocol).cmp(&(&b.source, &b.target, &b.protocol))
    });
    edges
}

/// The parts of an edge label: rate, error % and p99, or just `idle`.
struct EdgeLabel {
    parts: Vec<String>,
}

impl EdgeLabel {
    /// `compact_ms` selects `12.5ms` (Mermaid) over `12.5 ms` (DOT); `err_suffix` is appended
    /// to the error percentage (`" err"` in DOT).
    fn new(edge: &EdgeSnapshot, health: Health, compact_ms: bool, err_suffix: &str) -> Self {
        if health == Health::Idle {
            return EdgeLabel {
                parts: vec!["idle".to_owned()],
            };
        }
        let approx = if edge.estimated { "~" } else { "" };
        let p99 = if compact_ms {
            fmt_ms_compact(edge.latency_ms.p99)
        } else {
            fmt_ms(edge.latency_ms.p99)
        };
        EdgeLabel {
            parts: vec![
                format!("{approx}{}", fmt_rps(edge.rps)),
                format!("{}{err_suffix}", fmt_percent(edge.error_rate)),
                format!("p99 {p99}"),
            ],
        }
    }
}

/// The text a node is shown with: its service name (or id when that is empty).
fn node_title(node: &NodeSnapshot) -> &str {
    if node.service.is_empty() {
        &node.id
    } else {
        &node.service
    }
}

/// Versions line, sorted and deduplicated (`v1, v2`), if any.
fn node_versions(node: &NodeSnapshot) -> Option<String> {
    let mut versions: Vec<&str> = node.versions.iter().map(String::as_str).collect();
    versions.sort_unstable();
    versions.dedup();
    if versions.is_empty() {
        None
    } else {
        Some(versions.join(", "))
    }
}
