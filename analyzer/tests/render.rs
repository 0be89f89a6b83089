//! Renderers: golden JSON / DOT / Mermaid of a bookinfo-like graph, escaping and sanitising,
//! health thresholds at their boundaries, number formatting, and (when installed) Graphviz
//! accepting the DOT output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/common/golden.rs"]
mod golden;
use golden::assert_golden;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use meshlens_analyzer::render::{
    self, DotOptions, Health, HealthThresholds, MermaidOptions, edge_health, fmt_ms,
    fmt_ms_compact, fmt_percent, fmt_rps, node_health,
};
use meshlens_analyzer::snapshot::{
    EdgePairing, EdgeSnapshot, GraphSnapshot, NodeKind, NodeSnapshot, PairingStats, Quantiles,
};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn node(
    id: &str,
    service: &str,
    ns: Option<&str>,
    kind: NodeKind,
    versions: &[&str],
) -> NodeSnapshot {
    NodeSnapshot {
        id: id.to_owned(),
        service: service.to_owned(),
        namespace: ns.map(str::to_owned),
        kind,
        versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        requests: 0.0,
        errors: 0.0,
        rps: 0.0,
        error_rate: 0.0,
    }
}

/// An edge over a 60 s window with `requests` requests, `errors` failures and the given p99.
fn edge(
    source: &str,
    target: &str,
    protocol: &str,
    requests: f64,
    errors: f64,
    p99: f64,
) -> EdgeSnapshot {
    let window = 60.0;
    EdgeSnapshot {
        source: source.to_owned(),
        target: target.to_owned(),
        protocol: protocol.to_owned(),
        requests,
        errors,
        rps: requests / window,
        error_rate: if requests > 0.0 {
            errors / requests
        } else {
            0.0
        },
        latency_ms: Quantiles {
            p50: p99 / 3.0,
            p90: p99 / 1.8,
            p95: p99 / 1.4,
            p99,
        },
        client_latency_ms: None,
        server_latency_ms: None,
        client_errors: 0.0,
        authz_denials: 0.0,
        estimated: false,
        ports: vec![],
        methods: vec![],
        paths: vec![],
        pairing: EdgePairing::Paired,
        trace_ids: vec![],
    }
}

