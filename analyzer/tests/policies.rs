//! The live policy checks: traffic folded into request shapes, checked against the declared
//! policies into `policy-violation` and `rbac-denial` anomalies that end when the traffic
//! stops; policy files reloaded on change, a broken edit keeping the last good set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use meshlens_analyzer::AnalyzerConfig;
use meshlens_analyzer::anomaly::{
    AnomalyConfig, AnomalyDetector, AnomalyEvent, AnomalyKind, EdgeRef, Severity, Signal, Subject,
};
use meshlens_analyzer::conformance::live::{LivePolicies, PolicySource};
use meshlens_analyzer::live::Live;
use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::{Interner, Span};
use meshlens_policies::eval;

fn root(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn source(policies: PathBuf) -> PolicySource {
    PolicySource {
        policies: vec![policies],
        inventory: vec![root("testdata/inventory/bookinfo.yaml")],
        options: eval::Options::default(),
    }
}

/// reviews v3 reading details (which the policies deny) and productpage denied at ratings.
fn violating_spans(interner: &Interner) -> Vec<Span> {
    let reviews = Peer::sidecar("reviews", "bookinfo", "v3");
    let details = Peer::sidecar("details", "bookinfo", "v1");
    let productpage = Peer::sidecar("productpage", "bookinfo", "v1");
    let ratings = Peer::sidecar("ratings", "bookinfo", "v1");
    let mut calls = vec![
        EnvoyCall::get(reviews, details, "/details/0", 1),
        EnvoyCall::get(productpage, details, "/details/0", 2),
    ];
    let mut denied = EnvoyCall::get(productpage, ratings, "/ratings/0", 3);
    denied.status = 403;
    denied.rbac_denied = true;
    calls.push(denied);
    let normalizer = Normalizer::new(interner.clone());
    let mut spans = Vec::new();
    normalizer.normalize_request(&request_of(&calls), &mut spans);
    spans
}

#[test]
fn live_traffic_against_the_policies_raises_violations_and_denials() {
    let interner = Interner::new();
    let live = Live::new(
        interner.clone(),
        AnalyzerConfig::default(),
        AnomalyConfig::default(),
    );
    let policies = LivePolicies::new(source(root("testdata/policies/bookinfo")), 0).unwrap();
    assert_eq!(policies.status().policies, 6);
    live.check_policies(std::sync::Arc::new(policies));
    live.ingest(&violating_spans(&interner));
    let events = live.tick(true);
    let started: Vec<(AnomalyKind, Subject, Severity)> = events
        .iter()
        .filter_map(|e| match e {
            AnomalyEvent::Started(a) => Some((a.kind, a.subject.clone(), a.severity)),
            AnomalyEvent::Ended(_) => None,
        })
        .filter(|(kind, ..)| matches!(kind, AnomalyKind::PolicyViolation | AnomalyKind::RbacDenial))
        .collect();
    let edge = |s: &str, t: &str| Subject::Edge(EdgeRef::new(s, t));
    assert_eq!(
        started,
        [
            (
                AnomalyKind::PolicyViolation,
                edge("reviews.bookinfo", "details.bookinfo"),
                Severity::Critical
            ),
            (
                AnomalyKind::RbacDenial,
                edge("productpage.bookinfo", "ratings.bookinfo"),
                Severity::Warning
            ),
        ]
    );
    let open = live.anomalies();
    let violation = open
        .iter()
        .find(|a| a.kind == AnomalyKind::PolicyViolation)
        .unwrap();
    assert!(
        violation.message.contains("details-deny-reviews"),
        "{}",
        violation.message
    );
    assert_eq!(violation.evidence.trace_ids.len(), 1);

    // The Policies view: what applies to each workload and which rules the traffic used.
    let usage = live.policy_usage();
    let details = usage
        .iter()
        .find(|w| w.workload == "details.bookinfo")
        .unwrap();
    assert_eq!((details.requests, details.violations), (2.0, 1.0));
    let hits: Vec<(&str, &[f64])> = details
        .policies
        .iter()
        .map(|p| (p.policy.as_str(), p.rule_hits.as_slice()))
        .collect();
    assert_eq!(
        hits,
        [
            ("bookinfo/details-deny-reviews", &[1.0][..]),
            ("bookinfo/details-viewer", &[1.0][..])
        ]
    );
    let ratings = usage
        .iter()
        .find(|w| w.workload == "ratings.bookinfo")
        .unwrap();
    assert_eq!(ratings.denials, 1.0);
    let viewer = ratings
        .policies
        .iter()
        .find(|p| p.policy == "bookinfo/ratings-viewer")
        .unwrap();
    assert_eq!(viewer.rule_hits, [0.0, 0.0], "productpage matches no rule");
}

#[test]
fn signal_anomalies_end_once_the_signal_stays_away() {
    let mut detector = AnomalyDetector::new(AnomalyConfig::default());
    let end_after = detector.config().hysteresis.end_after;
    let signal = Signal {
        kind: AnomalyKind::PolicyViolation,
        edge: EdgeRef::new("a", "b"),
        severity: Severity::Critical,
        message: "a calls b against the policies".into(),
        trace_ids: vec!["ab".into()],
        requests: 3.0,
    };
    let events = detector.observe_signals(1_000, vec![signal.clone()]);
    assert!(
        matches!(&events[..], [AnomalyEvent::Started(a)] if a.kind == AnomalyKind::PolicyViolation)
    );
    // Still there: nothing new.
    assert!(detector.observe_signals(2_000, vec![signal]).is_empty());
    assert_eq!(detector.open().len(), 1);
    let mut ended = Vec::new();
    for i in 0..end_after {
        ended = detector.observe_signals(3_000 + u64::from(i) * 1_000, Vec::new());
    }
    assert!(matches!(&ended[..], [AnomalyEvent::Ended(a)] if a.ended_at_unix_ms.is_some()));
    assert!(detector.open().is_empty());
    assert_eq!(detector.recent().len(), 1, "kept among the recently closed");
}

#[test]
fn a_broken_edit_keeps_the_last_good_policies_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ratings.yaml");
    let good = std::fs::read_to_string(root("testdata/policies/bookinfo/ratings.yaml")).unwrap();
    std::fs::write(&file, &good).unwrap();
    let policies = LivePolicies::new(source(dir.path().to_path_buf()), 1).unwrap();
    assert_eq!(policies.status().policies, 2);
    assert_eq!(policies.reload_if_changed(2), None, "nothing changed");

    std::fs::write(&file, good.replace("action: ALLOW", "action: PERMIT")).unwrap();
    let error = policies.reload_if_changed(3).unwrap().unwrap_err();
    assert!(
        error.contains("ratings.yaml") && error.contains("PERMIT"),
        "{error}"
    );
    let status = policies.status();
    assert_eq!(
        (status.policies, status.loads),
        (2, 1),
        "the last good set stays"
    );
    assert_eq!(status.last_error.as_deref(), Some(error.as_str()));
    assert_eq!(policies.current().policies.len(), 2);

    // Fixed, with one document less: loaded.
    let (first, _) = good.split_once("\n---\n").unwrap();
    std::fs::write(&file, first).unwrap();
    assert_eq!(policies.reload_if_changed(4), Some(Ok(1)));
    let status = policies.status();
    assert_eq!(
        (status.policies, status.loads, status.last_error),
        (1, 2, None)
    );
}
