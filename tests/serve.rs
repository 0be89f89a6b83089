//! `meshlens serve` end to end: the real binary on loopback (port 0), fed by the real
//! OpenTelemetry Rust exporters over gRPC, HTTP/protobuf and HTTP/JSON and by a raw Zipkin
//! POST, stopped with SIGTERM; every span arrives once and the recording round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/otel.rs"]
mod otel;

use common::metric;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use meshlens_collector::formats::source::read_trace_file;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};

struct Serve {
    child: Child,
    listening: BTreeMap<String, String>,
    record: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serve {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("recording.jsonl");
        let mut args = common::LOOPBACK_LISTENERS.to_vec();
        args.push("--record");
        let record_arg = record.to_str().unwrap().to_owned();
        args.push(&record_arg);
        args.extend_from_slice(extra);
        let (child, listening) = common::spawn_serve(&args);
        Self {
            child,
            listening,
            record,
            _dir: dir,
        }
    }

    fn url(&self, listener: &str, path: &str) -> String {
        format!("http://{}{path}", self.listening[listener])
    }

    fn metrics(&self) -> String {
        reqwest::blocking::get(self.url("api", "/metrics"))
            .unwrap()
            .text()
            .unwrap()
    }

    /// SIGTERM, then wait for a clean exit.
    fn stop(mut self) -> (std::process::ExitStatus, PathBuf, tempfile::TempDir) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
                return (status, self.record.clone(), dir);
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn recorded_spans(path: &Path) -> Vec<(String, Vec<u8>)> {
    let file = read_trace_file(path).unwrap();
    let mut spans = Vec::new();
    for request in file.requests {
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.clone())
                .and_then(|v| match v.value {
                    Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s),
                    ) => Some(s),
                    _ => None,
                })
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push((service.clone(), span.span_id));
                }
            }
        }
    }
    spans
}

