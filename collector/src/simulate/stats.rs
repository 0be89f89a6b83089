//! What a sender did: spans sent, accepted, refused; shared by the tasks sending.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Counters updated by every sending task.
#[derive(Debug, Default)]
pub struct SendStats {
    sent: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Spans handed to the receiver (each counted once, however many attempts it took).
    pub sent_spans: u64,
    /// Spans the receiver acknowledged and kept.
    pub accepted_spans: u64,
    /// Spans the receiver refused in an OTLP `partial_success` (invalid, e.g.).
    pub rejected_spans: u64,
    /// Spans given up on: retries exhausted or a permanent error.
    pub failed_spans: u64,
    /// Export requests sent, retries not counted.
    pub requests: u64,
    /// Retried attempts (the receiver asked to retry: HTTP 429/502/503/504, gRPC UNAVAILABLE
    /// or RESOURCE_EXHAUSTED with retry info, or a connection error).
    pub retries: u64,
}

impl SendStats {
    pub fn record(&self, delivery: &super::send::Delivery) {
        self.sent.fetch_add(delivery.spans, Ordering::Relaxed);
        self.accepted
            .fetch_add(delivery.accepted, Ordering::Relaxed);
        self.rejected
            .fetch_add(delivery.rejected, Ordering::Relaxed);
        self.failed.fetch_add(delivery.failed, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.retries
            .fetch_add(u64::from(delivery.retries), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sent_spans: self.sent.load(Ordering::Relaxed),
            accepted_spans: self.accepted.load(Ordering::Relaxed),
            rejected_spans: self.rejected.load(Ordering::Relaxed),
            failed_spans: self.failed.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}
