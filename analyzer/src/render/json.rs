//! The snapshot as pretty JSON: the field names of `GET /api/v1/graph`, in a stable order.

use std::io::{self, Write};

use crate::snapshot::GraphSnapshot;

/// Writes `graph` as pretty-printed JSON followed by a newline.
///
/// The order is stable: nodes by id, edges by (source, target, protocol), and the set-like
/// lists (node versions, edge ports, methods and paths) sorted and deduplicated. Trace ids
/// keep their order (most recent evidence first is the producer's choice). Non-finite numbers
/// come out as `null`.
pub fn json(graph: &GraphSnapshot, out: &mut dyn Write) -> io::Result<()> {
    let mut graph = graph.clone();
    graph.nodes.sort_by(|a, b| a.id.cmp(&b.id));
    graph.edges.sort_by(|a, b| {
        (&a.source, &a.target, &a.protocol).cmp(&(&b.source, &b.target, &b.protocol))
    });
    for node in &mut graph.nodes {
        node.versions.sort_unstable();
        node.versions.dedup();
    }
    for edge in &mut graph.edges {
        edge.ports.sort_unstable();
        edge.ports.dedup();
        edge.methods.sort_unstable();
        edge.methods.dedup();
        edge.paths.sort_unstable();
        edge.paths.dedup();
    }
    serde_json::to_writer_pretty(&mut *out, &graph).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
