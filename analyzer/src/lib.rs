//! Spans → service graph: client/server pairing, the graph, windowed per-edge RED metrics with
//! mergeable latency sketches, anomaly detection, and renderings of the graph.
//!
//! - [`snapshot`]: the graph as everything else reads it (API, CLI, anomalies, dashboard).
//! - [`Analyzer`] ([`engine`]): the live core — [`pairing`] of client and server halves,
//!   the [`graph`], windowed RED [`metrics`] over time buckets ([`window`]), [`paths`]
//!   templating; [`analyze_all`] ([`offline`]) runs it over recorded spans.
//! - [`anomaly`]: anomalies found in a sequence of snapshots (new edges, traffic drops, error
//!   bursts, latency regressions, authorization denials, telemetry gaps).
//! - [`live`], [`api`]: the analyzer behind `meshlens serve` and its JSON/SSE API; [`traces`]:
//!   recorded trace files into the graph.
//! - [`observe`]: every request the engine records, for readers beyond the graph; [`batch`]:
//!   span, request and edge tables with polars (edge statistics for offline commands, Parquet).
//! - [`render`]: the snapshot as JSON, Graphviz DOT and Mermaid, coloured by edge health.

pub mod anomaly;
pub mod api;
pub mod batch;
pub mod config;
pub mod conformance;
pub mod engine;
pub mod graph;
pub mod half;
pub mod live;
pub mod metrics;
pub mod naming;
pub mod observe;
pub mod offline;
pub mod pairing;
pub mod paths;
pub mod recent;
pub mod render;
pub mod samples;
pub mod servicegraph;
pub mod snapshot;
pub mod traces;
mod view;
pub mod window;

pub use config::AnalyzerConfig;
pub use engine::{Analyzer, Counters};
pub use offline::analyze_all;
pub use window::Window;
