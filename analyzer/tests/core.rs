//! The analyzer core end to end: real traces (Istio bookinfo, Zipkin shared spans, Kafka) and
//! scripted spans for arrival orders, expiry, windows, caps, templating and sampling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/common/golden.rs"]
mod golden;
mod support;
use golden::assert_golden;
use support::*;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use meshlens_analyzer::snapshot::{EdgePairing, GraphSnapshot, NodeKind};
use meshlens_analyzer::{Analyzer, AnalyzerConfig, Window, analyze_all};
use meshlens_collector::span::{
    Destination, Failure, PeerAddress, Protocol, ProxyKind, Span, SpanKind,
};

// ---- real traces ---------------------------------------------------------------------------

#[test]
fn bookinfo_gives_the_five_edges_kiali_shows() {
    let (interner, spans) = read("istio-bookinfo.tempo.json");
    let snapshot = analyze_all(interner, &spans, AnalyzerConfig::default());
    // The gateway's CLIENT root span is the only trace of the outside calling it.
    assert_eq!(
        pairs(&snapshot),
        [
            ("istio-ingressgateway.istio-system", "productpage.bookinfo"),
            ("productpage.bookinfo", "details.bookinfo"),
            ("productpage.bookinfo", "reviews.bookinfo"),
            ("reviews.bookinfo", "ratings.bookinfo"),
            ("user", "istio-ingressgateway.istio-system"),
        ]
        .map(|(s, t)| (s.to_owned(), t.to_owned()))
    );
    for e in &snapshot.edges {
        assert_eq!(e.requests, 1.0, "{e:?}");
        assert_eq!(e.errors, 0.0);
        assert_eq!(e.protocol, "http");
        assert_eq!(e.trace_ids.len(), 1);
    }
    let front = edge(
        &snapshot,
        "istio-ingressgateway.istio-system",
        "productpage.bookinfo",
    );
    assert_eq!(front.pairing, EdgePairing::Paired);
    assert!(
        near(front.client_latency_ms.unwrap().p50, 11.932),
        "{front:?}"
    );
    assert!(
        near(front.server_latency_ms.unwrap().p50, 11.439),
        "{front:?}"
    );
    assert_eq!(front.latency_ms, front.client_latency_ms.unwrap());
    assert_eq!(front.ports, [9080]);
    let ratings = edge(&snapshot, "reviews.bookinfo", "ratings.bookinfo");
    assert!(near(ratings.client_latency_ms.unwrap().p99, 0.850));
    assert!(near(ratings.server_latency_ms.unwrap().p99, 0.434));
    let user = edge(&snapshot, "user", "istio-ingressgateway.istio-system");
    assert_eq!(user.pairing, EdgePairing::ServerOnly);
    assert_eq!(user.client_latency_ms, None);
    assert_eq!(node_kind(&snapshot, "user"), NodeKind::User);
    assert_eq!(node_kind(&snapshot, "reviews.bookinfo"), NodeKind::Service);
    let reviews = snapshot
        .nodes
        .iter()
        .find(|n| n.id == "reviews.bookinfo")
        .unwrap();
    assert_eq!(reviews.versions, ["v2"]);
    assert_eq!(reviews.requests, 1.0);
    assert_eq!(snapshot.pairing.paired, 4);
    assert_eq!(
        snapshot.pairing.expired_client + snapshot.pairing.expired_server,
        0
    );
    assert_eq!(snapshot.pairing.pending, 0);
}

/// The Zipkin reference traces (a production trace with shared spans, Kafka producers and
/// consumers, a lone Envoy span) as graphs, held against golden files.
#[test]
fn zipkin_reference_graphs_match_their_golden_files() {
    for (file, golden) in [
        ("yelp.zipkin.json", "graph-yelp.json"),
        ("messaging-kafka.zipkin.json", "graph-kafka.json"),
        ("envoy.zipkin.json", "graph-envoy-zipkin.json"),
    ] {
        let (interner, spans) = read(file);
        let snapshot = analyze_all(interner, &spans, AnalyzerConfig::default());
        let json = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
        assert_golden(golden, &json);
    }
}

