//! The live engine: spans in, pairs made, edges and their RED data updated; halves that never
//! meet expire into edges to virtual nodes. Time is always passed in (`now`, unix ms): nothing
//! here reads a clock, so tests and offline input drive time themselves.

use meshlens_collector::span::{Protocol, Span, SpanId, SpanKind, Workload};
use meshlens_collector::{Interner, Sym};

use crate::config::AnalyzerConfig;
use crate::graph::{Caps, How, NodeRef, Request, ServiceGraph};
use crate::half::Half;
use crate::metrics::Observation;
use crate::naming;
use crate::observe::{RequestObserver, Resolved};
use crate::pairing::{Expired, Offer, PairingStore, Waiting};
use crate::paths::PathTable;
use crate::recent::RecentServers;
use crate::snapshot::{NodeKind, PairingStats};
use crate::window::{Bucket, Ring};

/// Pairing counters by time, so a snapshot can tell how pairing went over its window.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PairingBucket {
    pub paired: u64,
    pub expired_client: u64,
    pub expired_server: u64,
    pub dropped_store_full: u64,
    pub unpairable: u64,
}

impl Bucket for PairingBucket {
    fn merge_from(&mut self, o: &Self) {
        self.paired += o.paired;
        self.expired_client += o.expired_client;
        self.expired_server += o.expired_server;
        self.dropped_store_full += o.dropped_store_full;
        self.unpairable += o.unpairable;
    }
}

/// Whole-run counters beyond [`PairingStats`]: the shapes the connector's keying alone misses,
/// and what the graph's caps turned away.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Spans handed to the analyzer: with the collector's accepted count, shows that nothing
    /// acknowledged went missing on the way.
    pub spans: u64,
    /// SERVER/CONSUMER roots recorded right away as `user → service` (not pairing halves).
    pub root_servers: u64,
    /// Gateway CLIENT roots (Istio ingress): also recorded as `user → gateway`.
    pub gateway_roots: u64,
    /// SERVER spans whose parent was another workload's SERVER span (counted in `paired`).
    pub server_to_server: u64,
    /// SERVER spans whose parent was a SERVER span of the same workload (an app's span under
    /// its sidecar's): no edge of their own (counted in `unpairable`).
    pub nested_servers: u64,
    /// Halves whose key was taken by a half of the same side (counted in `unpairable`).
    pub duplicates: u64,
    /// Requests not recorded: the node cap was reached.
    pub dropped_node_cap: u64,
    /// Requests not recorded: the edge cap was reached.
    pub dropped_edge_cap: u64,
    /// Paths whose template was not kept: the template table was full.
    pub path_templates_overflow: u64,
}

/// The analyzer: pairing store, graph and windowed metrics. Single-threaded by design (one
/// owner ingests batches); readers take [`Analyzer::snapshot`]s.
#[derive(Debug)]
pub struct Analyzer {
    pub(crate) interner: Interner,
    config: AnalyzerConfig,
    store: PairingStore,
    recent: RecentServers,
    pub(crate) graph: ServiceGraph,
    pub(crate) paths: PathTable,
    pub(crate) pairing: Ring<PairingBucket>,
    counters: Counters,
    user: NodeRef,
    unknown: NodeRef,
    /// Start of the earliest span seen: the whole run's rates divide by the time since.
    pub(crate) run_start_ms: Option<u64>,
    observer: Option<Box<dyn RequestObserver>>,
}

impl Analyzer {
    pub fn new(interner: Interner, config: AnalyzerConfig) -> Self {
        let ttl = config.pair_ttl_ms();
        let user = naming::named(&interner, naming::USER, NodeKind::User);
        let unknown = naming::named(&interner, naming::UNKNOWN, NodeKind::Virtual);
        Self {
            store: PairingStore::new(ttl, config.max_items),
            recent: RecentServers::new(config.recent_servers, ttl),
            graph: ServiceGraph::new(Caps {
                max_nodes: config.max_nodes,
                max_edges: config.max_edges,
                max_paths_per_edge: config.max_paths_per_edge,
            }),
            paths: PathTable::new(config.max_path_templates),
            pairing: Ring::default(),
            counters: Counters::default(),
            user,
            unknown,
            run_start_ms: None,
            observer: None,
            interner,
            config,
        }
    }

    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// The graph, for readers that want more than a snapshot (graph algorithms).
    pub fn graph(&self) -> &ServiceGraph {
        &self.graph
    }

