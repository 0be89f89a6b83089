//! Traces of the simulated mesh: each request enters at the gateway (a CLIENT root span)
//! and fans out along the routes; every call becomes its two Envoy halves
//! ([`EnvoyCall`]), with latencies drawn per edge and the active incidents applied.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::rng::Rng;
use super::timeline::{Effect, Timeline};
use super::topology::{Route, Topology};
use crate::envoy_call::{CallContext, EnvoyCall, Peer};
use crate::sample::request_by_service;

/// Calls deeper than this are not made (a guard; the scenarios are shallower).
const MAX_DEPTH: usize = 8;
/// Every route taken on only some requests is called once per this many simulated seconds,
/// whatever the fan-out probabilities: rarely taken edges of a large mesh stay in the graph (and are seen during
/// the detector's warm-up instead of showing up later as "new").
const SWEEP_EVERY: f64 = 60.0;
/// Routes swept per batch at most (a sweep of a large mesh spreads over batches).
const SWEEP_PER_BATCH: usize = 64;

/// One call of a generated trace, owning what its spans need.
#[derive(Debug, Clone)]
struct Call {
    caller: (usize, usize),
    callee: (usize, usize),
    method: &'static str,
    path: String,
    status: u16,
    response_flags: &'static str,
    rbac_denied: bool,
    context: CallContext,
    start_offset_nanos: u64,
    client_nanos: u64,
    server_nanos: u64,
    emit_server: bool,
}

/// A request of generated spans.
#[derive(Debug, Clone)]
pub struct Batch {
    pub request: ExportTraceServiceRequest,
    pub spans: usize,
    pub traces: usize,
}

/// Generates the mesh's traffic. Deterministic for a seed and a sequence of calls.
#[derive(Debug)]
pub struct Simulator {
    topology: Arc<Topology>,
    timeline: Arc<Timeline>,
    rng: Rng,
    /// Round-robin over the error flags of error incidents.
    flag_turn: usize,
    /// Simulated time of the next sweep over every route, and the sweep's progress.
    next_sweep: f64,
    sweep_cursor: Option<usize>,
}

