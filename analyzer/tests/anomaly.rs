//! Anomaly detection on scripted snapshot sequences: each kind starts when it should (not
//! before), ends when it clears, with hysteresis; config parsing; the API's JSON shape.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

use meshlens_analyzer::anomaly::{
    Anomaly, AnomalyConfig, AnomalyDetector, AnomalyEvent, AnomalyKind, ConfigError, EdgeRef,
    Evidence, PairingCounters, Severity, Subject,
};
use meshlens_analyzer::snapshot::{
    EdgePairing, EdgeSnapshot, GraphSnapshot, PairingStats, Quantiles,
};
use serde_json::json;

const T0: u64 = 1_700_000_000_000;
/// The live analyzer snapshots every few seconds.
const STEP_MS: u64 = 5_000;
const PP: &str = "productpage.bookinfo";
const REVIEWS: &str = "reviews.bookinfo";
const RATINGS: &str = "ratings.bookinfo";
const DETAILS: &str = "details.bookinfo";

/// An edge over a 60 s window with `requests` requests, p99 `p99` ms.
fn edge(source: &str, target: &str, requests: f64) -> EdgeSnapshot {
    EdgeSnapshot {
        source: source.to_owned(),
        target: target.to_owned(),
        protocol: "http".to_owned(),
        requests,
        errors: 0.0,
        rps: requests / 60.0,
        error_rate: 0.0,
        latency_ms: Quantiles {
            p50: 5.0,
            p90: 9.0,
            p95: 11.0,
            p99: 20.0,
        },
        client_latency_ms: None,
        server_latency_ms: None,
        client_errors: 0.0,
        authz_denials: 0.0,
        estimated: false,
        ports: vec![9080],
        methods: vec!["GET".to_owned()],
        paths: vec![],
        pairing: EdgePairing::Paired,
        trace_ids: vec![format!("{source}-{target}-trace")],
    }
}

fn with_errors(mut e: EdgeSnapshot, errors: f64) -> EdgeSnapshot {
    e.errors = errors;
    e.error_rate = errors / e.requests;
    e
}

fn with_p99(mut e: EdgeSnapshot, p99: f64) -> EdgeSnapshot {
    e.latency_ms.p99 = p99;
    e
}

/// Snapshot number `i` of the sequence (every 5 s from T0).
fn snap(i: u64, edges: Vec<EdgeSnapshot>) -> GraphSnapshot {
    GraphSnapshot {
        window_seconds: 60.0,
        generated_at_unix_ms: T0 + i * STEP_MS,
        nodes: vec![],
        edges,
        pairing: PairingStats::default(),
    }
}

/// Feeds snapshots `from..to` built by `f`; returns (snapshot index, event).
fn run(
    det: &mut AnomalyDetector,
    from: u64,
    to: u64,
    f: impl Fn(u64) -> Vec<EdgeSnapshot>,
) -> Vec<(u64, AnomalyEvent)> {
    let mut out = Vec::new();
    for i in from..to {
        for ev in det.observe(&snap(i, f(i))) {
            out.push((i, ev));
        }
    }
    out
}

fn started(events: &[(u64, AnomalyEvent)]) -> Vec<(u64, &Anomaly)> {
    events
        .iter()
        .filter_map(|(i, e)| match e {
            AnomalyEvent::Started(a) => Some((*i, a)),
            AnomalyEvent::Ended(_) => None,
        })
        .collect()
}

fn ended(events: &[(u64, AnomalyEvent)]) -> Vec<(u64, &Anomaly)> {
    events
        .iter()
        .filter_map(|(i, e)| match e {
            AnomalyEvent::Ended(a) => Some((*i, a)),
            AnomalyEvent::Started(_) => None,
        })
        .collect()
}

fn edge_subject(s: &str, t: &str) -> Subject {
    Subject::Edge(EdgeRef::new(s, t))
}

/// Deterministic noise in [-1, 1] (a linear congruential generator).
fn noise(i: u64, seed: u64) -> f64 {
    let x = (i.wrapping_add(seed))
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) % 2001) as f64 / 1000.0 - 1.0
}

/// 10 minutes of snapshots (120 × 5 s): the baseline phase used by most tests.
const BASE: u64 = 120;

// ---------------------------------------------------------------------------------------------
// new-edge

#[test]
fn new_edge_fires_only_after_warmup() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // productpage → reviews from the start; → details first appears at 100 s (in the 2 min
    // warm-up: known); → ratings at 150 s (after it: new).
    let events = run(&mut det, 0, 60, |i| {
        let mut edges = vec![edge(PP, REVIEWS, 120.0)];
        if i >= 20 {
            edges.push(edge(PP, DETAILS, 60.0));
        }
        if i >= 30 {
            edges.push(edge(REVIEWS, RATINGS, 60.0));
        }
        edges
    });
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    let (i, a) = s[0];
    assert_eq!(i, 30, "fires on first sight, no hysteresis needed");
    assert_eq!(a.kind, AnomalyKind::NewEdge);
    assert_eq!(a.severity, Severity::Info);
    assert_eq!(a.subject, edge_subject(REVIEWS, RATINGS));
    assert!(
        a.message
            .starts_with("new edge reviews.bookinfo → ratings.bookinfo: first seen after 150s"),
        "{}",
        a.message
    );
    assert_eq!(
        a.evidence.trace_ids,
        vec!["reviews.bookinfo-ratings.bookinfo-trace"]
    );
    assert_eq!(a.evidence.values["requests"], 60.0);
}

