//! Fixed data for tests, benches and screenshots: a bookinfo-like mesh with an error edge, a
//! policy violation, an RBAC denial and anomalies, and a large synthetic graph.

use std::collections::{BTreeMap, BTreeSet};

use meshlens_analyzer::anomaly::{
    Anomaly, AnomalyKind, EdgeRef, Evidence, MESH_NODE, Severity, Subject,
};
use meshlens_analyzer::snapshot::{
    EdgePairing, EdgeSnapshot, GraphSnapshot, NodeKind, NodeSnapshot, PairingStats, Quantiles,
};

use crate::data::{
    DashboardData, PolicyEntry, PolicyPanel, PolicySetStatus, RuleEntry, SpanSample, SpanStatus,
    TraceSample, Violation, WorkloadPolicies,
};

/// The "now" of [`bookinfo`]: its snapshot's time.
pub const NOW_MS: u64 = 1_700_000_000_000;

fn node(id: &str, kind: NodeKind, versions: &[&str]) -> NodeSnapshot {
    let (service, namespace) = match id.split_once('.') {
        Some((s, ns)) => (s.to_owned(), Some(ns.to_owned())),
        None => (id.to_owned(), None),
    };
    NodeSnapshot {
        id: id.to_owned(),
        service,
        namespace,
        kind,
        versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        requests: 0.0,
        errors: 0.0,
        rps: 0.0,
        error_rate: 0.0,
    }
}