impl Simulator {
    pub fn new(topology: Arc<Topology>, timeline: Arc<Timeline>, seed: u64) -> Self {
        Self {
            topology,
            timeline,
            rng: Rng::new(seed),
            flag_turn: 0,
            next_sweep: 0.0,
            sweep_cursor: None,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Traces until at least `min_spans` spans, as one request. `at` is the simulation time
    /// (seconds since start; picks the active incidents); the traces end around
    /// `now_unix_nanos`.
    pub fn batch(&mut self, at: f64, now_unix_nanos: u64, min_spans: usize) -> Batch {
        let mut calls = Vec::new();
        let mut traces = 0;
        let mut spans = 0;
        if self.sweep_cursor.is_none() && at >= self.next_sweep {
            self.sweep_cursor = Some(0);
            self.next_sweep = at + SWEEP_EVERY;
        }
        let mut sweep = self.sweep_cursor.map(|from| {
            let to = (from + SWEEP_PER_BATCH).min(self.topology.routes.len());
            self.sweep_cursor = (to < self.topology.routes.len()).then_some(to);
            from..to
        });
        let topology = self.topology.clone();
        loop {
            let before = calls.len();
            // Routes taken on every request need no sweep.
            let next_sweep = sweep.as_mut().and_then(|routes| {
                routes.find(|&i| topology.routes.get(i).is_some_and(|r| r.probability < 1.0))
            });
            let duration = match next_sweep {
                Some(route) => self.sweep(at, route, &mut calls),
                None if spans >= min_spans.max(1) => break,
                None => self.trace(at, &mut calls),
            };
            let start = now_unix_nanos
                .saturating_sub(duration)
                .saturating_sub(self.rng.below(50_000_000) as u64);
            for call in &mut calls[before..] {
                call.start_offset_nanos = start.saturating_add(call.start_offset_nanos);
            }
            spans += calls[before..]
                .iter()
                .map(|c| 1 + usize::from(c.emit_server))
                .sum::<usize>();
            traces += 1;
            if calls.len() == before {
                // A topology without routes: nothing to send.
                break;
            }
        }
        Batch {
            request: self.request(&calls),
            spans,
            traces,
        }
    }

    /// Route `index` called once, on its own (no further calls), as a trace of its own.
    fn sweep(&mut self, at: f64, index: usize, calls: &mut Vec<Call>) -> u64 {
        let topology = self.topology.clone();
        let timeline = self.timeline.clone();
        let Some(route) = topology.routes.get(index) else {
            return 0;
        };
        let Some(caller) = topology.services.get(route.caller) else {
            return 0;
        };
        let versions: Vec<usize> = (0..caller.versions.len())
            .filter(|&v| {
                route
                    .caller_versions
                    .as_ref()
                    .is_none_or(|vs| vs.contains(&caller.versions[v]))
            })
            .collect();
        let version = versions
            .get(self.rng.below(versions.len()))
            .copied()
            .unwrap_or(0);
        let mut state = CallState {
            topology: &topology,
            timeline: &timeline,
            at,
            trace_id: self.rng.trace_id(),
        };
        let path = fill_path(&route.path, &mut self.rng);
        self.call(
            &mut state,
            (route.caller, version),
            route.callee,
            route.method,
            path,
            None,
            0,
            MAX_DEPTH,
            calls,
        )
    }

    /// One trace's calls appended to `calls` (start offsets relative to the trace start);
    /// returns the trace's duration.
    fn trace(&mut self, at: f64, calls: &mut Vec<Call>) -> u64 {
        let topology = self.topology.clone();
        let timeline = self.timeline.clone();
        let root = topology.root;
        let roots: Vec<&Route> = topology
            .routes
            .iter()
            .filter(|r| r.caller == root)
            .collect();
        if roots.is_empty() {
            return 0;
        }
        let route = roots[self.rng.below(roots.len())];
        let trace_id = self.rng.trace_id();
        let mut call_state = CallState {
            topology: &topology,
            timeline: &timeline,
            at,
            trace_id,
        };
        let path = fill_path(&route.path, &mut self.rng);
        self.call(
            &mut call_state,
            (root, 0),
            route.callee,
            route.method,
            path,
            None,
            0,
            0,
            calls,
        )
    }

    /// Makes one call and, recursively, the calls its callee makes; returns the CLIENT
    /// span's duration.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        state: &mut CallState<'_>,
        caller: (usize, usize),
        callee: usize,
        method: &'static str,
        path: String,
        parent: Option<[u8; 8]>,
        start: u64,
        depth: usize,
        calls: &mut Vec<Call>,
    ) -> u64 {
        let topology = state.topology;
        let Some(callee_service) = topology.services.get(callee) else {
            return 0;
        };
        let version = self.rng.below(callee_service.versions.len());
        let context = CallContext {
            trace_id: state.trace_id,
            client_span_id: self.rng.span_id(),
            server_span_id: self.rng.span_id(),
            parent_span_id: parent,
        };
        let index = calls.len();
        calls.push(Call {
            caller,
            callee: (callee, version),
            method,
            path,
            status: 200,
            response_flags: "-",
            rbac_denied: false,
            context,
            start_offset_nanos: start,
            client_nanos: 0,
            server_nanos: 0,
            emit_server: true,
        });
        let version_name = callee_service.versions.get(version).map(String::as_str);
        let caller_version = topology
            .services
            .get(caller.0)
            .and_then(|s| s.versions.get(caller.1))
            .map(String::as_str);
        // Incidents on this call.
        let mut extra = 0u64;
        let mut failure: Option<(u16, &'static str, bool)> = None;
        for incident in state.timeline.active(state.at) {
            match &incident.effect {
                Effect::Latency {
                    caller: c,
                    callee: e,
                    callee_version,
                    extra: latency,
                } if *c == caller.0
                    && *e == callee
                    && callee_version
                        .as_deref()
                        .is_none_or(|v| Some(v) == version_name) =>
                {
                    extra += latency.sample_nanos(&mut self.rng);
                }
                Effect::Errors {
                    caller: c,
                    callee: e,
                    ratio,
                    flags,
                } if *c == caller.0 && *e == callee && self.rng.chance(*ratio) => {
                    let flag = flags.get(self.flag_turn % flags.len().max(1)).copied();
                    self.flag_turn += 1;
                    failure = Some((503, flag.unwrap_or("-"), false));
                }
                Effect::RbacDenials {
                    caller: c,
                    callee: e,
                    caller_version: v,
                    ratio,
                } if *c == caller.0
                    && *e == callee
                    && v.as_deref().is_none_or(|v| Some(v) == caller_version)
                    && self.rng.chance(*ratio) =>
                {
                    failure = Some((403, "-", true));
                }
                Effect::DropServerSpans { namespaces }
                    if namespaces.contains(&callee_service.namespace) =>
                {
                    calls[index].emit_server = false;
                }
                _ => {}
            }
        }
        let hop = 300_000 + self.rng.below(500_000) as u64;
        let server_nanos = match failure {
            Some((status, flags, rbac)) => {
                let call = &mut calls[index];
                call.status = status;
                call.response_flags = flags;
                call.rbac_denied = rbac;
                // Refused before the app: a fraction of a millisecond.
                100_000 + self.rng.below(400_000) as u64
            }
            None => {
                let own = callee_service.latency.sample_nanos(&mut self.rng) + extra;
                // Half the own work before the first child call, the rest after.
                let mut elapsed = own / 2;
                if depth < MAX_DEPTH {
                    let routes: Vec<(usize, &'static str, String, f64)> =
                        topology
                            .routes
                            .iter()
                            .filter(|r| {
                                r.caller == callee
                                    && r.caller_versions.as_ref().is_none_or(|vs| {
                                        version_name.is_some_and(|v| vs.iter().any(|x| x == v))
                                    })
                            })
                            .map(|r| (r.callee, r.method, r.path.clone(), r.probability))
                            .chain(state.timeline.active(state.at).filter_map(
                                |i| match &i.effect {
                                    Effect::NewRoute {
                                        caller: c,
                                        callee: e,
                                        path,
                                        probability,
                                    } if *c == callee => {
                                        Some((*e, "GET", path.clone(), *probability))
                                    }
                                    _ => None,
                                },
                            ))
                            .collect();
                    let server_start = start + hop / 2;
                    for (next, method, path, probability) in routes {
                        if !self.rng.chance(probability) {
                            continue;
                        }
                        let path = fill_path(&path, &mut self.rng);
                        let child = self.call(
                            state,
                            (callee, version),
                            next,
                            method,
                            path,
                            Some(context.server_span_id),
                            server_start + elapsed,
                            depth + 1,
                            calls,
                        );
                        elapsed += child;
                    }
                }
                elapsed + own - own / 2
            }
        };
        let client_nanos = server_nanos + hop;
        let call = &mut calls[index];
        call.server_nanos = server_nanos;
        call.client_nanos = client_nanos;
        client_nanos
    }

    fn request(&self, calls: &[Call]) -> ExportTraceServiceRequest {
        let topology = &self.topology;
        let peer = |(service, version): (usize, usize)| {
            topology.services.get(service).map(|s| Peer {
                service: s.name.as_str(),
                namespace: s.namespace.as_str(),
                version: s.versions.get(version).map_or("v1", String::as_str),
                gateway: s.gateway,
            })
        };
        let principals: Vec<Option<String>> = calls
            .iter()
            .map(|c| {
                topology
                    .peer_principals
                    .then(|| topology.services.get(c.caller.0).map(|s| s.principal()))
                    .flatten()
            })
            .collect();
        let mut spans = Vec::with_capacity(calls.len() * 2);
        for (call, principal) in calls.iter().zip(&principals) {
            let (Some(caller), Some(callee)) = (peer(call.caller), peer(call.callee)) else {
                continue;
            };
            let port = topology
                .services
                .get(call.callee.0)
                .map_or(9080, |s| s.port);
            let mut envoy = EnvoyCall::get(caller, callee, &call.path, 0);
            envoy.port = port;
            envoy.method = call.method;
            envoy.status = call.status;
            envoy.response_flags = call.response_flags;
            envoy.rbac_denied = call.rbac_denied;
            envoy.peer_principal = principal.as_deref();
            envoy.start_unix_nanos = call.start_offset_nanos;
            envoy.client_duration_nanos = call.client_nanos;
            envoy.server_duration_nanos = call.server_nanos;
            envoy.seed = u64::from_be_bytes(call.context.client_span_id);
            envoy.context = Some(call.context);
            envoy.all_tags = true;
            let service = |p: &Peer<'_>| format!("{}.{}", p.service, p.namespace);
            spans.push((service(&caller), envoy.client_span()));
            if call.emit_server {
                spans.push((service(&callee), envoy.server_span()));
            }
        }
        request_by_service(spans)
    }
}

struct CallState<'a> {
    topology: &'a Topology,
    timeline: &'a Timeline,
    at: f64,
    trace_id: [u8; 16],
}

/// `/reviews/{id}` → `/reviews/417`.
fn fill_path(path: &str, rng: &mut Rng) -> String {
    if path.contains("{id}") {
        path.replace("{id}", &rng.below(1000).to_string())
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;
    use crate::simulate::Scenario;

    fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
    }

    fn spans(request: &ExportTraceServiceRequest) -> Vec<(String, Span)> {
        request
            .resource_spans
            .iter()
            .flat_map(|rs| {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.first())
                    .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                        Value::StringValue(s) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                rs.scope_spans
                    .iter()
                    .flat_map(|ss| ss.spans.iter())
                    .map(move |s| (service.clone(), s.clone()))
            })
            .collect()
    }

    fn simulator(scenario: Scenario, timeline: bool) -> Simulator {
        let topology = Arc::new(Topology::new(scenario));
        let timeline = if timeline {
            Timeline::demo(&topology)
        } else {
            Timeline::quiet()
        };
        Simulator::new(topology, Arc::new(timeline), 1)
    }

    #[test]
    fn bookinfo_traces_are_envoy_shaped_trees_rooted_at_the_gateway() {
        let mut sim = simulator(Scenario::Bookinfo, false);
        let batch = sim.batch(0.0, 1_800_000_000_000_000_000, 300);
        let spans = spans(&batch.request);
        assert_eq!(spans.len(), batch.spans);
        assert!(batch.spans >= 300 && batch.traces >= 30);
        // Every attribute is a string, and the tags DESIGN.md lists are there.
        for (_, span) in &spans {
            for kv in &span.attributes {
                assert!(
                    matches!(
                        kv.value.as_ref().unwrap().value,
                        Some(Value::StringValue(_))
                    ),
                    "{} is a string",
                    kv.key
                );
            }
            for key in [
                "node_id",
                "upstream_cluster",
                "upstream_cluster.name",
                "http.method",
                "http.url",
                "http.protocol",
                "http.status_code",
                "response_flags",
                "peer.address",
                "downstream_cluster",
                "user_agent",
                "guid:x-request-id",
                "request_size",
                "response_size",
                "component",
                "upstream_address",
                "istio.canonical_service",
                "istio.canonical_revision",
                "istio.namespace",
                "istio.mesh_id",
                "istio.cluster_id",
            ] {
                assert!(attr(span, key).is_some(), "{key} on {}", span.name);
            }
        }
        // CLIENT halves in the caller's resource, SERVER halves in the callee's.
        let mut roots = 0;
        let ids: BTreeSet<Vec<u8>> = spans.iter().map(|(_, s)| s.span_id.clone()).collect();
        let mut edges = BTreeMap::new();
        for (service, span) in &spans {
            let node = attr(span, "node_id").unwrap();
            let canonical = attr(span, "istio.canonical_service").unwrap();
            let namespace = attr(span, "istio.namespace").unwrap();
            assert_eq!(service, &format!("{canonical}.{namespace}"));
            if span.kind == 3 {
                // CLIENT
                if span.parent_span_id.is_empty() {
                    roots += 1;
                    assert!(node.starts_with("router~"), "roots are the gateway's");
                    assert_eq!(service, "istio-ingressgateway.istio-system");
                } else {
                    assert!(ids.contains(&span.parent_span_id), "parent in the batch");
                }
                let callee = span.name.split('.').next().unwrap().to_owned();
                *edges.entry((canonical.to_owned(), callee)).or_insert(0) += 1;
            } else {
                assert_eq!(span.kind, 2, "SERVER");
                assert!(node.starts_with("sidecar~"));
                assert!(ids.contains(&span.parent_span_id));
            }
            assert!(span.end_time_unix_nano > span.start_time_unix_nano);
            assert_eq!(attr(span, "http.status_code"), Some("200"), "no incidents");
        }
        assert_eq!(roots, batch.traces);
        let edge_names: BTreeSet<(String, String)> = edges.keys().cloned().collect();
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            edge_names,
            BTreeSet::from([
                pair("istio-ingressgateway", "productpage"),
                pair("productpage", "details"),
                pair("productpage", "reviews"),
                pair("reviews", "ratings"),
            ])
        );
        // reviews v1 never calls ratings: about two thirds of the traces do.
        let ratings = edges[&pair("reviews", "ratings")] as f64;
        let ratio = ratings / batch.traces as f64;
        assert!((0.5..0.85).contains(&ratio), "{ratio}");
        // Paths carry ids.
        assert!(
            spans.iter().any(|(_, s)| attr(s, "http.url").is_some_and(
                |u| u.contains("/reviews/") && u.chars().last().unwrap().is_ascii_digit()
            ))
        );
    }

