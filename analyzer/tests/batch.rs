//! The batch path (polars group-bys over the request table) against the live path (windowed
//! sketches): the same requests, errors, rates and ratios exactly, and latency quantiles
//! within the sketches' relative accuracy; and the Parquet tables `meshlens export` writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::*;

use std::fs::File;

use meshlens_analyzer::batch::analyze_batch;
use meshlens_analyzer::snapshot::{GraphSnapshot, Quantiles};
use meshlens_analyzer::traces::export_trace_files;
use meshlens_analyzer::{AnalyzerConfig, analyze_all};
use meshlens_collector::Interner;
use meshlens_collector::span::{AuthzDenial, Failure, Span, SpanKind};
use polars::prelude::{DataFrame, ParquetReader, SerReader};

/// The sketches' 2% relative accuracy, plus the snapshots' rounding to a microsecond.
fn quantile_close(live: f64, exact: f64) -> bool {
    (live - exact).abs() <= exact * 0.02 + 0.001
}

fn quantiles_close(live: Option<Quantiles>, exact: Option<Quantiles>) -> bool {
    match (live, exact) {
        (None, None) => true,
        (Some(l), Some(e)) => [
            (l.p50, e.p50),
            (l.p90, e.p90),
            (l.p95, e.p95),
            (l.p99, e.p99),
        ]
        .into_iter()
        .all(|(l, e)| quantile_close(l, e)),
        _ => false,
    }
}

