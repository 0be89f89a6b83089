//! `meshlens serve` driven well past its capacity over loopback: four `meshlens loadgen`
//! processes (OTLP gRPC, OTLP/HTTP protobuf and JSON, Zipkin) sending as fast as they can into
//! a one-batch queue and a small pairing store, with a recording. The server must not crash, must
//! stay under a memory cap, must answer overload with retryable refusals, and must not lose a
//! span it acknowledged: accepted == handed to the analyzer == recorded, dropped == 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/process.rs"]
mod process;

use common::metric;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Resident memory `serve` must stay under while overloaded. Observed peak on a 2-core VM:
/// ~100 MiB (debug build); the cap leaves room for allocator and scheduling noise while still
/// catching unbounded growth (the queue alone would pass it at ~1 M queued spans).
const RSS_CAP_KIB: u64 = 512 * 1024;

const RECEIVERS: [(&str, &str, &str); 4] = [
    ("grpc", "otlp_grpc", "otlp_grpc"),
    ("http-protobuf", "otlp_http", "otlp_http_protobuf"),
    ("http-json", "otlp_http", "otlp_http_json"),
    ("zipkin", "zipkin", "zipkin"),
];

#[test]
fn overload_is_refused_retryably_bounded_in_memory_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("overload.jsonl");
    let mut args = common::LOOPBACK_LISTENERS.to_vec();
    args.extend([
        // About one batch: any two batches at once overflow it, however fast the machine.
        "--queue-spans",
        "300",
        "--pair-max-items",
        "5000",
        "--record",
        recording.to_str().unwrap(),
    ]);
    let (serve, listening) = common::spawn_serve(&args);
    let mut serve = process::KillOnDrop(serve);
    let api = format!("http://{}", listening["api"]);
    let watch = process::Watch::start(serve.0.id(), Duration::from_millis(20));

    let senders: Vec<_> = RECEIVERS
        .iter()
        .map(|(protocol, listener, _)| {
            Command::new(env!("CARGO_BIN_EXE_meshlens"))
                .args(["loadgen", "--target", &listening[*listener]])
                .args(["--protocol", protocol, "--rate", "0", "--duration", "4s"])
                .args(["--connections", "8", "--batch-spans", "256"])
                .args(["--scenario", "large", "--json"])
                .env("MESHLENS_LOG", "error")
                .spawn_piped()
        })
        .collect();
    let mut delivered = 0;
    for (sender, (protocol, _, _)) in senders.into_iter().zip(RECEIVERS) {
        let output = sender.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{protocol}: {stdout}");
        let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let sent = summary["sent_spans"].as_u64().unwrap();
        assert!(sent > 0, "{protocol}: {summary}");
        assert_eq!(summary["accepted_spans"], sent, "{protocol}: {summary}");
        assert_eq!(summary["failed_spans"], 0, "{protocol}: {summary}");
        delivered += sent;
    }

    // Still serving, and overloaded for real: refusals, none dropped.
    let metrics = get(&format!("{api}/metrics"));
    let (mut accepted, mut refused) = (0.0, 0.0);
    for (protocol, _, receiver) in RECEIVERS {
        let labels = format!("{{receiver=\"{receiver}\"}}");
        refused += metric(&metrics, &format!("meshlens_spans_refused_total{labels}"));
        assert_eq!(
            metric(&metrics, &format!("meshlens_spans_dropped_total{labels}")),
            0.0,
            "{protocol}"
        );
        accepted += metric(&metrics, &format!("meshlens_spans_accepted_total{labels}"));
    }
    assert!(refused > 0.0, "never refused:\n{metrics}");
    assert_eq!(
        accepted as u64, delivered,
        "accepted by serve vs by loadgen"
    );
    let stats = drained_stats(&api, delivered);
    assert_eq!(stats["spans_ingested"], delivered, "{stats}");
    let graph: serde_json::Value =
        serde_json::from_str(&get(&format!("{api}/api/v1/graph?window=5m"))).unwrap();
    assert!(
        graph["edges"].as_array().unwrap().len() > 100,
        "the large scenario's edges: {graph}"
    );

    let status = process::terminate(&mut serve.0, Duration::from_secs(20));
    assert!(status.success(), "serve exited with {status}");
    let recorded = meshlens_collector::formats::source::read_trace_file(&recording)
        .unwrap()
        .span_count();
    assert_eq!(recorded as u64, delivered, "recorded vs accepted");

    let peak = watch.stop().iter().map(|s| s.rss_kib).max().unwrap_or(0);
    assert!(peak > 0, "RSS was never read");
    assert!(peak < RSS_CAP_KIB, "serve peaked at {} MiB", peak / 1024);
    eprintln!(
        "overload: {delivered} spans accepted, {refused} refused and retried, peak RSS {} MiB",
        peak / 1024
    );
}

