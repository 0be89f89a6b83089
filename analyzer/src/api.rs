//! The analyzer's JSON API on `meshlens serve --api`: the graph over a window, anomalies,
//! pairing statistics, the checked policies, and a server-sent-events stream of updates for dashboards.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::IntervalStream;

use crate::Window;
use crate::anomaly::Anomaly;
use crate::conformance::live::PolicyStatus;
use crate::conformance::usage::WorkloadPolicies;
use crate::live::Live;
use crate::samples::TraceView;
use crate::snapshot::{GraphSnapshot, PairingStats};

const DEFAULT_WINDOW: Window = Window::ONE_MINUTE;
/// Answers stay small whatever `limit` asks.
const MAX_TRACES_PER_ANSWER: usize = 100;

pub fn router(live: Live) -> Router {
    Router::new()
        .route("/api/v1/graph", get(graph))
        .route("/api/v1/anomalies", get(anomalies))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/policies", get(policies))
        .route("/api/v1/traces", get(traces))
        .route("/api/v1/traces/{trace_id}", get(trace))
        .route("/api/v1/stream", get(stream))
        .with_state(live)
}

#[derive(Debug, Deserialize)]
struct WindowQuery {
    window: Option<String>,
    interval: Option<String>,
}

impl WindowQuery {
    /// The window asked for; the error is the message for a 400.
    fn window(&self) -> Result<Window, String> {
        self.window
            .as_deref()
            .map_or(Ok(DEFAULT_WINDOW), parse_window)
    }
}

/// `60s`, `90s`, `1m`, `5m`, `15m`, `1h` (clamped to the 15 minutes kept) or `all`.
pub fn parse_window(text: &str) -> Result<Window, String> {
    let text = text.trim();
    if matches!(text, "all" | "whole" | "run") {
        return Ok(Window::Whole);
    }
    parse_duration(text).map(Window::Last)
}

/// `250ms`, `10s`, `5m`, `1h`, or bare seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 60s, 5m, all)"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ));
        }
    };
    if duration.is_zero() {
        return Err(format!("{text:?}: a window must be longer than zero"));
    }
    Ok(duration)
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message).into_response()
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn graph(State(live): State<Live>, Query(query): Query<WindowQuery>) -> Response {
    match query.window() {
        Ok(window) => json(&live.snapshot(window)),
        Err(message) => bad_request(message),
    }
}

#[derive(Debug, Serialize)]
struct Anomalies {
    anomalies: Vec<Anomaly>,
}

async fn anomalies(State(live): State<Live>) -> Response {
    json(&Anomalies {
        anomalies: live.anomalies(),
    })
}

#[derive(Debug, Serialize)]
struct Stats {
    /// Spans the analyzer was handed (the collector's accepted spans once the queue drains).
    spans_ingested: u64,
    pairing: PairingStats,
    root_servers: u64,
    gateway_roots: u64,
    server_to_server: u64,
    nested_servers: u64,
    duplicates: u64,
    dropped_node_cap: u64,
    dropped_edge_cap: u64,
    path_templates_overflow: u64,
    /// Distinct strings interned (names, hosts, methods…), and new ones turned into
    /// `<overflow>` once the interner's cap was reached.
    interned_strings: usize,
    interned_overflow: u64,
}

#[derive(Debug, Deserialize)]
struct TracesQuery {
    source: Option<String>,
    target: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Traces {
    traces: Vec<TraceView>,
}

/// Sample traces (one in sixteen, the most recent), newest first; with `source` and
/// `target`, those where the one called the other.
async fn traces(State(live): State<Live>, Query(query): Query<TracesQuery>) -> Response {
    let edge = match (&query.source, &query.target) {
        (Some(s), Some(t)) => Some((s.as_str(), t.as_str())),
        (None, None) => None,
        _ => return bad_request("give both source and target, or neither".to_owned()),
    };
    let limit = query.limit.unwrap_or(20).min(MAX_TRACES_PER_ANSWER);
    json(&Traces {
        traces: live.sample_traces(edge, limit),
    })
}

async fn trace(State(live): State<Live>, Path(trace_id): Path<String>) -> Response {
    match live.sample_trace(&trace_id) {
        Some(trace) => json(&trace),
        None => (
            StatusCode::NOT_FOUND,
            "no such trace among the samples kept (one trace in sixteen, the most recent)",
        )
            .into_response(),
    }
}

/// The loaded policy set (404 when `serve` checks no policies).
#[derive(Debug, Serialize)]
struct Policies {
    #[serde(flatten)]
    status: PolicyStatus,
    /// Per workload that received traffic in the last 15 minutes: the policies that apply,
    /// requests matched per rule, violations and denials.
    workloads: Vec<WorkloadPolicies>,
}

async fn policies(State(live): State<Live>) -> Response {
    match live.policies() {
        Some(policies) => json(&Policies {
            status: policies.status(),
            workloads: live.policy_usage(),
        }),
        None => (
            StatusCode::NOT_FOUND,
            "no policies are checked: start serve with --policies",
        )
            .into_response(),
    }
}

async fn stats(State(live): State<Live>) -> Response {
    let (pairing, c) = live.stats();
    let (interned_strings, interned_overflow) =
        live.with_analyzer(|a| (a.interner().len(), a.interner().overflowed()));
    json(&Stats {
        spans_ingested: c.spans,
        pairing,
        root_servers: c.root_servers,
        gateway_roots: c.gateway_roots,
        server_to_server: c.server_to_server,
        nested_servers: c.nested_servers,
        duplicates: c.duplicates,
        dropped_node_cap: c.dropped_node_cap,
        dropped_edge_cap: c.dropped_edge_cap,
        path_templates_overflow: c.path_templates_overflow,
        interned_strings,
        interned_overflow,
    })
}

/// One update of the stream: the graph over the window and the anomalies.
#[derive(Debug, Serialize)]
struct Update {
    graph: GraphSnapshot,
    anomalies: Vec<Anomaly>,
}

/// `GET /api/v1/stream?window=60s&interval=1s`: an `update` event per interval.
async fn stream(State(live): State<Live>, Query(query): Query<WindowQuery>) -> Response {
    let window = match query.window() {
        Ok(window) => window,
        Err(message) => return bad_request(message),
    };
    let interval = match query.interval.as_deref().map(parse_duration) {
        None => Duration::from_secs(1),
        Some(Ok(d)) => d.clamp(Duration::from_millis(200), Duration::from_secs(60)),
        Some(Err(message)) => return bad_request(message),
    };
    let closed = live.closed();
    let ticks = IntervalStream::new(tokio::time::interval(interval)).take_until(closed);
    let updates = ticks.map(move |_| {
        let update = Update {
            graph: live.snapshot(window),
            anomalies: live.anomalies(),
        };
        let data = serde_json::to_string(&update).unwrap_or_else(|_| "{}".to_owned());
        Ok::<_, Infallible>(Event::default().event("update").data(data))
    });
    Sse::new(updates)
        .keep_alive(KeepAlive::default())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_from_what_users_type() {
        assert_eq!(parse_window("60s"), Ok(Window::ONE_MINUTE));
        assert_eq!(parse_window("1m"), Ok(Window::ONE_MINUTE));
        assert_eq!(parse_window("5m"), Ok(Window::FIVE_MINUTES));
        assert_eq!(parse_window("all"), Ok(Window::Whole));
        assert_eq!(
            parse_window("90"),
            Ok(Window::Last(Duration::from_secs(90)))
        );
        assert!(parse_window("0s").is_err());
        assert!(parse_window("soon").is_err());
        assert!(parse_window("5 parsecs").is_err());
    }
}
