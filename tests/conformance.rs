//! `meshlens lint --traces`: recorded Envoy traffic with known violations held against the
//! bookinfo policies, in every report format, with the documented fields and exit codes.
//!
//! The recording is made here, with the project's own Envoy call builder, and committed:
//! `UPDATE_GOLDEN=1` rewrites it along with the golden reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_golden, meshlens, stderr, stdout};
use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
use meshlens_collector::formats::otlp_json::encode_request;

const TRACES: &str = "testdata/traces/bookinfo-conformance.otlp.jsonl";
const POLICIES: &str = "testdata/policies/bookinfo";
const INVENTORY: &str = "testdata/inventory/bookinfo.yaml";
const BASELINE: &str = "testdata/golden/graph-bookinfo.json";

/// Bookinfo as it runs, plus the incidents the findings must name.
fn scenario() -> Vec<EnvoyCall<'static>> {
    let gateway = Peer {
        service: "istio-ingressgateway",
        namespace: "istio-system",
        version: "1.24",
        gateway: true,
    };
    let productpage = Peer::sidecar("productpage", "bookinfo", "v1");
    let details = Peer::sidecar("details", "bookinfo", "v1");
    let reviews_v2 = Peer::sidecar("reviews", "bookinfo", "v2");
    let reviews_v3 = Peer::sidecar("reviews", "bookinfo", "v3");
    let ratings = Peer::sidecar("ratings", "bookinfo", "v1");
    let notifications = Peer::sidecar("notifications", "bookinfo", "v1");
    let batch_job = Peer::sidecar("batch-job", "bookinfo", "v1");

    let mut calls = Vec::new();
    let mut seed = 0;
    let mut call = |caller, callee, path, edit: &dyn Fn(&mut EnvoyCall<'static>)| {
        seed += 1;
        let mut call = EnvoyCall::get(caller, callee, path, seed);
        edit(&mut call);
        calls.push(call);
    };
    let ok = &|_: &mut EnvoyCall<'static>| {};
    for _ in 0..6 {
        call(gateway, productpage, "/productpage", ok);
        call(productpage, details, "/details/0", ok);
    }
    for _ in 0..4 {
        call(productpage, reviews_v2, "/reviews/0", ok);
        call(reviews_v2, ratings, "/ratings/0", ok);
    }
    for _ in 0..2 {
        call(productpage, reviews_v3, "/reviews/0", ok);
    }
    // Istio's dry-run engine says the DELETE-denying policy matched a GET: it is not the
    // policy the repository declares.
    call(reviews_v2, ratings, "/ratings/0", &|c| {
        c.dry_run = vec![
            (
                "deny_policy.name",
                "ns[bookinfo]-policy[ratings-deny-delete]-rule[0]",
            ),
            ("deny_policy.result", "denied"),
        ];
    });
    // reviews v3 reads details, which the policies deny: applying them breaks it.
    for _ in 0..3 {
        call(reviews_v3, details, "/details/0", &|c| {
            c.peer_principal = Some("cluster.local/ns/bookinfo/sa/bookinfo-reviews");
        });
    }
    // productpage tries ratings directly and is denied, as declared.
    for _ in 0..2 {
        call(productpage, ratings, "/ratings/0", &|c| {
            c.status = 403;
            c.rbac_denied = true;
        });
    }
    // A denial the declared policies do not explain.
    call(productpage, reviews_v2, "/reviews/1", &|c| {
        c.status = 403;
        c.rbac_denied = true;
    });
    // A new service nobody wrote a policy for.
    for _ in 0..2 {
        call(reviews_v3, notifications, "/notify", &|c| c.method = "POST");
    }
    // A caller the inventory does not know, without an identity tag.
    for _ in 0..2 {
        call(batch_job, productpage, "/productpage", ok);
    }
    calls
}