#[test]
fn new_edge_ends_after_open_period_and_is_then_known() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let with_new = |i: u64| {
        let mut edges = vec![edge(PP, REVIEWS, 120.0)];
        if (30..40).contains(&i) || i >= 150 {
            edges.push(edge(REVIEWS, RATINGS, 60.0));
        }
        edges
    };
    let events = run(&mut det, 0, 200, with_new);
    let s = started(&events);
    let e = ended(&events);
    assert_eq!(
        s.len(),
        1,
        "the edge's return at 750 s is not new again: {events:#?}"
    );
    assert_eq!(e.len(), 1);
    // Open 300 s (60 snapshots) even though the edge went quiet after 50 s.
    assert_eq!(e[0].0, 90);
    assert_eq!(e[0].1.id, s[0].1.id, "an anomaly keeps its id");
    assert_eq!(e[0].1.ended_at_unix_ms, Some(T0 + 90 * STEP_MS));
}

#[test]
fn new_edge_against_baseline_graph_from_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let graph = GraphSnapshot {
        window_seconds: 3600.0,
        generated_at_unix_ms: T0,
        nodes: vec![],
        edges: vec![edge(PP, REVIEWS, 1.0), edge(PP, DETAILS, 1.0)],
        pairing: PairingStats::default(),
    };
    std::fs::write(
        dir.path().join("graph.json"),
        serde_json::to_string(&graph).unwrap(),
    )
    .unwrap();
    let config_path = dir.path().join("anomalies.yaml");
    std::fs::write(
        &config_path,
        "new_edge:\n  baseline_graph: graph.json\n  baseline_edges:\n    - { source: reviews.bookinfo, target: ratings.bookinfo }\n",
    )
    .unwrap();
    let config = AnomalyConfig::from_yaml(&config_path).unwrap();
    assert_eq!(
        config.new_edge.baseline_edges.as_ref().map(Vec::len),
        Some(3)
    );
    let mut det = AnomalyDetector::new(config);
    // No warm-up with a baseline: an edge outside it is new at the first observation.
    let events = run(&mut det, 0, 5, |_| {
        vec![
            edge(PP, REVIEWS, 100.0),
            edge(PP, DETAILS, 100.0),
            edge(REVIEWS, RATINGS, 100.0),
            edge(PP, RATINGS, 3.0),
        ]
    });
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(s[0].0, 0);
    assert_eq!(s[0].1.subject, edge_subject(PP, RATINGS));
    assert_eq!(s[0].1.severity, Severity::Warning);
    assert!(
        s[0].1.message.contains("not in the baseline graph"),
        "{}",
        s[0].1.message
    );
}

// ---------------------------------------------------------------------------------------------
// traffic-drop

#[test]
fn traffic_drop_starts_escalates_to_gone_quiet_and_recovers() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let steady = |_| vec![edge(PP, REVIEWS, 600.0)]; // 10 req/s
    assert!(run(&mut det, 0, BASE, steady).is_empty());
    // Falls to 1 req/s: below 20% of the baseline.
    let drop = run(&mut det, BASE, BASE + 10, |_| vec![edge(PP, REVIEWS, 60.0)]);
    let s = started(&drop);
    assert_eq!(s.len(), 1, "{drop:#?}");
    assert_eq!(s[0].0, BASE + 1, "needs 2 consecutive observations");
    let a = s[0].1;
    assert_eq!(a.kind, AnomalyKind::TrafficDrop);
    assert_eq!(a.severity, Severity::Warning);
    assert_eq!(
        a.message,
        "traffic on productpage.bookinfo → reviews.bookinfo fell to 1.0 req/s (baseline 10 req/s, -90%) over the last minute"
    );
    assert_eq!(a.evidence.values["baseline_rps"], 10.0);
    let id = a.id.clone();
    // Then nothing at all: the same anomaly, escalated to "gone quiet".
    assert!(run(&mut det, BASE + 10, BASE + 20, |_| vec![]).is_empty());
    let open = det.open();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, id);
    assert_eq!(open[0].severity, Severity::Critical);
    assert_eq!(
        open[0].message,
        "productpage.bookinfo → reviews.bookinfo has gone quiet: no requests over the last minute (baseline 10 req/s)"
    );
    assert_eq!(open[0].evidence.trace_ids.len(), 1, "last trace ids seen");
    // 4 req/s is above the drop threshold but below the recovery one: still open.
    assert!(
        run(&mut det, BASE + 20, BASE + 30, |_| vec![edge(
            PP, REVIEWS, 240.0
        )])
        .is_empty()
    );
    assert_eq!(det.open().len(), 1);
    // Back to normal: ends after 3 clear observations, same id.
    let back = run(&mut det, BASE + 30, BASE + 40, steady);
    let e = ended(&back);
    assert_eq!(e.len(), 1, "{back:#?}");
    assert_eq!(e[0].0, BASE + 32);
    assert_eq!(e[0].1.id, id);
    assert!(det.open().is_empty());
}

