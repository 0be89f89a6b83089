//! Recorded trace files into the graph, for the offline commands.

use std::path::PathBuf;

use meshlens_collector::formats::source::{SourceError, read_trace_paths};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::{Interner, Span};

use crate::config::AnalyzerConfig;
use crate::offline::analyze_all;
use crate::snapshot::GraphSnapshot;

/// Every span of the files (any format `meshlens inspect` reads), normalised; spans with
/// invalid ids are left out, as `serve` refuses them.
pub fn read_spans(paths: &[PathBuf], normalizer: &Normalizer) -> Result<Vec<Span>, SourceError> {
    let mut spans = Vec::new();
    for file in read_trace_paths(paths)? {
        for request in &file.requests {
            normalizer.normalize_request(request, &mut spans);
        }
    }
    Ok(spans)
}

/// The graph of recorded traces over the whole input.
pub fn graph_of_trace_files(
    paths: &[PathBuf],
    config: AnalyzerConfig,
) -> Result<GraphSnapshot, SourceError> {
    let interner = Interner::new();
    let spans = read_spans(paths, &Normalizer::new(interner.clone()))?;
    Ok(analyze_all(interner, &spans, config))
}