#[test]
fn bookinfo_golden_snapshot() {
    let (interner, spans) = read("istio-bookinfo.tempo.json");
    let snapshot = analyze_all(interner, &spans, AnalyzerConfig::default());
    let json = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
    assert_golden("graph-bookinfo.json", &json);
    let back: GraphSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
}

/// The live engine, fed in reverse order in small batches, then flushed, gives what the offline
/// helper gives.
fn live_equals_offline(file: &str) {
    let (interner, spans) = read(file);
    let offline = analyze_all(interner.clone(), &spans, AnalyzerConfig::default());
    let end_ms = meshlens_analyzer::offline::input_end_ms(&spans);
    let mut live = Analyzer::new(interner, AnalyzerConfig::default());
    let reversed: Vec<Span> = spans.iter().rev().cloned().collect();
    for batch in reversed.chunks(3) {
        live.ingest(batch, end_ms);
    }
    live.flush(end_ms);
    assert_eq!(live.snapshot(Window::Whole, end_ms), offline, "{file}");
    assert_eq!(live.stats(), offline.pairing);
}

#[test]
fn live_and_offline_agree_on_every_reference_trace() {
    for file in [
        "istio-bookinfo.tempo.json",
        "yelp.zipkin.json",
        "messaging-kafka.zipkin.json",
        "istio-otel-egress.otlp.json",
        "envoy.zipkin.json",
        "jaeger-example.otlp.json",
    ] {
        live_equals_offline(file);
    }
}

#[test]
fn zipkin_shared_spans_pair_by_their_common_id() {
    let (interner, spans) = read("yelp.zipkin.json");
    let snapshot = analyze_all(interner, &spans, AnalyzerConfig::default());
    // Client and shared server halves share one span id.
    let mobile = edge(&snapshot, "yelp-main", "mobile_api");
    assert_eq!(mobile.pairing, EdgePairing::Paired);
    assert!(
        near(mobile.client_latency_ms.unwrap().p50, 56.0),
        "{mobile:?}"
    );
    assert!(
        near(mobile.server_latency_ms.unwrap().p50, 41.74),
        "{mobile:?}"
    );
    assert_eq!(
        edge(&snapshot, "mobile_api", "spectre").pairing,
        EdgePairing::Paired
    );
    // The root `routing` span is shared, but its client never reported: a root after all.
    assert_eq!(
        edge(&snapshot, "user", "routing").pairing,
        EdgePairing::ServerOnly
    );
    // Calls to memcache, mysql and blt only their callers saw: named from remote endpoints.
    assert_eq!(
        edge(&snapshot, "mobile_api", "memcache").pairing,
        EdgePairing::ClientOnly
    );
    assert_eq!(edge(&snapshot, "mobile_api", "memcache").requests, 2.0);
    assert_eq!(edge(&snapshot, "yelp-main", "mysql").requests, 2.0);
    assert_eq!(snapshot.pairing.paired, 3);
    assert_eq!(snapshot.pairing.expired_server, 1);
    assert_eq!(snapshot.pairing.unpairable, 1, "the local span");
}

#[test]
fn kafka_producers_pair_with_every_consumer_group() {
    let (interner, spans) = read("messaging-kafka.zipkin.json");
    let snapshot = analyze_all(interner, &spans, AnalyzerConfig::default());
    let to_b = edge(&snapshot, "servicea", "serviceb");
    let to_a = edge(&snapshot, "servicea", "servicea");
    assert_eq!(to_b.pairing, EdgePairing::Paired);
    // Three messages were each read by both consumer groups.
    assert_eq!(to_b.requests, 3.0, "{to_b:?}");
    assert_eq!(to_a.requests, 3.0, "{to_a:?}");
    // The root consumer read from the broker; producers nobody consumed went to the broker.
    assert_eq!(
        edge(&snapshot, "kafka", "servicea").pairing,
        EdgePairing::ServerOnly
    );
    assert_eq!(
        edge(&snapshot, "servicea", "kafka").pairing,
        EdgePairing::ClientOnly
    );
    assert_eq!(node_kind(&snapshot, "kafka"), NodeKind::Messaging);
    assert_eq!(snapshot.pairing.expired_server, 0);
}

// ---- arrival orders and shapes -------------------------------------------------------------