#[test]
fn traffic_drop_ignores_quiet_edges_and_short_dips() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // 0.2 req/s is below min_baseline_rps (0.5): it may stop without an anomaly.
    let mut events = run(&mut det, 0, BASE, |_| {
        vec![edge(PP, REVIEWS, 600.0), edge(PP, DETAILS, 12.0)]
    });
    events.extend(run(&mut det, BASE, BASE + 30, |i| {
        // one snapshot dipping: below the 2-observation start
        let reviews = if i == BASE + 5 { 60.0 } else { 600.0 };
        vec![edge(PP, REVIEWS, reviews)]
    }));
    assert!(events.is_empty(), "{events:#?}");
}

// ---------------------------------------------------------------------------------------------
// error-burst

#[test]
fn error_burst_relative_to_baseline_message_and_severity() {
    let mut config = AnomalyConfig::default();
    // An edge that always fails 0.4% would be "degraded" by Kiali's absolute defaults; the
    // relative rule alone is tested here.
    config.error_burst.warning_ratio = None;
    let mut det = AnomalyDetector::new(config);
    let base = run(&mut det, 0, BASE, |i| {
        let errors = 4.0 + (noise(i, 1) * 2.0).round(); // 0.2%..0.6%
        vec![with_errors(edge(PP, REVIEWS, 1000.0), errors)]
    });
    assert!(base.is_empty(), "{base:#?}");
    // 1.0% is 2.5× the baseline: not enough.
    let small = run(&mut det, BASE, BASE + 10, |_| {
        vec![with_errors(edge(PP, REVIEWS, 1000.0), 10.0)]
    });
    assert!(small.is_empty(), "{small:#?}");
    let burst = run(&mut det, BASE + 10, BASE + 20, |_| {
        vec![with_errors(edge(PP, REVIEWS, 200.0), 47.0)]
    });
    // (The rate also fell from 1000 to 200 requests a minute: a traffic drop too.)
    let s = started(&burst);
    assert_eq!(s.len(), 2, "{burst:#?}");
    assert_eq!(s[0].1.kind, AnomalyKind::TrafficDrop);
    let a = s[1].1;
    assert_eq!(a.kind, AnomalyKind::ErrorBurst);
    assert_eq!(
        a.severity,
        Severity::Critical,
        "above Kiali's 10% failure threshold"
    );
    assert_eq!(
        a.message,
        "error rate on productpage.bookinfo → reviews.bookinfo rose to 23.5% (baseline 0.4%) over the last minute: 47 of 200 requests failed"
    );
    assert_eq!(a.evidence.values["baseline_error_rate"], 0.004);
    assert_eq!(a.evidence.values["errors"], 47.0);
    assert_eq!(
        a.evidence.trace_ids,
        vec!["productpage.bookinfo-reviews.bookinfo-trace"]
    );
}

#[test]
fn error_burst_kiali_absolute_thresholds() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    assert!(run(&mut det, 0, 10, |_| vec![edge(PP, REVIEWS, 1000.0)]).is_empty());
    // 0.3%: Kiali "degraded" (≥ 0.1%): a warning, even without a baseline yet.
    let events = run(&mut det, 10, 20, |_| {
        vec![with_errors(edge(PP, REVIEWS, 1000.0), 3.0)]
    });
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(s[0].1.severity, Severity::Warning);
    assert!(
        s[0].1.message.contains("rose to 0.3% over the last minute"),
        "{}",
        s[0].1.message
    );
}

#[test]
fn error_burst_steady_degraded_edge_still_learns_its_baseline() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // Always 0.4% failing: "degraded" by Kiali's absolute 0.1% from the start, for good.
    let events = run(&mut det, 0, BASE, |_| {
        vec![with_errors(edge(PP, REVIEWS, 1000.0), 4.0)]
    });
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(s[0].1.severity, Severity::Warning);
    assert!(ended(&events).is_empty());
    // The open anomaly did not stop the edge from learning its normal rate.
    let open = det.open();
    assert_eq!(open[0].evidence.values["baseline_error_rate"], 0.004);
    assert!(
        open[0].message.contains("(baseline 0.4%)"),
        "{}",
        open[0].message
    );
    // A burst escalates the same anomaly.
    run(&mut det, BASE, BASE + 3, |_| {
        vec![with_errors(edge(PP, REVIEWS, 1000.0), 150.0)]
    });
    assert_eq!(det.open().len(), 1);
    assert_eq!(det.open()[0].id, s[0].1.id);
    assert_eq!(det.open()[0].severity, Severity::Critical);
}