fn recording() -> String {
    let mut out = Vec::new();
    // One request per call, as proxies export them over time.
    for call in scenario() {
        encode_request(&request_of(std::slice::from_ref(&call)), &mut out);
        out.push(b'\n');
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn the_committed_recording_is_what_the_scenario_makes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(TRACES);
    let made = recording();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &made).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        made,
        "run with UPDATE_GOLDEN=1"
    );
}

fn lint(format: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "lint",
        "--traces",
        TRACES,
        "--policies",
        POLICIES,
        "--inventory",
        INVENTORY,
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    meshlens(&args)
}

#[test]
fn every_format_matches_its_golden_report() {
    for (format, golden) in [
        ("text", "lint-traces.txt"),
        ("json", "lint-traces.json"),
        ("sarif", "lint-traces.sarif"),
        ("junit", "lint-traces.junit.xml"),
        ("github", "lint-traces.github.txt"),
        ("markdown", "lint-traces.md"),
    ] {
        let output = lint(format, &["--baseline", BASELINE]);
        // A traffic-denied-by-policy finding is an error: exit 1 whatever the format.
        assert_eq!(
            output.status.code(),
            Some(1),
            "{format}: {}",
            stderr(&output)
        );
        assert_golden(golden, &stdout(&output));
    }
}

#[test]
fn findings_carry_the_documented_evidence() {
    let output = lint("json", &["--baseline", BASELINE]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let of_kind = |kind: &str| -> Vec<&serde_json::Value> {
        findings.iter().filter(|f| f["kind"] == kind).collect()
    };

    let denied = of_kind("traffic-denied-by-policy");
    assert_eq!(denied.len(), 1, "{denied:#?}");
    let denied = denied[0];
    assert_eq!(denied["severity"], "error");
    assert_eq!(
        denied["edge"],
        serde_json::json!({"source": "reviews.bookinfo", "target": "details.bookinfo"})
    );
    assert_eq!(denied["method"], "GET");
    assert_eq!(denied["path"], "/details/{id}");
    assert_eq!(denied["count"], 3);
    assert_eq!(denied["trace_ids"].as_array().unwrap().len(), 3);
    assert_eq!(denied["policy"], "bookinfo/details-deny-reviews");
    assert!(
        denied["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("details.yaml")
    );

    let rbac = of_kind("rbac-denial-observed");
    assert_eq!(rbac.len(), 2, "{rbac:#?}");
    let agreeing: Vec<_> = rbac
        .iter()
        .map(|f| f["declared_decision"].clone())
        .collect();
    assert!(agreeing.contains(&"DENY".into()) && agreeing.contains(&"ALLOW".into()));

    let never = of_kind("rule-never-matched");
    assert_eq!(never.len(), 1, "{never:#?}");
    assert_eq!(never[0]["policy"], "bookinfo/ratings-viewer");
    assert_eq!(never[0]["rule"], 1);

    // notifications is the odd one out in a namespace with policies; the gateway has none
    // at all.
    let uncovered: Vec<_> = of_kind("workload-without-policy")
        .iter()
        .map(|f| (f["workload"].clone(), f["severity"].clone()))
        .collect();
    assert_eq!(
        uncovered,
        [
            ("notifications.bookinfo".into(), "warning".into()),
            ("istio-ingressgateway.istio-system".into(), "info".into())
        ]
    );

    let unknown = of_kind("identity-unknown");
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0]["source"], "batch-job.bookinfo");

    let dry = of_kind("dry-run-disagrees");
    assert_eq!(dry.len(), 1);
    assert_eq!(dry[0]["policy"], "bookinfo/ratings-deny-delete");

    let new_edges: Vec<_> = of_kind("new-edge")
        .iter()
        .map(|f| f["edge"].clone())
        .collect();
    assert!(new_edges.contains(
        &serde_json::json!({"source": "batch-job.bookinfo", "target": "productpage.bookinfo"})
    ));
    // Static findings come along.
    assert!(findings.iter().any(|f| f["code"] == "ML103"));
}

