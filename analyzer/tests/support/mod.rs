//! Helpers the analyzer's test files share: reference traces read and normalised, scripted
//! spans, lookups in snapshots.
#![allow(dead_code)]

use std::path::Path;

use meshlens_analyzer::snapshot::{EdgeSnapshot, GraphSnapshot, NodeKind};
use meshlens_analyzer::{Analyzer, AnalyzerConfig};
use meshlens_collector::Interner;
use meshlens_collector::formats::source::read_trace_file;
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::span::{
    AuthzDenial, Destination, DryRunVerdicts, Protocol, ProxyKind, Span, SpanKind, Workload,
};

pub fn read(file: &str) -> (Interner, Vec<Span>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/traces")
        .join(file);
    let trace = read_trace_file(&path).unwrap();
    let interner = Interner::new();
    let normalizer = Normalizer::new(interner.clone());
    let mut spans = Vec::new();
    for request in &trace.requests {
        let rejected = normalizer.normalize_request(request, &mut spans);
        assert!(rejected.is_empty(), "{file}: {rejected:?}");
    }
    (interner, spans)
}

pub fn edge<'a>(snapshot: &'a GraphSnapshot, source: &str, target: &str) -> &'a EdgeSnapshot {
    snapshot
        .edges
        .iter()
        .find(|e| e.source == source && e.target == target)
        .unwrap_or_else(|| panic!("no edge {source} -> {target} in {:#?}", pairs(snapshot)))
}

pub fn pairs(snapshot: &GraphSnapshot) -> Vec<(String, String)> {
    snapshot
        .edges
        .iter()
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect()
}

pub fn near(actual: f64, expected: f64) -> bool {
    // DDSketch at 2% relative accuracy.
    (actual - expected).abs() <= expected * 0.021
}

/// On the 1 min grid, so window boundaries fall where the tests say.
pub const T0_MS: u64 = 1_700_000_040_000;
pub const NS: &str = "bookinfo";

/// Scripted spans: one trace id per test call, readable span ids.
pub struct Mk {
    pub interner: Interner,
}

impl Mk {
    pub fn new() -> Self {
        Self {
            interner: Interner::new(),
        }
    }

    pub fn workload(&self, service: &str) -> Workload {
        let i = &self.interner;
        Workload {
            node: i.intern(&format!("{service}.{NS}")),
            service: i.intern(service),
            namespace: Some(i.intern(NS)),
            version: Some(i.intern("v1")),
            pod: None,
            proxy: ProxyKind::Sidecar,
        }
    }

    /// A span of `service`; a CLIENT calls `dest` (cluster-local) when given.
    #[allow(clippy::too_many_arguments)]
    pub fn span(
        &self,
        kind: SpanKind,
        trace: u8,
        id: u8,
        parent: Option<u8>,
        service: &str,
        dest: Option<&str>,
        start_ms: u64,
        duration_ms: u64,
    ) -> Span {
        let i = &self.interner;
        let mut trace_id = [0u8; 16];
        trace_id[15] = trace;
        trace_id[0] = 0xab;
        let destination = match dest {
            Some(d) => Destination {
                host: Some(i.intern(&format!("{d}.{NS}.svc.cluster.local"))),
                port: Some(9080),
                service: Some(i.intern(d)),
                namespace: Some(i.intern(NS)),
                ..Destination::default()
            },
            None => Destination {
                port: Some(9080),
                inbound: true,
                ..Destination::default()
            },
        };
        Span {
            trace_id,
            span_id: [0, 0, 0, 0, 0, 0, trace, id],
            parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, trace, p]),
            kind,
            name: i.intern("call"),
            start_unix_nanos: (T0_MS + start_ms) * 1_000_000,
            duration_nanos: duration_ms * 1_000_000,
            workload: self.workload(service),
            destination,
            protocol: Protocol::Http,
            method: Some(i.intern("GET")),
            path: Some(format!("/{}/{id}", dest.unwrap_or(service)).into()),
            host: None,
            status_code: Some(200),
            grpc_status: None,
            response_flags: None,
            failure: None,
            authz_denial: AuthzDenial::None,
            peer: None,
            principal: None,
            dry_run: DryRunVerdicts::default(),
            shared: false,
            adjusted_count: 1.0,
            estimated: false,
        }
    }

    /// CLIENT `caller` → `callee` and the callee's SERVER span, in one trace.
    pub fn call(&self, trace: u8, caller: &str, callee: &str, at_ms: u64) -> [Span; 2] {
        [
            self.span(
                SpanKind::Client,
                trace,
                1,
                None,
                caller,
                Some(callee),
                at_ms,
                10,
            ),
            self.span(
                SpanKind::Server,
                trace,
                2,
                Some(1),
                callee,
                None,
                at_ms + 1,
                8,
            ),
        ]
    }

    pub fn analyzer(&self, config: AnalyzerConfig) -> Analyzer {
        Analyzer::new(self.interner.clone(), config)
    }
}

pub fn node_kind(snapshot: &GraphSnapshot, id: &str) -> NodeKind {
    snapshot
        .nodes
        .iter()
        .find(|n| n.id == id)
        .unwrap_or_else(|| panic!("no node {id}"))
        .kind
}