#[test]
fn error_burst_needs_enough_requests_and_errors() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let events = run(&mut det, 0, 40, |_| {
        vec![
            // 2 of 5 failing: too few requests (min 10)
            with_errors(edge(PP, REVIEWS, 5.0), 2.0),
            // 1 of 500: a single failure (min 2 errors)
            with_errors(edge(PP, DETAILS, 500.0), 1.0),
        ]
    });
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn error_burst_hysteresis_and_end() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let e = |errors: f64| move |_| vec![with_errors(edge(PP, REVIEWS, 10_000.0), errors)];
    assert!(run(&mut det, 0, BASE, e(0.0)).is_empty());
    // A single bad observation does not start anything.
    assert!(run(&mut det, BASE, BASE + 1, e(500.0)).is_empty());
    assert!(run(&mut det, BASE + 1, BASE + 5, e(0.0)).is_empty());
    let start = run(&mut det, BASE + 5, BASE + 10, e(500.0)); // 5%
    assert_eq!(started(&start).len(), 1);
    assert_eq!(started(&start)[0].0, BASE + 6);
    let id = started(&start)[0].1.id.clone();
    // 0.08% is below the 0.1% start threshold but above the clear level (0.05%): open.
    assert!(run(&mut det, BASE + 10, BASE + 30, e(8.0)).is_empty());
    assert_eq!(det.open().len(), 1);
    assert!(
        det.open()[0].message.contains("rose to 0.08%"),
        "updated message"
    );
    assert_eq!(det.open()[0].severity, Severity::Warning);
    // Two clear observations, then bad again: still the same anomaly.
    assert!(run(&mut det, BASE + 30, BASE + 32, e(0.0)).is_empty());
    assert!(run(&mut det, BASE + 32, BASE + 33, e(500.0)).is_empty());
    let end = run(&mut det, BASE + 33, BASE + 40, e(0.0));
    let ends = ended(&end);
    assert_eq!(ends.len(), 1, "{end:#?}");
    assert_eq!(ends[0].0, BASE + 35, "3 consecutive clear observations");
    assert_eq!(ends[0].1.id, id);
    // Later, a new burst is a new anomaly with a new id.
    let again = run(&mut det, BASE + 40, BASE + 45, e(500.0));
    assert_eq!(started(&again).len(), 1);
    assert_ne!(started(&again)[0].1.id, id);
}

#[test]
fn error_burst_on_client_errors_like_kiali_4xx() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let events = run(&mut det, 0, 5, |_| {
        let mut e = edge(PP, REVIEWS, 200.0);
        e.client_errors = 30.0; // 15%: Kiali 4xx degraded (10%), not failure (20%)
        vec![e]
    });
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(s[0].1.severity, Severity::Warning);
    assert_eq!(
        s[0].1.message,
        "4xx rate on productpage.bookinfo → reviews.bookinfo is 15.0% over the last minute: 30 of 200 requests"
    );
}

// ---------------------------------------------------------------------------------------------
// latency-regression

fn noisy_p99(i: u64) -> f64 {
    100.0 + 30.0 * noise(i, 7) // 70..130 ms
}

#[test]
fn latency_noise_within_bounds_never_fires() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // An hour of noisy p99 with isolated spikes to 190 ms (under 2× the median).
    let events = run(&mut det, 0, 720, |i| {
        let p99 = if i % 37 == 0 { 190.0 } else { noisy_p99(i) };
        vec![with_p99(edge(PP, REVIEWS, 600.0), p99)]
    });
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn latency_regression_sustained_starts_and_ends_with_hysteresis() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let p = |f: fn(u64) -> f64| move |i| vec![with_p99(edge(PP, REVIEWS, 600.0), f(i))];
    assert!(run(&mut det, 0, BASE, p(noisy_p99)).is_empty());
    // Two observations at 400 ms then back: not sustained (3 needed).
    assert!(run(&mut det, BASE, BASE + 2, p(|_| 400.0)).is_empty());
    assert!(run(&mut det, BASE + 2, BASE + 4, p(noisy_p99)).is_empty());
    let events = run(&mut det, BASE + 4, BASE + 10, p(|_| 400.0));
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(s[0].0, BASE + 6, "third consecutive observation");
    let a = s[0].1;
    assert_eq!(a.kind, AnomalyKind::LatencyRegression);
    assert_eq!(a.severity, Severity::Warning);
    let base = a.evidence.values["baseline_p99_ms"];
    assert!((90.0..110.0).contains(&base), "{base}");
    assert!(
        a.message.starts_with(
            "p99 latency on productpage.bookinfo → reviews.bookinfo rose to 400 ms (baseline "
        ),
        "{}",
        a.message
    );
    assert!(
        a.message.ends_with("×) over the last minute"),
        "{}",
        a.message
    );
    // 170 ms: below the 2× threshold, above the clear level (half-way): stays open; the
    // baseline did not learn from the incident.
    assert!(run(&mut det, BASE + 10, BASE + 20, p(|_| 170.0)).is_empty());
    assert_eq!(det.open().len(), 1);
    assert_eq!(det.open()[0].evidence.values["baseline_p99_ms"], base);
    let end = run(&mut det, BASE + 20, BASE + 30, p(noisy_p99));
    let e = ended(&end);
    assert_eq!(e.len(), 1, "{end:#?}");
    assert_eq!(e[0].0, BASE + 22);
    assert_eq!(e[0].1.id, a.id);
}

