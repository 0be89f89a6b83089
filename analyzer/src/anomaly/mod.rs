//! Anomaly detection over a sequence of graph snapshots.
//!
//! The live analyzer calls [`AnomalyDetector::observe`] every few seconds with its
//! 1-minute-window [`GraphSnapshot`](crate::snapshot::GraphSnapshot); the detector keeps a
//! rolling baseline per edge (median and MAD of recent windows, frozen while an anomaly on
//! the metric is pending or open) and one hysteresis tracker per kind and subject. Its only
//! clock is the snapshots' `generated_at_unix_ms`, so scripted sequences replay exactly.
//!
//! Kinds ([`AnomalyKind`]):
//! - `new-edge`: an edge not in the baseline graph, or (without one) first seen after the
//!   warm-up; stays open `new_edge.open_seconds`, after which the edge is known.
//! - `traffic-drop`: the edge's rate below `drop_ratio ×` its baseline, or zero ("gone
//!   quiet", critical); ends above `recover_ratio ×` the baseline.
//! - `error-burst`: failure rate at Kiali's default thresholds (degraded ≥ 0.1%, failure
//!   10%; 4xx: 10% / 20%), or `relative_factor ×` the edge's own baseline.
//! - `latency-regression`: p99 above `factor ×` the baseline p99, `min_increase_ms` above it
//!   and `mad_factor` robust deviations above it, for `consecutive` observations.
//! - `authz-denial-burst`: 403 RBAC denials per minute, or as a fraction of requests.
//! - `telemetry-gap`: the fraction of span halves that expired or were dropped unpaired,
//!   risen above its own baseline (subject: the node [`MESH_NODE`]).
//! - `policy-violation`, `rbac-denial`: reserved for the policy checks.

mod baseline;
mod config;
mod detector;
mod format;
mod model;
mod yaml;

pub use config::{
    AnomalyConfig, AuthzConfig, BaselineConfig, ConfigError, ErrorBurstConfig, HysteresisConfig,
    LatencyConfig, NewEdgeConfig, PairingCounters, TelemetryGapConfig, TrafficDropConfig,
    load_graph,
};
pub use detector::{AnomalyDetector, Signal};
pub use model::{
    Anomaly, AnomalyEvent, AnomalyKind, EdgeRef, Evidence, MESH_NODE, Severity, Subject,
};
pub use yaml::YamlInput;
