//! Edges new or missing against a baseline graph (a file `meshlens graph --format json`
//! wrote).

use std::collections::BTreeSet;

use meshlens_policies::report::Finding;
use serde_json::json;

use super::checks::{MISSING_EDGE, NEW_EDGE};
use crate::snapshot::GraphSnapshot;

fn edges(graph: &GraphSnapshot) -> BTreeSet<(&str, &str)> {
    graph
        .edges
        .iter()
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect()
}

/// `new-edge` for calls the baseline lacks, `missing-edge` for baseline calls not observed.
pub fn compare(observed: &GraphSnapshot, baseline: &GraphSnapshot) -> Vec<Finding> {
    let (now, before) = (edges(observed), edges(baseline));
    let evidence = |finding: Finding, (source, target): (&str, &str)| {
        finding.with("edge", json!({"source": source, "target": target}))
    };
    let mut findings: Vec<Finding> = now
        .difference(&before)
        .map(|&edge| {
            // One edge per protocol may join the same two nodes.
            let joined: Vec<_> = observed
                .edges
                .iter()
                .filter(|e| (e.source.as_str(), e.target.as_str()) == edge)
                .collect();
            let trace_ids: Vec<&String> = joined.iter().flat_map(|e| &e.trace_ids).collect();
            let count: f64 = joined.iter().map(|e| e.requests).sum();
            evidence(
                Finding::of(
                    &NEW_EDGE,
                    format!(
                        "{} calls {}: the baseline graph has no such call",
                        edge.0, edge.1
                    ),
                ),
                edge,
            )
            .with("count", count)
            .with("trace_ids", json!(trace_ids))
        })
        .collect();
    findings.extend(before.difference(&now).map(|&edge| {
        evidence(
            Finding::of(
                &MISSING_EDGE,
                format!(
                    "{} called {} in the baseline graph; the traces show no such call",
                    edge.0, edge.1
                ),
            ),
            edge,
        )
    }));
    findings
}