#[test]
fn server_before_client_across_batches_pairs() {
    let mk = Mk::new();
    let [client, server] = mk.call(1, "productpage", "reviews", 0);
    let mut a = mk.analyzer(AnalyzerConfig::default());
    a.ingest(&[server], T0_MS + 100);
    assert_eq!(a.stats().pending, 1);
    a.ingest(&[client], T0_MS + 5_000);
    let s = a.snapshot(Window::ONE_MINUTE, T0_MS + 5_000);
    assert_eq!(a.stats().paired, 1);
    assert_eq!(a.stats().pending, 0);
    let e = edge(&s, "productpage.bookinfo", "reviews.bookinfo");
    assert_eq!(e.pairing, EdgePairing::Paired);
    assert_eq!(e.paths, ["/reviews/{id}"]);
    assert_eq!(e.methods, ["GET"]);
    assert_eq!(e.trace_ids, [format!("ab{}01", "0".repeat(28))]);
}

#[test]
fn halves_expire_after_the_ttl_into_virtual_unknown_and_user_edges() {
    let mk = Mk::new();
    let mut a = mk.analyzer(AnalyzerConfig::default());
    let client = mk.span(
        SpanKind::Client,
        1,
        1,
        Some(9),
        "productpage",
        Some("reviews"),
        0,
        5,
    );
    let server = mk.span(SpanKind::Server, 2, 2, Some(7), "ratings", None, 0, 5);
    let root = mk.span(SpanKind::Server, 3, 3, None, "productpage", None, 0, 5);
    a.ingest(&[client, server, root], T0_MS);
    // The root SERVER does not wait: its caller is outside.
    assert_eq!(a.stats().pending, 2);
    a.tick(T0_MS + 9_999);
    assert_eq!(a.stats().pending, 2);
    a.tick(T0_MS + 10_000);
    let stats = a.stats();
    assert_eq!(
        (stats.expired_client, stats.expired_server, stats.pending),
        (1, 1, 0)
    );
    let s = a.snapshot(Window::ONE_MINUTE, T0_MS + 10_000);
    let lost = edge(&s, "productpage.bookinfo", "reviews.bookinfo");
    assert_eq!(lost.pairing, EdgePairing::ClientOnly);
    assert_eq!(lost.server_latency_ms, None);
    assert_eq!(node_kind(&s, "reviews.bookinfo"), NodeKind::Virtual);
    assert_eq!(
        edge(&s, "unknown", "ratings.bookinfo").pairing,
        EdgePairing::ServerOnly
    );
    assert_eq!(
        edge(&s, "user", "productpage.bookinfo").pairing,
        EdgePairing::ServerOnly
    );
    assert_eq!(a.counters().root_servers, 1);
    // The late server half of the expired client no longer pairs.
    let late = mk.span(SpanKind::Server, 1, 2, Some(1), "reviews", None, 0, 5);
    a.ingest(&[late], T0_MS + 11_000);
    assert_eq!(a.stats().paired, 0);
}

#[test]
fn unpaired_clients_are_named_from_what_the_caller_knew() {
    let mk = Mk::new();
    let i = &mk.interner;
    let mut spans = Vec::new();
    let base = |id: u8| {
        let mut s = mk.span(SpanKind::Client, 1, id, Some(99), "productpage", None, 0, 1);
        s.destination = Destination::default();
        s
    };
    let mut s = base(1);
    s.destination.peer_service = Some(i.intern("payments"));
    s.destination.host = Some(i.intern("pay.example.com"));
    spans.push(s);
    let mut s = base(2);
    s.destination.host = Some(i.intern("api.example.com"));
    spans.push(s);
    let mut s = base(3);
    s.destination.db_system = Some(i.intern("postgresql"));
    s.destination.db_name = Some(i.intern("orders"));
    s.protocol = Protocol::Db;
    spans.push(s);
    let mut s = base(4);
    s.destination.messaging_system = Some(i.intern("rabbitmq"));
    s.kind = SpanKind::Producer;
    spans.push(s);
    let mut s = base(5);
    s.peer = Some(PeerAddress {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
        port: Some(443),
    });
    spans.push(s);
    spans.push(base(6));
    let mut a = mk.analyzer(AnalyzerConfig::default());
    a.ingest(&spans, T0_MS);
    a.flush(T0_MS);
    let s = a.snapshot(Window::Whole, T0_MS);
    let targets: Vec<&str> = s.edges.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "10.0.0.7",
            "api.example.com",
            "orders",
            "payments",
            "rabbitmq",
            "unknown"
        ]
    );
    assert_eq!(node_kind(&s, "orders"), NodeKind::Database);
    assert_eq!(node_kind(&s, "rabbitmq"), NodeKind::Messaging);
    assert_eq!(edge(&s, "productpage.bookinfo", "orders").protocol, "db");
}

