//! `meshlens demo`: the scripted incidents of the built-in simulator are what the analyzer
//! reports — end to end through the real binary (compressed time, real OTLP/gRPC), and at
//! real speed against the default detector configuration on a virtual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshlens_analyzer::anomaly::{AnomalyConfig, AnomalyDetector, Subject};
use meshlens_analyzer::{Analyzer, AnalyzerConfig, Window};
use meshlens_collector::Interner;
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::simulate::manifests::namespace_policies;
use meshlens_collector::simulate::{Scenario, Simulator, Timeline, Topology};

#[test]
fn headless_demo_summary_names_every_scripted_incident() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .args([
            "demo",
            "--headless",
            "--duration",
            "34s",
            "--time-scale",
            "8",
        ])
        .env("MESHLENS_LOG", "error")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(elapsed < Duration::from_secs(50), "took {elapsed:?}");

    // The collector listened on loopback, port 0 resolved.
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("meshlens: listening otlp_grpc=127.0.0.1:"),
        "{first}"
    );

    // Every span the simulator sent over gRPC was accepted.
    let spans = stdout
        .lines()
        .find(|l| l.starts_with("spans: sent "))
        .unwrap();
    let numbers: Vec<u64> = spans
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(numbers[0] > 3000, "{spans}");
    assert_eq!(numbers[0], numbers[1], "sent == accepted: {spans}");

    // bookinfo's graph: gateway, productpage, details, reviews, ratings (and the outside
    // world calling the gateway); the scripted new edge among the edges.
    assert!(stdout.contains("graph: 6 nodes, 6 edges"), "{stdout}");
    assert!(stdout.contains("productpage.bookinfo → ratings.bookinfo"));

    // The anomalies a user reads, by kind, on the scripted edges.
    for (kind, subject) in [
        ("error-burst", "productpage.bookinfo → details.bookinfo"),
        ("rbac-denial", "reviews.bookinfo → ratings.bookinfo"),
        ("authz-denial-burst", "reviews.bookinfo → ratings.bookinfo"),
        (
            "latency-regression",
            "productpage.bookinfo → reviews.bookinfo",
        ),
        ("new-edge", "productpage.bookinfo → ratings.bookinfo"),
        (
            "policy-violation",
            "productpage.bookinfo → ratings.bookinfo",
        ),
        ("telemetry-gap", "the mesh"),
    ] {
        let line = format!("] {kind} on {subject} (");
        assert!(stdout.contains(&line), "missing {line:?} in\n{stdout}");
    }
    // And the timeline's own verdicts.
    for line in [
        "error-burst: details fails 40% of productpage's calls",
        "detected as error-burst",
        "detected as rbac-denial, authz-denial-burst",
        "detected as latency-regression",
        "detected as new-edge, policy-violation",
        "detected as telemetry-gap",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    assert!(!stdout.contains("not detected"), "{stdout}");
}

/// The bookinfo timeline at real speed (240 simulated seconds, 200 spans/s) through the
/// analyzer with `AnomalyConfig::default()`, on a virtual clock: the detector's own findings
/// come on the scripted edges, after the scripted start. (The policy checks' findings,
/// `policy-violation` and `rbac-denial`, have no timing of their own; the end-to-end test
/// above shows them.)
#[test]
fn timeline_triggers_the_default_detector_at_real_speed() {
    let topology = Arc::new(Topology::new(Scenario::Bookinfo));
    let timeline = Arc::new(Timeline::demo(&topology));
    let mut simulator = Simulator::new(topology, timeline.clone(), 3);
    let interner = Interner::new();
    let normalizer = Normalizer::new(interner.clone());
    let mut analyzer = Analyzer::new(interner, AnalyzerConfig::default());
    let mut detector = AnomalyDetector::new(AnomalyConfig::default());
    let start_ms = 1_800_000_000_000u64;
    let mut started = Vec::new();
    // Batches every 250 ms, ticks every second, observations every 5 s, as `serve` runs.
    for quarter in 0..(timeline.length as u64 * 4) {
        let now = start_ms + quarter * 250;
        let at = quarter as f64 / 4.0;
        let batch = simulator.batch(at, now * 1_000_000, 50);
        let mut spans = Vec::new();
        normalizer.normalize_request(&batch.request, &mut spans);
        analyzer.ingest(&spans, now);
        if quarter.is_multiple_of(4) {
            analyzer.tick(now);
        }
        if quarter.is_multiple_of(20) && quarter > 0 {
            let snapshot = analyzer.snapshot(Window::ONE_MINUTE, now);
            for event in detector.observe(&snapshot) {
                let a = event.anomaly().clone();
                if a.is_open() {
                    started.push((at, a));
                }
            }
        }
    }
    let found = |kind: &str, edge: Option<(&str, &str)>| {
        started.iter().find(|(_, a)| {
            a.kind.as_str() == kind
                && match (&a.subject, edge) {
                    (Subject::Edge(e), Some((s, t))) => e.source == s && e.target == t,
                    (Subject::Node(_), None) => true,
                    _ => false,
                }
        })
    };
    let kinds: BTreeSet<&str> = started.iter().map(|(_, a)| a.kind.as_str()).collect();
    for (incident, kind) in [
        ("error-burst", "error-burst"),
        ("rbac-denial", "authz-denial-burst"),
        ("latency-regression", "latency-regression"),
        ("new-edge", "new-edge"),
        ("telemetry-gap", "telemetry-gap"),
    ] {
        let scripted = timeline
            .incidents
            .iter()
            .find(|i| i.name == incident)
            .unwrap();
        let edge = scripted
            .edge
            .as_ref()
            .map(|(s, t)| (s.as_str(), t.as_str()));
        let (at, anomaly) = found(kind, edge)
            .unwrap_or_else(|| panic!("no {kind} for {incident}; started: {kinds:?}"));
        assert!(
            *at >= scripted.start && *at <= scripted.end + 10.0,
            "{kind} started at {at} s, scripted {}–{} s: {}",
            scripted.start,
            scripted.end,
            anomaly.message
        );
    }
}

#[test]
fn committed_large_policies_match_the_generator() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/demo/large/policies.yaml"
    );
    let generated = namespace_policies(&Topology::new(Scenario::Large));
    if std::env::var_os("MESHLENS_REGENERATE").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        committed, generated,
        "regenerate with MESHLENS_REGENERATE=1"
    );
}

#[test]
fn large_demo_builds_the_200_service_graph_within_seconds() {
    let output = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .args(["demo", "--headless", "--scenario", "large"])
        .args(["--duration", "6s", "--time-scale", "8", "--json"])
        .env("MESHLENS_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // The first line names the listeners; the JSON summary follows.
    let json = stdout.split_once('\n').unwrap().1;
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(report["scenario"], "large");
    let sent = report["spans"]["sent_spans"].as_u64().unwrap();
    assert!(sent > 5_000, "{}", report["spans"]);
    assert_eq!(report["spans"]["accepted_spans"], sent);
    // 200 services plus the outside world; ~2,000 edges, every route swept early.
    let nodes = report["graph"]["nodes"].as_u64().unwrap();
    let edges = report["graph"]["edges"].as_u64().unwrap();
    assert!((195..=205).contains(&nodes), "{nodes} nodes");
    assert!((1_900..=2_100).contains(&edges), "{edges} edges");
    assert_eq!(report["incidents"].as_array().unwrap().len(), 5);
}
