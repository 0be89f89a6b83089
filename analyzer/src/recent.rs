//! Recent SERVER spans by (trace id, span id), for SERVER→SERVER calls: a SERVER whose parent
//! is another service's SERVER span (an ingress controller or an uninstrumented hop between
//! them) has no CLIENT half to pair with.
//!
//! A direct-mapped cache, not a map: one fixed array indexed by a hash of the ids, a newer span
//! overwriting whatever shared its slot. Remembering every SERVER span is on the hot path, and
//! this costs a hash and a 64-byte write, never allocates, and bounds memory by construction.
//! Losing an entry to a collision only loses a SERVER→SERVER edge for a child that arrives
//! after its parent (the usual order, child first, needs no cache: see the analyzer).

use meshlens_collector::span::{SpanId, TraceId, Workload};

#[derive(Debug, Clone, Copy)]
struct Entry {
    trace_id: TraceId,
    span_id: SpanId,
    workload: Workload,
    at_ms: u64,
}

#[derive(Debug)]
pub struct RecentServers {
    slots: Vec<Option<Entry>>,
    mask: usize,
    ttl_ms: u64,
}

impl RecentServers {
    /// `capacity` is rounded up to a power of two (at least 1).
    pub fn new(capacity: usize, ttl_ms: u64) -> Self {
        let capacity = capacity.max(1).next_power_of_two();
        Self {
            slots: vec![None; capacity],
            mask: capacity - 1,
            ttl_ms,
        }
    }

    fn index(&self, trace_id: &TraceId, span_id: &SpanId) -> usize {
        let mut low = [0u8; 8];
        low.copy_from_slice(&trace_id[8..]);
        // A full 64-bit mix (splitmix64's finaliser): ids may differ in any byte.
        let mut h = u64::from_le_bytes(*span_id) ^ u64::from_le_bytes(low).rotate_left(32);
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        (h as usize) & self.mask
    }

    pub fn remember(
        &mut self,
        trace_id: TraceId,
        span_id: SpanId,
        workload: Workload,
        now_ms: u64,
    ) {
        let i = self.index(&trace_id, &span_id);
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Some(Entry {
                trace_id,
                span_id,
                workload,
                at_ms: now_ms,
            });
        }
    }

    /// The workload of the SERVER span (trace, span) if it was seen within the TTL.
    pub fn get(&self, trace_id: &TraceId, span_id: &SpanId, now_ms: u64) -> Option<Workload> {
        let entry = self.slots.get(self.index(trace_id, span_id))?.as_ref()?;
        (entry.trace_id == *trace_id
            && entry.span_id == *span_id
            && now_ms.saturating_sub(entry.at_ms) <= self.ttl_ms)
            .then_some(entry.workload)
    }
}
