//! Health of edges and nodes from their error ratios, with Kiali's default tolerances.

use serde::{Deserialize, Serialize};

use crate::snapshot::{EdgeSnapshot, NodeSnapshot};

/// How an edge (or node) is doing over the snapshot's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Degraded,
    Failing,
    /// No requests in the window.
    Idle,
}

impl Health {
    /// Lowercase name, also used as the Mermaid class name.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failing => "failing",
            Health::Idle => "idle",
        }
    }

    /// Colour as `#rrggbb`: Kiali's (PatternFly) status colours, green / orange / red / grey.
    pub fn color(self) -> &'static str {
        match self {
            Health::Healthy => "#3e8635",
            Health::Degraded => "#f0ab00",
            Health::Failing => "#c9190b",
            Health::Idle => "#6a6e73",
        }
    }

    /// Orders by how bad: idle < healthy < degraded < failing.
    pub fn severity(self) -> u8 {
        match self {
            Health::Idle => 0,
            Health::Healthy => 1,
            Health::Degraded => 2,
            Health::Failing => 3,
        }
    }

    /// The worse of two.
    pub fn worst(self, other: Health) -> Health {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error-ratio tolerances, as fractions (0.1 = 10 %).
///
/// The defaults are Kiali's default traffic-health tolerances
/// (<https://kiali.io/docs/configuration/health>, "Default Configuration"): application errors
/// (HTTP 5xx, gRPC non-OK) are Degraded from any non-zero ratio (`degraded: 0`) and Failing at
/// 10 % (`failure: 10`); client errors (HTTP 4xx) are Degraded at 10 % and Failing at 20 %.
/// As in Kiali's `ascendingThresholdCheck`, a ratio must be above zero to count at all, and a
/// threshold is reached when the ratio is at or above it (`>=`). (Older Kiali releases used
/// 0.1 % / 20 % for everything; the current defaults are the ones above.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HealthThresholds {
    /// Application error ratio (`errors / requests`) at or above which an edge is Degraded.
    pub error_degraded: f64,
    /// Application error ratio at or above which an edge is Failing.
    pub error_failing: f64,
    /// Client error ratio (4xx including authorization denials) for Degraded.
    pub client_error_degraded: f64,
    /// Client error ratio for Failing.
    pub client_error_failing: f64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        HealthThresholds {
            error_degraded: 0.0,
            error_failing: 0.10,
            client_error_degraded: 0.10,
            client_error_failing: 0.20,
        }
    }
}

/// Any requests at all (NaN counts as none).
fn has_traffic(requests: f64) -> bool {
    requests > 0.0
}

/// Kiali's ascending threshold check on one ratio.
fn check(ratio: f64, degraded: f64, failing: f64) -> Health {
    if ratio > 0.0 {
        if ratio >= failing {
            return Health::Failing;
        }
        if ratio >= degraded {
            return Health::Degraded;
        }
    }
    Health::Healthy
}

/// Health of an edge: Idle without requests, else the worse of its application error ratio
/// (`error_rate`) and its client error ratio (`(client_errors + authz_denials) / requests`).
pub fn edge_health(edge: &EdgeSnapshot, thresholds: &HealthThresholds) -> Health {
    if !has_traffic(edge.requests) {
        return Health::Idle;
    }
    let app = check(
        edge.error_rate,
        thresholds.error_degraded,
        thresholds.error_failing,
    );
    let client_ratio = (edge.client_errors + edge.authz_denials) / edge.requests;
    let client = check(
        client_ratio,
        thresholds.client_error_degraded,
        thresholds.client_error_failing,
    );
    app.worst(client)
}

/// Health of a node from the requests it served: Idle when it served none (users, roots).
pub fn node_health(node: &NodeSnapshot, thresholds: &HealthThresholds) -> Health {
    if !has_traffic(node.requests) {
        return Health::Idle;
    }
    check(
        node.error_rate,
        thresholds.error_degraded,
        thresholds.error_failing,
    )
}
