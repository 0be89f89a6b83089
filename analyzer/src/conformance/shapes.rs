//! Requests grouped into distinct shapes (edge, caller identity, port, method, path template,
//! host, dry-run verdicts) with counts: a million spans become thousands of policy
//! evaluations. The store is capped; shapes past the cap are counted, never kept.

use std::collections::HashMap;
use std::net::IpAddr;

use meshlens_collector::Sym;
use meshlens_collector::span::{
    AuthzDenial, DryRunVerdicts, PrincipalSource, Protocol, SpanKind, TraceId,
};

use crate::graph::{NodeRef, TRACE_IDS_PER_EDGE};
use crate::metrics::Outcome;
use crate::observe::{RequestObserver, Resolved};
use crate::paths::PathId;
use crate::snapshot::NodeKind;

/// Distinct shapes kept by default.
pub const DEFAULT_MAX_SHAPES: usize = 100_000;

/// What makes two requests the same question for the policy engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShapeKey {
    pub source: Sym,
    pub source_version: Option<Sym>,
    pub target: Sym,
    pub target_version: Option<Sym>,
    pub protocol: Protocol,
    /// The caller's principal as the callee's proxy saw it (a span attribute).
    pub principal: Option<Sym>,
    /// The downstream address the callee's proxy saw.
    pub source_ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub method: Option<Sym>,
    pub path: Option<PathId>,
    pub host: Option<Sym>,
    pub dry_run: DryRunVerdicts,
}

/// A shape and what was observed of it.
#[derive(Debug, Clone)]
pub struct Shape {
    pub key: ShapeKey,
    pub source: NodeRef,
    pub target: NodeRef,
    pub principal_source: Option<PrincipalSource>,
    /// Requests (scaled by sampling).
    pub requests: f64,
    /// Requests the proxies denied (403 RBAC).
    pub denied: f64,
    /// At least one denial was confirmed by Envoy's response-code details (not only a 403).
    pub denial_confirmed: bool,
    /// Requests that went through (neither denied nor failed before reaching the app).
    pub allowed: f64,
    /// The callee's side was seen (its proxy reported): only then can a span say the call
    /// was allowed or denied by the callee's policies.
    pub server_seen: bool,
    pub first_ms: u64,
    pub last_ms: u64,
    /// A few trace ids, most recent last.
    pub trace_ids: Vec<TraceId>,
}

/// A [`RequestObserver`] that folds requests into shapes.
#[derive(Debug)]
pub struct ShapeLog {
    shapes: HashMap<ShapeKey, Shape, ahash::RandomState>,
    max_shapes: usize,
    /// Requests whose shape was new when the log was full.
    pub overflow: u64,
}

impl Default for ShapeLog {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SHAPES)
    }
}

impl ShapeLog {
    pub fn new(max_shapes: usize) -> Self {
        Self {
            shapes: HashMap::default(),
            max_shapes,
            overflow: 0,
        }
    }

    pub fn shapes(&self) -> impl Iterator<Item = &Shape> {
        self.shapes.values()
    }

    pub fn len(&self) -> usize {
        self.shapes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// Forgets shapes last seen before `before_ms`: the live log holds recent traffic only.
    pub fn forget_before(&mut self, before_ms: u64) {
        self.shapes.retain(|_, shape| shape.last_ms >= before_ms);
    }
}

impl RequestObserver for ShapeLog {
    fn observe(&mut self, r: &Resolved<'_>) {
        // Only workloads with a proxy enforce policies; calls to virtual nodes, databases
        // and `user` are no policy's subject.
        if r.target.kind != NodeKind::Service {
            return;
        }
        // Identity, verdicts and the downstream address are what the callee's proxy saw.
        let server = r.server.filter(|s| s.kind != SpanKind::Client);
        let request = r.request;
        let key = ShapeKey {
            source: r.source.id,
            source_version: r.source.version,
            target: r.target.id,
            target_version: r.target.version,
            protocol: r.protocol,
            principal: server.and_then(|s| s.principal).map(|p| p.name),
            source_ip: server.and_then(|s| s.peer).map(|p| p.ip),
            port: server.and_then(|s| s.destination.port).or(request.port),
            method: request.method,
            path: request.path,
            host: r
                .client
                .and_then(|c| c.host)
                .or(server.and_then(|s| s.host)),
            dry_run: server.map(|s| s.dry_run).unwrap_or_default(),
        };
        let full = self.shapes.len() >= self.max_shapes;
        let shape = match self.shapes.get_mut(&key) {
            Some(shape) => shape,
            None if full => {
                self.overflow += 1;
                return;
            }
            None => self.shapes.entry(key).or_insert_with(|| Shape {
                key,
                source: *r.source,
                target: *r.target,
                principal_source: server.and_then(|s| s.principal).map(|p| p.source),
                requests: 0.0,
                denied: 0.0,
                denial_confirmed: false,
                allowed: 0.0,
                server_seen: false,
                first_ms: request.at_ms,
                last_ms: request.at_ms,
                trace_ids: Vec::new(),
            }),
        };
        let o = &request.observation;
        shape.requests += o.weight;
        shape.server_seen |= server.is_some();
        match o.outcome {
            Outcome::AuthzDenied => {
                shape.denied += o.weight;
                shape.denial_confirmed |=
                    server.is_some_and(|s| s.authz_denial == AuthzDenial::Confirmed);
            }
            // A failure only the caller saw (a reset, no healthy upstream) may never have
            // reached the callee's proxy: it says nothing about the callee's policies.
            Outcome::Error if server.is_none() => {}
            // An answer from the app (a 4xx or 5xx included) means the proxy let it through.
            Outcome::Ok | Outcome::ClientError | Outcome::Error => shape.allowed += o.weight,
        }
        shape.first_ms = shape.first_ms.min(request.at_ms);
        shape.last_ms = shape.last_ms.max(request.at_ms);
        if !shape.trace_ids.contains(&request.trace_id) {
            if shape.trace_ids.len() >= TRACE_IDS_PER_EDGE {
                shape.trace_ids.remove(0);
            }
            shape.trace_ids.push(request.trace_id);
        }
    }
}
