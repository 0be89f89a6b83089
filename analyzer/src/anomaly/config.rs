//! Thresholds of the anomaly detector, with defaults for every field, loadable from YAML.
//!
//! ```yaml
//! # every key is optional; unknown keys are errors (with file and line)
//! baseline: { window_seconds: 900, sample_interval_seconds: 10, min_samples: 6, min_span_seconds: 120 }
//! hysteresis: { start_after: 2, end_after: 3, clear_fraction: 0.5 }
//! new_edge:
//!   warmup_seconds: 120
//!   baseline_graph: graph.json      # a `meshlens graph` JSON file; relative to this file
//! error_burst: { warning_ratio: 0.001, critical_ratio: 0.10 }
//! latency_regression: { factor: 2.0, min_increase_ms: 25, consecutive: 3 }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::EdgeRef;
use super::yaml::{self, YamlInput};
use crate::snapshot::GraphSnapshot;

/// Everything the detector can be told. `Default` is the documented defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// How each edge's own baseline (rate, error rate, p99) is kept.
    pub baseline: BaselineConfig,
    /// How many observations a condition must hold to start or clear an anomaly.
    pub hysteresis: HysteresisConfig,
    pub new_edge: NewEdgeConfig,
    pub traffic_drop: TrafficDropConfig,
    pub error_burst: ErrorBurstConfig,
    pub latency_regression: LatencyConfig,
    pub authz_denial_burst: AuthzConfig,
    pub telemetry_gap: TelemetryGapConfig,
    /// Closed anomalies kept for [`recent`](super::AnomalyDetector::recent).
    pub max_recent: usize,
    /// Edges tracked at most (memory bound); edges beyond are ignored until others expire.
    pub max_edges: usize,
    /// An edge without traffic for this long is forgotten (its open anomalies end).
    pub forget_after_seconds: f64,
    /// Trace ids put in an anomaly's evidence at most.
    pub max_trace_ids: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            baseline: BaselineConfig::default(),
            hysteresis: HysteresisConfig::default(),
            new_edge: NewEdgeConfig::default(),
            traffic_drop: TrafficDropConfig::default(),
            error_burst: ErrorBurstConfig::default(),
            latency_regression: LatencyConfig::default(),
            authz_denial_burst: AuthzConfig::default(),
            telemetry_gap: TelemetryGapConfig::default(),
            max_recent: 200,
            max_edges: 10_000,
            forget_after_seconds: 3600.0,
            max_trace_ids: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineConfig {
    /// History kept per edge and metric (rolling baseline), in seconds.
    pub window_seconds: f64,
    /// At most one history sample per this many seconds (snapshots come every few seconds
    /// and overlap; this bounds memory to `window_seconds / sample_interval_seconds`).
    pub sample_interval_seconds: f64,
    /// Samples needed before a baseline is trusted.
    pub min_samples: usize,
    /// And the time they must span.
    pub min_span_seconds: f64,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            window_seconds: 900.0,
            sample_interval_seconds: 10.0,
            min_samples: 6,
            min_span_seconds: 120.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HysteresisConfig {
    /// Consecutive observations a condition must hold before the anomaly starts.
    pub start_after: u32,
    /// Consecutive observations it must be clear before the anomaly ends.
    pub end_after: u32,
    /// An open anomaly stays open while the value is past this fraction of the way from
    /// baseline to its start threshold (0.5: it must fall back half-way to clear).
    pub clear_fraction: f64,
}

impl Default for HysteresisConfig {
    fn default() -> Self {
        Self {
            start_after: 2,
            end_after: 3,
            clear_fraction: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NewEdgeConfig {
    pub enabled: bool,
    /// Without a baseline graph: edges seen in the first `warmup_seconds` of observation are
    /// known; edges first seen later are new.
    pub warmup_seconds: f64,
    /// A new-edge anomaly ends (and the edge becomes known) after this long.
    pub open_seconds: f64,
    /// Requests in the window for an edge to count as seen.
    pub min_requests: f64,
    /// A graph JSON file (`meshlens graph` output, a `GraphSnapshot`) whose edges are the
    /// known ones; relative paths are relative to the config file. When a baseline is
    /// given, there is no warm-up: any other edge is new from the first observation.
    pub baseline_graph: Option<PathBuf>,
    /// Known edges given inline (added to those of `baseline_graph`).
    #[serde(deserialize_with = "strict_edges")]
    pub baseline_edges: Option<Vec<EdgeRef>>,
}

impl Default for NewEdgeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            warmup_seconds: 120.0,
            open_seconds: 300.0,
            min_requests: 1.0,
            baseline_graph: None,
            baseline_edges: None,
        }
    }
}

impl NewEdgeConfig {
    /// The known edges, when a baseline is configured.
    pub fn baseline_set(&self) -> Option<BTreeSet<EdgeRef>> {
        self.baseline_edges
            .as_ref()
            .map(|edges| edges.iter().cloned().collect())
    }

    /// Adds the edges of a graph to the baseline.
    pub fn add_baseline_graph(&mut self, graph: &GraphSnapshot) {
        let edges = self.baseline_edges.get_or_insert_with(Vec::new);
        edges.extend(
            graph
                .edges
                .iter()
                .map(|e| EdgeRef::new(e.source.clone(), e.target.clone())),
        );
        edges.sort();
        edges.dedup();
    }
}

/// An edge in the config file: exactly `source` and `target` (typos are errors).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictEdge {
    source: String,
    target: String,
}

