//! The bounded hand-off between receivers and the pipeline.
//!
//! Bounded by spans, not batches: a proxy's 1-span request and a 10,000-span request are not
//! the same load; and by bytes, as a span's path and, with `--record`, its whole OTLP request
//! (attributes, events) travel with it. A full queue refuses a request before it is
//! acknowledged, so the client keeps the spans and retries; nothing that was acknowledged is
//! ever dropped here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::mpsc;

use super::metrics::IngestMetrics;
use crate::span::Span;

/// Spans accepted from one request.
#[derive(Debug)]
pub struct Batch {
    pub spans: Vec<Span>,
    /// The accepted spans as OTLP, kept only when `--record` is on.
    pub record: Option<ExportTraceServiceRequest>,
    /// Memory the batch holds, near enough to bound the queue by.
    pub bytes: usize,
}

impl Batch {
    pub fn new(spans: Vec<Span>, record: Option<ExportTraceServiceRequest>) -> Self {
        let paths: usize = spans
            .iter()
            .map(|s| s.path.as_ref().map_or(0, |p| p.len()))
            .sum();
        let recorded = record.as_ref().map_or(0, prost::Message::encoded_len);
        let bytes = spans.len() * size_of::<Span>() + paths + recorded;
        Self {
            spans,
            record,
            bytes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the ingest queue is full")]
    Full,
    /// The request bytes held at once reached their budget ([`super::inflight`]).
    #[error("too many request bytes are being received")]
    Busy,
    #[error("the server is shutting down")]
    Closed,
}

#[derive(Debug)]
struct Shared {
    queued_spans: AtomicUsize,
    capacity_spans: usize,
    queued_bytes: AtomicUsize,
    capacity_bytes: usize,
    metrics: Arc<IngestMetrics>,
}

#[derive(Debug, Clone)]
pub struct QueueSender {
    tx: mpsc::UnboundedSender<Batch>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub struct QueueReceiver {
    rx: mpsc::UnboundedReceiver<Batch>,
    shared: Arc<Shared>,
}

/// A queue of at most `capacity_spans` spans and `capacity_bytes` bytes.
pub fn bounded(
    capacity_spans: usize,
    capacity_bytes: usize,
    metrics: Arc<IngestMetrics>,
) -> (QueueSender, QueueReceiver) {
    metrics
        .queue_capacity_spans
        .set(i64::try_from(capacity_spans).unwrap_or(i64::MAX));
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        queued_spans: AtomicUsize::new(0),
        capacity_spans,
        queued_bytes: AtomicUsize::new(0),
        capacity_bytes,
        metrics,
    });
    (
        QueueSender {
            tx,
            shared: shared.clone(),
        },
        QueueReceiver { rx, shared },
    )
}

impl QueueSender {
    /// Queues a batch, or refuses it whole when its spans or bytes do not fit. A batch larger
    /// than the whole capacity is still taken when the queue is empty, so it cannot be refused
    /// forever (its size is bounded by the request size limit).
    pub fn try_send(&self, batch: Batch) -> Result<(), Refused> {
        let (n, bytes) = (batch.spans.len(), batch.bytes);
        let shared = &self.shared;
        let spans_before = shared.queued_spans.fetch_add(n, Ordering::AcqRel);
        let bytes_before = shared.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        let full = spans_before > 0 && spans_before + n > shared.capacity_spans
            || bytes_before > 0 && bytes_before + bytes > shared.capacity_bytes;
        if full {
            shared.release(n, bytes);
            return Err(Refused::Full);
        }
        if self.tx.send(batch).is_err() {
            shared.release(n, bytes);
            return Err(Refused::Closed);
        }
        shared.metrics.queue_spans.inc_by(n as i64);
        Ok(())
    }
}

impl Shared {
    fn release(&self, spans: usize, bytes: usize) {
        self.queued_spans.fetch_sub(spans, Ordering::AcqRel);
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl QueueReceiver {
    /// The next batch; `None` once every sender is gone and the queue is drained.
    pub fn blocking_recv(&mut self) -> Option<Batch> {
        self.rx.blocking_recv()
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Frees the queue space a processed batch held.
    pub fn done(&self, batch: &Batch) {
        self.shared.release(batch.spans.len(), batch.bytes);
        self.shared
            .metrics
            .queue_spans
            .dec_by(batch.spans.len() as i64);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::envoy_call::{EnvoyCall, Peer, request_of};
    use crate::intern::Interner;
    use crate::normalize::Normalizer;

    /// A batch of one call's two spans, with its request kept as for `--record`.
    fn batch(path: &str) -> Batch {
        let (a, b) = (
            Peer::sidecar("productpage", "bookinfo", "v1"),
            Peer::sidecar("reviews", "bookinfo", "v1"),
        );
        let request = request_of(&[EnvoyCall::get(a, b, path, 1)]);
        let mut spans = Vec::new();
        Normalizer::new(Interner::new()).normalize_request(&request, &mut spans);
        assert_eq!(spans.len(), 2);
        Batch::new(spans, Some(request))
    }

    #[test]
    fn bytes_bound_the_queue_as_well_as_spans() {
        let small = batch("/reviews/0");
        let large = batch(&format!("/reviews/{}", "x".repeat(100_000)));
        assert!(large.bytes > small.bytes + 100_000, "the record counted");

        // Room for many spans, but bytes for one large batch only.
        let (tx, mut rx) = bounded(1_000, large.bytes, Arc::default());
        tx.try_send(batch(&format!("/reviews/{}", "x".repeat(100_000))))
            .unwrap();
        assert_eq!(tx.try_send(small), Err(Refused::Full));
        let taken = rx.blocking_recv().unwrap();
        rx.done(&taken);
        // Once drained, even a batch above the whole capacity is taken (never refused forever).
        let huge = batch(&format!("/reviews/{}", "x".repeat(300_000)));
        assert!(huge.bytes > large.bytes);
        tx.try_send(huge).unwrap();
    }
}
