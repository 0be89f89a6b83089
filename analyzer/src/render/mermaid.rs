//! Mermaid flowcharts (renderable in GitHub comments and Markdown).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Write};

use super::{
    EdgeLabel, Health, HealthThresholds, edge_health, node_health, node_title, node_versions,
    sorted_edges, sorted_nodes,
};
use crate::snapshot::{GraphSnapshot, NodeKind, NodeSnapshot};

/// How to draw the Mermaid flowchart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MermaidOptions {
    /// Thresholds for edge and node colours.
    pub thresholds: HealthThresholds,
    /// Edges (source id, target id) to draw thick and emphasised, e.g. the edges a change
    /// added.
    pub highlight: Vec<(String, String)>,
}

const HEALTHS: [Health; 4] = [
    Health::Healthy,
    Health::Degraded,
    Health::Failing,
    Health::Idle,
];

/// Writes `graph` as a Mermaid `flowchart LR`: node ids sanitised to unique Mermaid-safe
/// identifiers with the real name as the label, shapes by kind (service: rounded box; virtual:
/// dashed box; user: circle; database: cylinder; messaging: parallelogram), namespaces as
/// subgraphs, edges labelled `2.0 rps · 2.5% · p99 12.5ms` (`idle` without traffic) and
/// coloured with `linkStyle` by [`Health`], nodes given a `classDef` per health. Highlighted
/// edges are drawn `==>` and wider; idle ones `-.->`.
pub fn mermaid(
    graph: &GraphSnapshot,
    options: &MermaidOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let nodes = sorted_nodes(graph);
    let edges = sorted_edges(graph);
    let ids = MermaidIds::new(
        nodes.iter().map(|n| n.id.as_str()).chain(
            edges
                .iter()
                .flat_map(|e| [e.source.as_str(), e.target.as_str()]),
        ),
        "n_",
    );

    writeln!(out, "flowchart LR")?;

    let mut clusters: BTreeMap<&str, Vec<&NodeSnapshot>> = BTreeMap::new();
    let mut loose: Vec<&NodeSnapshot> = Vec::new();
    for node in &nodes {
        match node.namespace.as_deref() {
            Some(ns) => clusters.entry(ns).or_default().push(node),
            None => loose.push(node),
        }
    }
    let cluster_ids = MermaidIds::new(clusters.keys().copied(), "ns_");
    for (ns, members) in &clusters {
        writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            cluster_ids.get(ns),
            escape_label(ns)
        )?;
        for node in members {
            write_node(out, "    ", node, &ids)?;
        }
        writeln!(out, "  end")?;
    }
    for node in &loose {
        write_node(out, "  ", node, &ids)?;
    }

    let highlight: HashSet<(&str, &str)> = options
        .highlight
        .iter()
        .map(|(s, t)| (s.as_str(), t.as_str()))
        .collect();
    // Styles per link index, grouped by identical style so each distinct style is one
    // `linkStyle` line (a later `linkStyle` for an index replaces an earlier one).
    let mut styles: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, edge) in edges.iter().enumerate() {
        let health = edge_health(edge, &options.thresholds);
        let highlighted = highlight.contains(&(edge.source.as_str(), edge.target.as_str()));
        let arrow = if highlighted {
            "==>"
        } else if health == Health::Idle {
            "-.->"
        } else {
            "-->"
        };
        let label = EdgeLabel::new(edge, health, true, "")
            .parts
            .iter()
            .map(|part| escape_label(part))
            .collect::<Vec<_>>()
            .join(" · ");
        writeln!(
            out,
            "  {} {arrow}|\"{label}\"| {}",
            ids.get(&edge.source),
            ids.get(&edge.target)
        )?;
        let width = match (highlighted, health) {
            (true, _) => "4px",
            (false, Health::Failing) => "2.5px",
            (false, Health::Degraded) => "2px",
            (false, _) => "1.5px",
        };
        let mut style = format!("stroke:{},stroke-width:{width}", health.color());
        if health == Health::Idle {
            style.push_str(",stroke-dasharray:4 4");
        }
        match styles.iter_mut().find(|(s, _)| *s == style) {
            Some((_, indices)) => indices.push(index),
            None => styles.push((style, vec![index])),
        }
    }
    for (style, indices) in &styles {
        let indices: Vec<String> = indices.iter().map(usize::to_string).collect();
        writeln!(out, "  linkStyle {} {style}", indices.join(","))?;
    }

    // Node health classes; virtual nodes also get a dashed border.
    for health in HEALTHS {
        let members: Vec<&str> = nodes
            .iter()
            .filter(|n| node_health(n, &options.thresholds) == health)
            .map(|n| ids.get(&n.id))
            .collect();
        if members.is_empty() {
            continue;
        }
        let extra = match health {
            Health::Failing => ",stroke-width:3px",
            Health::Degraded => ",stroke-width:2px",
            Health::Healthy | Health::Idle => "",
        };
        writeln!(
            out,
            "  classDef {} stroke:{}{extra}",
            health.as_str(),
            health.color()
        )?;
        writeln!(out, "  class {} {}", members.join(","), health.as_str())?;
    }
    let virtuals: Vec<&str> = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Virtual)
        .map(|n| ids.get(&n.id))
        .collect();
    if !virtuals.is_empty() {
        writeln!(out, "  classDef virtual stroke-dasharray:5 5")?;
        writeln!(out, "  class {} virtual", virtuals.join(","))?;
    }
    Ok(())
}

