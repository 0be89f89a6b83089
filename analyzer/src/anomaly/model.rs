//! What the detector reports. The JSON shape of [`Anomaly`] is served by
//! `GET /api/v1/anomalies` and read by the dashboard: field names and kind/severity spellings
//! are an interface; fields may be added, never renamed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The node id used as the subject of mesh-wide anomalies (a telemetry gap is a property of
/// the pairing store, not of one service).
pub const MESH_NODE: &str = "*";

/// What went wrong. Serialized in kebab-case (`"new-edge"`, `"error-burst"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// An edge not in the baseline graph, or not seen during the warm-up.
    NewEdge,
    /// An edge's request rate fell well below its own baseline, or to zero ("gone quiet").
    TrafficDrop,
    /// Error rate above absolute (Kiali-like) thresholds or a multiple of the edge's baseline.
    ErrorBurst,
    /// p99 latency well above the edge's own rolling baseline, sustained.
    LatencyRegression,
    /// Many 403 authorization (RBAC) denials on an edge.
    AuthzDenialBurst,
    /// Span halves that did not pair (expired or dropped) rising: telemetry is going missing.
    TelemetryGap,
    /// Reserved: observed traffic that the declared authorization policies forbid.
    PolicyViolation,
    /// Reserved: an enforced RBAC denial matched to a policy.
    RbacDenial,
}

impl AnomalyKind {
    /// The API spelling (`"latency-regression"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewEdge => "new-edge",
            Self::TrafficDrop => "traffic-drop",
            Self::ErrorBurst => "error-burst",
            Self::LatencyRegression => "latency-regression",
            Self::AuthzDenialBurst => "authz-denial-burst",
            Self::TelemetryGap => "telemetry-gap",
            Self::PolicyViolation => "policy-violation",
            Self::RbacDenial => "rbac-denial",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A directed edge of the service graph, by node ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EdgeRef {
    pub source: String,
    pub target: String,
}

impl EdgeRef {
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
        }
    }
}

impl fmt::Display for EdgeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.source, self.target)
    }
}

/// What an anomaly is about: `{"node":"reviews.bookinfo"}` or
/// `{"edge":{"source":"productpage.bookinfo","target":"reviews.bookinfo"}}`.
/// Mesh-wide anomalies use the node [`MESH_NODE`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    Node(String),
    Edge(EdgeRef),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node(id) if id == MESH_NODE => f.write_str("the mesh"),
            Self::Node(id) => f.write_str(id),
            Self::Edge(edge) => edge.fmt(f),
        }
    }
}

/// Why the detector believes it: a few trace ids to drill into, and the numbers behind the
/// message (`"error_rate"`, `"baseline_error_rate"`, `"requests"`, …), flattened next to
/// `trace_ids` in JSON. Non-finite numbers are never stored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    pub trace_ids: Vec<String>,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
}

impl Evidence {
    pub(crate) fn new(trace_ids: Vec<String>) -> Self {
        Self {
            trace_ids,
            values: BTreeMap::new(),
        }
    }

    /// Adds a number (skipped when not finite: JSON has no NaN).
    pub(crate) fn with(mut self, key: &str, value: f64) -> Self {
        if value.is_finite() {
            self.values.insert(key.to_owned(), value);
        }
        self
    }
}

/// One detected anomaly, open (`ended_at_unix_ms` is `None`) or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Stable for the anomaly's life; a later anomaly of the same kind and subject gets a
    /// new one.
    pub id: String,
    pub kind: AnomalyKind,
    pub severity: Severity,
    pub subject: Subject,
    pub started_at_unix_ms: u64,
    pub ended_at_unix_ms: Option<u64>,
    /// A sentence naming the subject and the numbers.
    pub message: String,
    pub evidence: Evidence,
}

impl Anomaly {
    pub fn is_open(&self) -> bool {
        self.ended_at_unix_ms.is_none()
    }
}

/// What one observation changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "anomaly", rename_all = "lowercase")]
pub enum AnomalyEvent {
    Started(Anomaly),
    Ended(Anomaly),
}

impl AnomalyEvent {
    pub fn anomaly(&self) -> &Anomaly {
        match self {
            Self::Started(a) | Self::Ended(a) => a,
        }
    }
}