fn strict_edges<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<EdgeRef>>, D::Error> {
    let edges: Option<Vec<StrictEdge>> = Deserialize::deserialize(deserializer)?;
    Ok(edges.map(|edges| {
        edges
            .into_iter()
            .map(|e| EdgeRef::new(e.source, e.target))
            .collect()
    }))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficDropConfig {
    pub enabled: bool,
    /// Fires when the edge's rate falls below this fraction of its baseline rate.
    pub drop_ratio: f64,
    /// And ends once it is back above this fraction.
    pub recover_ratio: f64,
    /// Edges whose baseline rate is below this are too quiet to judge.
    pub min_baseline_rps: f64,
}

impl Default for TrafficDropConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            drop_ratio: 0.2,
            recover_ratio: 0.5,
            min_baseline_rps: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorBurstConfig {
    pub enabled: bool,
    /// Requests in the window needed to judge an error rate.
    pub min_requests: f64,
    /// Failures in the window needed, whatever the rate.
    pub min_errors: f64,
    /// Absolute failure (5xx, gRPC non-OK) rate for a warning; Kiali's default "degraded"
    /// (≥ 0.1%). `null` disables.
    pub warning_ratio: Option<f64>,
    /// Absolute failure rate for critical; Kiali's default "failure" (10%). `null` disables.
    pub critical_ratio: Option<f64>,
    /// 4xx (other than RBAC denials) rate for a warning; Kiali's default for 4xx (10%).
    pub client_error_warning_ratio: Option<f64>,
    /// 4xx rate for critical; Kiali's default for 4xx (20%).
    pub client_error_critical_ratio: Option<f64>,
    /// Relative to the edge's own baseline: fires at this multiple of it…
    pub relative_factor: f64,
    /// …and at least this much above it (absolute ratio, 0.01 = 1 point).
    pub relative_min_increase: f64,
}

impl Default for ErrorBurstConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_requests: 10.0,
            min_errors: 2.0,
            warning_ratio: Some(0.001),
            critical_ratio: Some(0.10),
            client_error_warning_ratio: Some(0.10),
            client_error_critical_ratio: Some(0.20),
            relative_factor: 3.0,
            relative_min_increase: 0.01,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    pub enabled: bool,
    /// Requests in the window for its p99 to mean anything.
    pub min_requests: f64,
    /// p99 must exceed `factor ×` the baseline p99 (median of recent windows)…
    pub factor: f64,
    /// …and the baseline by at least this many milliseconds…
    pub min_increase_ms: f64,
    /// …and the baseline by `mad_factor` robust standard deviations (1.4826 × MAD of the
    /// recent windows), so a naturally noisy p99 needs a bigger jump.
    pub mad_factor: f64,
    /// Critical at this multiple of the baseline.
    pub critical_factor: f64,
    /// Consecutive observations above the threshold before it starts (overrides
    /// `hysteresis.start_after`).
    pub consecutive: u32,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_requests: 20.0,
            factor: 2.0,
            min_increase_ms: 25.0,
            mad_factor: 5.0,
            critical_factor: 5.0,
            consecutive: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthzConfig {
    pub enabled: bool,
    /// Fires at this many 403 RBAC denials per minute on an edge…
    pub denials_per_minute: f64,
    /// …or when this fraction of the edge's requests are denied (with `min_denials`).
    pub ratio: Option<f64>,
    pub min_denials: f64,
    /// Critical when at least this fraction is denied.
    pub critical_ratio: f64,
}

impl Default for AuthzConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            denials_per_minute: 10.0,
            ratio: Some(0.05),
            min_denials: 5.0,
            critical_ratio: 0.5,
        }
    }
}

