//! `meshlens lint --traces`: recorded traces through the engine, their request shapes checked
//! against the policies, plus the baseline comparison.

use std::path::PathBuf;

use meshlens_collector::Interner;
use meshlens_collector::normalize::Normalizer;
use meshlens_policies::eval::PolicySet;
use meshlens_policies::model::Inventory;
use meshlens_policies::report::Finding;

use super::baseline;
use super::checks::{Inputs, check_shapes};
use super::request::Resolver;
use super::shapes::ShapeLog;
use crate::config::AnalyzerConfig;
use crate::engine::Analyzer;
use crate::offline::input_end_ms;
use crate::snapshot::GraphSnapshot;
use crate::traces::{TracesError, read_spans};
use crate::window::Window;

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

pub fn check_trace_files(
    paths: &[PathBuf],
    config: AnalyzerConfig,
    check: TraceCheck<'_>,
) -> Result<TraceReport, TracesError> {
    let interner = Interner::new();
    let spans = read_spans(paths, &Normalizer::new(interner.clone()))?;
    let end_ms = input_end_ms(&spans);
    let mut analyzer = Analyzer::new(interner, config);
    analyzer.set_observer(Box::new(ShapeLog::default()));
    for span in &spans {
        analyzer.ingest_span(span, end_ms);
    }
    analyzer.flush(end_ms);
    let graph = analyzer.snapshot(Window::Whole, end_ms);
    let log = ShapeLog::take_from(&mut analyzer).unwrap_or_default();
    let resolver = Resolver {
        analyzer: &analyzer,
        inventory: check.inventory,
        trust_domain: check.trust_domain,
    };
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
    Ok(TraceReport {
        findings,
        graph,
        spans: spans.len(),
        shapes: log.len(),
        shapes_overflow: log.overflow,
    })
}