/// An edge over a 60 s window.
pub fn edge(source: &str, target: &str, rps: f64, error_rate: f64, p99: f64) -> EdgeSnapshot {
    let requests = rps * 60.0;
    let latency = Quantiles {
        p50: p99 / 4.0,
        p90: p99 / 2.0,
        p95: p99 / 1.5,
        p99,
    };
    EdgeSnapshot {
        source: source.to_owned(),
        target: target.to_owned(),
        protocol: "http".to_owned(),
        requests,
        errors: (requests * error_rate).round(),
        rps,
        error_rate,
        latency_ms: latency,
        client_latency_ms: Some(latency),
        server_latency_ms: None,
        client_errors: 0.0,
        authz_denials: 0.0,
        estimated: false,
        ports: vec![9080],
        methods: vec!["GET".to_owned()],
        paths: Vec::new(),
        pairing: EdgePairing::Paired,
        trace_ids: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn anomaly(
    id: &str,
    kind: AnomalyKind,
    severity: Severity,
    subject: Subject,
    ago_s: u64,
    ended_ago_s: Option<u64>,
    message: &str,
    traces: &[&str],
) -> Anomaly {
    Anomaly {
        id: id.to_owned(),
        kind,
        severity,
        subject,
        started_at_unix_ms: NOW_MS - ago_s * 1000,
        ended_at_unix_ms: ended_ago_s.map(|s| NOW_MS - s * 1000),
        message: message.to_owned(),
        evidence: Evidence {
            trace_ids: traces.iter().map(|t| (*t).to_owned()).collect(),
            values: BTreeMap::new(),
        },
    }
}

fn on(source: &str, target: &str) -> Subject {
    Subject::Edge(EdgeRef::new(source, target))
}

const GW: &str = "istio-ingressgateway.istio-system";
const PP: &str = "productpage.bookinfo";
const DETAILS: &str = "details.bookinfo";
const REVIEWS: &str = "reviews.bookinfo";
const RATINGS: &str = "ratings.bookinfo";
/// Trace ids of the sample traces.
pub const TRACE_OK: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const TRACE_ERR: &str = "0af7651916cd43dd8448eb211c80319c";

/// A bookinfo-like mesh: gateway → productpage → details / reviews (v1-v3) → ratings;
/// `productpage → reviews` fails 12 % of requests, `productpage → ratings` is a new edge the
/// policies deny, `details → ratings` gets RBAC 403s.
pub fn bookinfo() -> DashboardData {
    let mut gw_pp = edge(GW, PP, 10.0, 0.0, 180.0);
    gw_pp.paths = vec!["/productpage".to_owned()];
    gw_pp.trace_ids = vec![TRACE_OK.to_owned(), TRACE_ERR.to_owned()];
    let mut pp_details = edge(PP, DETAILS, 10.0, 0.0, 12.0);
    pp_details.paths = vec!["/details/{id}".to_owned()];
    pp_details.trace_ids = vec![TRACE_OK.to_owned()];
    let mut pp_reviews = edge(PP, REVIEWS, 10.0, 0.12, 140.0);
    pp_reviews.paths = vec!["/reviews/{id}".to_owned()];
    pp_reviews.trace_ids = vec![TRACE_OK.to_owned(), TRACE_ERR.to_owned()];
    let mut reviews_ratings = edge(REVIEWS, RATINGS, 6.7, 0.0, 35.0);
    reviews_ratings.paths = vec!["/ratings/{id}".to_owned()];
    reviews_ratings.trace_ids = vec![TRACE_OK.to_owned()];
    let mut pp_ratings = edge(PP, RATINGS, 0.5, 0.0, 22.0);
    pp_ratings.paths = vec!["/ratings/{id}".to_owned()];
    pp_ratings.trace_ids = vec!["5b8aa5a2d2c872e8321cf37308d69df2".to_owned()];
    let mut details_ratings = edge(DETAILS, RATINGS, 0.2, 0.0, 3.0);
    details_ratings.authz_denials = 12.0;
    details_ratings.trace_ids = vec!["6e0c63257de34c92bf9efcd03927272e".to_owned()];

    let mut graph = GraphSnapshot {
        window_seconds: 60.0,
        generated_at_unix_ms: NOW_MS,
        nodes: vec![
            node(GW, NodeKind::Service, &[]),
            node(PP, NodeKind::Service, &["v1"]),
            node(DETAILS, NodeKind::Service, &["v1"]),
            node(REVIEWS, NodeKind::Service, &["v1", "v2", "v3"]),
            node(RATINGS, NodeKind::Service, &["v1"]),
        ],
        edges: vec![
            gw_pp,
            pp_details,
            pp_reviews,
            reviews_ratings,
            pp_ratings,
            details_ratings,
        ],
        pairing: PairingStats {
            paired: 2_400,
            expired_client: 400,
            ..PairingStats::default()
        },
    };
    graph.total_nodes();

    let anomalies = vec![
        anomaly(
            "a1",
            AnomalyKind::PolicyViolation,
            Severity::Critical,
            on(PP, RATINGS),
            45,
            None,
            "productpage.bookinfo → ratings.bookinfo: GET /ratings/{id} is denied by the \
             policies (no ALLOW rule of bookinfo/ratings-viewer matches) but 30 requests flowed",
            &["5b8aa5a2d2c872e8321cf37308d69df2"],
        ),
        anomaly(
            "a2",
            AnomalyKind::ErrorBurst,
            Severity::Critical,
            on(PP, REVIEWS),
            95,
            None,
            "productpage.bookinfo → reviews.bookinfo: 12.0% of requests fail (UF,URX), \
             baseline 0.0%",
            &[TRACE_ERR],
        ),
        anomaly(
            "a3",
            AnomalyKind::RbacDenial,
            Severity::Warning,
            on(DETAILS, RATINGS),
            30,
            None,
            "details.bookinfo → ratings.bookinfo: 12 RBAC 403 denials (bookinfo/ratings-viewer)",
            &["6e0c63257de34c92bf9efcd03927272e"],
        ),
        anomaly(
            "a4",
            AnomalyKind::NewEdge,
            Severity::Info,
            on(PP, RATINGS),
            50,
            None,
            "new edge productpage.bookinfo → ratings.bookinfo (0.50 rps)",
            &[],
        ),
        anomaly(
            "a5",
            AnomalyKind::LatencyRegression,
            Severity::Warning,
            on(REVIEWS, RATINGS),
            600,
            Some(240),
            "reviews.bookinfo → ratings.bookinfo: p99 410 ms, baseline 35 ms",
            &[],
        ),
        anomaly(
            "a6",
            AnomalyKind::TelemetryGap,
            Severity::Warning,
            Subject::Node(MESH_NODE.to_owned()),
            20,
            None,
            "14.3% of span halves expired unpaired (baseline 0.5%)",
            &[],
        ),
    ];

    let policies = PolicyPanel {
        status: Some(PolicySetStatus {
            policies: 3,
            files: vec!["policies/bookinfo.yaml".to_owned()],
            loads: 1,
            loaded_at_unix_ms: NOW_MS - 300_000,
            last_error: None,
        }),
        detail_available: true,
        workloads: vec![
            WorkloadPolicies {
                workload: RATINGS.to_owned(),
                policies: vec![PolicyEntry {
                    name: "bookinfo/ratings-viewer".to_owned(),
                    action: "ALLOW".to_owned(),
                    dry_run: false,
                    location: Some("policies/bookinfo.yaml:12".to_owned()),
                    rules: vec![
                        RuleEntry {
                            index: 0,
                            summary: "from sa/bookinfo-reviews to GET /ratings/*".to_owned(),
                            hits: 402,
                        },
                        RuleEntry {
                            index: 1,
                            summary: "from ns/monitoring to GET /metrics".to_owned(),
                            hits: 0,
                        },
                    ],
                }],
                violations: vec![
                    Violation {
                        source: PP.to_owned(),
                        operation: "GET /ratings/{id}".to_owned(),
                        reason: "no ALLOW rule of bookinfo/ratings-viewer matches".to_owned(),
                        requests: 30,
                        enforced: false,
                    },
                    Violation {
                        source: DETAILS.to_owned(),
                        operation: "GET /ratings/{id}".to_owned(),
                        reason: "denied by the proxy (RBAC 403)".to_owned(),
                        requests: 12,
                        enforced: true,
                    },
                ],
            },
            WorkloadPolicies {
                workload: REVIEWS.to_owned(),
                policies: vec![PolicyEntry {
                    name: "bookinfo/reviews-viewer".to_owned(),
                    action: "ALLOW".to_owned(),
                    dry_run: false,
                    location: Some("policies/bookinfo.yaml:30".to_owned()),
                    rules: vec![RuleEntry {
                        index: 0,
                        summary: "from sa/bookinfo-productpage to GET /reviews/*".to_owned(),
                        hits: 600,
                    }],
                }],
                violations: Vec::new(),
            },
            WorkloadPolicies {
                workload: DETAILS.to_owned(),
                policies: vec![PolicyEntry {
                    name: "bookinfo/deny-legacy".to_owned(),
                    action: "DENY".to_owned(),
                    dry_run: true,
                    location: Some("policies/bookinfo.yaml:44".to_owned()),
                    rules: vec![RuleEntry {
                        index: 0,
                        summary: "from ns/legacy".to_owned(),
                        hits: 0,
                    }],
                }],
                violations: Vec::new(),
            },
        ],
    };

    let span = |service: &str, name: &str, depth, start, duration, status| SpanSample {
        service: service.to_owned(),
        name: name.to_owned(),
        kind: if depth % 2 == 0 { "client" } else { "server" }.to_owned(),
        depth,
        start_offset_ms: start,
        duration_ms: duration,
        status,
    };
    let traces = vec![
        TraceSample {
            trace_id: TRACE_OK.to_owned(),
            spans: vec![
                span(
                    "istio-ingressgateway",
                    "productpage:9080/*",
                    0,
                    0.0,
                    160.0,
                    SpanStatus::Ok,
                ),
                span(
                    "productpage",
                    "productpage:9080/*",
                    1,
                    1.0,
                    158.0,
                    SpanStatus::Ok,
                ),
                span(
                    "productpage",
                    "details:9080/*",
                    2,
                    5.0,
                    10.0,
                    SpanStatus::Ok,
                ),
                span("details", "details:9080/*", 3, 6.0, 8.0, SpanStatus::Ok),
                span(
                    "productpage",
                    "reviews:9080/*",
                    2,
                    20.0,
                    120.0,
                    SpanStatus::Ok,
                ),
                span("reviews", "reviews:9080/*", 3, 21.0, 118.0, SpanStatus::Ok),
                span("reviews", "ratings:9080/*", 4, 40.0, 30.0, SpanStatus::Ok),
                span("ratings", "ratings:9080/*", 5, 41.0, 28.0, SpanStatus::Ok),
            ],
        },
        TraceSample {
            trace_id: TRACE_ERR.to_owned(),
            spans: vec![
                span(
                    "istio-ingressgateway",
                    "productpage:9080/*",
                    0,
                    0.0,
                    95.0,
                    SpanStatus::Ok,
                ),
                span(
                    "productpage",
                    "productpage:9080/*",
                    1,
                    1.0,
                    93.0,
                    SpanStatus::Ok,
                ),
                span(
                    "productpage",
                    "reviews:9080/*",
                    2,
                    10.0,
                    80.0,
                    SpanStatus::Error,
                ),
                span(
                    "reviews",
                    "reviews:9080/*",
                    3,
                    11.0,
                    78.0,
                    SpanStatus::Error,
                ),
            ],
        },
    ];

    DashboardData {
        graph,
        anomalies,
        policies: Some(policies),
        traces,
    }
}

/// A synthetic mesh of `services` services in tiers of 25, with `edges` edges going one or two
/// tiers deeper; deterministic. Every 50th edge fails, every 97th is policy-denied.
pub fn large(services: usize, edges: usize) -> DashboardData {
    let tier = 25usize;
    let ids: Vec<String> = (0..services)
        .map(|i| format!("svc-{:03}.t{}", i, i / tier))
        .collect();
    let nodes = ids
        .iter()
        .map(|id| node(id, NodeKind::Service, &["v1"]))
        .collect();
    let tiers = services.div_ceil(tier).max(1);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut out = Vec::with_capacity(edges);
    let mut anomalies = Vec::new();
    let mut guard = 0;
    while out.len() < edges && tiers > 1 && guard < edges * 50 {
        guard += 1;
        let s = (next() as usize) % services;
        let st = s / tier;
        if st + 1 >= tiers {
            continue;
        }
        let dt = st + 1 + (next() as usize % 2).min(tiers - st - 2);
        let t = dt * tier + (next() as usize) % tier;
        if t >= services || !seen.insert((s, t)) {
            continue;
        }
        let k = out.len();
        let error = if k % 50 == 0 { 0.15 } else { 0.0 };
        let rps = 0.5 + (next() % 500) as f64 / 10.0;
        let mut e = edge(&ids[s], &ids[t], rps, error, 5.0 + (next() % 300) as f64);
        e.trace_ids = vec![format!("{:032x}", next())];
        if k % 97 == 0 {
            anomalies.push(anomaly(
                &format!("p{k}"),
                AnomalyKind::PolicyViolation,
                Severity::Critical,
                on(&ids[s], &ids[t]),
                10,
                None,
                "denied by the policies",
                &[],
            ));
        }
        out.push(e);
    }
    let mut graph = GraphSnapshot {
        window_seconds: 60.0,
        generated_at_unix_ms: NOW_MS,
        nodes,
        edges: out,
        pairing: PairingStats::default(),
    };
    graph.total_nodes();
    DashboardData {
        graph,
        anomalies,
        policies: None,
        traces: Vec::new(),
    }
}