/// How the snapshot's `pairing` counters are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PairingCounters {
    /// Counts over the snapshot's window (what `GraphSnapshot::pairing` documents).
    #[default]
    Window,
    /// Counts since start: the detector takes deltas between consecutive snapshots.
    Cumulative,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryGapConfig {
    pub enabled: bool,
    pub counters: PairingCounters,
    /// Span halves (paired × 2 + lost) needed to judge.
    pub min_halves: f64,
    /// The lost ratio (expired + dropped halves / all halves) must reach this…
    pub min_ratio: f64,
    /// …and exceed its own baseline by this much (so meshes where some halves always
    /// expire, such as calls to databases, do not fire).
    pub min_rise: f64,
    /// Halves dropped because the pairing store was full make it critical.
    pub critical_on_store_full: bool,
}

impl Default for TelemetryGapConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            counters: PairingCounters::Window,
            min_halves: 100.0,
            min_ratio: 0.05,
            min_rise: 0.10,
            critical_on_store_full: true,
        }
    }
}

/// A configuration problem, located when it comes from a file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A syntax error, an unknown key, a wrong type or an out-of-range value.
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        /// The file name (or `<config>` for text).
        origin: String,
        /// 1-based; 0 when unknown.
        line: usize,
        column: usize,
        /// The dotted key concerned (`error_burst.warning_ratio`), when there is one.
        key: Option<String>,
        message: String,
    },
    #[error("{origin}: baseline graph {}: {message}", path.display())]
    BaselineGraph {
        origin: String,
        path: PathBuf,
        message: String,
    },
}