#[test]
fn server_to_server_calls_make_edges_in_either_order() {
    let mk = Mk::new();
    // An ingress controller's SERVER span is the parent of productpage's SERVER span.
    let ingress = mk.span(SpanKind::Server, 1, 1, None, "nginx", None, 0, 20);
    let page = mk.span(SpanKind::Server, 1, 2, Some(1), "productpage", None, 1, 15);
    for order in [
        [ingress.clone(), page.clone()],
        [page.clone(), ingress.clone()],
    ] {
        let mut a = mk.analyzer(AnalyzerConfig::default());
        a.ingest(&order[..1], T0_MS);
        a.ingest(&order[1..], T0_MS + 2_000);
        a.flush(T0_MS + 2_000);
        let s = a.snapshot(Window::Whole, T0_MS + 2_000);
        assert_eq!(
            pairs(&s),
            [
                ("nginx.bookinfo", "productpage.bookinfo"),
                ("user", "nginx.bookinfo")
            ]
            .map(|(s, t)| (s.to_owned(), t.to_owned()))
        );
        assert_eq!(a.counters().server_to_server, 1);
        assert_eq!(a.stats().paired, 1);
        assert_eq!(a.stats().expired_server, 0);
    }
    // An app's SERVER span under its own sidecar's adds no edge.
    let mut a = mk.analyzer(AnalyzerConfig::default());
    let app = mk.span(SpanKind::Server, 1, 3, Some(2), "productpage", None, 2, 10);
    a.ingest(&[page, app], T0_MS);
    assert_eq!(a.counters().nested_servers, 1);
    assert_eq!(
        a.stats().pending,
        1,
        "the sidecar's span still waits for its client"
    );
}

#[test]
fn gateway_server_plus_egress_client_pairs_normally() {
    let mk = Mk::new();
    let mut gw_server = mk.span(SpanKind::Server, 1, 1, None, "gateway", None, 0, 20);
    let mut gw_client = mk.span(
        SpanKind::Client,
        1,
        2,
        Some(1),
        "gateway",
        Some("productpage"),
        1,
        18,
    );
    for s in [&mut gw_server, &mut gw_client] {
        s.workload.proxy = ProxyKind::Gateway;
    }
    let page = mk.span(SpanKind::Server, 1, 3, Some(2), "productpage", None, 2, 15);
    let mut a = mk.analyzer(AnalyzerConfig::default());
    a.ingest(&[page, gw_client, gw_server], T0_MS);
    let s = a.snapshot(Window::ONE_MINUTE, T0_MS);
    assert_eq!(
        pairs(&s),
        [
            ("gateway.bookinfo", "productpage.bookinfo"),
            ("user", "gateway.bookinfo")
        ]
        .map(|(s, t)| (s.to_owned(), t.to_owned()))
    );
    assert_eq!(
        a.counters().gateway_roots,
        0,
        "the gateway CLIENT has a parent"
    );
}

// ---- windows, caps, templating, sampling, failures ----------------------------------------