trait SpawnPiped {
    fn spawn_piped(&mut self) -> Child;
}

impl SpawnPiped for Command {
    fn spawn_piped(&mut self) -> Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}

fn get(url: &str) -> String {
    reqwest::blocking::get(url).unwrap().text().unwrap()
}

/// `/api/v1/stats` once the analyzer has been handed `spans` (the queue drained), or the last
/// seen after 20 s.
fn drained_stats(api: &str, spans: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats: serde_json::Value =
            serde_json::from_str(&get(&format!("{api}/api/v1/stats"))).unwrap();
        if stats["spans_ingested"].as_u64() >= Some(spans) || Instant::now() > deadline {
            return stats;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A cardinality attack: every call between two never-seen services on a never-seen path.
/// The graph stops at its node cap and counts what it left out, the path templates at theirs,
/// and every span is still accounted for.
#[test]
fn invented_services_and_paths_stop_at_the_caps_and_are_counted() {
    use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
    use prost::Message;

    let (serve, listening) = common::spawn_serve(&[
        "--otlp-grpc",
        "off",
        "--otlp-http",
        "127.0.0.1:0",
        "--zipkin",
        "off",
        "--api",
        "127.0.0.1:0",
    ]);
    let mut serve = process::KillOnDrop(serve);
    let api = format!("http://{}", listening["api"]);
    let client = reqwest::blocking::Client::new();
    // 7,000 calls: 14,000 invented services, past the 5,000-node cap.
    let (requests, calls_per_request) = (14, 500);
    for r in 0..requests {
        let names: Vec<(String, String)> = (0..calls_per_request)
            .map(|i| {
                let n = r * calls_per_request + i;
                (format!("caller-{n:x}"), format!("callee-{n:x}"))
            })
            .collect();
        let paths: Vec<String> = (0..calls_per_request)
            .map(|i| {
                format!(
                    "/invented/{}/page",
                    "abcdefgh".repeat(1 + i % 3) + &i.to_string()
                )
            })
            .collect();
        let calls: Vec<EnvoyCall<'_>> = names
            .iter()
            .zip(&paths)
            .enumerate()
            .map(|(i, ((caller, callee), path))| {
                EnvoyCall::get(
                    Peer::sidecar(caller, "attack", "v1"),
                    Peer::sidecar(callee, "attack", "v1"),
                    path,
                    (r * calls_per_request + i) as u64,
                )
            })
            .collect();
        let response = client
            .post(format!("http://{}/v1/traces", listening["otlp_http"]))
            .header("content-type", "application/x-protobuf")
            .body(request_of(&calls).encode_to_vec())
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    let sent = (requests * calls_per_request * 2) as u64;
    let stats = drained_stats(&api, sent);
    assert_eq!(stats["spans_ingested"], sent, "{stats}");
    assert!(stats["dropped_node_cap"].as_u64().unwrap() > 0, "{stats}");
    let graph: serde_json::Value =
        serde_json::from_str(&get(&format!("{api}/api/v1/graph?window=5m"))).unwrap();
    let nodes = graph["nodes"].as_array().unwrap().len();
    assert!((4_000..=5_000).contains(&nodes), "{nodes} nodes");

    let status = process::terminate(&mut serve.0, Duration::from_secs(20));
    assert!(status.success(), "serve exited with {status}");
}
