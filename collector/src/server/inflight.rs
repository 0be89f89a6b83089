//! A budget for the request bytes the receivers hold at once.
//!
//! Each request is limited in size, but a thousand connections each sending the largest
//! request allowed would still hold gigabytes. Every request reserves what it may hold before
//! its body is read — its declared `Content-Length`, or the size limit when it does not say —
//! and gives it back when answered; past the budget a request is refused at once with the
//! protocol's "retry later" (HTTP 503 + `Retry-After`, gRPC `UNAVAILABLE` + `RetryInfo`), so
//! memory stays bounded and nothing is lost. Decompressed copies are not counted: they exist
//! only while a worker decodes, at most one per worker thread, each within the size limit.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Request bytes held at once over every receiver, by default.
pub const DEFAULT_INFLIGHT_BYTES: usize = 256 << 20;

/// Reservations are made in KiB so that any budget fits the semaphore's `u32` counts.
const UNIT: usize = 1024;

#[derive(Debug, Clone)]
pub struct InflightBudget {
    units: Arc<Semaphore>,
    total_units: usize,
}

/// Bytes reserved for one request; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl InflightBudget {
    pub fn new(bytes: usize) -> Self {
        let total_units = bytes.div_ceil(UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            units: Arc::new(Semaphore::new(total_units)),
            total_units,
        }
    }

    /// Reserves `bytes` (at most the whole budget, so one request as large as the budget can
    /// still pass alone), or `None` when the budget is spent.
    pub fn try_reserve(&self, bytes: usize) -> Option<Reservation> {
        let units = bytes.div_ceil(UNIT).clamp(1, self.total_units);
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        let permit = self.units.clone().try_acquire_many_owned(units).ok()?;
        Some(Reservation { _permit: permit })
    }

    /// Bytes reserved right now.
    #[cfg(test)]
    fn reserved_bytes(&self) -> usize {
        (self.total_units - self.units.available_permits()) * UNIT
    }
}

/// What a request may hold: its declared length when it gives one within the limit,
/// else the limit.
pub fn request_bytes(headers: &http::HeaderMap, limit: usize) -> usize {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(limit, |declared| declared.min(limit))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_refused_past_the_budget_and_given_back_when_dropped() {
        let budget = InflightBudget::new(10 << 20);
        let first = budget.try_reserve(6 << 20).unwrap();
        assert_eq!(budget.reserved_bytes(), 6 << 20);
        assert!(budget.try_reserve(5 << 20).is_none());
        let second = budget.try_reserve(4 << 20).unwrap();
        assert!(budget.try_reserve(1).is_none());
        drop(first);
        assert!(budget.try_reserve(5 << 20).is_some());
        drop(second);
        assert_eq!(budget.reserved_bytes(), 0);
        // A request larger than the whole budget passes when it is alone.
        assert!(budget.try_reserve(1 << 30).is_some());
    }

    #[test]
    fn a_request_reserves_its_declared_length_or_the_limit() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(request_bytes(&headers, 4 << 20), 4 << 20);
        headers.insert(http::header::CONTENT_LENGTH, "1000".parse().unwrap());
        assert_eq!(request_bytes(&headers, 4 << 20), 1000);
        headers.insert(http::header::CONTENT_LENGTH, "99999999999".parse().unwrap());
        assert_eq!(request_bytes(&headers, 4 << 20), 4 << 20);
        headers.insert(http::header::CONTENT_LENGTH, "nonsense".parse().unwrap());
        assert_eq!(request_bytes(&headers, 4 << 20), 4 << 20);
    }
}
