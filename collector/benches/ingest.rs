//! Decode + normalise throughput on Envoy-shaped batches of 512 spans, with every tag a
//! sidecar sends (20 string attributes) and without the incidental ones (15): the ingest hot
//! path of `meshlens serve`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::sample::{Shape, envoy_request_shaped};
use meshlens_collector::{Interner, wire};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The allocator the `meshlens` binary ships with: measure what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS: usize = 512;

fn ingest(c: &mut Criterion) {
    for (shape, name) in [
        (Shape::Full, "ingest_512_envoy_spans_20_attrs"),
        (Shape::Lean, "ingest_512_envoy_spans_15_attrs"),
    ] {
        ingest_shape(c, shape, name);
    }
}

fn ingest_shape(c: &mut Criterion, shape: Shape, name: &str) {
    let body = envoy_request_shaped(SPANS, 42, shape).encode_to_vec();
    let normalizer = Normalizer::new(Interner::new());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(SPANS as u64));

    let mut spans = Vec::with_capacity(SPANS);
    group.bench_function("wire_decode_normalize", |b| {
        b.iter(|| {
            spans.clear();
            wire::normalize_request(&body, &normalizer, &mut spans).unwrap();
            assert_eq!(spans.len(), SPANS);
        })
    });
    group.bench_function("prost_decode_normalize", |b| {
        b.iter(|| {
            spans.clear();
            let request = ExportTraceServiceRequest::decode(&body[..]).unwrap();
            normalizer.normalize_request(&request, &mut spans);
            assert_eq!(spans.len(), SPANS);
        })
    });
    group.bench_function("prost_decode_only", |b| {
        b.iter(|| ExportTraceServiceRequest::decode(&body[..]).unwrap())
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
