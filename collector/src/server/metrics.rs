//! Self-metrics, exposed in Prometheus text format on the API listener.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The receiver a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Receiver {
    otlp_grpc,
    otlp_http_protobuf,
    otlp_http_json,
    zipkin,
}

/// Why a request was refused (in whole or in part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ErrorReason {
    /// The body could not be decoded.
    decode,
    /// The body (or its decompressed form) exceeded the size limit.
    too_large,
    /// An unsupported `Content-Type` or `Content-Encoding`.
    unsupported_media_type,
    /// A method other than POST.
    method_not_allowed,
    /// The pipeline queue was full: the client was told to retry.
    queue_full,
    /// The request bytes held at once reached their budget: the client was told to retry.
    busy,
    /// Some spans of an accepted request were invalid (partial success).
    invalid_spans,
    /// The server is shutting down.
    shutting_down,
    /// The client did not send its request body in time.
    timeout,
    /// No or a wrong bearer token (`--auth-token-file`): answered 401 / UNAUTHENTICATED.
    unauthenticated,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReceiverLabels {
    pub receiver: Receiver,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrorLabels {
    pub receiver: Receiver,
    pub reason: ErrorReason,
}

/// Every counter the ingest path keeps. Cheap to update from many tasks at once.
#[derive(Debug, Default)]
pub struct IngestMetrics {
    pub spans_received: Family<ReceiverLabels, Counter>,
    pub spans_accepted: Family<ReceiverLabels, Counter>,
    pub spans_rejected: Family<ReceiverLabels, Counter>,
    /// Spans refused with a retryable answer (queue full): the client still holds them.
    pub spans_refused: Family<ReceiverLabels, Counter>,
    /// Spans lost after they were acknowledged. Should stay zero; counted so it can be proven.
    pub spans_dropped: Family<ReceiverLabels, Counter>,
    pub requests: Family<ReceiverLabels, Counter>,
    pub request_errors: Family<ErrorLabels, Counter>,
    pub queue_spans: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub queue_capacity_spans: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub recorded_batches: Counter<u64, AtomicU64>,
    pub record_errors: Counter<u64, AtomicU64>,
    /// API requests refused for want of the bearer token (ingestion's are `request_errors`).
    pub api_unauthenticated: Counter<u64, AtomicU64>,
}

impl IngestMetrics {
    pub fn register(self: &std::sync::Arc<Self>, registry: &mut Registry) {
        let prefix = registry.sub_registry_with_prefix("meshlens");
        prefix.register(
            "spans_received",
            "Spans decoded from requests",
            self.spans_received.clone(),
        );
        prefix.register(
            "spans_accepted",
            "Spans acknowledged and queued for analysis",
            self.spans_accepted.clone(),
        );
        prefix.register(
            "spans_rejected",
            "Invalid spans refused through OTLP partial success",
            self.spans_rejected.clone(),
        );
        prefix.register(
            "spans_refused",
            "Spans refused with a retryable answer because the queue was full",
            self.spans_refused.clone(),
        );
        prefix.register(
            "spans_dropped",
            "Spans lost after acknowledgement",
            self.spans_dropped.clone(),
        );
        prefix.register(
            "requests",
            "Export requests received",
            self.requests.clone(),
        );
        prefix.register(
            "request_errors",
            "Export requests refused in whole or in part, by reason",
            self.request_errors.clone(),
        );
        prefix.register(
            "queue_spans",
            "Spans acknowledged and waiting for the pipeline",
            self.queue_spans.clone(),
        );
        prefix.register(
            "queue_capacity_spans",
            "Spans the pipeline queue holds before refusing",
            self.queue_capacity_spans.clone(),
        );
        prefix.register(
            "recorded_batches",
            "Batches appended to the --record file",
            self.recorded_batches.clone(),
        );
        prefix.register(
            "record_errors",
            "Failures writing the --record file",
            self.record_errors.clone(),
        );
        prefix.register(
            "api_unauthenticated_requests",
            "API requests refused without the bearer token (GET /healthz needs none)",
            self.api_unauthenticated.clone(),
        );
    }

    pub fn error(&self, receiver: Receiver, reason: ErrorReason) {
        self.request_errors
            .get_or_create(&ErrorLabels { receiver, reason })
            .inc();
    }

    pub fn spans(family: &Family<ReceiverLabels, Counter>, receiver: Receiver, n: u64) {
        if n > 0 {
            family.get_or_create(&ReceiverLabels { receiver }).inc_by(n);
        }
    }
}