/// Sums over the same requests in another order differ in the last bits only.
fn same_sum(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

fn assert_same_numbers(live: &GraphSnapshot, batch: &GraphSnapshot, what: &str) {
    assert_eq!(live.window_seconds, batch.window_seconds, "{what}");
    assert_eq!(live.pairing, batch.pairing, "{what}");
    assert_eq!(live.edges.len(), batch.edges.len(), "{what}");
    for (l, b) in live.edges.iter().zip(&batch.edges) {
        let edge = format!("{what}: {} -> {} {}", l.source, l.target, l.protocol);
        assert_eq!(
            (&l.source, &l.target, &l.protocol),
            (&b.source, &b.target, &b.protocol),
            "{what}"
        );
        for (name, lv, bv) in [
            ("requests", l.requests, b.requests),
            ("errors", l.errors, b.errors),
            ("client_errors", l.client_errors, b.client_errors),
            ("authz_denials", l.authz_denials, b.authz_denials),
            ("rps", l.rps, b.rps),
            ("error_rate", l.error_rate, b.error_rate),
        ] {
            assert!(same_sum(lv, bv), "{edge}: {name} live {lv} batch {bv}");
        }
        assert_eq!(l.estimated, b.estimated, "{edge}");
        assert!(
            quantiles_close(l.client_latency_ms, b.client_latency_ms),
            "{edge}: client {:?} vs exact {:?}",
            l.client_latency_ms,
            b.client_latency_ms
        );
        assert!(
            quantiles_close(l.server_latency_ms, b.server_latency_ms),
            "{edge}: server {:?} vs exact {:?}",
            l.server_latency_ms,
            b.server_latency_ms
        );
        // What is not a statistic comes from the engine on both paths.
        assert_eq!(
            (&l.ports, &l.methods, &l.paths, l.pairing, &l.trace_ids),
            (&b.ports, &b.methods, &b.paths, b.pairing, &b.trace_ids),
            "{edge}"
        );
    }
    assert_eq!(live.nodes.len(), batch.nodes.len(), "{what}");
    for (l, b) in live.nodes.iter().zip(&batch.nodes) {
        assert_eq!((&l.id, l.kind, &l.versions), (&b.id, b.kind, &b.versions));
        assert!(same_sum(l.requests, b.requests), "{what}: {}", l.id);
        assert!(same_sum(l.errors, b.errors), "{what}: {}", l.id);
        assert!(same_sum(l.rps, b.rps), "{what}: {}", l.id);
    }
}

fn compare(interner: Interner, spans: &[Span], what: &str) -> GraphSnapshot {
    let live = analyze_all(interner.clone(), spans, AnalyzerConfig::default());
    let batch = analyze_batch(interner, spans, AnalyzerConfig::default())
        .unwrap()
        .graph;
    assert_same_numbers(&live, &batch, what);
    batch
}

#[test]
fn batch_statistics_equal_the_live_path_on_every_reference_trace() {
    for file in [
        "istio-bookinfo.tempo.json",
        "yelp.zipkin.json",
        "messaging-kafka.zipkin.json",
        "istio-otel-egress.otlp.json",
        "envoy.zipkin.json",
        "jaeger-example.otlp.json",
    ] {
        let (interner, spans) = read(file);
        let batch = compare(interner, &spans, file);
        assert!(!batch.edges.is_empty(), "{file}");
    }
}

/// Two thousand calls over four edges with spread latencies, every failure class, sampled
/// spans and callers whose callee never reported.
fn scripted_traffic(mk: &Mk) -> Vec<Span> {
    let edges = [
        ("productpage", "reviews"),
        ("productpage", "details"),
        ("reviews", "ratings"),
        ("reviews", "mongodb"),
    ];
    let mut spans = Vec::new();
    for i in 0u32..2000 {
        let (caller, callee) = edges[i as usize % edges.len()];
        let at_ms = u64::from(i) * 7;
        let [mut client, mut server] = mk.call(0, caller, callee, at_ms);
        for span in [&mut client, &mut server] {
            span.trace_id[1..5].copy_from_slice(&i.to_be_bytes());
        }
        // Latencies from 0.2 ms to about 3 s, skewed like real ones.
        let latency_us = 200 + u64::from(i * 7919 % 1000).pow(2) * 3;
        client.duration_nanos = latency_us * 1000 + 150_000;
        server.duration_nanos = latency_us * 1000;
        let failure = match i % 41 {
            3 => Some((503, Failure::ServerError)),
            7 => Some((404, Failure::ClientError)),
            11 => Some((403, Failure::AuthzDenied)),
            _ => None,
        };
        if let Some((status, failure)) = failure {
            for span in [&mut client, &mut server] {
                span.status_code = Some(status);
                span.failure = Some(failure);
            }
            if failure == Failure::AuthzDenied {
                server.authz_denial = AuthzDenial::Confirmed;
            }
        }
        if i % 5 == 0 {
            for span in [&mut client, &mut server] {
                span.adjusted_count = 4.0;
                span.estimated = true;
            }
        }
        spans.push(client);
        // mongodb has no sidecar: its calls are seen by the caller only.
        if callee != "mongodb" {
            spans.push(server);
        }
    }
    spans
}

#[test]
fn batch_statistics_equal_the_live_path_on_scripted_traffic() {
    let mk = Mk::new();
    let spans = scripted_traffic(&mk);
    assert!(spans.iter().all(|s| s.kind != SpanKind::Internal));
    let batch = compare(mk.interner.clone(), &spans, "scripted");
    let reviews = edge(&batch, "productpage.bookinfo", "reviews.bookinfo");
    // 500 calls, a fifth of them standing for four requests each.
    assert_eq!(reviews.requests, 400.0 + 100.0 * 4.0);
    assert!(reviews.errors > 0.0 && reviews.client_errors > 0.0 && reviews.authz_denials > 0.0);
    assert!(reviews.estimated);
    let mongodb = edge(&batch, "reviews.bookinfo", "mongodb.bookinfo");
    assert_eq!(mongodb.server_latency_ms, None);
    assert!(mongodb.client_latency_ms.is_some());
}

#[test]
fn export_writes_tables_that_read_back_with_the_graph_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tables");
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/traces/istio-bookinfo.tempo.json");
    let exported = export_trace_files(&[trace], AnalyzerConfig::default(), &out).unwrap();
    let table = |name: &str| {
        let file = File::open(out.join(name)).unwrap();
        ParquetReader::new(file).finish().unwrap()
    };
    let names: Vec<_> = exported
        .tables
        .iter()
        .map(|(path, rows)| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                *rows,
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("spans.parquet".to_owned(), 8),
            ("requests.parquet".to_owned(), 5),
            ("edges.parquet".to_owned(), 5),
        ]
    );

    let spans = table("spans.parquet");
    assert_eq!(spans.height(), 8);
    let count = |frame: &DataFrame, column: &str, value: &str| {
        let values = frame.column(column).unwrap().str().unwrap().clone();
        (0..values.len())
            .filter(|&i| values.get(i) == Some(value))
            .count()
    };
    assert_eq!(count(&spans, "kind", "server"), 4);
    assert_eq!(count(&spans, "node", "reviews.bookinfo"), 2);

    let requests = table("requests.parquet");
    assert_eq!(count(&requests, "how", "paired"), 4);

    let edges = table("edges.parquet");
    let stats = meshlens_analyzer::batch::edge_stats(&edges).unwrap();
    let (interner, spans) = read("istio-bookinfo.tempo.json");
    let live = analyze_all(interner, &spans, AnalyzerConfig::default());
    assert_eq!(stats.len(), live.edges.len());
    for (s, l) in stats.iter().zip(&live.edges) {
        assert_eq!(
            (&s.source, &s.target, s.requests),
            (&l.source, &l.target, l.requests)
        );
        assert!(
            quantiles_close(l.client_latency_ms, s.client_latency_ms),
            "{s:?}"
        );
    }
}

#[test]
fn export_into_an_unwritable_place_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/traces/istio-bookinfo.tempo.json");
    let error = export_trace_files(&[trace], AnalyzerConfig::default(), &blocker.join("out"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("file/out"), "{error}");
}