fn write_node(
    out: &mut dyn Write,
    indent: &str,
    node: &NodeSnapshot,
    ids: &MermaidIds,
) -> io::Result<()> {
    let mut label = escape_label(node_title(node));
    if let Some(versions) = node_versions(node) {
        label.push_str("<br/>");
        label.push_str(&escape_label(&versions));
    }
    let (open, close) = match node.kind {
        NodeKind::Service | NodeKind::Virtual => ("(", ")"),
        NodeKind::User => ("((", "))"),
        NodeKind::Database => ("[(", ")]"),
        NodeKind::Messaging => ("[/", "/]"),
    };
    writeln!(out, "{indent}{}{open}\"{label}\"{close}", ids.get(&node.id))
}

/// Escapes text for a double-quoted Mermaid label with entity codes: quotes, brackets, braces,
/// pipes (edge-label delimiters), angle brackets, `#`, `&`, backticks and semicolons cannot
/// break out of the label or be read as markup. Newlines become `<br/>`.
pub(crate) fn escape_label(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("#quot;"),
            '#' => escaped.push_str("#35;"),
            '&' => escaped.push_str("#amp;"),
            '<' => escaped.push_str("#lt;"),
            '>' => escaped.push_str("#gt;"),
            '[' => escaped.push_str("#91;"),
            ']' => escaped.push_str("#93;"),
            '(' => escaped.push_str("#40;"),
            ')' => escaped.push_str("#41;"),
            '{' => escaped.push_str("#123;"),
            '}' => escaped.push_str("#125;"),
            '|' => escaped.push_str("#124;"),
            '`' => escaped.push_str("#96;"),
            ';' => escaped.push_str("#59;"),
            '\n' => escaped.push_str("<br/>"),
            '\r' => {}
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Real ids → Mermaid identifiers: `prefix` + the id with everything but ASCII letters,
/// digits and `_` turned into `_` (`reviews.bookinfo` → `n_reviews_bookinfo`). The prefix keeps
/// identifiers off Mermaid keywords (`end`, `graph`…), leading digits and the `o`/`x` arrow
/// heads. When two ids sanitise alike (`a.b`, `a-b`), the later in sorted order gets `_2`,
/// `_3`…, so identifiers stay unique and stable.
#[derive(Debug)]
struct MermaidIds {
    map: BTreeMap<String, String>,
}

impl MermaidIds {
    fn new<'a>(ids: impl Iterator<Item = &'a str>, prefix: &str) -> Self {
        let unique: BTreeSet<&str> = ids.collect();
        let mut used: HashSet<String> = HashSet::new();
        let mut map = BTreeMap::new();
        // Ids that sanitise to themselves claim their identifier first, so adding an
        // unrelated node never renames an existing plain one.
        let (plain, other): (Vec<&str>, Vec<&str>) =
            unique.into_iter().partition(|id| sanitize(id) == *id);
        for id in plain.into_iter().chain(other) {
            let base = format!("{prefix}{}", sanitize(id));
            let mut candidate = base.clone();
            let mut n = 2;
            while used.contains(&candidate) {
                candidate = format!("{base}_{n}");
                n += 1;
            }
            used.insert(candidate.clone());
            map.insert(id.to_owned(), candidate);
        }
        MermaidIds { map }
    }

    fn get(&self, id: &str) -> &str {
        self.map.get(id).map_or("n_unknown", String::as_str)
    }
}

fn sanitize(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() { "_".to_owned() } else { s }
}
