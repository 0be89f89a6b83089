//! A fixed amount of ingest work for profilers, whose counts (unlike timings) repeat exactly:
//! `valgrind --tool=callgrind target/release/examples/profile_ingest [BATCHES]`.
//! Prints instructions-per-span arithmetic's inputs: spans normalised.

use meshlens_collector::normalize::Normalizer;
use meshlens_collector::sample::envoy_request;
use meshlens_collector::{Interner, wire};
use prost::Message;

fn main() {
    let batches: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let body = envoy_request(512, 42).encode_to_vec();
    let normalizer = Normalizer::new(Interner::new());
    let mut spans = Vec::with_capacity(512);
    let mut total = 0;
    for _ in 0..batches {
        spans.clear();
        if let Err(error) = wire::normalize_request(&body, &normalizer, &mut spans) {
            eprintln!("{error}");
            std::process::exit(1);
        }
        total += spans.len();
    }
    println!(
        "{total} spans normalised from {} bytes per batch",
        body.len()
    );
}
