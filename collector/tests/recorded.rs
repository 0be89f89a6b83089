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

/// A recording cut mid-line (serve killed while writing) reads up to its last whole line, in
/// one piece and in parallel chunks; a cut that leaves no whole line, or a broken line that
/// is not the last, is still an error.
#[test]
fn a_recording_cut_mid_line_reads_up_to_its_last_whole_line() {
    let dir = tempfile::tempdir().unwrap();
    let whole = recording();
    let normalizer = Normalizer::new(Interner::new());
    // Cut 1,000 bytes into the last line (each line is ~50 KB).
    let last_line = whole[..whole.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let cut = &whole[..last_line + 1000];

    let big = dir.path().join("cut.jsonl");
    std::fs::write(&big, cut).unwrap();
    let spans = read_spans(std::slice::from_ref(&big), &normalizer).unwrap();
    assert_eq!(spans.len(), 119 * 32 * 2, "every whole line, in parallel");
    assert_eq!(read_trace_file(&big).unwrap().requests.len(), 119);

    // Small enough to be read in one piece: the first three lines and a cut fourth.
    let fourth = whole
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .map(|(i, _)| i + 1)
        .unwrap();
    let small = dir.path().join("small.jsonl");
    std::fs::write(&small, &whole[..fourth + 10]).unwrap();
    let spans = read_spans(std::slice::from_ref(&small), &normalizer).unwrap();
    assert_eq!(spans.len(), 3 * 32 * 2);

    // Nothing whole: an error, not an empty success.
    let nothing = dir.path().join("nothing.jsonl");
    std::fs::write(&nothing, &whole[..1000]).unwrap();
    assert!(matches!(
        read_trace_file(&nothing),
        Err(SourceError::Json { line: 1, .. })
    ));

    // A cut line followed by more lines is corruption, reported where it is.
    let mut middle = whole[..fourth + 10].to_vec();
    middle.push(b'\n');
    middle.extend_from_slice(&whole[..fourth]);
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, middle).unwrap();
    let error = read_trace_file(&broken).unwrap_err();
    assert!(
        matches!(error, SourceError::Json { line: 4 | 5, .. }),
        "{error}"
    );
}
