//! The pairing store: halves of calls waiting for their other half, keyed as the OpenTelemetry
//! Collector `servicegraph` connector keys them — a CLIENT/PRODUCER by (trace id, its span id),
//! a SERVER/CONSUMER by (trace id, its parent span id) — so the halves meet in any arrival order
//! and across batches. Bounded by items and by a TTL driven by the caller's clock (`now`), so
//! tests control time.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use meshlens_collector::span::{SpanId, SpanKind, TraceId};

use crate::half::Half;

pub type Key = (TraceId, SpanId);

/// A half waiting in the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Waiting {
    /// A CLIENT or PRODUCER: the caller's side.
    Client(Half),
    /// A SERVER or CONSUMER: the callee's side.
    Server(Half),
}

impl Waiting {
    fn is_client(&self) -> bool {
        matches!(self, Self::Client(_))
    }
}

/// What became of a half offered to the store.
// Returned and matched at once, never stored: boxing the met half would allocate per pair.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// Its other half was waiting (and is taken out, unless it is a PRODUCER), with any more
    /// CONSUMERs of the same message that waited with it.
    Met(Waiting, Vec<Half>),
    /// It waits now.
    Stored,
    /// A half of the same side already waits under the key (a re-sent span, or two servers
    /// claiming one client): this one cannot pair.
    Duplicate,
    /// The store holds `max_items` already: the half is dropped.
    Full,
}

/// What leaves the store at its deadline: a half, and any more CONSUMERs that waited with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Expired {
    pub waiting: Waiting,
    pub more: Vec<Half>,
}

#[derive(Debug)]
struct Slot {
    /// Tells this occupant from an earlier one under the same key in the expiry queue.
    seq: u64,
    waiting: Waiting,
    /// More CONSUMERs of the same message (other consumer groups) that arrived before its
    /// PRODUCER. Empty (no allocation) for everything else.
    more: Vec<Half>,
    /// A PRODUCER that met a consumer already: it stays for the other consumer groups of its
    /// message and leaves quietly at its deadline (it has its edge).
    met: bool,
}

fn is_producer(waiting: &Waiting) -> bool {
    matches!(waiting, Waiting::Client(h) if h.kind == SpanKind::Producer)
}

fn is_consumer(waiting: &Waiting) -> bool {
    matches!(waiting, Waiting::Server(h) if h.kind == SpanKind::Consumer)
}

#[derive(Debug)]
pub struct PairingStore {
    map: HashMap<Key, Slot, ahash::RandomState>,
    /// (deadline, seq, key) in insertion order. Entries whose half paired stay until popped or
    /// compacted away; compaction keeps the queue within a constant factor of the map.
    queue: VecDeque<(u64, u64, Key)>,
    next_seq: u64,
    ttl_ms: u64,
    max_items: usize,
}

/// Below this the queue is never compacted: not worth a pass.
const COMPACT_SLACK: usize = 1024;

impl PairingStore {
    pub fn new(ttl_ms: u64, max_items: usize) -> Self {
        Self {
            map: HashMap::default(),
            queue: VecDeque::new(),
            next_seq: 0,
            ttl_ms,
            max_items,
        }
    }

    /// Offers a half under `key` at `now_ms`. A PRODUCER pairs with every CONSUMER of its
    /// message (one per consumer group), so it stays in the store after meeting one.
    pub fn offer(&mut self, key: Key, waiting: Waiting, now_ms: u64) -> Offer {
        let full = self.map.len() >= self.max_items;
        match self.map.entry(key) {
            Entry::Occupied(mut slot) => {
                let held = slot.get().waiting;
                if held.is_client() == waiting.is_client() {
                    if is_consumer(&held) && is_consumer(&waiting) {
                        if let Waiting::Server(half) = waiting {
                            slot.get_mut().more.push(half);
                        }
                        return Offer::Stored;
                    }
                    return Offer::Duplicate;
                }
                if is_producer(&held) {
                    slot.get_mut().met = true;
                    return Offer::Met(held, Vec::new());
                }
                let other = slot.remove();
                if is_producer(&waiting) {
                    self.insert(key, waiting, true, now_ms);
                }
                Offer::Met(other.waiting, other.more)
            }
            Entry::Vacant(_) if full => Offer::Full,
            Entry::Vacant(_) => {
                self.insert(key, waiting, false, now_ms);
                Offer::Stored
            }
        }
    }

    fn insert(&mut self, key: Key, waiting: Waiting, met: bool, now_ms: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.map.insert(
            key,
            Slot {
                seq,
                waiting,
                more: Vec::new(),
                met,
            },
        );
        self.queue
            .push_back((now_ms.saturating_add(self.ttl_ms), seq, key));
        self.compact_if_needed();
    }

    /// Takes the SERVER halves waiting under `key` (their parent is the span `key` names).
    pub fn take_servers(&mut self, key: &Key) -> Vec<Half> {
        let waiting_server = matches!(self.map.get(key), Some(slot) if matches!(slot.waiting, Waiting::Server(h) if h.kind == SpanKind::Server));
        if !waiting_server {
            return Vec::new();
        }
        match self.map.remove(key) {
            Some(Slot {
                waiting: Waiting::Server(half),
                mut more,
                ..
            }) => {
                more.insert(0, half);
                more
            }
            _ => Vec::new(),
        }
    }