    /// Shows `observer` every request recorded from now on (replacing any observer before).
    pub fn set_observer(&mut self, observer: Box<dyn RequestObserver>) {
        self.observer = Some(observer);
    }

    /// The observer, if it is a `T`.
    pub fn observer<T: RequestObserver>(&self) -> Option<&T> {
        let observer: &dyn std::any::Any = self.observer.as_deref()?;
        observer.downcast_ref()
    }

    pub fn observer_mut<T: RequestObserver>(&mut self) -> Option<&mut T> {
        let observer: &mut dyn std::any::Any = self.observer.as_deref_mut()?;
        observer.downcast_mut()
    }

    /// The observer back, to read what it gathered: `None` when there is none or it is not
    /// a `T` (then it stays).
    pub fn take_observer<T: RequestObserver>(&mut self) -> Option<T> {
        self.observer::<T>()?;
        let observer: Box<dyn std::any::Any> = self.observer.take()?;
        observer.downcast::<T>().ok().map(|observer| *observer)
    }

    /// A path template by id (request observers keep ids, not strings).
    pub fn path(&self, id: crate::paths::PathId) -> &str {
        self.paths.resolve(id)
    }

    /// The first concrete path seen with a template (to check policies with a real path).
    pub fn path_example(&self, id: crate::paths::PathId) -> &str {
        self.paths.example(id)
    }

    /// Pairs and aggregates a batch received at `now_ms`, then expires halves whose TTL passed.
    pub fn ingest(&mut self, spans: &[Span], now_ms: u64) {
        for span in spans {
            self.ingest_span(span, now_ms);
        }
        self.tick(now_ms);
    }

    /// Expires halves that waited past the TTL into edges to virtual / `unknown` nodes.
    pub fn tick(&mut self, now_ms: u64) {
        let mut expired = Vec::new();
        self.store.expire(now_ms, |w| expired.push(w));
        for waiting in expired {
            self.expire(waiting, now_ms);
        }
    }

    /// Expires every waiting half now, whatever its age (end of input, shutdown).
    pub fn flush(&mut self, now_ms: u64) {
        let mut expired = Vec::new();
        self.store.drain(|w| expired.push(w));
        for waiting in expired {
            self.expire(waiting, now_ms);
        }
    }

    /// Pairing counters over the whole run.
    pub fn stats(&self) -> PairingStats {
        self.pairing_stats(&self.pairing.whole())
    }

    pub(crate) fn pairing_stats(&self, b: &PairingBucket) -> PairingStats {
        PairingStats {
            paired: b.paired,
            expired_client: b.expired_client,
            expired_server: b.expired_server,
            dropped_store_full: b.dropped_store_full,
            unpairable: b.unpairable,
            pending: self.store.len() as u64,
        }
    }

    /// Whole-run counters beyond [`PairingStats`].
    pub fn counters(&self) -> Counters {
        let dropped = self.graph.dropped();
        Counters {
            dropped_node_cap: dropped.node_cap,
            dropped_edge_cap: dropped.edge_cap,
            path_templates_overflow: self.paths.overflow(),
            ..self.counters
        }
    }

    /// One span: the hot path.
    pub fn ingest_span(&mut self, span: &Span, now_ms: u64) {
        self.counters.spans += 1;
        let start_ms = span.start_unix_nanos / 1_000_000;
        self.run_start_ms = Some(self.run_start_ms.map_or(start_ms, |s| s.min(start_ms)));
        match span.kind {
            SpanKind::Client | SpanKind::Producer => self.on_client(span, now_ms),
            SpanKind::Server | SpanKind::Consumer => self.on_server(span, now_ms),
            SpanKind::Internal | SpanKind::Unspecified => self.count(now_ms, |b| b.unpairable += 1),
        }
    }

    fn half(&mut self, span: &Span) -> Half {
        let path = span.path.as_deref().and_then(|p| self.paths.intern(p));
        Half::new(span, path)
    }

    fn count(&mut self, now_ms: u64, add: impl FnMut(&mut PairingBucket)) {
        self.pairing.record(now_ms, add);
    }