#[test]
fn latency_regression_critical_and_min_requests() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let events = run(&mut det, 0, BASE + 10, |i| {
        let p99 = if i < BASE { 20.0 } else { 2000.0 };
        vec![
            with_p99(edge(PP, REVIEWS, 600.0), p99),
            // 10 requests per window: too few for a p99 to mean anything
            with_p99(edge(PP, DETAILS, 10.0), p99),
        ]
    });
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(s[0].1.subject, edge_subject(PP, REVIEWS));
    assert_eq!(s[0].1.severity, Severity::Critical, "100× the baseline");
}

#[test]
fn latency_small_absolute_increase_is_not_a_regression() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // 4 ms → 12 ms is 3× but only +8 ms (min_increase_ms 25).
    let events = run(&mut det, 0, BASE + 20, |i| {
        let p99 = if i < BASE { 4.0 } else { 12.0 };
        vec![with_p99(edge(PP, REVIEWS, 600.0), p99)]
    });
    assert!(events.is_empty(), "{events:#?}");
}

// ---------------------------------------------------------------------------------------------
// authz-denial-burst

#[test]
fn authz_denial_burst_by_rate_and_by_ratio() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let events = run(&mut det, 0, 30, |i| {
        let mut busy = edge(PP, REVIEWS, 1000.0);
        let mut small = edge(PP, RATINGS, 20.0);
        let mut background = edge(PP, DETAILS, 1000.0);
        background.authz_denials = 3.0; // 3/min, 0.3%: below both thresholds
        if (5..20).contains(&i) {
            busy.authz_denials = 30.0; // 30/min ≥ 10/min
            small.authz_denials = 6.0; // 6/min, but 30% of requests
        }
        vec![busy, small, background]
    });
    let s = started(&events);
    assert_eq!(s.len(), 2, "{events:#?}");
    assert!(
        s.iter()
            .all(|(i, a)| *i == 6 && a.kind == AnomalyKind::AuthzDenialBurst)
    );
    let busy = s
        .iter()
        .find(|(_, a)| a.subject == edge_subject(PP, REVIEWS))
        .unwrap()
        .1;
    assert_eq!(busy.severity, Severity::Warning);
    assert_eq!(
        busy.message,
        "30 authorization denials (403 RBAC) on productpage.bookinfo → reviews.bookinfo over the last minute (30.0/min, 3.0% of requests)"
    );
    assert_eq!(busy.evidence.values["authz_denials"], 30.0);
    let e = ended(&events);
    assert_eq!(e.len(), 2);
    assert!(e.iter().all(|(i, _)| *i == 22));
}

#[test]
fn authz_mostly_denied_is_critical() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let events = run(&mut det, 0, 5, |_| {
        let mut e = edge("user", REVIEWS, 300.0);
        e.authz_denials = 200.0;
        vec![e]
    });
    let s = started(&events);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.severity, Severity::Critical);
}

// ---------------------------------------------------------------------------------------------
// telemetry-gap

fn pairing(paired: u64, expired_client: u64, dropped: u64) -> PairingStats {
    PairingStats {
        paired,
        expired_client,
        expired_server: 0,
        dropped_store_full: dropped,
        unpairable: 0,
        pending: 10,
    }
}

fn run_pairing(
    det: &mut AnomalyDetector,
    from: u64,
    to: u64,
    f: impl Fn(u64) -> PairingStats,
) -> Vec<(u64, AnomalyEvent)> {
    let mut out = Vec::new();
    for i in from..to {
        let mut s = snap(i, vec![edge(PP, REVIEWS, 600.0)]);
        s.pairing = f(i);
        out.extend(det.observe(&s).into_iter().map(|e| (i, e)));
    }
    out
}

#[test]
fn telemetry_gap_rises_above_its_baseline_then_clears() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // 1000 pairs and 20 expired halves per window: a ~1% steady baseline.
    assert!(run_pairing(&mut det, 0, BASE, |_| pairing(1000, 20, 0)).is_empty());
    let events = run_pairing(&mut det, BASE, BASE + 10, |_| pairing(1000, 600, 0));
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    let a = s[0].1;
    assert_eq!(s[0].0, BASE + 1);
    assert_eq!(a.kind, AnomalyKind::TelemetryGap);
    assert_eq!(a.subject, Subject::Node("*".to_owned()));
    assert_eq!(a.severity, Severity::Warning);
    assert_eq!(
        a.message,
        "telemetry gap: 23.1% of span halves went unpaired over the last minute (baseline 1.0%): 600 client and 0 server halves expired, 0 dropped because the pairing store was full"
    );
    // The store filling up makes it critical.
    assert!(run_pairing(&mut det, BASE + 10, BASE + 12, |_| pairing(1000, 600, 50)).is_empty());
    assert_eq!(det.open()[0].severity, Severity::Critical);
    let end = run_pairing(&mut det, BASE + 12, BASE + 20, |_| pairing(1000, 20, 0));
    assert_eq!(ended(&end).len(), 1);
    assert_eq!(ended(&end)[0].1.id, a.id);
}