#[test]
fn otel_exporters_and_zipkin_deliver_every_span_once_and_the_recording_round_trips() {
    let serve = Serve::start();

    // gRPC needs a tokio runtime for its channel; the SDK's simple processor blocks on export.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let grpc = {
        let _context = runtime.enter();
        SpanExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", serve.listening["otlp_grpc"]))
            .build()
            .unwrap()
    };
    otel::emit(grpc, "cart-grpc", 20);
    for (protocol, service) in [
        (Protocol::HttpBinary, "cart-protobuf"),
        (Protocol::HttpJson, "cart-json"),
    ] {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(serve.url("otlp_http", "/v1/traces"))
            .build()
            .unwrap();
        otel::emit(exporter, service, 20);
    }
    let zipkin = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/traces/envoy.zipkin.json"
    ))
    .unwrap();
    let response = reqwest::blocking::Client::new()
        .post(serve.url("zipkin", "/api/v2/spans"))
        .header("content-type", "application/json")
        .body(zipkin)
        .send()
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);

    let health = reqwest::blocking::get(serve.url("api", "/healthz")).unwrap();
    assert_eq!(health.status(), reqwest::StatusCode::OK);

    let metrics = serve.metrics();
    for (receiver, spans) in [
        ("otlp_grpc", 20.0),
        ("otlp_http_protobuf", 20.0),
        ("otlp_http_json", 20.0),
        ("zipkin", 1.0),
    ] {
        let accepted = metric(
            &metrics,
            &format!("meshlens_spans_accepted_total{{receiver=\"{receiver}\"}}"),
        );
        assert_eq!(accepted, spans, "{receiver}\n{metrics}");
    }
    // Acknowledged means queued: the summary catches up as the pipeline drains.
    let summary_url = serve.url("api", "/api/v1/summary");
    let mut summary = serde_json::Value::Null;
    for _ in 0..100 {
        summary = reqwest::blocking::get(&summary_url)
            .unwrap()
            .json()
            .unwrap();
        if summary["spans"] == 61 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(summary["spans"], 61);
    let nodes: Vec<&str> = summary["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["node"].as_str().unwrap())
        .collect();
    for node in ["cart-grpc.shop", "cart-protobuf.shop", "cart-json.shop"] {
        assert!(nodes.contains(&node), "{node} in {nodes:?}");
    }

    let (status, record, _dir) = serve.stop();
    assert!(status.success(), "{status}");
    let spans = recorded_spans(&record);
    assert_eq!(spans.len(), 61, "every acknowledged span is recorded");
    let mut ids: Vec<_> = spans
        .iter()
        .map(|(service, id)| (service.clone(), id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 61, "no span recorded twice");
    for service in ["cart-grpc", "cart-protobuf", "cart-json"] {
        assert_eq!(
            spans.iter().filter(|(s, _)| s == service).count(),
            20,
            "{service}"
        );
    }

    // The recording replays into exactly what the live server made of the traffic.
    let record = record.to_str().unwrap();
    let replay = common::meshlens(&["inspect", "--format", "json", "--traces", record]);
    assert!(replay.status.success(), "{}", common::stderr(&replay));
    let mut replayed: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(replayed["files"][0]["format"], "OTLP JSON lines");
    replayed.as_object_mut().unwrap().remove("files");
    assert_eq!(replayed, summary);
}

/// The live graph API pairs a real Istio trace posted as OTLP JSON: the same five edges
/// `meshlens graph` finds offline, with the documented field names.
#[test]
fn the_graph_api_pairs_a_real_istio_trace() {
    let serve = Serve::start_with(&["--pair-ttl", "1s"]);
    let trace = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/traces/istio-bookinfo.otlp.json"
    ))
    .unwrap();
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(serve.url("otlp_http", "/v1/traces"))
        .header("content-type", "application/json")
        .body(trace)
        .send()
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let graph_url = serve.url("api", "/api/v1/graph?window=all");
    let mut graph = serde_json::Value::Null;
    for _ in 0..100 {
        graph = client.get(&graph_url).send().unwrap().json().unwrap();
        if graph["edges"].as_array().is_some_and(|e| e.len() == 5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let edges: Vec<(String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            for field in ["protocol", "requests", "errors", "rps", "error_rate"] {
                assert!(e.get(field).is_some(), "{field} in {e}");
            }
            for q in ["p50", "p90", "p95", "p99"] {
                assert!(e["latency_ms"][q].as_f64().unwrap() > 0.0, "{e}");
            }
            (
                e["source"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            ("istio-ingressgateway.istio-system", "productpage.bookinfo"),
            ("productpage.bookinfo", "details.bookinfo"),
            ("productpage.bookinfo", "reviews.bookinfo"),
            ("reviews.bookinfo", "ratings.bookinfo"),
            ("user", "istio-ingressgateway.istio-system"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert_eq!(
        graph["window_seconds"].as_f64().map(|w| w > 0.0),
        Some(true)
    );

    let stats: serde_json::Value = client
        .get(serve.url("api", "/api/v1/stats"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stats["pairing"]["paired"], 4, "{stats}");
    // Grafana's service-graph view reads the servicegraph connector's metric names.
    let metrics = serve.metrics();
    let edge = "client=\"productpage.bookinfo\",server=\"reviews.bookinfo\",connection_type=\"\"";
    assert_eq!(
        metric(
            &metrics,
            &format!("traces_service_graph_request_total{{{edge}}}")
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            &format!("traces_service_graph_request_server_seconds_count{{{edge}}}")
        ),
        1.0
    );
    assert_eq!(
        metric(
            &metrics,
            &format!("traces_service_graph_request_client_seconds_bucket{{le=\"+Inf\",{edge}}}")
        ),
        1.0
    );
    let anomalies: serde_json::Value = client
        .get(serve.url("api", "/api/v1/anomalies"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(anomalies["anomalies"].is_array(), "{anomalies}");
    let bad = client
        .get(serve.url("api", "/api/v1/graph?window=soon"))
        .send()
        .unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);

    // The stream sends an update event carrying the graph.
    let mut stream = client
        .get(serve.url("api", "/api/v1/stream?window=all&interval=200ms"))
        .send()
        .unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("\n\n") {
        let n = std::io::Read::read(&mut stream, &mut chunk).unwrap();
        assert!(n > 0, "stream ended");
        received.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("event: update\ndata: {\"graph\":"),
        "{text}"
    );
    let (status, _, _dir) = serve.stop();
    assert!(status.success());
}

#[test]
fn graph_prints_the_offline_graph_in_every_format() {
    let run = |format: &str| {
        let output = common::meshlens(&[
            "graph",
            "--format",
            format,
            "--traces",
            "testdata/traces/istio-bookinfo.tempo.json",
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let graph: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(graph["edges"].as_array().unwrap().len(), 5);
    assert!(run("dot").starts_with("digraph meshlens {"));
    assert!(run("mermaid").starts_with("flowchart LR"));
}

#[test]
fn export_writes_the_tables_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tables");
    let output = common::meshlens(&[
        "export",
        "--traces",
        "testdata/traces/istio-bookinfo.tempo.json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let listed = String::from_utf8(output.stdout).unwrap();
    for (file, rows) in [
        ("spans.parquet", 8),
        ("requests.parquet", 5),
        ("edges.parquet", 5),
    ] {
        let path = out.join(file);
        assert!(
            listed.contains(&format!("{}\t{rows} rows", path.display())),
            "{listed}"
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{file}"
        );
    }

    let missing = common::meshlens(&[
        "export",
        "--traces",
        "testdata/traces/no-such-file.json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(common::stderr(&missing).contains("no-such-file.json"));
}

/// `serve --policies`: the recorded bookinfo incidents, posted live, become policy anomalies
/// on the API; a broken policy edit followed by SIGHUP keeps the last good set and says why,
/// and ingestion goes on.
#[test]
fn live_traffic_is_checked_against_policies_that_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/policies/bookinfo");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, policies.join(path.file_name().unwrap())).unwrap();
    }
    let serve = Serve::start_with(&[
        "--policies",
        policies.to_str().unwrap(),
        "--inventory",
        "testdata/inventory/bookinfo.yaml",
    ]);
    let client = reqwest::blocking::Client::new();
    let post_recording = || {
        let recording = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/traces/bookinfo-conformance.otlp.jsonl"
        ))
        .unwrap();
        for line in recording.lines() {
            let response = client
                .post(serve.url("otlp_http", "/v1/traces"))
                .header("content-type", "application/json")
                .body(line.to_owned())
                .send()
                .unwrap();
            assert_eq!(response.status(), reqwest::StatusCode::OK);
        }
    };
    post_recording();

    // The detector looks every 5 s.
    let mut kinds = Vec::new();
    for _ in 0..150 {
        let answer: serde_json::Value = client
            .get(serve.url("api", "/api/v1/anomalies"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        kinds = answer["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["kind"].as_str().unwrap().to_owned(), a["subject"].clone()))
            .collect();
        if kinds.iter().any(|(k, _)| k == "policy-violation") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        kinds.contains(&(
            "policy-violation".to_owned(),
            serde_json::json!({"edge": {"source": "reviews.bookinfo", "target": "details.bookinfo"}})
        )),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|(k, _)| k == "rbac-denial"), "{kinds:?}");

    let status = |client: &reqwest::blocking::Client| -> serde_json::Value {
        client
            .get(serve.url("api", "/api/v1/policies"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(status(&client)["policies"], 6);

    let ratings = policies.join("ratings.yaml");
    let text = std::fs::read_to_string(&ratings).unwrap();
    std::fs::write(&ratings, text.replace("action: ALLOW", "action: PERMIT")).unwrap();
    let pid = serve.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut answer = serde_json::Value::Null;
    for _ in 0..100 {
        answer = status(&client);
        if !answer["last_error"].is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        answer["last_error"].as_str().unwrap().contains("PERMIT"),
        "{answer}"
    );
    assert_eq!(answer["policies"], 6, "the last good set stays");
    post_recording();

    let (exit, _, _dir) = serve.stop();
    assert!(exit.success());
}

/// Loopback unless told otherwise, and a warning naming each listener bound beyond it.
#[test]
fn listeners_default_to_loopback_and_binding_beyond_it_is_said() {
    let help = common::stdout(&common::meshlens(&["serve", "--help"]));
    for default in [
        "127.0.0.1:4317",
        "127.0.0.1:4318",
        "127.0.0.1:9411",
        "127.0.0.1:9464",
    ] {
        assert!(help.contains(&format!("[default: {default}]")), "{help}");
    }

    let (mut child, listening, logs) = common::spawn_serve_env(
        &[
            "--otlp-grpc",
            "0.0.0.0:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--zipkin",
            "off",
            "--api",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert!(
        listening["otlp_grpc"].starts_with("0.0.0.0:"),
        "{listening:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = logs.join().unwrap();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("listening beyond loopback"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("otlp_grpc"), "{stderr}");
}