/// Bookinfo behind an Istio ingress gateway: a user node, a degraded edge, a failing edge
/// (reviews → ratings), an idle edge (ratings → mysql), an external virtual host reached by a
/// sampled (estimated) client-only edge.
fn bookinfo() -> GraphSnapshot {
    let mut nodes = vec![
        node("user", "user", None, NodeKind::User, &[]),
        node(
            "istio-ingressgateway.istio-system",
            "istio-ingressgateway",
            Some("istio-system"),
            NodeKind::Service,
            &[],
        ),
        node(
            "productpage.bookinfo",
            "productpage",
            Some("bookinfo"),
            NodeKind::Service,
            &["v1"],
        ),
        node(
            "details.bookinfo",
            "details",
            Some("bookinfo"),
            NodeKind::Service,
            &["v1"],
        ),
        node(
            "reviews.bookinfo",
            "reviews",
            Some("bookinfo"),
            NodeKind::Service,
            &["v3", "v1", "v2"],
        ),
        node(
            "ratings.bookinfo",
            "ratings",
            Some("bookinfo"),
            NodeKind::Service,
            &["v1"],
        ),
        node("mysql", "mysql", None, NodeKind::Database, &[]),
        node(
            "api.github.com",
            "api.github.com",
            None,
            NodeKind::Virtual,
            &[],
        ),
    ];

    let mut user_gw = edge(
        "user",
        "istio-ingressgateway.istio-system",
        "http",
        600.0,
        0.0,
        48.0,
    );
    user_gw.pairing = EdgePairing::ServerOnly;
    user_gw.methods = vec!["GET".into()];
    user_gw.paths = vec!["/productpage".into()];
    user_gw.ports = vec![8080];

    let mut gw_pp = edge(
        "istio-ingressgateway.istio-system",
        "productpage.bookinfo",
        "http",
        600.0,
        0.0,
        45.25,
    );
    gw_pp.client_errors = 6.0;
    gw_pp.ports = vec![9080];
    gw_pp.methods = vec!["GET".into()];
    gw_pp.paths = vec!["/productpage".into(), "/static/{path}".into()];
    gw_pp.trace_ids = vec!["4bf92f3577b34da6a3ce929d0e0e4736".into()];

    let mut pp_details = edge(
        "productpage.bookinfo",
        "details.bookinfo",
        "http",
        600.0,
        0.0,
        3.2,
    );
    pp_details.client_latency_ms = Some(pp_details.latency_ms);
    pp_details.server_latency_ms = Some(Quantiles {
        p50: 0.4,
        p90: 0.8,
        p95: 1.0,
        p99: 2.1,
    });
    pp_details.paths = vec!["/details/{id}".into()];

    // The example: 120 requests, 3 errors, 2.0 rps, 2.5 %, p99 12.5 ms.
    let mut pp_reviews = edge(
        "productpage.bookinfo",
        "reviews.bookinfo",
        "http",
        120.0,
        3.0,
        12.5,
    );
    pp_reviews.latency_ms = Quantiles {
        p50: 4.1,
        p90: 7.0,
        p95: 8.2,
        p99: 12.5,
    };
    pp_reviews.ports = vec![9080];
    pp_reviews.methods = vec!["GET".into()];
    pp_reviews.paths = vec!["/reviews/{id}".into()];

    let mut reviews_ratings = edge(
        "reviews.bookinfo",
        "ratings.bookinfo",
        "grpc",
        80.0,
        20.0,
        1250.0,
    );
    reviews_ratings.authz_denials = 4.0;

    let mut ratings_db = edge("ratings.bookinfo", "mysql", "db", 0.0, 0.0, 0.0);
    ratings_db.pairing = EdgePairing::ClientOnly;
    ratings_db.ports = vec![3306];

    let mut pp_github = edge(
        "productpage.bookinfo",
        "api.github.com",
        "http",
        3.0,
        0.0,
        310.0,
    );
    pp_github.estimated = true;
    pp_github.pairing = EdgePairing::ClientOnly;
    pp_github.ports = vec![443];

    // Listed out of order on purpose: renderers sort.
    let edges = vec![
        reviews_ratings,
        pp_reviews,
        user_gw,
        ratings_db,
        gw_pp,
        pp_github,
        pp_details,
    ];

    // Node RED: sums over incoming edges.
    for n in &mut nodes {
        let incoming: Vec<&EdgeSnapshot> = edges.iter().filter(|e| e.target == n.id).collect();
        n.requests = incoming.iter().map(|e| e.requests).sum();
        n.errors = incoming.iter().map(|e| e.errors).sum();
        n.rps = incoming.iter().map(|e| e.rps).sum();
        n.error_rate = if n.requests > 0.0 {
            n.errors / n.requests
        } else {
            0.0
        };
    }
    nodes.reverse();

    GraphSnapshot {
        window_seconds: 60.0,
        generated_at_unix_ms: 1_700_000_000_000,
        nodes,
        edges,
        pairing: PairingStats {
            paired: 2_400,
            expired_client: 3,
            expired_server: 600,
            dropped_store_full: 0,
            unpairable: 1,
            pending: 0,
        },
    }
}

