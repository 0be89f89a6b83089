//! Spans → service graph: client/server pairing, the graph, windowed per-edge RED metrics with
//! mergeable latency sketches, anomaly detection, and renderings of the graph.
//!
//! - [`snapshot`]: the graph as everything else reads it (API, CLI, anomalies, dashboard).

pub mod snapshot;
