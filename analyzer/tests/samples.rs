//! Sample traces for drill-down: one trace in sixteen by id, every span of it kept, found by
//! the edge they show, served newest first with times relative to the trace's start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use meshlens_analyzer::samples::{TraceSamples, is_sampled};
use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::{Interner, Span};

fn spans(interner: &Interner, calls: &[EnvoyCall<'_>]) -> Vec<Span> {
    let mut out = Vec::new();
    Normalizer::new(interner.clone()).normalize_request(&request_of(calls), &mut out);
    out
}

#[test]
fn one_trace_in_sixteen_is_kept_whole_and_found_by_its_edge() {
    let interner = Interner::new();
    let productpage = Peer::sidecar("productpage", "bookinfo", "v1");
    let reviews = Peer::sidecar("reviews", "bookinfo", "v2");
    let details = Peer::sidecar("details", "bookinfo", "v1");
    let calls: Vec<EnvoyCall<'_>> = (0..160)
        .map(|seed| {
            let callee = if seed % 2 == 0 { reviews } else { details };
            EnvoyCall::get(productpage, callee, "/x", seed)
        })
        .collect();
    let spans = spans(&interner, &calls);
    let mut samples = TraceSamples::default();
    samples.observe(&spans);

    let sampled: std::collections::BTreeSet<_> = spans
        .iter()
        .map(|s| s.trace_id)
        .filter(is_sampled)
        .collect();
    assert!(
        !sampled.is_empty() && sampled.len() < 160 / 4,
        "{}",
        sampled.len()
    );
    assert_eq!(samples.len(), sampled.len());

    let all = samples.traces(&interner, None, 1000);
    assert_eq!(all.len(), sampled.len());
    for trace in &all {
        // Both halves of the call, client first, times relative to the trace's start.
        let kinds: Vec<&str> = trace.spans.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["client", "server"], "{trace:?}");
        assert_eq!(trace.spans[0].offset_ms, 0.0);
        assert_eq!(
            trace.spans[1].parent_span_id.as_ref(),
            Some(&trace.spans[0].span_id)
        );
        assert!((trace.duration_ms - 2.0).abs() < 1e-9);
    }
    let to_reviews = samples.traces(
        &interner,
        Some(("productpage.bookinfo", "reviews.bookinfo")),
        1000,
    );
    let to_details = samples.traces(
        &interner,
        Some(("productpage.bookinfo", "details.bookinfo")),
        1000,
    );
    assert_eq!(to_reviews.len() + to_details.len(), all.len());
    assert!(
        to_reviews
            .iter()
            .all(|t| t.spans[1].node == "reviews.bookinfo")
    );
    assert!(
        samples
            .traces(
                &interner,
                Some(("reviews.bookinfo", "productpage.bookinfo")),
                9
            )
            .is_empty()
    );

    let first = &all[0];
    assert_eq!(
        samples.trace(&interner, &first.trace_id).as_ref(),
        Some(first)
    );
    assert_eq!(samples.trace(&interner, "not hex"), None);
}

#[test]
fn the_budget_holds_whatever_the_traffic() {
    let interner = Interner::new();
    let a = Peer::sidecar("a", "ns", "v1");
    let b = Peer::sidecar("b", "ns", "v1");
    let calls: Vec<EnvoyCall<'_>> = (0..20_000)
        .map(|seed| EnvoyCall::get(a, b, "/", seed))
        .collect();
    let mut samples = TraceSamples::default();
    for chunk in calls.chunks(500) {
        samples.observe(&spans(&interner, chunk));
    }
    assert_eq!(samples.len(), 256, "the most recent traces only");
    assert_eq!(samples.traces(&interner, None, 5).len(), 5);
}
