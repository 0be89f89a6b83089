//! What normalisation made of a set of spans, per workload and per outgoing call: the quick
//! way for a user to see that their proxies' spans are understood (`meshlens inspect`, and
//! `GET /api/v1/summary` on a running `serve`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::intern::{Interner, Sym};
use crate::span::{AuthzDenial, Protocol, ProxyKind, Span, SpanKind};

/// Accumulates spans; cheap per span, bounded by workloads × destinations.
#[derive(Debug)]
pub struct Summary {
    interner: Interner,
    spans: u64,
    workloads: BTreeMap<Sym, WorkloadStats>,
    calls: BTreeMap<(Sym, Sym), CallStats>,
    /// `(service, namespace)` → the node name `service.namespace`, built once.
    node_names: HashMap<(Sym, Sym), Sym>,
}

#[derive(Debug, Default)]
struct WorkloadStats {
    service: Option<Sym>,
    namespace: Option<Sym>,
    versions: BTreeSet<Sym>,
    proxies: BTreeSet<ProxyKind>,
    protocols: BTreeSet<Protocol>,
    spans: u64,
    client: u64,
    server: u64,
    failed: u64,
    authz_denied: u64,
    with_peer_address: u64,
    with_principal: u64,
    with_dry_run: u64,
}

#[derive(Debug, Default)]
struct CallStats {
    ports: BTreeSet<u16>,
    protocols: BTreeSet<Protocol>,
    spans: u64,
    failed: u64,
}

/// The serialisable view of a [`Summary`]; field names are part of the JSON interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryReport {
    pub spans: u64,
    pub workloads: Vec<WorkloadReport>,
    pub calls: Vec<CallReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadReport {
    pub node: String,
    pub service: String,
    pub namespace: Option<String>,
    pub versions: Vec<String>,
    pub proxies: Vec<&'static str>,
    pub protocols: Vec<&'static str>,
    pub spans: u64,
    pub client_spans: u64,
    pub server_spans: u64,
    pub failed_spans: u64,
    pub authz_denied_spans: u64,
    pub spans_with_peer_address: u64,
    pub spans_with_principal: u64,
    pub spans_with_dry_run_verdict: u64,
}

/// An outgoing call as the caller's CLIENT (or PRODUCER) spans describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallReport {
    pub source: String,
    pub destination: String,
    pub ports: Vec<u16>,
    pub protocols: Vec<&'static str>,
    pub spans: u64,
    pub failed_spans: u64,
}

impl Summary {
    pub fn new(interner: Interner) -> Self {
        Self {
            interner,
            spans: 0,
            workloads: BTreeMap::new(),
            calls: BTreeMap::new(),
            node_names: HashMap::new(),
        }
    }

    pub fn add(&mut self, spans: &[Span]) {
        for span in spans {
            self.add_one(span);
        }
    }

    fn add_one(&mut self, span: &Span) {
        self.spans += 1;
        let workload = &span.workload;
        let stats = self.workloads.entry(workload.node).or_default();
        stats.service = Some(workload.service);
        stats.namespace = stats.namespace.or(workload.namespace);
        stats.versions.extend(workload.version);
        stats.proxies.insert(workload.proxy);
        if span.protocol != Protocol::Unknown {
            stats.protocols.insert(span.protocol);
        }
        stats.spans += 1;
        match span.kind {
            SpanKind::Client | SpanKind::Producer => stats.client += 1,
            SpanKind::Server | SpanKind::Consumer => stats.server += 1,
            _ => {}
        }
        let failed = span.failure.is_some();
        stats.failed += u64::from(failed);
        stats.authz_denied += u64::from(span.authz_denial != AuthzDenial::None);
        stats.with_peer_address += u64::from(span.peer.is_some());
        stats.with_principal += u64::from(span.principal.is_some());
        stats.with_dry_run += u64::from(!span.dry_run.is_empty());

        if matches!(span.kind, SpanKind::Client | SpanKind::Producer)
            && let Some(destination) = self.destination_name(span)
        {
            let call = self.calls.entry((workload.node, destination)).or_default();
            call.ports.extend(span.destination.port);
            if span.protocol != Protocol::Unknown {
                call.protocols.insert(span.protocol);
            }
            call.spans += 1;
            call.failed += u64::from(failed);
        }
    }

    /// The callee as a node name (`reviews.bookinfo`) when the destination is a cluster
    /// service, else the most specific name the span gives.
    fn destination_name(&mut self, span: &Span) -> Option<Sym> {
        let d = &span.destination;
        match (d.service, d.namespace) {
            (Some(service), Some(namespace)) => {
                let interner = &self.interner;
                let name = self
                    .node_names
                    .entry((service, namespace))
                    .or_insert_with(|| {
                        let name = format!(
                            "{}.{}",
                            interner.resolve(service),
                            interner.resolve(namespace)
                        );
                        interner.intern(&name)
                    });
                Some(*name)
            }
            _ => d
                .peer_service
                .or(d.service)
                .or(d.host)
                .or(d.db_name)
                .or(d.db_system)
                .or(d.messaging_system),
        }
    }

    pub fn report(&self) -> SummaryReport {
        let text = |sym: Sym| self.interner.resolve(sym).to_owned();
        let workloads = self
            .workloads
            .iter()
            .map(|(&node, s)| WorkloadReport {
                node: text(node),
                service: s.service.map(text).unwrap_or_default(),
                namespace: s.namespace.map(text),
                versions: sorted(s.versions.iter().map(|&v| text(v))),
                proxies: s.proxies.iter().map(|p| p.as_str()).collect(),
                protocols: s.protocols.iter().map(|p| p.as_str()).collect(),
                spans: s.spans,
                client_spans: s.client,
                server_spans: s.server,
                failed_spans: s.failed,
                authz_denied_spans: s.authz_denied,
                spans_with_peer_address: s.with_peer_address,
                spans_with_principal: s.with_principal,
                spans_with_dry_run_verdict: s.with_dry_run,
            })
            .collect();
        let calls = self
            .calls
            .iter()
            .map(|(&(source, destination), c)| CallReport {
                source: text(source),
                destination: text(destination),
                ports: c.ports.iter().copied().collect(),
                protocols: c.protocols.iter().map(|p| p.as_str()).collect(),
                spans: c.spans,
                failed_spans: c.failed,
            })
            .collect();
        let mut report = SummaryReport {
            spans: self.spans,
            workloads,
            calls,
        };
        // Symbols are ordered by first sight; users read names.
        report.workloads.sort_by(|a, b| a.node.cmp(&b.node));
        report
            .calls
            .sort_by(|a, b| (&a.source, &a.destination).cmp(&(&b.source, &b.destination)));
        report
    }
}

fn sorted(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.collect();
    items.sort();
    items
}
