//! Sample traces for drill-down (the dashboard's Traces view, `GET /api/v1/traces`): the spans
//! of one trace in sixteen, chosen by trace id so every span of a chosen trace is kept
//! whichever proxy sends it, the most recent traces only, each capped — a fixed budget
//! whatever the traffic.

use std::collections::{HashMap, VecDeque};

use meshlens_collector::span::{Span, SpanId, TraceId};
use meshlens_collector::{Interner, Sym};
use serde::{Deserialize, Serialize};

/// Traces kept at most; the oldest goes first.
const MAX_TRACES: usize = 256;
/// Spans kept per trace; more are counted, not kept.
const MAX_SPANS: usize = 64;

/// One trace in sixteen, by a fold of every byte of the id: generators fix some bits (a
/// low bit set, a timestamp in front), none fixes them all.
pub fn is_sampled(trace_id: &TraceId) -> bool {
    trace_id.iter().fold(0u8, |acc, b| acc ^ b) & 0x0f == 0
}

#[derive(Debug, Clone, Copy)]
struct Kept {
    span_id: SpanId,
    parent: Option<SpanId>,
    node: Sym,
    name: Sym,
    kind: meshlens_collector::span::SpanKind,
    start_unix_nanos: u64,
    duration_nanos: u64,
    status_code: Option<u16>,
    failed: bool,
}

#[derive(Debug, Default)]
struct Trace {
    spans: Vec<Kept>,
    dropped: u64,
}

/// The kept traces.
#[derive(Debug, Default)]
pub struct TraceSamples {
    traces: HashMap<TraceId, Trace, ahash::RandomState>,
    order: VecDeque<TraceId>,
}

/// A trace as the API serves it: spans in start order, times relative to the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceView {
    pub trace_id: String,
    pub start_unix_nanos: u64,
    pub duration_ms: f64,
    pub spans: Vec<SpanView>,
    /// Spans past the per-trace cap.
    pub dropped_spans: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanView {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    /// The emitting workload's graph node.
    pub node: String,
    pub name: String,
    pub kind: String,
    pub offset_ms: f64,
    pub duration_ms: f64,
    pub status_code: Option<u16>,
    pub failed: bool,
}

impl TraceSamples {
    pub fn observe(&mut self, spans: &[Span]) {
        for span in spans.iter().filter(|s| is_sampled(&s.trace_id)) {
            if !self.traces.contains_key(&span.trace_id) {
                if self.order.len() >= MAX_TRACES
                    && let Some(oldest) = self.order.pop_front()
                {
                    self.traces.remove(&oldest);
                }
                self.order.push_back(span.trace_id);
            }
            let trace = self.traces.entry(span.trace_id).or_default();
            if trace.spans.len() >= MAX_SPANS {
                trace.dropped += 1;
                continue;
            }
            trace.spans.push(Kept {
                span_id: span.span_id,
                parent: span.parent_span_id,
                node: span.workload.node,
                name: span.name,
                kind: span.kind,
                start_unix_nanos: span.start_unix_nanos,
                duration_nanos: span.duration_nanos,
                status_code: span.status_code,
                failed: span.failure.is_some(),
            });
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The trace with this id (hex), if kept.
    pub fn trace(&self, interner: &Interner, trace_id: &str) -> Option<TraceView> {
        let id: TraceId = hex::decode(trace_id).ok()?.try_into().ok()?;
        self.traces.get(&id).map(|t| view(interner, &id, t))
    }

    /// Kept traces, newest first, where `source` called `target` (a span of `source` is the
    /// parent of a span of `target`), or all when no edge is given; at most `limit`.
    pub fn traces(
        &self,
        interner: &Interner,
        edge: Option<(&str, &str)>,
        limit: usize,
    ) -> Vec<TraceView> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| Some((id, self.traces.get(id)?)))
            .filter(|(_, trace)| edge.is_none_or(|(s, t)| has_call(interner, trace, s, t)))
            .take(limit)
            .map(|(id, trace)| view(interner, id, trace))
            .collect()
    }
}

fn has_call(interner: &Interner, trace: &Trace, source: &str, target: &str) -> bool {
    trace.spans.iter().any(|child| {
        interner.resolve(child.node) == target
            && child.parent.is_some_and(|parent| {
                trace
                    .spans
                    .iter()
                    .any(|p| p.span_id == parent && interner.resolve(p.node) == source)
            })
    })
}

fn view(interner: &Interner, id: &TraceId, trace: &Trace) -> TraceView {
    let mut spans = trace.spans.clone();
    spans.sort_by_key(|s| (s.start_unix_nanos, s.span_id));
    let start = spans.first().map_or(0, |s| s.start_unix_nanos);
    let end = spans
        .iter()
        .map(|s| s.start_unix_nanos.saturating_add(s.duration_nanos))
        .max()
        .unwrap_or(start);
    let ms = |nanos: u64| nanos as f64 / 1e6;
    TraceView {
        trace_id: hex::encode(id),
        start_unix_nanos: start,
        duration_ms: ms(end.saturating_sub(start)),
        spans: spans
            .iter()
            .map(|s| SpanView {
                span_id: hex::encode(s.span_id),
                parent_span_id: s.parent.map(hex::encode),
                node: interner.resolve(s.node).to_owned(),
                name: interner.resolve(s.name).to_owned(),
                kind: s.kind.as_str().to_owned(),
                offset_ms: ms(s.start_unix_nanos.saturating_sub(start)),
                duration_ms: ms(s.duration_nanos),
                status_code: s.status_code,
                failed: s.failed,
            })
            .collect(),
        dropped_spans: trace.dropped,
    }
}
