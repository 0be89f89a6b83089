//! The API listener: `/metrics` (Prometheus text), `/healthz`, plus routes other crates add
//! (the analyzer's graph, the summary of what normalisation found).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use prometheus_client::registry::Registry;

use super::auth::{self, BearerToken};
use super::http as receivers;
use super::metrics::IngestMetrics;
use crate::summary::Summary;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `token`: every route but `GET /healthz` (Kubernetes probes carry no secret) requires it.
pub(super) fn router(
    registry: Arc<Registry>,
    extra: Router,
    token: Option<BearerToken>,
    ingest_metrics: Arc<IngestMetrics>,
) -> Router {
    let guarded = Router::new()
        .route("/metrics", get(metrics))
        .with_state(registry)
        .merge(extra);
    let guarded = match token {
        None => guarded,
        Some(token) => auth::require(guarded, token, move |_: &HeaderMap| {
            ingest_metrics.api_unauthenticated.inc();
            receivers::challenge(receivers::text(
                StatusCode::UNAUTHORIZED,
                receivers::UNAUTHENTICATED_MESSAGE.to_owned(),
            ))
        }),
    };
    // Merged after the guard: its layer does not cover this route.
    guarded.route("/healthz", get(healthz))
}

async fn metrics(State(registry): State<Arc<Registry>>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => ([(CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /api/v1/summary`: what normalisation made of everything received so far.
pub(super) fn summary_router(summary: Arc<Mutex<Summary>>) -> Router {
    Router::new()
        .route("/api/v1/summary", get(summary_report))
        .with_state(summary)
}

async fn summary_report(State(summary): State<Arc<Mutex<Summary>>>) -> Response {
    let report = match summary.lock() {
        Ok(summary) => summary.report(),
        Err(poisoned) => poisoned.into_inner().report(),
    };
    match serde_json::to_vec(&report) {
        Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}
