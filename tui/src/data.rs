//! What the dashboard shows, and the updates that feed it.
//!
//! Sources (the in-process analyzer, or [`crate::sse`] attached to a `meshlens serve`) send
//! [`Update`]s over a `std::sync::mpsc` channel; the [`App`](crate::App) folds them into one
//! [`DashboardData`].

use meshlens_analyzer::anomaly::Anomaly;
use meshlens_analyzer::snapshot::GraphSnapshot;
use serde::{Deserialize, Serialize};

/// Everything one frame shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardData {
    pub graph: GraphSnapshot,
    /// Open and recently closed anomalies (policy verdicts come from `policy-violation` and
    /// `rbac-denial` anomalies on an edge).
    pub anomalies: Vec<Anomaly>,
    /// The policy panel; `None` when no policies are checked (or the source cannot tell).
    pub policies: Option<PolicyPanel>,
    /// Recent sample traces for the Traces view's waterfall; may be empty (the view then lists
    /// the selected edge's trace ids).
    pub traces: Vec<TraceSample>,
}

/// One message from a source.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// Replace everything.
    Data(Box<DashboardData>),
    /// A new graph and anomaly list (what the streaming API sends); policies and traces stay.
    Snapshot {
        graph: Box<GraphSnapshot>,
        anomalies: Vec<Anomaly>,
    },
    /// A new policy panel (or none).
    Policies(Option<PolicyPanel>),
    /// New sample traces.
    Traces(Vec<TraceSample>),
    /// The source's connection state, shown in the status bar.
    Connection(ConnectionState),
}

/// How the source is doing: always `Live` for in-process sources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnectionState {
    /// In-process: nothing to connect.
    #[default]
    Live,
    Connecting {
        url: String,
        attempt: u32,
    },
    Connected {
        url: String,
    },
    /// Lost or refused; the next attempt is in `retry_in_ms`.
    Disconnected {
        url: String,
        error: String,
        retry_in_ms: u64,
    },
}

/// The status of the loaded policy set, as `GET /api/v1/policies` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicySetStatus {
    pub policies: usize,
    pub files: Vec<String>,
    pub loads: u64,
    pub loaded_at_unix_ms: u64,
    pub last_error: Option<String>,
}

/// The Policies view: per workload, the policies and rules that apply, how often each rule
/// matched, and the violations. Fill `workloads` from the conformance checks; a remote source
/// that only knows the set's status leaves it empty and sets `detail_available = false`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PolicyPanel {
    pub status: Option<PolicySetStatus>,
    /// Whether `workloads` holds per-rule detail (false over `--connect`).
    pub detail_available: bool,
    pub workloads: Vec<WorkloadPolicies>,
}

/// The policies that apply to one workload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WorkloadPolicies {
    /// Node id (`reviews.bookinfo`), as in the graph.
    pub workload: String,
    pub policies: Vec<PolicyEntry>,
    pub violations: Vec<Violation>,
}

/// One AuthorizationPolicy that applies to a workload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PolicyEntry {
    /// `namespace/name`.
    pub name: String,
    /// `ALLOW`, `DENY`, `AUDIT`, `CUSTOM`.
    pub action: String,
    pub dry_run: bool,
    /// `file:line` of the policy, when known.
    pub location: Option<String>,
    pub rules: Vec<RuleEntry>,
}

/// One rule of a policy and its hit count over the checked window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleEntry {
    /// Rule index within the policy (0-based).
    pub index: usize,
    /// A one-line summary (`from sa/productpage to GET /reviews/*`).
    pub summary: String,
    /// Requests the rule matched; 0 = never matched.
    pub hits: u64,
}

/// Traffic to the workload that the policies deny (or that the proxy denied).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Violation {
    /// Caller node id (or principal).
    pub source: String,
    /// `GET /ratings/{id}`.
    pub operation: String,
    /// The deciding policy or the reason (`no ALLOW policy matched`).
    pub reason: String,
    pub requests: u64,
    /// `true` when the proxy enforced it (RBAC 403s seen), `false` when only our evaluation
    /// says it should be denied.
    pub enforced: bool,
}

/// One sampled trace for the waterfall.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceSample {
    /// Hex trace id, as in `EdgeSnapshot::trace_ids`.
    pub trace_id: String,
    pub spans: Vec<SpanSample>,
}

impl TraceSample {
    /// End of the last span, in ms from the trace's start.
    pub fn duration_ms(&self) -> f64 {
        self.spans
            .iter()
            .map(|s| s.start_offset_ms + s.duration_ms)
            .fold(0.0, f64::max)
    }
}

/// One span of a [`TraceSample`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpanSample {
    pub service: String,
    pub name: String,
    /// `client`, `server`, `internal`, … (free text).
    pub kind: String,
    /// Nesting depth in the trace tree (0 = root), for indentation.
    pub depth: usize,
    pub start_offset_ms: f64,
    pub duration_ms: f64,
    pub status: SpanStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    #[default]
    Ok,
    Error,
    Unset,
}
