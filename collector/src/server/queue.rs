//! The bounded hand-off between receivers and the pipeline.
//!
//! Bounded by spans, not batches: a proxy's 1-span request and a 10,000-span request are not
//! the same load. A full queue refuses a request before it is acknowledged, so the client keeps
//! the spans and retries; nothing that was acknowledged is ever dropped here.

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the ingest queue is full")]
    Full,
    #[error("the server is shutting down")]
    Closed,
}

#[derive(Debug)]
struct Shared {
    queued_spans: AtomicUsize,
    capacity_spans: usize,
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

pub fn bounded(capacity_spans: usize, metrics: Arc<IngestMetrics>) -> (QueueSender, QueueReceiver) {
    metrics
        .queue_capacity_spans
        .set(i64::try_from(capacity_spans).unwrap_or(i64::MAX));
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        queued_spans: AtomicUsize::new(0),
        capacity_spans,
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
    /// Queues a batch, or refuses it whole when its spans do not fit. A batch larger than the
    /// whole capacity is still taken when the queue is empty, so it cannot be refused forever
    /// (its size is bounded by the request size limit).
    pub fn try_send(&self, batch: Batch) -> Result<(), Refused> {
        let n = batch.spans.len();
        let shared = &self.shared;
        let before = shared.queued_spans.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > shared.capacity_spans {
            shared.queued_spans.fetch_sub(n, Ordering::AcqRel);
            return Err(Refused::Full);
        }
        if self.tx.send(batch).is_err() {
            shared.queued_spans.fetch_sub(n, Ordering::AcqRel);
            return Err(Refused::Closed);
        }
        shared.metrics.queue_spans.inc_by(n as i64);
        Ok(())
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
    pub fn done(&self, spans: usize) {
        self.shared.queued_spans.fetch_sub(spans, Ordering::AcqRel);
        self.shared.metrics.queue_spans.dec_by(spans as i64);
    }
}
