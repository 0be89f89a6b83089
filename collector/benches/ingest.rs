//! Decode + normalise throughput on Envoy-shaped batches (512 spans, ~20 string attributes
//! each): the ingest hot path of `meshlens serve` for OTLP/HTTP protobuf.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::sample::envoy_request;
use meshlens_collector::{Interner, wire};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

const SPANS: usize = 512;

fn ingest(c: &mut Criterion) {
    let body = envoy_request(SPANS, 42).encode_to_vec();
    let normalizer = Normalizer::new(Interner::new());
    let mut group = c.benchmark_group("ingest_512_envoy_spans");
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
