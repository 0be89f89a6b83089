//! Spans from the real OpenTelemetry Rust SDK, as an instrumented app sends them, shared by
//! the end-to-end tests that export through `opentelemetry-otlp` (`#[path]`-included).
#![allow(dead_code, clippy::unwrap_used)]

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer, TracerProvider as _};
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Emits `count` spans through `exporter` as the SDK would in an app, then flushes.
pub fn emit(exporter: SpanExporter, service: &str, count: usize) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .with_attribute(KeyValue::new("k8s.namespace.name", "shop"))
                .build(),
        )
        .build();
    let tracer = provider.tracer("meshlens-e2e");
    for i in 0..count {
        let mut span = tracer
            .span_builder(format!("GET /items/{i}"))
            .with_kind(if i % 2 == 0 {
                SpanKind::Client
            } else {
                SpanKind::Server
            })
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.path", format!("/items/{i}")),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("server.address", "inventory.shop.svc.cluster.local"),
                KeyValue::new("server.port", 8080),
            ])
            .start(&tracer);
        span.end();
    }
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
}