#[test]
fn telemetry_gap_steady_high_expiry_is_not_a_gap() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    // A mesh calling databases: 30% of halves always expire (no server span). Steady, so
    // not an anomaly; and nothing is judged during warm-up or on too few halves.
    let events = run_pairing(&mut det, 0, BASE * 2, |i| {
        pairing(700, 600 + (noise(i, 3) * 40.0) as u64, 0)
    });
    assert!(events.is_empty(), "{events:#?}");
    let few = run_pairing(&mut det, BASE * 2, BASE * 2 + 10, |_| pairing(10, 40, 0));
    assert!(few.is_empty(), "{few:#?}");
}

#[test]
fn telemetry_gap_from_cumulative_counters() {
    let mut config = AnomalyConfig::default();
    config.telemetry_gap.counters = PairingCounters::Cumulative;
    let mut det = AnomalyDetector::new(config);
    // Counters since start: +100 pairs and +2 expired per 5 s, then +60 expired.
    let cumulative = |i: u64| {
        let bad = i.saturating_sub(BASE);
        pairing(100 * i, 2 * i + 58 * bad, 0)
    };
    let events = run_pairing(&mut det, 0, BASE + 10, cumulative);
    let s = started(&events);
    assert_eq!(s.len(), 1, "{events:#?}");
    assert_eq!(
        s[0].0,
        BASE + 2,
        "the first increment with expiries is at BASE + 1"
    );
    assert!(
        s[0].1.message.contains("over the last 5s"),
        "{}",
        s[0].1.message
    );
}

// ---------------------------------------------------------------------------------------------
// detector behaviour

#[test]
fn stale_snapshots_are_ignored_and_runs_are_deterministic() {
    let script = |i: u64| {
        let errors = if (150..170).contains(&i) { 100.0 } else { 0.0 };
        let p99 = if (200..230).contains(&i) {
            500.0
        } else {
            noisy_p99(i)
        };
        vec![
            with_p99(with_errors(edge(PP, REVIEWS, 600.0), errors), p99),
            edge(PP, DETAILS, if i < 250 { 300.0 } else { 0.0 }),
        ]
    };
    let mut a = AnomalyDetector::new(AnomalyConfig::default());
    let mut b = AnomalyDetector::new(AnomalyConfig::default());
    let ea = run(&mut a, 0, 300, script);
    let eb = run(&mut b, 0, 300, script);
    assert_eq!(ea, eb);
    assert!(!ea.is_empty());
    assert!(
        a.observe(&snap(10, script(10))).is_empty(),
        "older than the last one"
    );
    assert!(
        a.observe(&snap(299, vec![])).is_empty(),
        "same time as the last one"
    );
    assert_eq!(a.recent(), b.recent());
}

#[test]
fn forgotten_edges_end_their_anomalies_and_recent_is_bounded() {
    let mut config = AnomalyConfig::default();
    config.forget_after_seconds = 120.0;
    config.max_recent = 2;
    config.new_edge.enabled = false;
    let mut det = AnomalyDetector::new(config);
    assert!(run(&mut det, 0, BASE, |_| vec![edge(PP, REVIEWS, 600.0)]).is_empty());
    let events = run(&mut det, BASE, BASE + 40, |_| vec![]);
    let s = started(&events);
    let e = ended(&events);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.kind, AnomalyKind::TrafficDrop);
    assert_eq!(e.len(), 1, "{events:#?}");
    assert_eq!(e[0].1.id, s[0].1.id);
    assert!(det.open().is_empty());
    // Three short error bursts on another edge: recent() keeps the last 2 closed.
    for k in 0..3 {
        let from = BASE + 40 + k * 20;
        run(&mut det, from, from + 20, |i| {
            let errors = if i < from + 5 { 100.0 } else { 0.0 };
            vec![with_errors(edge(PP, DETAILS, 600.0), errors)]
        });
    }
    let recent = det.recent();
    assert_eq!(recent.len(), 2, "{recent:#?}");
    assert!(
        recent
            .iter()
            .all(|a| a.kind == AnomalyKind::ErrorBurst && !a.is_open())
    );
    assert!(
        recent[0].started_at_unix_ms > recent[1].started_at_unix_ms,
        "newest first"
    );
}

