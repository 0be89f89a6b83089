//! Recorded trace files into the graph and the batch tables, for the offline commands.

use std::path::{Path, PathBuf};

use meshlens_collector::Interner;
use meshlens_collector::formats::source::SourceError;
use meshlens_collector::normalize::Normalizer;

use crate::batch::{
    BatchAnalysis, BatchError, EDGES_FILE, REQUESTS_FILE, SPANS_FILE, analyze_batch, span_table,
    write_tables,
};
use crate::config::AnalyzerConfig;
use crate::snapshot::GraphSnapshot;

#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Batch(#[from] BatchError),
}

pub use meshlens_collector::recorded::read_spans;

/// The graph of recorded traces over the whole input, edge statistics from polars.
pub fn graph_of_trace_files(
    paths: &[PathBuf],
    config: AnalyzerConfig,
) -> Result<GraphSnapshot, TracesError> {
    let interner = Interner::new();
    let spans = read_spans(paths, &Normalizer::new(interner.clone()))?;
    Ok(analyze_batch(interner, &spans, config)?.graph)
}

/// What `meshlens export` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// (file, rows) for the span, request and edge tables.
    pub tables: Vec<(PathBuf, usize)>,
}

/// Writes the span, request and edge tables of recorded traces as Parquet into `out`.
pub fn export_trace_files(
    paths: &[PathBuf],
    config: AnalyzerConfig,
    out: &Path,
) -> Result<Exported, TracesError> {
    let interner = Interner::new();
    let spans = read_spans(paths, &Normalizer::new(interner.clone()))?;
    let mut span_frame = span_table(&spans, &interner)?;
    let BatchAnalysis {
        mut requests,
        mut edges,
        ..
    } = analyze_batch(interner, &spans, config)?;
    let rows = [span_frame.height(), requests.height(), edges.height()];
    write_tables(out, &mut span_frame, &mut requests, &mut edges)?;
    Ok(Exported {
        tables: [SPANS_FILE, REQUESTS_FILE, EDGES_FILE]
            .into_iter()
            .zip(rows)
            .map(|(name, rows)| (out.join(name), rows))
            .collect(),
    })
}
