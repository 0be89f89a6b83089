//! Graphviz DOT.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{
    EdgeLabel, Health, HealthThresholds, edge_health, node_health, node_title, node_versions,
    sorted_edges, sorted_nodes,
};
use crate::snapshot::{GraphSnapshot, NodeKind, NodeSnapshot};

/// How to draw the DOT graph.
#[derive(Debug, Clone, PartialEq)]
pub struct DotOptions {
    /// Thresholds for edge and node colours.
    pub thresholds: HealthThresholds,
    /// Group nodes by namespace into `subgraph cluster_<ns>` boxes.
    pub namespace_clusters: bool,
}

impl Default for DotOptions {
    fn default() -> Self {
        DotOptions {
            thresholds: HealthThresholds::default(),
            namespace_clusters: true,
        }
    }
}

/// Writes `graph` as a Graphviz `digraph meshlens` (left to right): node shapes by kind
/// (service: rounded box; virtual: dashed box; user: circle; database: cylinder; messaging:
/// parallelogram), namespaces as clusters, edges labelled `2.0 rps\n2.5% err\np99 12.5 ms`
/// (`idle` without traffic, `~` before estimated rates) and coloured by [`Health`].
pub fn dot(graph: &GraphSnapshot, options: &DotOptions, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "digraph meshlens {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  graph [fontname=\"Helvetica\", fontsize=10];")?;
    writeln!(
        out,
        "  node [fontname=\"Helvetica\", fontsize=10, style=filled, fillcolor=\"#ffffff\"];"
    )?;
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=9];")?;

    let mut clusters: BTreeMap<&str, Vec<&NodeSnapshot>> = BTreeMap::new();
    let mut loose: Vec<&NodeSnapshot> = Vec::new();
    for node in sorted_nodes(graph) {
        match node.namespace.as_deref() {
            Some(ns) if options.namespace_clusters => clusters.entry(ns).or_default().push(node),
            _ => loose.push(node),
        }
    }
    for (ns, nodes) in &clusters {
        writeln!(out)?;
        writeln!(out, "  subgraph {} {{", dot_id(&format!("cluster_{ns}")))?;
        writeln!(out, "    label=\"{}\";", escape(ns))?;
        writeln!(
            out,
            "    style=\"rounded,dashed\"; color=\"#8a8d90\"; fontcolor=\"#6a6e73\";"
        )?;
        for node in nodes {
            write_node(out, "    ", node, &options.thresholds)?;
        }
        writeln!(out, "  }}")?;
    }
    if !loose.is_empty() {
        writeln!(out)?;
    }
    for node in loose {
        write_node(out, "  ", node, &options.thresholds)?;
    }

    let edges = sorted_edges(graph);
    if !edges.is_empty() {
        writeln!(out)?;
    }
    for edge in edges {
        let health = edge_health(edge, &options.thresholds);
        let label = EdgeLabel::new(edge, health, false, " err")
            .parts
            .iter()
            .map(|part| escape(part))
            .collect::<Vec<_>>()
            .join("\\n");
        let color = health.color();
        let (penwidth, style) = match health {
            Health::Failing => ("2.5", ""),
            Health::Degraded => ("1.8", ""),
            Health::Healthy => ("1.2", ""),
            Health::Idle => ("1.0", ", style=dashed"),
        };
        writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{label}\", color=\"{color}\", fontcolor=\"{color}\", \
             penwidth={penwidth}{style}, tooltip=\"{}\"];",
            escape(&edge.source),
            escape(&edge.target),
            escape(&edge.protocol),
        )?;
    }
    writeln!(out, "}}")
}

fn write_node(
    out: &mut dyn Write,
    indent: &str,
    node: &NodeSnapshot,
    thresholds: &HealthThresholds,
) -> io::Result<()> {
    let (shape, style) = match node.kind {
        NodeKind::Service => ("box", "rounded,filled"),
        NodeKind::Virtual => ("box", "rounded,dashed,filled"),
        NodeKind::User => ("circle", "filled"),
        NodeKind::Database => ("cylinder", "filled"),
        NodeKind::Messaging => ("parallelogram", "filled"),
    };
    let mut label = escape(node_title(node));
    if let Some(versions) = node_versions(node) {
        label.push_str("\\n");
        label.push_str(&escape(&versions));
    }
    let color = node_health(node, thresholds).color();
    writeln!(
        out,
        "{indent}\"{}\" [label=\"{label}\", shape={shape}, style=\"{style}\", color=\"{color}\"];",
        escape(&node.id),
    )
}

/// Escapes text for the inside of a DOT double-quoted string. In DOT only `\"` is an escape
/// (a lone backslash is kept as is), but a backslash before the closing quote would swallow
/// it, and labels give `\n`, `\N`, `\l`… meaning; so backslashes are doubled (a label shows
/// `\\` as one backslash), quotes escaped, and line breaks written as `\n` / `\r` (distinct from
/// an escaped literal `\\n`). The mapping is injective, so distinct ids stay distinct nodes,
/// and ids are always paired with an explicit label.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A DOT id: bare when it is a plain identifier (`cluster_bookinfo`), else quoted.
fn dot_id(id: &str) -> String {
    let plain = id
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let keyword = ["node", "edge", "graph", "digraph", "subgraph", "strict"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(id));
    if plain && !keyword {
        id.to_owned()
    } else {
        format!("\"{}\"", escape(id))
    }
}
