//! Recorded files into spans: a large JSON-lines file read in parallel chunks gives exactly
//! the spans of the one-piece reader, and a broken line is still reported where it is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use meshlens_collector::Interner;
use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
use meshlens_collector::formats::otlp_json::encode_request;
use meshlens_collector::formats::source::{SourceError, read_trace_file};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::recorded::read_spans;

/// About 6 MiB of OTLP JSON lines: above the size read in parallel.
fn recording() -> Vec<u8> {
    let productpage = Peer::sidecar("productpage", "bookinfo", "v1");
    let reviews = Peer::sidecar("reviews", "bookinfo", "v2");
    let mut out = Vec::new();
    for batch in 0..120 {
        let calls: Vec<EnvoyCall<'_>> = (0..32)
            .map(|i| EnvoyCall::get(productpage, reviews, "/reviews/0", batch * 32 + i))
            .collect();
        encode_request(&request_of(&calls), &mut out);
        out.push(b'\n');
    }
    assert!(out.len() > 5 << 20, "{}", out.len());
    out
}

#[test]
fn a_large_json_lines_file_reads_the_same_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    std::fs::write(&path, recording()).unwrap();

    let interner = Interner::new();
    let normalizer = Normalizer::new(interner.clone());
    let parallel = read_spans(std::slice::from_ref(&path), &normalizer).unwrap();
    let mut whole = Vec::new();
    for request in &read_trace_file(&path).unwrap().requests {
        normalizer.normalize_request(request, &mut whole);
    }
    assert_eq!(parallel.len(), 120 * 32 * 2);
    assert_eq!(parallel, whole);
}

#[test]
fn a_broken_line_in_a_large_file_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.jsonl");
    let mut bytes = recording();
    // Break the 100th line.
    let line_start = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(98)
        .map(|(i, _)| i + 1)
        .unwrap();
    bytes[line_start] = b'x';
    std::fs::write(&path, bytes).unwrap();
    let normalizer = Normalizer::new(Interner::new());
    match read_spans(&[path], &normalizer) {
        Err(SourceError::Json { line, column, .. }) => assert_eq!((line, column), (100, 1)),
        other => panic!("{other:?}"),
    }
}
