//! The request table: one row per request the engine recorded, with the edge it went to.

use meshlens_collector::span::{Protocol, TraceId};
use polars::prelude::DataFrame;

use super::BatchError;
use super::columns::column;
use crate::engine::Analyzer;
use crate::graph::{How, NodeRef};
use crate::metrics::Outcome;
use crate::observe::{RequestObserver, Resolved};
use crate::paths::PathId;

/// What the request table keeps of a request (ids, resolved when the table is built).
#[derive(Debug, Clone, Copy)]
pub struct RecordedRequest {
    pub source: NodeRef,
    pub target: NodeRef,
    pub protocol: Protocol,
    pub at_ms: u64,
    pub weight: f64,
    pub estimated: bool,
    pub outcome: Outcome,
    pub client_ms: Option<f64>,
    pub server_ms: Option<f64>,
    pub port: Option<u16>,
    pub method: Option<meshlens_collector::Sym>,
    pub path: Option<PathId>,
    pub trace_id: TraceId,
    pub how: How,
}

/// An observer that keeps every request: for batch input, whose size the caller chose.
#[derive(Debug, Default)]
pub struct RequestLog {
    pub requests: Vec<RecordedRequest>,
}

impl RequestObserver for RequestLog {
    fn observe(&mut self, r: &Resolved<'_>) {
        let o = &r.request.observation;
        self.requests.push(RecordedRequest {
            source: *r.source,
            target: *r.target,
            protocol: r.protocol,
            at_ms: r.request.at_ms,
            weight: o.weight,
            estimated: o.estimated,
            outcome: o.outcome,
            client_ms: o.client_ms,
            server_ms: o.server_ms,
            port: r.request.port,
            method: r.request.method,
            path: r.request.path,
            trace_id: r.request.trace_id,
            how: r.request.how,
        });
    }
}

pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Error => "error",
        Outcome::ClientError => "client_error",
        Outcome::AuthzDenied => "authz_denied",
    }
}

fn how_name(how: How) -> &'static str {
    match how {
        How::Paired => "paired",
        How::ClientOnly => "client_only",
        How::ServerOnly => "server_only",
    }
}

/// The log as a DataFrame: `source`, `target`, `protocol`, `how`, `at_unix_ms`, `weight`,
/// `estimated`, `outcome` (ok / error / client_error / authz_denied), `client_ms`,
/// `server_ms`, `port`, `method`, `path` (template), `trace_id` (hex).
pub fn request_table(log: &RequestLog, analyzer: &Analyzer) -> Result<DataFrame, BatchError> {
    let rows = &log.requests;
    let name = |sym| analyzer.interner().resolve(sym);
    let columns = vec![
        column("source", rows, |r| name(r.source.id)),
        column("target", rows, |r| name(r.target.id)),
        column("protocol", rows, |r| r.protocol.as_str()),
        column("how", rows, |r| how_name(r.how)),
        column("at_unix_ms", rows, |r| r.at_ms),
        column("weight", rows, |r| r.weight),
        column("estimated", rows, |r| r.estimated),
        column("outcome", rows, |r| outcome_name(r.outcome)),
        column("client_ms", rows, |r| r.client_ms),
        column("server_ms", rows, |r| r.server_ms),
        column("port", rows, |r| r.port.map(u32::from)),
        column("method", rows, |r| r.method.map(name)),
        column("path", rows, |r| r.path.map(|p| analyzer.path(p))),
        column("trace_id", rows, |r| hex::encode(r.trace_id)),
    ];
    DataFrame::new(rows.len(), columns).map_err(BatchError::polars("request"))
}