fn render_json(graph: &GraphSnapshot) -> String {
    let mut out = Vec::new();
    render::json(graph, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn render_dot(graph: &GraphSnapshot) -> String {
    let mut out = Vec::new();
    render::dot(graph, &DotOptions::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn render_mermaid(graph: &GraphSnapshot, options: &MermaidOptions) -> String {
    let mut out = Vec::new();
    render::mermaid(graph, options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Runs `dot -Tsvg` on `source`; `None` (with a note) when Graphviz is not installed.
fn graphviz_svg(source: &str) -> Option<String> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: Graphviz `dot` not found on PATH; skipping the dot -Tsvg check");
            return None;
        }
        Err(e) => panic!("running dot: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dot -Tsvg failed: {stderr}\n{source}"
    );
    assert!(
        !stderr.contains("Warning") && !stderr.contains("Error"),
        "dot complained: {stderr}\n{source}"
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Golden files

#[test]
fn golden_json() {
    assert_golden("render-bookinfo.json", &render_json(&bookinfo()));
}

#[test]
fn golden_dot() {
    assert_golden("render-bookinfo.dot", &render_dot(&bookinfo()));
}

#[test]
fn golden_mermaid() {
    let options = MermaidOptions {
        highlight: vec![("productpage.bookinfo".into(), "api.github.com".into())],
        ..MermaidOptions::default()
    };
    assert_golden(
        "render-bookinfo.mmd",
        &render_mermaid(&bookinfo(), &options),
    );
}

#[test]
fn output_does_not_depend_on_input_order() {
    let graph = bookinfo();
    let mut shuffled = graph.clone();
    shuffled.nodes.rotate_left(3);
    shuffled.edges.reverse();
    for e in &mut shuffled.edges {
        e.ports.reverse();
        e.paths.reverse();
    }
    assert_eq!(render_json(&graph), render_json(&shuffled));
    assert_eq!(render_dot(&graph), render_dot(&shuffled));
    let options = MermaidOptions::default();
    assert_eq!(
        render_mermaid(&graph, &options),
        render_mermaid(&shuffled, &options)
    );
}

// ---------------------------------------------------------------------------------------------
// JSON

#[test]
fn json_has_the_api_field_names_and_round_trips() {
    let graph = bookinfo();
    let text = render_json(&graph);
    assert!(text.ends_with("}\n"));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["window_seconds"], 60.0);
    let edge = value["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == "reviews.bookinfo")
        .unwrap();
    assert_eq!(edge["source"], "productpage.bookinfo");
    assert_eq!(edge["protocol"], "http");
    assert_eq!(edge["requests"], 120.0);
    assert_eq!(edge["errors"], 3.0);
    assert_eq!(edge["rps"], 2.0);
    assert_eq!(edge["error_rate"], 0.025);
    assert_eq!(edge["latency_ms"]["p99"], 12.5);
    let node = &value["nodes"].as_array().unwrap()[0];
    for key in ["id", "service", "namespace", "kind"] {
        assert!(node.get(key).is_some(), "node has no {key}");
    }

    let back: GraphSnapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(back.nodes.len(), graph.nodes.len());
    assert_eq!(back.edges.len(), graph.edges.len());
    let ids: Vec<&str> = back.nodes.iter().map(|n| n.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "nodes are ordered by id");
    let reviews = back
        .nodes
        .iter()
        .find(|n| n.id == "reviews.bookinfo")
        .unwrap();
    assert_eq!(reviews.versions, ["v1", "v2", "v3"]);
}

// ---------------------------------------------------------------------------------------------
// DOT

#[test]
fn dot_structure() {
    let text = render_dot(&bookinfo());
    assert!(text.starts_with("digraph meshlens {\n  rankdir=LR;\n"));
    assert!(text.contains("subgraph cluster_bookinfo {"));
    assert!(text.contains("subgraph \"cluster_istio-system\" {"));
    assert!(text.contains(
        "\"productpage.bookinfo\" -> \"reviews.bookinfo\" [label=\"2.0 rps\\n2.5% err\\np99 12.5 ms\", color=\"#f0ab00\""
    ));
    assert!(text.contains("\"user\" [label=\"user\", shape=circle"));
    assert!(text.contains("\"mysql\" [label=\"mysql\", shape=cylinder"));
    assert!(text.contains(
        "\"api.github.com\" [label=\"api.github.com\", shape=box, style=\"rounded,dashed,filled\""
    ));
    assert!(text.contains("label=\"reviews\\nv1, v2, v3\""));
    // Failing edge red, idle edge grey and dashed, estimated rate marked.
    assert!(text.contains("\"reviews.bookinfo\" -> \"ratings.bookinfo\" [label=\"1.3 rps\\n25.0% err\\np99 1.25 s\", color=\"#c9190b\""));
    assert!(text.contains("\"ratings.bookinfo\" -> \"mysql\" [label=\"idle\", color=\"#6a6e73\", fontcolor=\"#6a6e73\", penwidth=1.0, style=dashed"));
    assert!(text.contains("[label=\"~0.05 rps\\n0.0% err\\np99 310 ms\""));
}

#[test]
fn dot_without_clusters() {
    let options = DotOptions {
        namespace_clusters: false,
        ..DotOptions::default()
    };
    let mut out = Vec::new();
    render::dot(&bookinfo(), &options, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("subgraph"));
    assert!(text.contains("\"productpage.bookinfo\" [label=\"productpage\\nv1\""));
}

fn weird_graph() -> GraphSnapshot {
    let ids = [
        "we\"ird",
        "back\\slash",
        "trailing\\",
        "both\\\"mixed",
        "\\N label escape",
        "new\nline",
        "graph",
        "ünïcode.日本",
    ];
    let mut nodes: Vec<NodeSnapshot> = ids
        .iter()
        .map(|id| node(id, id, Some("ns \"q\"\\"), NodeKind::Virtual, &["v\"1"]))
        .collect();
    nodes.push(node("hub", "hub", None, NodeKind::Service, &[]));
    let edges = ids
        .iter()
        .map(|id| edge("hub", id, "proto\"x", 60.0, 0.0, 1.0))
        .collect();
    GraphSnapshot {
        window_seconds: 60.0,
        nodes,
        edges,
        ..GraphSnapshot::default()
    }
}

#[test]
fn dot_escapes_quotes_and_backslashes_in_ids() {
    let text = render_dot(&weird_graph());
    assert!(text.contains("\"we\\\"ird\" [label=\"we\\\"ird\\nv\\\"1\""));
    assert!(text.contains("\"back\\\\slash\" [label=\"back\\\\slash"));
    assert!(text.contains("\"hub\" -> \"trailing\\\\\" ["));
    assert!(text.contains("\"both\\\\\\\"mixed\""));
    assert!(text.contains("\"\\\\N label escape\""));
    assert!(text.contains("subgraph \"cluster_ns \\\"q\\\"\\\\\" {"));
    assert!(text.contains("label=\"ns \\\"q\\\"\\\\\";"));
    assert!(text.contains("tooltip=\"proto\\\"x\""));
    // Every quoted string is closed: an even number of unescaped quotes per line.
    for line in text.lines() {
        let mut quotes = 0;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => quotes += 1,
                _ => {}
            }
        }
        assert_eq!(quotes % 2, 0, "unbalanced quotes in {line:?}");
    }
}

#[test]
fn graphviz_accepts_the_output() {
    let Some(svg) = graphviz_svg(&render_dot(&bookinfo())) else {
        return;
    };
    assert!(svg.contains("<svg"));
    assert!(svg.contains("cluster_bookinfo"));
    assert!(svg.contains("p99 12.5 ms"));

    let Some(svg) = graphviz_svg(&render_dot(&weird_graph())) else {
        return;
    };
    // Nine distinct nodes (the eight odd ids and the hub), all edges drawn.
    assert_eq!(svg.matches("class=\"node\"").count(), 9, "{svg}");
    assert_eq!(svg.matches("class=\"edge\"").count(), 8, "{svg}");
    assert!(svg.contains("we&quot;ird"));
    assert!(svg.contains("trailing\\"));
}

// ---------------------------------------------------------------------------------------------
// Mermaid

/// The identifiers of `id(...)`-style node declarations.
fn mermaid_node_ids(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| {
            l.starts_with("n_") && !l.contains("-->") && !l.contains("-.->") && !l.contains("==>")
        })
        .map(|l| {
            l.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn mermaid_structure() {
    let text = render_mermaid(&bookinfo(), &MermaidOptions::default());
    assert!(text.starts_with("flowchart LR\n"));
    assert!(text.contains("  subgraph ns_bookinfo[\"bookinfo\"]\n"));
    assert!(text.contains("    n_reviews_bookinfo(\"reviews<br/>v1, v2, v3\")\n"));
    assert!(text.contains("  n_user((\"user\"))\n"));
    assert!(text.contains("  n_mysql[(\"mysql\")]\n"));
    assert!(text.contains(
        "  n_productpage_bookinfo -->|\"2.0 rps · 2.5% · p99 12.5ms\"| n_reviews_bookinfo\n"
    ));
    assert!(text.contains("  n_ratings_bookinfo -.->|\"idle\"| n_mysql\n"));
    assert!(text.contains("  class n_api_github_com virtual\n"));
    // The failing edge (reviews → ratings) is red; edges are ordered by (source, target).
    let order: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("-->") || l.contains("-.->") || l.contains("==>"))
        .collect();
    let failing = order
        .iter()
        .position(|l| {
            l.starts_with("  n_reviews_bookinfo --> n_ratings")
                || l.contains("n_reviews_bookinfo -->|")
        })
        .unwrap();
    let red = text
        .lines()
        .find(|l| l.starts_with("  linkStyle ") && l.contains("stroke:#c9190b"))
        .unwrap();
    let indices: Vec<usize> = red["  linkStyle ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .split(',')
        .map(|i| i.parse().unwrap())
        .collect();
    assert_eq!(indices, [failing]);
}

#[test]
fn mermaid_highlights_given_edges() {
    let options = MermaidOptions {
        highlight: vec![("productpage.bookinfo".into(), "reviews.bookinfo".into())],
        ..MermaidOptions::default()
    };
    let text = render_mermaid(&bookinfo(), &options);
    assert!(text.contains(
        "  n_productpage_bookinfo ==>|\"2.0 rps · 2.5% · p99 12.5ms\"| n_reviews_bookinfo\n"
    ));
    assert_eq!(text.matches("==>").count(), 1);
    assert!(text.contains("stroke:#f0ab00,stroke-width:4px"));
}

#[test]
fn mermaid_ids_are_sanitised_and_unique() {
    let ids = [
        "a.b", "a-b", "a/b", "a_b", "a b", "a.b.2", "a_b_2", "ünï", "日本", "end", "1st", "o", "x",
        "",
    ];
    let nodes: Vec<NodeSnapshot> = ids
        .iter()
        .map(|id| node(id, id, None, NodeKind::Service, &[]))
        .collect();
    let edges: Vec<EdgeSnapshot> = ids
        .iter()
        .map(|id| edge(id, "a.b", "http", 60.0, 0.0, 1.0))
        .collect();
    let graph = GraphSnapshot {
        window_seconds: 60.0,
        nodes,
        edges,
        ..GraphSnapshot::default()
    };
    let text = render_mermaid(&graph, &MermaidOptions::default());
    let declared = mermaid_node_ids(&text);
    assert_eq!(declared.len(), ids.len(), "{text}");
    let unique: HashSet<&String> = declared.iter().collect();
    assert_eq!(unique.len(), ids.len(), "identifiers collide: {declared:?}");
    for id in &declared {
        assert!(id.starts_with("n_"), "{id}");
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{id}"
        );
    }
    // A plain id keeps its natural identifier; look-alikes get suffixes.
    assert!(text.contains("  n_a_b(\"a_b\")\n"), "{text}");
    assert!(text.contains("  n_a_b_2(\"a_b_2\")\n"), "{text}");
    assert!(text.contains("(\"ünï\")"));
    assert!(text.contains("(\"日本\")"));
    assert!(text.contains("(\"end\")"));
    // Edges use the same identifiers as the declarations.
    for line in text.lines().filter(|l| l.contains("-->")) {
        let mut words = line.split_whitespace();
        let source = words.next().unwrap();
        let target = words.last().unwrap();
        assert!(unique.contains(&source.to_owned()), "{line}");
        assert!(unique.contains(&target.to_owned()), "{line}");
    }
    // Stable across runs and input order.
    let mut reversed = graph.clone();
    reversed.nodes.reverse();
    reversed.edges.reverse();
    assert_eq!(text, render_mermaid(&reversed, &MermaidOptions::default()));
}

#[test]
fn mermaid_escapes_labels() {
    let weird = "svc\"[x](y){z}|w<v>#1;&`";
    let graph = GraphSnapshot {
        window_seconds: 60.0,
        nodes: vec![
            node(weird, weird, Some("ns\"]"), NodeKind::Service, &[]),
            node("b", "b", None, NodeKind::Virtual, &[]),
        ],
        edges: vec![edge(weird, "b", "http", 60.0, 0.0, 1.0)],
        ..GraphSnapshot::default()
    };
    let text = render_mermaid(&graph, &MermaidOptions::default());
    assert!(
        text.contains(
            "(\"svc#quot;#91;x#93;#40;y#41;#123;z#125;#124;w#lt;v#gt;#35;1#59;#amp;#96;\")"
        ),
        "{text}"
    );
    assert!(
        text.contains("subgraph ns_ns__[\"ns#quot;#93;\"]"),
        "{text}"
    );
    // Outside the identifiers, only the delimiters the renderer wrote remain.
    for line in text.lines() {
        assert_eq!(line.matches('"').count() % 2, 0, "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Health

fn edge_with(requests: f64, errors: f64, client_errors: f64, authz: f64) -> EdgeSnapshot {
    let mut e = edge("a", "b", "http", requests, errors, 1.0);
    e.client_errors = client_errors;
    e.authz_denials = authz;
    e
}

#[test]
fn health_thresholds_at_the_boundaries() {
    let t = HealthThresholds::default();
    assert_eq!(t.error_degraded, 0.0);
    assert_eq!(t.error_failing, 0.10);
    assert_eq!(t.client_error_degraded, 0.10);
    assert_eq!(t.client_error_failing, 0.20);

    let h = |e: EdgeSnapshot| edge_health(&e, &t);
    // No traffic.
    assert_eq!(h(edge_with(0.0, 0.0, 0.0, 0.0)), Health::Idle);
    assert_eq!(h(edge_with(f64::NAN, 0.0, 0.0, 0.0)), Health::Idle);
    // Application errors: any is degraded, 10 % fails.
    assert_eq!(h(edge_with(10_000.0, 0.0, 0.0, 0.0)), Health::Healthy);
    assert_eq!(h(edge_with(100_000.0, 1.0, 0.0, 0.0)), Health::Degraded);
    assert_eq!(h(edge_with(10_000.0, 999.0, 0.0, 0.0)), Health::Degraded);
    assert_eq!(h(edge_with(10_000.0, 1_000.0, 0.0, 0.0)), Health::Failing);
    assert_eq!(h(edge_with(10.0, 10.0, 0.0, 0.0)), Health::Failing);
    // Client errors (4xx and 403 denials together): 10 % degraded, 20 % fails.
    assert_eq!(h(edge_with(10_000.0, 0.0, 999.0, 0.0)), Health::Healthy);
    assert_eq!(h(edge_with(10_000.0, 0.0, 1_000.0, 0.0)), Health::Degraded);
    assert_eq!(h(edge_with(10_000.0, 0.0, 600.0, 400.0)), Health::Degraded);
    assert_eq!(h(edge_with(10_000.0, 0.0, 1_999.0, 0.0)), Health::Degraded);
    assert_eq!(h(edge_with(10_000.0, 0.0, 0.0, 2_000.0)), Health::Failing);
    // The worse of the two.
    assert_eq!(h(edge_with(10_000.0, 1.0, 2_000.0, 0.0)), Health::Failing);

    // Custom thresholds: Kiali's older 0.1 % / 20 %.
    let old = HealthThresholds {
        error_degraded: 0.001,
        error_failing: 0.20,
        ..HealthThresholds::default()
    };
    assert_eq!(
        edge_health(&edge_with(10_000.0, 9.0, 0.0, 0.0), &old),
        Health::Healthy
    );
    assert_eq!(
        edge_health(&edge_with(10_000.0, 10.0, 0.0, 0.0), &old),
        Health::Degraded
    );
    assert_eq!(
        edge_health(&edge_with(10_000.0, 1_999.0, 0.0, 0.0), &old),
        Health::Degraded
    );
    assert_eq!(
        edge_health(&edge_with(10_000.0, 2_000.0, 0.0, 0.0), &old),
        Health::Failing
    );
}

#[test]
fn node_health_and_health_helpers() {
    let t = HealthThresholds::default();
    let graph = bookinfo();
    let get = |id: &str| graph.nodes.iter().find(|n| n.id == id).unwrap();
    assert_eq!(node_health(get("user"), &t), Health::Idle);
    assert_eq!(node_health(get("details.bookinfo"), &t), Health::Healthy);
    assert_eq!(node_health(get("reviews.bookinfo"), &t), Health::Degraded);
    assert_eq!(node_health(get("ratings.bookinfo"), &t), Health::Failing);

    assert_eq!(Health::Idle.worst(Health::Healthy), Health::Healthy);
    assert_eq!(Health::Failing.worst(Health::Degraded), Health::Failing);
    assert_eq!(Health::Degraded.to_string(), "degraded");
    assert_eq!(
        serde_json::to_string(&Health::Failing).unwrap(),
        "\"failing\""
    );
}

// ---------------------------------------------------------------------------------------------
// Numbers

#[test]
fn number_formatting() {
    let rps: Vec<String> = [
        0.0,
        -1.0,
        f64::NAN,
        0.001,
        0.05,
        0.994,
        0.996,
        2.0,
        9.94,
        9.96,
        12.0,
        999.4,
        999.6,
        1234.0,
        12_345.0,
        999_400.0,
        1_234_567.0,
        45_000_000.0,
    ]
    .iter()
    .map(|&x| fmt_rps(x))
    .collect();
    assert_eq!(
        rps,
        [
            "0 rps",
            "0 rps",
            "0 rps",
            "<0.01 rps",
            "0.05 rps",
            "0.99 rps",
            "1.0 rps",
            "2.0 rps",
            "9.9 rps",
            "10 rps",
            "12 rps",
            "999 rps",
            "1.0k rps",
            "1.2k rps",
            "12k rps",
            "999k rps",
            "1.2M rps",
            "45M rps",
        ]
    );

    let pct: Vec<String> = [0.0, 0.0001, 0.0006, 0.025, 0.1, 0.25, 1.0]
        .iter()
        .map(|&x| fmt_percent(x))
        .collect();
    assert_eq!(
        pct,
        ["0.0%", "<0.1%", "0.1%", "2.5%", "10.0%", "25.0%", "100.0%"]
    );

    let ms: Vec<String> = [
        0.0, 0.42, 3.21, 12.5, 99.94, 250.4, 999.4, 1250.0, 12_500.0, 125_000.0,
    ]
    .iter()
    .map(|&x| fmt_ms(x))
    .collect();
    assert_eq!(
        ms,
        [
            "0 ms", "0.42 ms", "3.2 ms", "12.5 ms", "99.9 ms", "250 ms", "999 ms", "1.25 s",
            "12.5 s", "125 s",
        ]
    );
    assert_eq!(fmt_ms_compact(12.5), "12.5ms");
    assert_eq!(fmt_ms_compact(1250.0), "1.25s");
}
