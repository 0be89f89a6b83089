//! `meshlens loadgen` against a real `meshlens serve` on loopback (port 0), over each
//! protocol: every span sent is accepted, and the server counts the same.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::metric;

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Serve {
    child: Child,
    listening: BTreeMap<String, String>,
}

impl Serve {
    fn start(extra: &[&str]) -> Self {
        let mut args = common::LOOPBACK_LISTENERS.to_vec();
        args.extend_from_slice(extra);
        let (child, listening) = common::spawn_serve(&args);
        Self { child, listening }
    }

    fn get(&self, path: &str) -> String {
        reqwest::blocking::get(format!("http://{}{path}", self.listening["api"]))
            .unwrap()
            .text()
            .unwrap()
    }

    /// The summary's span count, once the pipeline has drained to `spans` (or the last seen).
    fn summary_spans(&self, spans: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let summary: serde_json::Value =
                serde_json::from_str(&self.get("/api/v1/summary")).unwrap();
            let seen = summary["spans"].as_u64().unwrap_or(0);
            if seen >= spans || Instant::now() > deadline {
                return seen;
            }
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

fn loadgen(args: &[&str]) -> (serde_json::Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .arg("loadgen")
        .args(args)
        .arg("--json")
        .env("MESHLENS_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    (serde_json::from_str(stdout.trim()).unwrap(), stderr)
}

#[test]
fn every_protocol_delivers_every_span_and_the_server_counts_them() {
    let serve = Serve::start(&[]);
    let mut total = 0;
    for (protocol, listener, receiver) in [
        ("grpc", "otlp_grpc", "otlp_grpc"),
        ("http-protobuf", "otlp_http", "otlp_http_protobuf"),
        ("http-json", "otlp_http", "otlp_http_json"),
        ("zipkin", "zipkin", "zipkin"),
    ] {
        let target = serve.listening[listener].clone();
        let (summary, stderr) = loadgen(&[
            "--target",
            &target,
            "--protocol",
            protocol,
            "--rate",
            "3000",
            "--duration",
            "2s",
            "--connections",
            "2",
        ]);
        let sent = summary["sent_spans"].as_u64().unwrap();
        // 3,000 spans/s for 2 s, give or take a batch per connection.
        assert!((4_500..=7_000).contains(&sent), "{protocol}: {summary}");
        assert_eq!(summary["accepted_spans"], sent, "{protocol}: {summary}");
        assert_eq!(summary["failed_spans"], 0, "{protocol}: {summary}");
        assert_eq!(summary["rejected_spans"], 0, "{protocol}: {summary}");
        assert_eq!(summary["protocol"], protocol);
        // One progress line per second, on stderr with --json.
        assert!(stderr.contains("accepted"), "{stderr}");
        let metrics = serve.get("/metrics");
        let accepted = metric(
            &metrics,
            &format!("meshlens_spans_accepted_total{{receiver=\"{receiver}\"}}"),
        );
        assert_eq!(accepted, sent as f64, "{receiver}");
        total += sent;
    }
    assert_eq!(serve.summary_spans(total), total);
    // The simulated bookinfo is what the server saw.
    let graph: serde_json::Value =
        serde_json::from_str(&serve.get("/api/v1/graph?window=all")).unwrap();
    let edges: Vec<String> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}>{}",
                e["source"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect();
    for edge in [
        "istio-ingressgateway.istio-system>productpage.bookinfo",
        "productpage.bookinfo>details.bookinfo",
        "productpage.bookinfo>reviews.bookinfo",
        "reviews.bookinfo>ratings.bookinfo",
    ] {
        assert!(edges.contains(&edge.to_owned()), "{edge} in {edges:?}");
    }
}

#[test]
fn a_full_queue_is_retried_until_every_span_is_taken() {
    // A queue of 600 spans: as fast as possible, batches are refused (503 / UNAVAILABLE)
    // while the pipeline catches up, and retried.
    let serve = Serve::start(&["--queue-spans", "600"]);
    let mut total = 0;
    for (protocol, listener) in [("grpc", "otlp_grpc"), ("http-protobuf", "otlp_http")] {
        let (summary, _) = loadgen(&[
            "--target",
            &serve.listening[listener],
            "--protocol",
            protocol,
            "--rate",
            "0",
            "--duration",
            "2s",
            "--connections",
            "4",
            "--batch-spans",
            "500",
            "--scenario",
            "large",
        ]);
        let sent = summary["sent_spans"].as_u64().unwrap();
        assert!(sent > 0);
        assert_eq!(summary["accepted_spans"], sent, "{protocol}: {summary}");
        assert_eq!(summary["failed_spans"], 0, "{protocol}: {summary}");
        assert!(
            summary["retries"].as_u64().unwrap() > 0,
            "{protocol}: {summary}"
        );
        total += sent;
    }
    let metrics = serve.get("/metrics");
    let refused = metric(
        &metrics,
        "meshlens_spans_refused_total{receiver=\"otlp_grpc\"}",
    ) + metric(
        &metrics,
        "meshlens_spans_refused_total{receiver=\"otlp_http_protobuf\"}",
    );
    assert!(refused > 0.0, "{metrics}");
    assert_eq!(serve.summary_spans(total), total);
}

#[test]
fn an_unreachable_target_is_an_error_not_a_hang() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .args(["loadgen", "--target", "127.0.0.1:1", "--duration", "1s"])
        .env("MESHLENS_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15));
}