impl AnomalyConfig {
    /// Parses a YAML configuration: a file (`&Path`, `&PathBuf`) or YAML text (`&str`).
    /// Missing keys take their defaults; unknown keys, wrong types and out-of-range values
    /// are errors naming the file, line and key. A `new_edge.baseline_graph` is read here.
    pub fn from_yaml<'a>(input: impl Into<YamlInput<'a>>) -> Result<Self, ConfigError> {
        let input = input.into();
        let (origin, text, base_dir) = match input {
            YamlInput::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                (path.display().to_string(), text, dir)
            }
            YamlInput::Text(text) => ("<config>".to_owned(), text.to_owned(), PathBuf::new()),
        };
        let (mut config, positions) = yaml::parse::<Self>(&origin, &text)?;
        if let Err((key, message)) = config.validate() {
            let (line, column) = positions.get(&key).unwrap_or((0, 0));
            return Err(ConfigError::Invalid {
                origin,
                line,
                column,
                key: Some(key),
                message,
            });
        }
        if let Some(rel) = config.new_edge.baseline_graph.clone() {
            let path = if rel.is_absolute() {
                rel
            } else {
                base_dir.join(rel)
            };
            let graph = load_graph(&path).map_err(|message| ConfigError::BaselineGraph {
                origin: origin.clone(),
                path: path.clone(),
                message,
            })?;
            config.new_edge.add_baseline_graph(&graph);
            config.new_edge.baseline_graph = Some(path);
        }
        Ok(config)
    }

    /// Checks ranges; on error, the dotted key and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        fn check(ok: bool, key: &str, what: &str) -> Result<(), (String, String)> {
            if ok {
                Ok(())
            } else {
                Err((key.to_owned(), format!("`{key}` must be {what}")))
            }
        }
        let nonneg = |v: f64| v.is_finite() && v >= 0.0;
        let frac = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        let opt_frac = |v: Option<f64>| v.is_none_or(frac);
        let b = &self.baseline;
        check(
            b.window_seconds.is_finite() && b.window_seconds > 0.0,
            "baseline.window_seconds",
            "a positive number",
        )?;
        check(
            nonneg(b.sample_interval_seconds),
            "baseline.sample_interval_seconds",
            "a number ≥ 0",
        )?;
        check(b.min_samples >= 1, "baseline.min_samples", "at least 1")?;
        check(
            nonneg(b.min_span_seconds),
            "baseline.min_span_seconds",
            "a number ≥ 0",
        )?;
        let h = &self.hysteresis;
        check(h.start_after >= 1, "hysteresis.start_after", "at least 1")?;
        check(h.end_after >= 1, "hysteresis.end_after", "at least 1")?;
        check(
            frac(h.clear_fraction),
            "hysteresis.clear_fraction",
            "between 0 and 1",
        )?;
        let n = &self.new_edge;
        check(
            nonneg(n.warmup_seconds),
            "new_edge.warmup_seconds",
            "a number ≥ 0",
        )?;
        check(
            nonneg(n.open_seconds),
            "new_edge.open_seconds",
            "a number ≥ 0",
        )?;
        check(
            nonneg(n.min_requests),
            "new_edge.min_requests",
            "a number ≥ 0",
        )?;
        let t = &self.traffic_drop;
        check(
            frac(t.drop_ratio),
            "traffic_drop.drop_ratio",
            "between 0 and 1",
        )?;
        check(
            frac(t.recover_ratio) && t.recover_ratio >= t.drop_ratio,
            "traffic_drop.recover_ratio",
            "between traffic_drop.drop_ratio and 1",
        )?;
        check(
            nonneg(t.min_baseline_rps),
            "traffic_drop.min_baseline_rps",
            "a number ≥ 0",
        )?;
        let e = &self.error_burst;
        check(
            nonneg(e.min_requests),
            "error_burst.min_requests",
            "a number ≥ 0",
        )?;
        check(
            nonneg(e.min_errors),
            "error_burst.min_errors",
            "a number ≥ 0",
        )?;
        check(
            opt_frac(e.warning_ratio),
            "error_burst.warning_ratio",
            "between 0 and 1 (or null)",
        )?;
        check(
            opt_frac(e.critical_ratio),
            "error_burst.critical_ratio",
            "between 0 and 1 (or null)",
        )?;
        check(
            opt_frac(e.client_error_warning_ratio),
            "error_burst.client_error_warning_ratio",
            "between 0 and 1 (or null)",
        )?;
        check(
            opt_frac(e.client_error_critical_ratio),
            "error_burst.client_error_critical_ratio",
            "between 0 and 1 (or null)",
        )?;
        check(
            e.relative_factor.is_finite() && e.relative_factor >= 1.0,
            "error_burst.relative_factor",
            "a number ≥ 1",
        )?;
        check(
            frac(e.relative_min_increase),
            "error_burst.relative_min_increase",
            "between 0 and 1",
        )?;
        let l = &self.latency_regression;
        check(
            nonneg(l.min_requests),
            "latency_regression.min_requests",
            "a number ≥ 0",
        )?;
        check(
            l.factor.is_finite() && l.factor >= 1.0,
            "latency_regression.factor",
            "a number ≥ 1",
        )?;
        check(
            nonneg(l.min_increase_ms),
            "latency_regression.min_increase_ms",
            "a number ≥ 0",
        )?;
        check(
            nonneg(l.mad_factor),
            "latency_regression.mad_factor",
            "a number ≥ 0",
        )?;
        check(
            l.critical_factor.is_finite() && l.critical_factor >= l.factor,
            "latency_regression.critical_factor",
            "a number ≥ latency_regression.factor",
        )?;
        check(
            l.consecutive >= 1,
            "latency_regression.consecutive",
            "at least 1",
        )?;
        let a = &self.authz_denial_burst;
        check(
            a.denials_per_minute.is_finite() && a.denials_per_minute > 0.0,
            "authz_denial_burst.denials_per_minute",
            "a positive number",
        )?;
        check(
            opt_frac(a.ratio),
            "authz_denial_burst.ratio",
            "between 0 and 1 (or null)",
        )?;
        check(
            nonneg(a.min_denials),
            "authz_denial_burst.min_denials",
            "a number ≥ 0",
        )?;
        check(
            frac(a.critical_ratio),
            "authz_denial_burst.critical_ratio",
            "between 0 and 1",
        )?;
        let g = &self.telemetry_gap;
        check(
            nonneg(g.min_halves),
            "telemetry_gap.min_halves",
            "a number ≥ 0",
        )?;
        check(
            frac(g.min_ratio),
            "telemetry_gap.min_ratio",
            "between 0 and 1",
        )?;
        check(
            frac(g.min_rise),
            "telemetry_gap.min_rise",
            "between 0 and 1",
        )?;
        check(self.max_edges >= 1, "max_edges", "at least 1")?;
        check(
            nonneg(self.forget_after_seconds),
            "forget_after_seconds",
            "a number ≥ 0",
        )?;
        Ok(())
    }
}

/// Reads a `GraphSnapshot` JSON file.
pub fn load_graph(path: &Path) -> Result<GraphSnapshot, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