#[test]
fn recent_lists_open_and_closed() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    run(&mut det, 0, 20, |i| {
        let mut e = with_errors(edge(PP, REVIEWS, 600.0), if i < 5 { 60.0 } else { 0.0 });
        if i >= 10 {
            e.authz_denials = 50.0;
        }
        vec![e]
    });
    let recent = det.recent();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].kind, AnomalyKind::AuthzDenialBurst);
    assert!(recent[0].is_open());
    assert_eq!(recent[1].kind, AnomalyKind::ErrorBurst);
    assert!(!recent[1].is_open());
    assert_eq!(det.open(), vec![recent[0].clone()]);
}

// ---------------------------------------------------------------------------------------------
// JSON shape (the API)

#[test]
fn anomaly_json_shape() {
    let mut evidence = Evidence::default();
    evidence.trace_ids = vec!["4bf92f3577b34da6a3ce929d0e0e4736".to_owned()];
    evidence.values.insert("error_rate".to_owned(), 0.235);
    evidence
        .values
        .insert("baseline_error_rate".to_owned(), 0.004);
    let a = Anomaly {
        id: "1700000000000-1".to_owned(),
        kind: AnomalyKind::ErrorBurst,
        severity: Severity::Critical,
        subject: edge_subject(PP, REVIEWS),
        started_at_unix_ms: T0,
        ended_at_unix_ms: None,
        message: "error rate …".to_owned(),
        evidence,
    };
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        json!({
            "id": "1700000000000-1",
            "kind": "error-burst",
            "severity": "critical",
            "subject": {"edge": {"source": "productpage.bookinfo", "target": "reviews.bookinfo"}},
            "started_at_unix_ms": 1_700_000_000_000u64,
            "ended_at_unix_ms": null,
            "message": "error rate …",
            "evidence": {
                "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"],
                "baseline_error_rate": 0.004,
                "error_rate": 0.235
            }
        })
    );
    let node = Anomaly {
        subject: Subject::Node("*".to_owned()),
        kind: AnomalyKind::TelemetryGap,
        severity: Severity::Warning,
        ended_at_unix_ms: Some(T0 + 5000),
        evidence: Evidence::default(),
        ..a.clone()
    };
    let v = serde_json::to_value(&node).unwrap();
    assert_eq!(v["subject"], json!({"node": "*"}));
    assert_eq!(v["ended_at_unix_ms"], json!(1_700_000_005_000u64));
    assert_eq!(v["evidence"], json!({"trace_ids": []}));
    assert_eq!(v["severity"], "warning");
    // Round trip (the TUI reads the API).
    let back: Anomaly = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
    assert_eq!(back, a);

    let kinds: Vec<String> = [
        AnomalyKind::NewEdge,
        AnomalyKind::TrafficDrop,
        AnomalyKind::ErrorBurst,
        AnomalyKind::LatencyRegression,
        AnomalyKind::AuthzDenialBurst,
        AnomalyKind::TelemetryGap,
        AnomalyKind::PolicyViolation,
        AnomalyKind::RbacDenial,
    ]
    .iter()
    .map(|k| {
        let s = serde_json::to_value(k)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(s, k.as_str());
        s
    })
    .collect();
    assert_eq!(
        kinds,
        [
            "new-edge",
            "traffic-drop",
            "error-burst",
            "latency-regression",
            "authz-denial-burst",
            "telemetry-gap",
            "policy-violation",
            "rbac-denial"
        ]
    );
    let severities: Vec<_> = [Severity::Critical, Severity::Warning, Severity::Info]
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    assert_eq!(
        severities,
        [json!("critical"), json!("warning"), json!("info")]
    );
}

#[test]
fn events_serialize_with_their_anomaly() {
    let mut det = AnomalyDetector::new(AnomalyConfig::default());
    let events = run(&mut det, 0, 3, |_| {
        vec![with_errors(edge(PP, REVIEWS, 100.0), 50.0)]
    });
    let (_, ev) = &events[0];
    let v = serde_json::to_value(ev).unwrap();
    assert_eq!(v["event"], "started");
    assert_eq!(v["anomaly"]["kind"], "error-burst");
    assert_eq!(v["anomaly"]["evidence"]["errors"], 50.0);
    assert_eq!(v["anomaly"]["evidence"]["requests"], 100.0);
}

// ---------------------------------------------------------------------------------------------
// configuration

#[test]
fn config_defaults_from_empty_yaml() {
    let defaults = AnomalyConfig::default();
    assert_eq!(AnomalyConfig::from_yaml("").unwrap(), defaults);
    assert_eq!(AnomalyConfig::from_yaml("# nothing\n").unwrap(), defaults);
    assert_eq!(AnomalyConfig::from_yaml("{}").unwrap(), defaults);
    // The documented defaults.
    assert_eq!(defaults.new_edge.warmup_seconds, 120.0);
    assert_eq!(defaults.error_burst.warning_ratio, Some(0.001));
    assert_eq!(defaults.error_burst.critical_ratio, Some(0.10));
    assert_eq!(defaults.error_burst.client_error_warning_ratio, Some(0.10));
    assert_eq!(defaults.error_burst.client_error_critical_ratio, Some(0.20));
    assert_eq!(defaults.latency_regression.consecutive, 3);
    assert!(defaults.validate().is_ok());
}

