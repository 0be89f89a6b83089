//! `meshlens lint --traces`: recorded traces through the engine, their request shapes checked
//! against the policies, plus the baseline comparison.

use std::path::PathBuf;
use std::time::Instant;

use meshlens_collector::Interner;
use meshlens_collector::normalize::Normalizer;
use meshlens_policies::eval::PolicySet;
use meshlens_policies::model::Inventory;
use meshlens_policies::report::Finding;
use meshlens_policies::suggest::Observed;

use super::baseline;
use super::checks::{Inputs, check_shapes};
use super::request::Resolver;
use super::shapes::{Shape, ShapeLog};
use crate::config::AnalyzerConfig;
use crate::engine::Analyzer;
use crate::offline::replay;
use crate::snapshot::GraphSnapshot;
use crate::traces::{TracesError, read_spans};

/// What the trace checks read besides the traces.
#[derive(Debug, Clone, Copy)]
pub struct TraceCheck<'a> {
    pub policies: &'a PolicySet,
    pub inventory: Option<&'a Inventory>,
    pub trust_domain: &'a str,
    /// A graph `meshlens graph --format json` wrote: edges new or missing against it.
    pub baseline: Option<&'a GraphSnapshot>,
}

/// The trace findings and what they were drawn from.
#[derive(Debug)]
pub struct TraceReport {
    pub findings: Vec<Finding>,
    /// The observed graph over the whole input (for the markdown report's Mermaid graph).
    pub graph: GraphSnapshot,
    pub spans: usize,
    /// Distinct request shapes evaluated, and requests whose shape did not fit the store.
    pub shapes: usize,
    pub shapes_overflow: u64,
}

/// Recorded traces through the engine, requests folded into shapes.
struct Shaped {
    analyzer: Analyzer,
    log: ShapeLog,
    graph: GraphSnapshot,
    spans: usize,
}

fn shapes_of_trace_files(paths: &[PathBuf], config: AnalyzerConfig) -> Result<Shaped, TracesError> {
    let started = Instant::now();
    let interner = Interner::new();
    let spans = read_spans(paths, &Normalizer::new(interner.clone()))?;
    let read = started.elapsed();
    let (mut analyzer, graph) = replay(
        interner,
        &spans,
        config,
        Some(Box::new(ShapeLog::default())),
    );
    let log: ShapeLog = analyzer.take_observer().unwrap_or_default();
    tracing::debug!(
        spans = spans.len(),
        shapes = log.len(),
        read_and_normalise_ms = read.as_millis(),
        pair_and_shape_ms = (started.elapsed() - read).as_millis(),
        "traces analysed"
    );
    Ok(Shaped {
        analyzer,
        log,
        graph,
        spans: spans.len(),
    })
}

/// The requests of recorded traces that went through, as the suggestion reads them: one
/// per shape, with the caller's identity resolved (or absent when unknown).
pub fn observed_requests(
    paths: &[PathBuf],
    config: AnalyzerConfig,
    inventory: Option<&Inventory>,
    trust_domain: &str,
) -> Result<Vec<Observed>, TracesError> {
    let Shaped { analyzer, log, .. } = shapes_of_trace_files(paths, config)?;
    let resolver = Resolver {
        analyzer: &analyzer,
        inventory,
        trust_domain,
    };
    let mut shapes: Vec<&Shape> = log.shapes().filter(|s| s.allowed > 0.0).collect();
    shapes.sort_by_key(|s| (s.first_ms, s.trace_ids.first().copied()));
    Ok(shapes
        .into_iter()
        .map(|shape| {
            // Sampled counts are estimates: at least one request was seen.
            let count = shape.allowed.round().max(1.0) as u64;
            Observed::new(resolver.resolve(shape).request, count)
        })
        .collect())
}

pub fn check_trace_files(
    paths: &[PathBuf],
    config: AnalyzerConfig,
    check: TraceCheck<'_>,
) -> Result<TraceReport, TracesError> {
    let Shaped {
        analyzer,
        log,
        graph,
        spans,
    } = shapes_of_trace_files(paths, config)?;
    let resolver = Resolver {
        analyzer: &analyzer,
        inventory: check.inventory,
        trust_domain: check.trust_domain,
    };
    let started = Instant::now();
    let mut findings = check_shapes(
        &log,
        Inputs {
            policies: check.policies,
            resolver,
        },
    );
    if let Some(base) = check.baseline {
        findings.extend(baseline::compare(&graph, base));
    }
    tracing::debug!(
        evaluate_ms = started.elapsed().as_millis(),
        "request shapes checked"
    );
    Ok(TraceReport {
        findings,
        graph,
        spans,
        shapes: log.len(),
        shapes_overflow: log.overflow,
    })
}