    fn on_client(&mut self, span: &Span, now_ms: u64) {
        let half = self.half(span);
        if span.parent_span_id.is_none() && half.is_gateway() {
            // An ingress gateway's CLIENT root (older Envoy): the gateway was called from
            // outside, and this span is all that says so.
            self.counters.gateway_roots += 1;
            let user = self.user;
            self.record_one_sided(user, half.node(), &half, How::ServerOnly, now_ms);
        }
        match self
            .store
            .offer((span.trace_id, span.span_id), Waiting::Client(half), now_ms)
        {
            Offer::Met(Waiting::Server(server), more) => {
                self.pair(&half, &server, now_ms);
                // Other consumer groups of the same message.
                for consumer in more {
                    self.pair(&half, &consumer, now_ms);
                }
            }
            Offer::Met(Waiting::Client(_), _) | Offer::Duplicate => self.duplicate(now_ms),
            Offer::Stored => {}
            Offer::Full => self.count(now_ms, |b| b.dropped_store_full += 1),
        }
    }

    fn on_server(&mut self, span: &Span, now_ms: u64) {
        let half = self.half(span);
        let plain_server = span.kind == SpanKind::Server && !span.shared;
        // A Zipkin shared SERVER span carries its client's span id.
        let key_id = if span.shared {
            Some(span.span_id)
        } else {
            span.parent_span_id
        };
        match key_id {
            None => self.root(&half, now_ms),
            Some(key_id) => {
                let parent = if plain_server {
                    self.recent.get(&span.trace_id, &key_id, now_ms)
                } else {
                    None
                };
                match parent {
                    Some(parent) => self.server_to_server(parent, &half, now_ms),
                    None => self.offer_server(span, key_id, half, now_ms),
                }
            }
        }
        if plain_server {
            // Remembered for children that arrive later; children that came first (they end,
            // and are exported, before their parents) wait in the store under this span's id.
            self.recent
                .remember(span.trace_id, span.span_id, span.workload, now_ms);
            for child in self.store.take_servers(&(span.trace_id, span.span_id)) {
                self.server_to_server(span.workload, &child, now_ms);
            }
        }
    }

    fn offer_server(&mut self, span: &Span, key_id: SpanId, half: Half, now_ms: u64) {
        match self
            .store
            .offer((span.trace_id, key_id), Waiting::Server(half), now_ms)
        {
            Offer::Met(Waiting::Client(client), _) => self.pair(&client, &half, now_ms),
            Offer::Met(Waiting::Server(_), _) | Offer::Duplicate => self.duplicate(now_ms),
            Offer::Stored => {}
            Offer::Full => self.count(now_ms, |b| b.dropped_store_full += 1),
        }
    }

    fn duplicate(&mut self, now_ms: u64) {
        self.counters.duplicates += 1;
        self.count(now_ms, |b| b.unpairable += 1);
    }

    /// A root SERVER: called from outside the mesh. A root CONSUMER read from a broker whose
    /// producer was not traced: the broker is its caller when the span names it.
    fn root(&mut self, half: &Half, now_ms: u64) {
        self.counters.root_servers += 1;
        let from_broker = half.kind == SpanKind::Consumer
            && (half.protocol == Protocol::Messaging
                || half.destination.messaging_system.is_some());
        let caller = if from_broker {
            naming::destination(&self.interner, half)
        } else {
            self.user
        };
        self.record_one_sided(caller, half.node(), half, How::ServerOnly, now_ms);
    }

    /// A SERVER span under another SERVER span: the parent's workload called the child's.
    fn server_to_server(&mut self, parent: Workload, child: &Half, now_ms: u64) {
        if parent.node == child.workload.node {
            self.counters.nested_servers += 1;
            self.count(now_ms, |b| b.unpairable += 1);
            return;
        }
        self.counters.server_to_server += 1;
        self.count(now_ms, |b| b.paired += 1);
        let source = NodeRef {
            id: parent.node,
            service: parent.service,
            namespace: parent.namespace,
            kind: NodeKind::Service,
            version: parent.version,
        };
        self.record_one_sided(source, child.node(), child, How::Paired, now_ms);
    }

    fn pair(&mut self, client: &Half, server: &Half, now_ms: u64) {
        self.count(now_ms, |b| b.paired += 1);
        let protocol = if client.protocol == Protocol::Unknown {
            server.protocol
        } else {
            client.protocol
        };
        // Sampling follows the trace, so both sides normally agree; an estimate on either
        // side makes the request one.
        let sampled = if client.estimated || !server.estimated {
            client
        } else {
            server
        };
        let request = Request {
            at_ms: count_at(client.end_ms(), now_ms),
            observation: Observation {
                weight: sampled.weight,
                estimated: sampled.estimated,
                outcome: client.outcome().combine(server.outcome()),
                client_ms: Some(client.duration_ms()),
                server_ms: Some(server.duration_ms()),
            },
            port: client.destination.port.or(server.destination.port),
            method: client.method.or(server.method),
            path: client.path.or(server.path),
            trace_id: client.trace_id,
            how: How::Paired,
        };
        let resolved = Resolved {
            source: &client.node(),
            target: &server.node(),
            protocol,
            request: &request,
            client: Some(client),
            server: Some(server),
        };
        self.record(&resolved);
    }

