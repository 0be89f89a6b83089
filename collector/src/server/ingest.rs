//! What every receiver does with a request once it has the bytes: decode, normalise, queue,
//! and count — so OTLP gRPC, OTLP HTTP and Zipkin answer and account identically.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::inflight::{InflightBudget, Reservation};
use super::metrics::{ErrorReason, IngestMetrics, Receiver};
use super::queue::{Batch, QueueSender, Refused};
use crate::normalize::{Normalizer, Rejected, ids_are_valid};
use crate::wire;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Decode(String),
    #[error(transparent)]
    Refused(#[from] Refused),
}

#[derive(Debug)]
pub struct Ingest {
    normalizer: Normalizer,
    queue: QueueSender,
    metrics: Arc<IngestMetrics>,
    record: bool,
    inflight: InflightBudget,
}

impl Ingest {
    pub(super) fn new(
        normalizer: Normalizer,
        queue: QueueSender,
        metrics: Arc<IngestMetrics>,
        record: bool,
        inflight: InflightBudget,
    ) -> Self {
        Self {
            normalizer,
            queue,
            metrics,
            record,
            inflight,
        }
    }

    /// Reserves what a request may hold before its body is read, or refuses it (retryable)
    /// when the receivers already hold their budget.
    pub fn reserve(&self, receiver: Receiver, bytes: usize) -> Result<Reservation, IngestError> {
        self.inflight.try_reserve(bytes).ok_or_else(|| {
            self.refused_early(receiver, ErrorReason::busy);
            IngestError::Refused(Refused::Busy)
        })
    }

    /// A protobuf `ExportTraceServiceRequest` body, normalised straight off the wire.
    pub fn protobuf(&self, receiver: Receiver, body: &[u8]) -> Result<Rejected, IngestError> {
        self.count_request(receiver);
        let mut spans = Vec::new();
        let rejected = wire::normalize_request(body, &self.normalizer, &mut spans)
            .map_err(|error| self.decode_error(receiver, error.to_string()))?;
        let record = if self.record {
            let request = ExportTraceServiceRequest::decode(body)
                .map_err(|error| self.decode_error(receiver, error.to_string()))?;
            Some(accepted_only(request, &rejected))
        } else {
            None
        };
        self.enqueue(receiver, spans, rejected, record)
    }

    /// An already decoded request (OTLP JSON, gRPC, Zipkin converted to OTLP).
    pub fn request(
        &self,
        receiver: Receiver,
        request: ExportTraceServiceRequest,
    ) -> Result<Rejected, IngestError> {
        self.count_request(receiver);
        let mut spans = Vec::new();
        let rejected = self.normalizer.normalize_request(&request, &mut spans);
        let record = self.record.then(|| accepted_only(request, &rejected));
        self.enqueue(receiver, spans, rejected, record)
    }

    /// Counts a request refused before it reached [`Ingest`] (size, media type, method).
    pub fn refused_early(&self, receiver: Receiver, reason: ErrorReason) {
        self.count_request(receiver);
        self.metrics.error(receiver, reason);
    }

    /// Counts a body that could not be decoded into spans.
    pub fn decode_error(&self, receiver: Receiver, message: String) -> IngestError {
        self.metrics.error(receiver, ErrorReason::decode);
        IngestError::Decode(message)
    }

    fn count_request(&self, receiver: Receiver) {
        IngestMetrics::spans(&self.metrics.requests, receiver, 1);
    }

    fn enqueue(
        &self,
        receiver: Receiver,
        spans: Vec<crate::span::Span>,
        rejected: Rejected,
        record: Option<ExportTraceServiceRequest>,
    ) -> Result<Rejected, IngestError> {
        let metrics = &self.metrics;
        let accepted = spans.len() as u64;
        IngestMetrics::spans(&metrics.spans_received, receiver, accepted + rejected.count);
        if rejected.count > 0 {
            IngestMetrics::spans(&metrics.spans_rejected, receiver, rejected.count);
            metrics.error(receiver, ErrorReason::invalid_spans);
        }
        if spans.is_empty() {
            return Ok(rejected);
        }
        let batch = Batch::new(spans, record);
        match self.queue.try_send(batch) {
            Ok(()) => {
                IngestMetrics::spans(&metrics.spans_accepted, receiver, accepted);
                Ok(rejected)
            }
            Err(refused) => {
                IngestMetrics::spans(&metrics.spans_refused, receiver, accepted);
                let reason = match refused {
                    Refused::Full => ErrorReason::queue_full,
                    Refused::Busy => ErrorReason::busy,
                    Refused::Closed => ErrorReason::shutting_down,
                };
                metrics.error(receiver, reason);
                Err(refused.into())
            }
        }
    }
}

/// The request minus the spans the normaliser rejected, so a recording holds exactly what
/// was acknowledged.
fn accepted_only(
    mut request: ExportTraceServiceRequest,
    rejected: &Rejected,
) -> ExportTraceServiceRequest {
    if rejected.count > 0 {
        for resource_spans in &mut request.resource_spans {
            for scope_spans in &mut resource_spans.scope_spans {
                scope_spans.spans.retain(|span| {
                    ids_are_valid(&span.trace_id, &span.span_id, &span.parent_span_id)
                });
            }
        }
    }
    request
}
