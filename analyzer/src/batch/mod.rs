//! Batch analytics over recorded spans with polars: the span table, the request table (one
//! row per request the engine resolved from the spans) and per-edge statistics as group-bys
//! over it. `meshlens export` writes the three as Parquet; `meshlens graph --traces` takes
//! its edge statistics from here, with exact quantiles where the live path keeps sketches.
//!
//! Pairing stays in the engine, so both paths see the same requests; only the aggregation
//! differs, which is what the equality tests hold them to.

mod columns;
mod edges;
mod parquet;
mod requests;
mod spans;

use meshlens_collector::{Interner, Span};
use polars::prelude::{DataFrame, PolarsError};

pub use edges::{EdgeStats, edge_stats, edge_table};
pub use parquet::{EDGES_FILE, REQUESTS_FILE, SPANS_FILE, write_tables};
pub use requests::{RecordedRequest, RequestLog, request_table};
pub use spans::span_table;

use crate::config::AnalyzerConfig;
use crate::offline::replay;
use crate::snapshot::GraphSnapshot;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("building the {table} table: {source}")]
    Polars {
        table: &'static str,
        #[source]
        source: PolarsError,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl BatchError {
    fn polars(table: &'static str) -> impl FnOnce(PolarsError) -> Self {
        move |source| Self::Polars { table, source }
    }
}

/// Recorded spans analysed in batch: the graph (structure from the engine, edge statistics
/// from polars) and the tables behind it.
#[derive(Debug)]
pub struct BatchAnalysis {
    pub graph: GraphSnapshot,
    pub requests: DataFrame,
    pub edges: DataFrame,
}

/// The whole input as one window, as [`crate::analyze_all`] takes it: every span ingested at
/// the input's end, waiting halves expired at the end. The snapshot's edge counts, rates,
/// error ratios and latency quantiles are then replaced by polars' group-bys over the
/// request table.
pub fn analyze_batch(
    interner: Interner,
    spans: &[Span],
    config: AnalyzerConfig,
) -> Result<BatchAnalysis, BatchError> {
    let (mut analyzer, mut graph) = replay(
        interner,
        spans,
        config,
        Some(Box::new(RequestLog::default())),
    );
    let log: RequestLog = analyzer.take_observer().unwrap_or_default();
    let requests = request_table(&log, &analyzer)?;
    let edges = edge_table(&requests, graph.window_seconds)?;
    edges::apply(&mut graph, &edge_stats(&edges)?);
    Ok(BatchAnalysis {
        graph,
        requests,
        edges,
    })
}