    #[test]
    fn incidents_shape_the_traffic_while_active() {
        let mut sim = simulator(Scenario::Bookinfo, true);
        let during = spans(&sim.batch(60.0, 1_800_000_000_000_000_000, 2000).request);
        let status = |spans: &[(String, Span)], service: &str, code: &str| {
            spans
                .iter()
                .filter(|(s, sp)| {
                    s.starts_with(service)
                        && sp.kind == 2
                        && attr(sp, "http.status_code") == Some(code)
                })
                .count()
        };
        assert!(status(&during, "details", "503") > 0, "error burst");
        let flags: BTreeSet<&str> = during
            .iter()
            .filter_map(|(_, s)| attr(s, "response_flags"))
            .collect();
        assert!(flags.contains("URX") && flags.contains("UF"), "{flags:?}");
        let denied = during
            .iter()
            .filter(|(_, s)| attr(s, "response_code_details").is_some())
            .count();
        assert!(denied > 0, "RBAC denials");
        assert!(status(&during, "ratings", "403") > 0);

        // After the warm-up: the new edge and the telemetry gap.
        let later = spans(&sim.batch(160.0, 1_800_000_000_000_000_000, 2000).request);
        assert!(
            later.iter().all(|(_, s)| s.kind == 3),
            "SERVER halves dropped"
        );
        assert!(
            later
                .iter()
                .any(|(svc, s)| svc == "productpage.bookinfo" && s.name.starts_with("ratings.")),
            "productpage calls ratings"
        );
        // Before and after: none of it.
        let quiet = spans(&sim.batch(10.0, 1_800_000_000_000_000_000, 500).request);
        assert!(
            quiet
                .iter()
                .all(|(_, s)| attr(s, "http.status_code") == Some("200"))
        );
        assert!(quiet.iter().any(|(_, s)| s.kind == 2));
    }