#[test]
fn exit_codes_follow_fail_on() {
    assert_eq!(lint("json", &["--fail-on", "never"]).status.code(), Some(0));
    assert_eq!(
        lint("text", &["--fail-on", "warning"]).status.code(),
        Some(1)
    );
    let missing = meshlens(&[
        "lint",
        "--traces",
        "testdata/traces/none.json",
        "--policies",
        POLICIES,
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("none.json"));
}

#[test]
fn a_suppressed_finding_stays_away_until_its_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let ignore = dir.path().join("ignore.yaml");
    std::fs::write(
        &ignore,
        "- code: ML200\n  subject: reviews.bookinfo -> details.bookinfo\n  reason: migrating reviews off details\n  expires: 2999-01-01\n",
    )
    .unwrap();
    let output = lint("json", &["--ignore-file", ignore.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "traffic-denied-by-policy")
    );
    assert_eq!(output.status.code(), Some(0), "only warnings left");

    std::fs::write(
        &ignore,
        "- code: ML200\n  subject: reviews.bookinfo -> details.bookinfo\n  reason: migrating reviews off details\n  expires: 2020-01-01\n",
    )
    .unwrap();
    let output = lint("json", &["--ignore-file", ignore.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "expired: the finding is back"
    );
}

fn suggest_into(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("suggested.yaml");
    let output = meshlens(&[
        "suggest",
        "--traces",
        TRACES,
        "--inventory",
        INVENTORY,
        "--allow-nothing",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The coverage note names what could not be allowed.
    assert!(
        stderr(&output).contains("unknown caller identity"),
        "{}",
        stderr(&output)
    );
    path
}

#[test]
fn suggested_policies_match_their_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = suggest_into(dir.path());
    assert_golden(
        "suggest-bookinfo.yaml",
        &std::fs::read_to_string(path).unwrap(),
    );
}

/// The suggestion allows everything the traces show went through: linting the same traces
/// against it finds no traffic it would deny (the unknown caller aside, which it cannot name).
#[test]
fn suggested_policies_allow_every_observed_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = suggest_into(dir.path());
    let output = meshlens(&[
        "lint",
        "--traces",
        TRACES,
        "--policies",
        path.to_str().unwrap(),
        "--inventory",
        INVENTORY,
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let denied: Vec<_> = findings
        .iter()
        .filter(|f| f["kind"] == "traffic-denied-by-policy")
        .collect();
    assert!(denied.is_empty(), "{denied:#?}");
    assert!(
        !findings.iter().any(|f| f["kind"] == "rule-never-matched"),
        "least privilege: every suggested rule is used"
    );
}

/// ... and nothing else: an unseen caller, method or port is denied.
#[test]
fn suggested_policies_deny_unseen_callers_methods_and_ports() {
    let dir = tempfile::tempdir().unwrap();
    let path = suggest_into(dir.path());
    let decide = |principal: &str, method: &str, port: u16| -> String {
        let request = serde_json::json!({
            "source": {"principal": principal},
            "destination": {"namespace": "bookinfo", "workload": "reviews-v2", "port": port},
            "request": {"method": method, "path": "/reviews/7"},
        });
        let output = meshlens(&[
            "authz",
            "check",
            "--policies",
            path.to_str().unwrap(),
            "--inventory",
            INVENTORY,
            "--format",
            "json",
            "--request",
            &request.to_string(),
        ]);
        let answer: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        answer["decision"].as_str().unwrap().to_owned()
    };
    let productpage = "cluster.local/ns/bookinfo/sa/bookinfo-productpage";
    assert_eq!(decide(productpage, "GET", 9080), "ALLOW");
    assert_eq!(
        decide("cluster.local/ns/bookinfo/sa/bookinfo-ratings", "GET", 9080),
        "DENY"
    );
    assert_eq!(decide(productpage, "DELETE", 9080), "DENY");
    assert_eq!(decide(productpage, "GET", 9081), "DENY");
}