    /// Every request goes to the graph through here, and on to the observer when the graph
    /// kept it (so observers and the graph count the same requests).
    fn record(&mut self, resolved: &Resolved<'_>) {
        let recorded = self.graph.record(
            resolved.source,
            resolved.target,
            resolved.protocol,
            resolved.request,
        );
        if recorded && let Some(observer) = &mut self.observer {
            observer.observe(resolved);
        }
    }

    /// A request seen from one side only: `half` is the client when `how` is ClientOnly,
    /// else the server (or a gateway CLIENT root standing for the gateway's server side).
    fn record_one_sided(
        &mut self,
        source: NodeRef,
        target: NodeRef,
        half: &Half,
        how: How,
        now_ms: u64,
    ) {
        let latency = Some(half.duration_ms());
        let (client_ms, server_ms) = match how {
            How::ClientOnly => (latency, None),
            How::ServerOnly | How::Paired => (None, latency),
        };
        let request = Request {
            at_ms: count_at(half.end_ms(), now_ms),
            observation: Observation {
                weight: half.weight,
                estimated: half.estimated,
                outcome: half.outcome(),
                client_ms,
                server_ms,
            },
            port: half.destination.port,
            method: half.method,
            path: half.path,
            trace_id: half.trace_id,
            how,
        };
        let (client, server) = match how {
            How::ClientOnly => (Some(half), None),
            How::ServerOnly | How::Paired => (None, Some(half)),
        };
        self.record(&Resolved {
            source: &source,
            target: &target,
            protocol: half.protocol,
            request: &request,
            client,
            server,
        });
    }

    fn expire(&mut self, expired: Expired, now_ms: u64) {
        self.expire_one(expired.waiting, now_ms);
        for consumer in expired.more {
            self.expire_one(Waiting::Server(consumer), now_ms);
        }
    }

    fn expire_one(&mut self, waiting: Waiting, now_ms: u64) {
        match waiting {
            Waiting::Client(client) => {
                self.count(now_ms, |b| b.expired_client += 1);
                let target = naming::destination(&self.interner, &client);
                self.record_one_sided(client.node(), target, &client, How::ClientOnly, now_ms);
            }
            Waiting::Server(server) => {
                // With a parent, someone called it, and who is unknown (an uninstrumented or
                // unsampled caller, or its span was lost): not `user`, which would claim the
                // call came from outside the mesh. Without one (a Zipkin shared root whose
                // client never reported) it is a root after all: `user`.
                self.count(now_ms, |b| b.expired_server += 1);
                let caller = if server.has_parent {
                    self.unknown
                } else {
                    self.user
                };
                self.record_one_sided(caller, server.node(), &server, How::ServerOnly, now_ms);
            }
        }
    }

    /// Resolves an interned string (node ids, methods).
    pub(crate) fn resolve(&self, sym: Sym) -> &str {
        self.interner.resolve(sym)
    }
}

/// When a request counts in the windows: when it ended, if that is within the windows kept;
/// otherwise when it arrived. Replayed traces and proxies with skewed clocks would else land
/// outside every live window (or in the future) and the dashboard would show nothing.
fn count_at(end_ms: u64, now_ms: u64) -> u64 {
    let longest = u64::try_from(crate::window::LONGEST.as_millis()).unwrap_or(u64::MAX);
    if end_ms <= now_ms && now_ms - end_ms <= longest {
        end_ms
    } else {
        now_ms
    }
}

#[cfg(test)]
mod count_at_tests {
    use super::count_at;

    #[test]
    fn recent_requests_count_when_they_ended_others_when_they_arrived() {
        let now = 10_000_000;
        assert_eq!(count_at(now - 5_000, now), now - 5_000);
        assert_eq!(count_at(now - 15 * 60_000, now), now - 15 * 60_000);
        // A replayed trace from an hour ago, and a proxy clock running ahead.
        assert_eq!(count_at(now - 3_600_000, now), now);
        assert_eq!(count_at(now + 2_000, now), now);
    }
}