    /// Takes out every half whose deadline is at or before `now_ms`, oldest first.
    pub fn expire(&mut self, now_ms: u64, mut expired: impl FnMut(Expired)) {
        while let Some(&(deadline, seq, key)) = self.queue.front() {
            if deadline > now_ms {
                break;
            }
            self.queue.pop_front();
            self.take_if_current(key, seq, &mut expired);
        }
    }

    /// Takes out every waiting half, oldest first (end of input, shutdown).
    pub fn drain(&mut self, mut expired: impl FnMut(Expired)) {
        while let Some((_, seq, key)) = self.queue.pop_front() {
            self.take_if_current(key, seq, &mut expired);
        }
    }

    fn take_if_current(&mut self, key: Key, seq: u64, expired: &mut impl FnMut(Expired)) {
        if let Entry::Occupied(slot) = self.map.entry(key)
            && slot.get().seq == seq
        {
            let slot = slot.remove();
            if !slot.met {
                expired(Expired {
                    waiting: slot.waiting,
                    more: slot.more,
                });
            }
        }
    }

    fn compact_if_needed(&mut self) {
        if self.queue.len() <= 2 * self.map.len() + COMPACT_SLACK {
            return;
        }
        let map = &self.map;
        self.queue
            .retain(|(_, seq, key)| map.get(key).is_some_and(|slot| slot.seq == *seq));
    }

    /// Halves waiting now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Length of the expiry queue (for tests of its bound).
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use meshlens_collector::Interner;
    use meshlens_collector::span::{Destination, Protocol, ProxyKind, Workload};

    use super::*;

    fn half(kind: SpanKind) -> Half {
        let sym = Interner::new().intern("svc");
        Half {
            trace_id: [1; 16],
            kind,
            has_parent: true,
            workload: Workload {
                node: sym,
                service: sym,
                namespace: None,
                version: None,
                pod: None,
                proxy: ProxyKind::None,
            },
            destination: Destination::default(),
            peer: None,
            protocol: Protocol::Http,
            method: None,
            path: None,
            start_unix_nanos: 0,
            duration_nanos: 0,
            failure: None,
            weight: 1.0,
            estimated: false,
            host: None,
            status_code: None,
            principal: None,
            authz_denial: Default::default(),
            dry_run: Default::default(),
        }
    }

    fn key(n: u64) -> Key {
        ([1; 16], n.to_be_bytes())
    }

    #[test]
    fn the_expiry_queue_stays_bounded_when_halves_pair() {
        let mut store = PairingStore::new(10_000, 100);
        for n in 0..100_000 {
            assert_eq!(
                store.offer(key(n), Waiting::Client(half(SpanKind::Client)), 0),
                Offer::Stored
            );
            let met = store.offer(key(n), Waiting::Server(half(SpanKind::Server)), 0);
            assert!(matches!(met, Offer::Met(Waiting::Client(_), _)));
        }
        assert!(store.is_empty());
        assert!(store.queue_len() <= 2 * store.len() + COMPACT_SLACK + 1);
    }

    #[test]
    fn deadlines_expire_in_order_and_paired_halves_do_not() {
        let mut store = PairingStore::new(10, 100);
        store.offer(key(1), Waiting::Client(half(SpanKind::Client)), 0);
        store.offer(key(2), Waiting::Server(half(SpanKind::Server)), 5);
        store.offer(key(1), Waiting::Server(half(SpanKind::Server)), 6);
        let mut expired = Vec::new();
        store.expire(14, |e| expired.push(e));
        assert!(expired.is_empty());
        store.expire(15, |e| expired.push(e));
        assert_eq!(expired.len(), 1);
        assert!(matches!(expired[0].waiting, Waiting::Server(_)));
        assert!(store.is_empty());
    }

    #[test]
    fn a_producer_meets_every_consumer_group_and_leaves_quietly() {
        let mut store = PairingStore::new(10, 100);
        let consumer = || Waiting::Server(half(SpanKind::Consumer));
        assert_eq!(store.offer(key(1), consumer(), 0), Offer::Stored);
        assert_eq!(store.offer(key(1), consumer(), 0), Offer::Stored);
        match store.offer(key(1), Waiting::Client(half(SpanKind::Producer)), 0) {
            Offer::Met(Waiting::Server(_), more) => assert_eq!(more.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.offer(key(1), consumer(), 1),
            Offer::Met(Waiting::Client(_), _)
        ));
        // Two servers for one plain client: the second cannot pair.
        store.offer(key(2), Waiting::Server(half(SpanKind::Server)), 0);
        assert_eq!(
            store.offer(key(2), Waiting::Server(half(SpanKind::Server)), 0),
            Offer::Duplicate
        );
        let mut expired = Vec::new();
        store.drain(|e| expired.push(e));
        assert_eq!(expired.len(), 1, "the met producer leaves without expiring");
    }

    #[test]
    fn a_full_store_refuses_new_keys_but_pairs_waiting_ones() {
        let mut store = PairingStore::new(10, 1);
        store.offer(key(1), Waiting::Client(half(SpanKind::Client)), 0);
        assert_eq!(
            store.offer(key(2), Waiting::Client(half(SpanKind::Client)), 0),
            Offer::Full
        );
        assert!(matches!(
            store.offer(key(1), Waiting::Server(half(SpanKind::Server)), 0),
            Offer::Met(..)
        ));
    }
}