#[test]
fn requests_leave_the_minute_window_and_stay_in_the_whole_run() {
    let mk = Mk::new();
    let mut a = mk.analyzer(AnalyzerConfig::default());
    a.ingest(&mk.call(1, "productpage", "details", 0), T0_MS + 20);
    // The request ended at T0 + 10 ms: in the 10 s bucket starting at T0.
    let at = |a: &Analyzer, w: Window, dt: u64| {
        a.snapshot(w, T0_MS + dt)
            .edges
            .first()
            .map_or(0.0, |e| e.requests)
    };
    assert_eq!(at(&a, Window::ONE_MINUTE, 59_000), 1.0);
    assert_eq!(at(&a, Window::ONE_MINUTE, 60_000), 1.0);
    assert_eq!(at(&a, Window::ONE_MINUTE, 60_001), 0.0);
    assert_eq!(at(&a, Window::FIVE_MINUTES, 200_000), 1.0);
    assert_eq!(at(&a, Window::FIFTEEN_MINUTES, 899_000), 1.0);
    assert_eq!(at(&a, Window::FIFTEEN_MINUTES, 960_001), 0.0);
    assert_eq!(at(&a, Window::Whole, 10_000_000), 1.0);
    assert!(
        a.snapshot(Window::ONE_MINUTE, T0_MS + 61_000)
            .nodes
            .is_empty()
    );
    // Traffic after the roll-over lands in fresh buckets.
    for t in 1..=6u8 {
        a.ingest(
            &mk.call(
                t + 1,
                "productpage",
                "details",
                100_000 + u64::from(t) * 10_000,
            ),
            T0_MS + 200_000,
        );
    }
    let s = a.snapshot(Window::ONE_MINUTE, T0_MS + 170_000);
    assert_eq!(s.edges[0].requests, 6.0);
    // 6 requests over the minute grid from 110 s to 170 s.
    assert_eq!(s.edges[0].rps, 0.1);
    assert_eq!(s.window_seconds, 60.0);
}

#[test]
fn rates_divide_by_the_run_when_it_is_shorter_than_the_window() {
    let mk = Mk::new();
    let mut a = mk.analyzer(AnalyzerConfig::default());
    for t in 0..10u8 {
        a.ingest(
            &mk.call(t, "productpage", "details", u64::from(t) * 1_000),
            T0_MS + 10_000,
        );
    }
    let s = a.snapshot(Window::FIVE_MINUTES, T0_MS + 20_000);
    assert_eq!(s.edges[0].requests, 10.0);
    assert_eq!(
        s.edges[0].rps, 0.5,
        "10 requests in the 20 s the run lasted"
    );
}

#[test]
fn a_full_store_drops_and_counts() {
    let mk = Mk::new();
    let config = AnalyzerConfig {
        max_items: 2,
        ..AnalyzerConfig::default()
    };
    let mut a = mk.analyzer(config);
    let clients: Vec<Span> = (1..=3)
        .map(|t| {
            mk.span(
                SpanKind::Client,
                t,
                1,
                None,
                "productpage",
                Some("reviews"),
                0,
                1,
            )
        })
        .collect();
    a.ingest(&clients, T0_MS);
    let stats = a.stats();
    assert_eq!((stats.pending, stats.dropped_store_full), (2, 1));
    // A waiting half's partner still gets in when the store is full.
    a.ingest(
        &[mk.span(SpanKind::Server, 1, 2, Some(1), "reviews", None, 0, 1)],
        T0_MS,
    );
    assert_eq!(a.stats().paired, 1);
}

#[test]
fn graph_caps_are_counted() {
    let mk = Mk::new();
    let config = AnalyzerConfig {
        max_edges: 1,
        max_nodes: 3,
        ..AnalyzerConfig::default()
    };
    let mut a = mk.analyzer(config);
    a.ingest(&mk.call(1, "a", "b", 0), T0_MS);
    a.ingest(&mk.call(2, "b", "a", 0), T0_MS);
    a.ingest(&mk.call(3, "c", "d", 0), T0_MS);
    let counters = a.counters();
    assert_eq!(
        (counters.dropped_edge_cap, counters.dropped_node_cap),
        (1, 1)
    );
    assert_eq!(a.snapshot(Window::Whole, T0_MS).edges.len(), 1);
}

#[test]
fn paths_collapse_and_are_capped_per_edge() {
    let mk = Mk::new();
    let config = AnalyzerConfig {
        max_paths_per_edge: 2,
        ..AnalyzerConfig::default()
    };
    let mut a = mk.analyzer(config);
    let paths = [
        "/reviews/0",
        "/reviews/1",
        "/api/3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "/health",
        "/metrics",
    ];
    for (t, path) in paths.iter().enumerate() {
        let [mut c, s] = mk.call(t as u8, "productpage", "reviews", 0);
        c.path = Some((*path).into());
        a.ingest(&[c, s], T0_MS);
    }
    let s = a.snapshot(Window::Whole, T0_MS);
    assert_eq!(s.edges[0].paths, ["/api/{id}", "/reviews/{id}"]);
    assert_eq!(a.graph().edges().next().unwrap().2.paths_overflow, 2);
}