    #[test]
    fn latency_regression_raises_the_edge_p99() {
        let mut sim = simulator(Scenario::Bookinfo, true);
        let p99 = |spans: Vec<(String, Span)>| {
            let mut d: Vec<u64> = spans
                .iter()
                .filter(|(svc, s)| {
                    svc == "productpage.bookinfo" && s.kind == 3 && s.name.starts_with("reviews.")
                })
                .map(|(_, s)| s.end_time_unix_nano - s.start_time_unix_nano)
                .collect();
            d.sort_unstable();
            d[d.len() * 99 / 100] as f64 / 1e6
        };
        let before = p99(spans(
            &sim.batch(100.0, 1_800_000_000_000_000_000, 3000).request,
        ));
        let during = p99(spans(
            &sim.batch(140.0, 1_800_000_000_000_000_000, 3000).request,
        ));
        assert!(before < 80.0, "baseline p99 {before} ms");
        assert!(during > 250.0, "regressed p99 {during} ms");
    }

    #[test]
    fn sweeps_call_every_route_of_the_large_mesh_within_seconds() {
        let mut sim = simulator(Scenario::Large, false);
        let topology = Topology::new(Scenario::Large);
        let mut seen = BTreeSet::new();
        for i in 0..40 {
            // 2,000 routes, 64 a batch: one sweep.
            let batch = sim.batch(i as f64 * 0.25, 1_800_000_000_000_000_000, 100);
            for (service, span) in spans(&batch.request) {
                if span.kind == 3 {
                    let host = span.name.split(".svc.").next().unwrap().to_owned();
                    seen.insert((service, host));
                }
            }
        }
        let missing: Vec<_> = topology.edges().difference(&seen).cloned().collect();
        assert!(
            missing.is_empty(),
            "{} edges never called: {missing:?}",
            missing.len()
        );
    }

    #[test]
    fn large_traffic_reaches_deep_into_the_mesh() {
        let mut sim = simulator(Scenario::Large, false);
        let batch = sim.batch(0.0, 1_800_000_000_000_000_000, 5000);
        let spans = spans(&batch.request);
        let services: BTreeSet<&str> = spans.iter().map(|(s, _)| s.as_str()).collect();
        assert!(services.len() > 100, "{} services seen", services.len());
        assert!(services.iter().any(|s| s.ends_with(".data")));
        // Principals ride on SERVER spans in the large mesh.
        assert!(spans.iter().filter(|(_, s)| s.kind == 2).all(|(_, s)| {
            attr(s, "downstream_peer_uri_san")
                .is_some_and(|p| p.starts_with("spiffe://cluster.local/ns/"))
        }));
    }
}
