//! The whole ingest path on mesh-shaped traffic: protobuf bytes → zero-copy decode → normalise
//! → pair → aggregate, in 512-span batches of CLIENT/SERVER halves of calls between 50
//! Istio sidecar services (20 string attributes per span, as Envoy sends). Also pair +
//! aggregate alone, on spans normalised beforehand.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshlens_analyzer::{Analyzer, AnalyzerConfig};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::sample::string_attr;
use meshlens_collector::{Interner, Span, wire};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, span};
use prost::Message;

/// The allocator the `meshlens` binary ships with: measure what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS: usize = 512;
const SERVICES: u64 = 50;
/// Distinct batches cycled through (distinct trace ids, callers and paths).
const BATCHES: u64 = 64;
const NAMESPACE: &str = "mesh";
const START_MS: u64 = 1_701_779_876_000;

/// Each caller calls three callees: 150 edges over 50 services.
fn callee(caller: u64, n: u64) -> u64 {
    (caller + 1 + (n % 3) * 7) % SERVICES
}

fn envoy_span(batch: u64, call: u64, client: bool) -> (u64, OtlpSpan) {
    let n = batch * 1_000_003 + call;
    let caller = n % SERVICES;
    let callee = callee(caller, n / SERVICES);
    let workload = if client { caller } else { callee };
    let name = |s: u64| format!("svc-{s:02}");
    let host = format!("{}.{NAMESPACE}.svc.cluster.local", name(callee));
    let upstream = if client {
        format!("outbound|8080||{host}")
    } else {
        "inbound|8080||".to_owned()
    };
    let failed = n % 97 == 3;
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&(n + 1).to_be_bytes());
    trace_id[8..].copy_from_slice(&0x6d65_7368_u64.to_be_bytes());
    let client_id = (n << 1 | 1 << 48).to_be_bytes();
    let server_id = (n << 1 | 1 | 1 << 48).to_be_bytes();
    let start = START_MS * 1_000_000 + batch * 10_000_000 + call * 10_000;
    let duration = 1_000_000 + (n % 13) * 250_000;
    let span = OtlpSpan {
        trace_id: trace_id.to_vec(),
        span_id: if client { client_id } else { server_id }.to_vec(),
        parent_span_id: if client {
            Vec::new()
        } else {
            client_id.to_vec()
        },
        name: format!("{host}:8080/*"),
        kind: if client {
            span::SpanKind::Client
        } else {
            span::SpanKind::Server
        } as i32,
        start_time_unix_nano: start + u64::from(!client) * 100_000,
        end_time_unix_nano: start + duration - u64::from(!client) * 100_000,
        attributes: vec![
            string_attr(
                "node_id",
                format!(
                    "sidecar~10.1.0.{workload}~{}-v1-6f89b6c557-abcde.{NAMESPACE}~{NAMESPACE}.svc.cluster.local",
                    name(workload)
                ),
            ),
            string_attr("zone", "us-east-1a"),
            string_attr(
                "guid:x-request-id",
                format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            ),
            string_attr(
                "http.url",
                format!("http://{}:8080/api/items/{}?x=1", name(callee), n % 1000),
            ),
            string_attr(
                "http.method",
                if n.is_multiple_of(5) { "POST" } else { "GET" },
            ),
            string_attr("downstream_cluster", "-"),
            string_attr("user_agent", "Go-http-client/1.1"),
            string_attr("http.protocol", "HTTP/1.1"),
            string_attr(
                "peer.address",
                format!("10.1.0.{}", if client { callee } else { caller }),
            ),
            string_attr("request_size", "0"),
            string_attr("upstream_cluster", upstream.clone()),
            string_attr("upstream_cluster.name", upstream),
            string_attr("http.status_code", if failed { "503" } else { "200" }),
            string_attr("response_size", "1843"),
            string_attr("response_flags", if failed { "UF" } else { "-" }),
            string_attr("istio.canonical_service", name(workload)),
            string_attr("istio.canonical_revision", "v1"),
            string_attr("istio.namespace", NAMESPACE),
            string_attr("istio.mesh_id", "cluster.local"),
            string_attr("component", "proxy"),
        ],
        ..Default::default()
    };
    (workload, span)
}

/// One batch: 256 calls, each as its CLIENT and SERVER half, grouped one resource per
/// workload as Envoy's OTel tracer sends them.
fn batch(batch: u64) -> Vec<u8> {
    let mut by_workload: Vec<Vec<OtlpSpan>> = vec![Vec::new(); SERVICES as usize];
    for call in 0..(SPANS / 2) as u64 {
        for client in [true, false] {
            let (workload, span) = envoy_span(batch, call, client);
            by_workload[workload as usize].push(span);
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_workload
            .into_iter()
            .enumerate()
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(w, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_attr(
                        "service.name",
                        format!("svc-{w:02}.{NAMESPACE}"),
                    )],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
    .encode_to_vec()
}

fn pipeline(c: &mut Criterion) {
    let bodies: Vec<Vec<u8>> = (0..BATCHES).map(batch).collect();
    let interner = Interner::new();
    let normalizer = Normalizer::new(interner.clone());
    let mut group = c.benchmark_group("pipeline_512_spans_50_services");
    group.throughput(Throughput::Elements(SPANS as u64));

    let mut analyzer = Analyzer::new(interner.clone(), AnalyzerConfig::default());
    let mut spans: Vec<Span> = Vec::with_capacity(SPANS);
    let mut i = 0usize;
    // The batches are replayed, so the clock follows their span times round and round: every
    // request lands in the current buckets, as live traffic does.
    let now = |i: usize| START_MS + (i as u64 % BATCHES) * 10 + 1_000;
    group.bench_function("decode_normalize_pair_aggregate", |b| {
        b.iter(|| {
            spans.clear();
            wire::normalize_request(&bodies[i % bodies.len()], &normalizer, &mut spans).unwrap();
            assert_eq!(spans.len(), SPANS);
            analyzer.ingest(&spans, now(i));
            i += 1;
        })
    });
    group.bench_function("decode_normalize_only", |b| {
        b.iter(|| {
            spans.clear();
            wire::normalize_request(&bodies[i % bodies.len()], &normalizer, &mut spans).unwrap();
            i += 1;
        })
    });
    let stats = analyzer.stats();
    assert!(stats.expired_client == 0 && stats.dropped_store_full == 0);

    let batches: Vec<Vec<Span>> = bodies
        .iter()
        .map(|body| {
            let mut out = Vec::new();
            wire::normalize_request(body, &normalizer, &mut out).unwrap();
            out
        })
        .collect();
    let mut analyzer = Analyzer::new(interner, AnalyzerConfig::default());
    group.bench_function("pair_aggregate", |b| {
        b.iter(|| {
            analyzer.ingest(&batches[i % batches.len()], now(i));
            i += 1;
        })
    });
    let snapshot = analyzer.snapshot(meshlens_analyzer::Window::ONE_MINUTE, now(i));
    // At most the 150 edges the traffic has (none when a filter skipped this benchmark).
    assert!(snapshot.edges.len() <= 150);
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