#[test]
fn config_overrides() {
    let c = AnomalyConfig::from_yaml(
        "hysteresis:\n  start_after: 1\n  end_after: 5\n\
         error_burst:\n  warning_ratio: null\n  critical_ratio: 0.2\n  min_requests: 50\n\
         latency_regression: { factor: 3, min_increase_ms: 100.5 }\n\
         telemetry_gap:\n  counters: cumulative\n\
         max_recent: 10\n",
    )
    .unwrap();
    assert_eq!(c.hysteresis.start_after, 1);
    assert_eq!(c.hysteresis.end_after, 5);
    assert_eq!(c.hysteresis.clear_fraction, 0.5, "unset keys keep defaults");
    assert_eq!(c.error_burst.warning_ratio, None, "null disables");
    assert_eq!(c.error_burst.critical_ratio, Some(0.2));
    assert_eq!(c.error_burst.min_requests, 50.0);
    assert_eq!(c.latency_regression.factor, 3.0);
    assert_eq!(c.latency_regression.min_increase_ms, 100.5);
    assert_eq!(c.telemetry_gap.counters, PairingCounters::Cumulative);
    assert_eq!(c.max_recent, 10);
    assert_eq!(c.traffic_drop, AnomalyConfig::default().traffic_drop);
}

fn invalid(err: ConfigError) -> (String, usize, usize, Option<String>, String) {
    match err {
        ConfigError::Invalid {
            origin,
            line,
            column,
            key,
            message,
        } => (origin, line, column, key, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn config_unknown_key_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshlens.yaml");
    std::fs::write(
        &path,
        "# thresholds\nerror_burst:\n  warning_ratio: 0.01\n  critcal_ratio: 0.2\n",
    )
    .unwrap();
    let err = AnomalyConfig::from_yaml(&path).unwrap_err();
    let text = err.to_string();
    let (origin, line, column, key, message) = invalid(err);
    assert_eq!(origin, path.display().to_string());
    assert_eq!((line, column), (4, 3));
    assert_eq!(key.as_deref(), Some("error_burst.critcal_ratio"));
    assert!(
        message.contains("unknown key `error_burst.critcal_ratio`"),
        "{message}"
    );
    assert!(
        message.contains("critical_ratio"),
        "lists the known keys: {message}"
    );
    assert!(
        text.starts_with(&format!("{}:4:3: unknown key", path.display())),
        "{text}"
    );

    let nested = invalid(
        AnomalyConfig::from_yaml(
            "new_edge:\n  baseline_edges:\n    - source: a\n      target: b\n    - source: c\n      targt: d\n",
        )
        .unwrap_err(),
    );
    assert_eq!(
        (nested.1, nested.2, nested.3.as_deref()),
        (6, 7, Some("new_edge.baseline_edges[1].targt"))
    );

    let top = invalid(AnomalyConfig::from_yaml("max_recent: 3\nbogus: 1\n").unwrap_err());
    assert_eq!((top.1, top.3.as_deref()), (2, Some("bogus")));
    assert_eq!(top.0, "<config>");
}

#[test]
fn config_type_range_and_syntax_errors_are_located() {
    let (_, line, _, key, message) =
        invalid(AnomalyConfig::from_yaml("traffic_drop:\n  drop_ratio: lots\n").unwrap_err());
    assert_eq!(line, 2);
    assert_eq!(key.as_deref(), Some("traffic_drop.drop_ratio"));
    assert!(message.contains("invalid type"), "{message}");

    let (_, line, _, key, message) =
        invalid(AnomalyConfig::from_yaml("\nlatency_regression:\n  factor: 0.5\n").unwrap_err());
    assert_eq!(line, 3);
    assert_eq!(key.as_deref(), Some("latency_regression.factor"));
    assert!(message.contains("a number ≥ 1"), "{message}");

    let (_, line, _, _, _) =
        invalid(AnomalyConfig::from_yaml("error_burst:\n  a: [1,\n").unwrap_err());
    assert!(line >= 2, "{line}");

    let (_, _, _, key, _) =
        invalid(AnomalyConfig::from_yaml("error_burst:\n  warning_ratio: .nan\n").unwrap_err());
    assert_eq!(
        key.as_deref(),
        Some("error_burst.warning_ratio"),
        "NaN is not null"
    );

    let (_, line, _, key, message) = invalid(AnomalyConfig::from_yaml("[1, 2]\n").unwrap_err());
    assert_eq!((line, key), (1, None));
    assert!(message.contains("mapping"), "{message}");
}

#[test]
fn config_file_and_baseline_graph_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let err = AnomalyConfig::from_yaml(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("nope.yaml"), "{err}");

    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "new_edge:\n  baseline_graph: missing-graph.json\n").unwrap();
    let err = AnomalyConfig::from_yaml(&path).unwrap_err();
    assert!(matches!(err, ConfigError::BaselineGraph { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("c.yaml") && text.contains("missing-graph.json"),
        "{text}"
    );
}
