//! `meshlens inspect` on recorded traces: what users see, against golden files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use common::{assert_golden, meshlens};

fn inspect(args: &[&str]) -> Output {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    meshlens(&all)
}

/// Runs `inspect`, expecting success, and returns what it printed.
fn inspect_ok(args: &[&str]) -> String {
    let output = inspect(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// `inspect --format json` of one file, parsed.
fn inspect_json(file: &str) -> serde_json::Value {
    serde_json::from_str(&inspect_ok(&["--format", "json", "--traces", file])).unwrap()
}

#[test]
fn inspect_text_output_matches_the_golden_file() {
    assert_golden(
        "inspect-bookinfo.txt",
        &inspect_ok(&[
            "--format",
            "text",
            "--traces",
            "testdata/traces/istio-bookinfo.tempo.json",
        ]),
    );
}

/// Every reference trace (Istio sidecars and gateway, Envoy over Zipkin, Zipkin production
/// and Kafka traces, Jaeger's and the OTLP spec's examples) as `inspect` reports it.
#[test]
fn inspect_of_every_reference_trace_matches_the_golden_file() {
    assert_golden(
        "inspect-reference-traces.json",
        &inspect_ok(&["--format", "json", "--traces", "testdata/traces"]),
    );
}

#[test]
fn the_same_trace_reads_the_same_from_tempo_and_canonical_otlp_json() {
    let summary = |file: &str| {
        let mut report = inspect_json(file);
        report.as_object_mut().unwrap().remove("files");
        report
    };
    assert_eq!(
        summary("testdata/traces/istio-bookinfo.tempo.json"),
        summary("testdata/traces/istio-bookinfo.otlp.json")
    );
}

#[test]
fn inspect_reports_the_bookinfo_workloads_and_calls() {
    let report = inspect_json("testdata/traces/istio-bookinfo.tempo.json");
    let workloads: Vec<&str> = report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["node"].as_str().unwrap())
        .collect();
    assert_eq!(
        workloads,
        [
            "details.bookinfo",
            "istio-ingressgateway.istio-system",
            "productpage.bookinfo",
            "ratings.bookinfo",
            "reviews.bookinfo",
        ]
    );
    let calls: Vec<(String, String)> = report["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["source"].as_str().unwrap().to_owned(),
                c["destination"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("istio-ingressgateway.istio-system", "productpage.bookinfo"),
            ("productpage.bookinfo", "details.bookinfo"),
            ("productpage.bookinfo", "reviews.bookinfo"),
            ("reviews.bookinfo", "ratings.bookinfo"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[test]
fn inspect_names_the_file_and_line_of_bad_input_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.jsonl");
    std::fs::write(
        &path,
        "{\"resourceSpans\":[]}\n{\"resourceSpans\":[]}\n{\"resourceSpans\": [}\n",
    )
    .unwrap();
    let output = inspect(&["--traces", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", path.display())),
        "{stderr}"
    );
}