#[test]
fn sampled_spans_scale_counts_and_mark_estimates() {
    let mk = Mk::new();
    let mut a = mk.analyzer(AnalyzerConfig::default());
    let [mut c, mut s] = mk.call(1, "productpage", "reviews", 0);
    for span in [&mut c, &mut s] {
        span.adjusted_count = 4.0;
        span.estimated = true;
    }
    let [c2, s2] = mk.call(2, "productpage", "reviews", 0);
    let mut garbage = mk.span(
        SpanKind::Client,
        3,
        1,
        None,
        "productpage",
        Some("details"),
        0,
        1,
    );
    garbage.adjusted_count = f64::NAN;
    a.ingest(&[c, s, c2, s2, garbage], T0_MS);
    a.flush(T0_MS);
    let snap = a.snapshot(Window::Whole, T0_MS);
    let e = edge(&snap, "productpage.bookinfo", "reviews.bookinfo");
    assert_eq!(e.requests, 5.0);
    assert!(e.estimated);
    let d = edge(&snap, "productpage.bookinfo", "details.bookinfo");
    assert_eq!((d.requests, d.estimated), (1.0, false));
}

#[test]
fn failures_are_split_by_class_and_both_sides_count() {
    let mk = Mk::new();
    let mut a = mk.analyzer(AnalyzerConfig::default());
    let cases = [
        (Some(Failure::ResponseFlags), None), // client saw UF: an error
        (Some(Failure::ClientError), Some(Failure::AuthzDenied)), // 403 RBAC
        (None, Some(Failure::ClientError)),   // 404
        (None, Some(Failure::GrpcStatus)),    // error
        (None, None),
    ];
    for (t, (client_failure, server_failure)) in cases.into_iter().enumerate() {
        let [mut c, mut s] = mk.call(t as u8, "productpage", "reviews", 0);
        c.failure = client_failure;
        s.failure = server_failure;
        a.ingest(&[c, s], T0_MS);
    }
    let snap = a.snapshot(Window::Whole, T0_MS);
    let e = &snap.edges[0];
    assert_eq!(
        (e.requests, e.errors, e.client_errors, e.authz_denials),
        (5.0, 2.0, 1.0, 1.0)
    );
    assert_eq!(e.error_rate, 0.4);
    let node = snap
        .nodes
        .iter()
        .find(|n| n.id == "reviews.bookinfo")
        .unwrap();
    assert_eq!(
        (node.requests, node.errors, node.error_rate),
        (5.0, 2.0, 0.4)
    );
}

#[test]
fn odd_spans_never_panic() {
    let mk = Mk::new();
    let mut a = mk.analyzer(AnalyzerConfig {
        pair_ttl: Duration::ZERO,
        max_items: 0,
        recent_servers: 0,
        max_nodes: 0,
        max_edges: 0,
        max_paths_per_edge: 0,
        max_path_templates: 0,
    });
    let mut spans = Vec::new();
    for kind in [
        SpanKind::Internal,
        SpanKind::Unspecified,
        SpanKind::Client,
        SpanKind::Server,
        SpanKind::Consumer,
        SpanKind::Producer,
    ] {
        let mut s = mk.span(kind, 1, 1, Some(1), "x", Some("x"), 0, 0);
        s.start_unix_nanos = u64::MAX;
        s.duration_nanos = u64::MAX;
        s.path = Some("".into());
        s.shared = kind == SpanKind::Server;
        spans.push(s.clone());
        s.parent_span_id = None;
        s.start_unix_nanos = 0;
        spans.push(s);
    }
    for now in [0, u64::MAX] {
        a.ingest(&spans, now);
        a.tick(now);
        for w in [
            Window::ONE_MINUTE,
            Window::Whole,
            Window::Last(Duration::MAX),
        ] {
            let _ = a.snapshot(w, now);
        }
        a.flush(now);
    }
    let _ = analyze_all(mk.interner.clone(), &spans, AnalyzerConfig::default());
    let _ = analyze_all(mk.interner.clone(), &[], AnalyzerConfig::default());
}
