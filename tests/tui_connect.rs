//! `meshlens tui --connect`, the client part without a terminal: the SSE reader attached to a
//! real `meshlens serve` (port 0) delivers an update with the posted trace's edges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

use meshlens_tui::sse::{ConnectOptions, connect};
use meshlens_tui::{ConnectionState, Update};

struct Serve {
    child: Child,
    listening: BTreeMap<String, String>,
}

impl Serve {
    fn start() -> Self {
        let (child, listening) = common::spawn_serve(&[
            "--otlp-grpc",
            "off",
            "--zipkin",
            "off",
            "--otlp-http",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
        ]);
        Self { child, listening }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_stream_client_receives_the_posted_traces_edges() {
    let serve = Serve::start();
    let api = format!("http://{}", serve.listening["api"]);
    let (updates, connection) = connect(
        &api,
        ConnectOptions {
            window: "all".to_owned(),
            interval: "200ms".to_owned(),
            ..ConnectOptions::default()
        },
    );
    let trace = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/traces/istio-bookinfo.otlp.json"
    ))
    .unwrap();
    let response = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/traces", serve.listening["otlp_http"]))
        .header("content-type", "application/json")
        .body(trace)
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut connected = false;
    let mut policies_seen = false;
    let mut edges: Vec<(String, String)> = Vec::new();
    while Instant::now() < deadline {
        match updates.recv_timeout(Duration::from_millis(500)) {
            Ok(Update::Connection(ConnectionState::Connected { .. })) => connected = true,
            // serve runs without --policies: the panel says "not available".
            Ok(Update::Policies(None)) => policies_seen = true,
            Ok(Update::Snapshot { graph, .. }) => {
                edges = graph
                    .edges
                    .iter()
                    .map(|e| (e.source.clone(), e.target.clone()))
                    .collect();
                if edges
                    .iter()
                    .any(|(s, t)| s.starts_with("productpage") && t.starts_with("reviews"))
                {
                    break;
                }
            }
            _ => {}
        }
    }
    assert!(connected);
    assert!(policies_seen);
    assert!(
        edges
            .iter()
            .any(|(s, t)| s.starts_with("productpage") && t.starts_with("reviews")),
        "{edges:?}"
    );
    connection.stop();
}

#[test]
fn the_stream_client_reports_a_refused_connection_and_retries() {
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (updates, connection) = connect(&format!("127.0.0.1:{port}"), ConnectOptions::default());
    let mut attempts = 0;
    let mut disconnected = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && (attempts < 2 || disconnected < 2) {
        match updates.recv_timeout(Duration::from_millis(500)) {
            Ok(Update::Connection(ConnectionState::Connecting { attempt, .. })) => {
                attempts = attempts.max(attempt);
            }
            Ok(Update::Connection(ConnectionState::Disconnected { .. })) => disconnected += 1,
            _ => {}
        }
    }
    assert!(
        attempts >= 2 && disconnected >= 2,
        "{attempts} {disconnected}"
    );
    connection.stop();
}
