//! One side of a call as the pairing store keeps it: the few facts of a span an edge needs,
//! copied out of the batch (all interned, so a half is plain data).

use meshlens_collector::Sym;
use meshlens_collector::span::{
    AuthzDenial, Destination, DryRunVerdicts, Failure, PeerAddress, Principal, Protocol, ProxyKind,
    Span, SpanKind, TraceId, Workload,
};

use crate::graph::NodeRef;
use crate::metrics::Outcome;
use crate::paths::PathId;
use crate::snapshot::NodeKind;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Half {
    pub trace_id: TraceId,
    pub kind: SpanKind,
    /// The span had a parent: an unpaired SERVER with one was called by someone unseen, one
    /// without was called from outside.
    pub has_parent: bool,
    pub workload: Workload,
    pub destination: Destination,
    pub peer: Option<PeerAddress>,
    pub protocol: Protocol,
    pub method: Option<Sym>,
    pub path: Option<PathId>,
    pub host: Option<Sym>,
    pub status_code: Option<u16>,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub failure: Option<Failure>,
    pub weight: f64,
    pub estimated: bool,
    /// What the policy checks read: the caller's mTLS identity (on SERVER halves), the
    /// proxy's RBAC verdict and Istio's dry-run verdicts.
    pub principal: Option<Principal>,
    pub authz_denial: AuthzDenial,
    pub dry_run: DryRunVerdicts,
}

impl Half {
    pub fn new(span: &Span, path: Option<PathId>) -> Self {
        let (weight, estimated) = sampling_weight(span);
        Self {
            trace_id: span.trace_id,
            kind: span.kind,
            has_parent: span.parent_span_id.is_some(),
            workload: span.workload,
            destination: span.destination,
            peer: span.peer,
            protocol: span.protocol,
            method: span.method,
            path,
            host: span.host,
            status_code: span.status_code,
            start_unix_nanos: span.start_unix_nanos,
            duration_nanos: span.duration_nanos,
            failure: span.failure,
            weight,
            estimated,
            principal: span.principal,
            authz_denial: span.authz_denial,
            dry_run: span.dry_run,
        }
    }

    /// When the call ended, in unix milliseconds: the time a request is counted at.
    pub fn end_ms(&self) -> u64 {
        self.start_unix_nanos.saturating_add(self.duration_nanos) / 1_000_000
    }

    pub fn start_ms(&self) -> u64 {
        self.start_unix_nanos / 1_000_000
    }

    pub fn duration_ms(&self) -> f64 {
        self.duration_nanos as f64 / 1e6
    }

    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.failure)
    }

    /// The emitting workload as a graph node.
    pub fn node(&self) -> NodeRef {
        NodeRef {
            id: self.workload.node,
            service: self.workload.service,
            namespace: self.workload.namespace,
            kind: NodeKind::Service,
            version: self.workload.version,
        }
    }

    pub fn is_gateway(&self) -> bool {
        self.workload.proxy == ProxyKind::Gateway
    }
}

/// How many requests a span stands for, and whether that is an estimate. The count comes
/// from outside (a tracestate threshold, a multiplier attribute), so anything that is not a
/// finite positive number counts once, exactly.
pub fn sampling_weight(span: &Span) -> (f64, bool) {
    if span.adjusted_count.is_finite() && span.adjusted_count > 0.0 {
        (span.adjusted_count, span.estimated)
    } else {
        (1.0, false)
    }
}
