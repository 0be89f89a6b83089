//! A fixed amount of ingest work for profilers, whose counts (unlike timings) repeat exactly:
//! `valgrind --tool=callgrind target/release/examples/profile_ingest [BATCHES]`.
//! `profile_ingest --write-body FILE` writes the 512-span request instead, for HTTP load
//! tools (`wrk`) to post at a running `meshlens serve`.

use meshlens_collector::normalize::Normalizer;
use meshlens_collector::sample::envoy_request;
use meshlens_collector::{Interner, wire};
use prost::Message;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let body = envoy_request(512, 42).encode_to_vec();
    if let [flag, path] = args.as_slice()
        && flag == "--write-body"
    {
        if let Err(error) = std::fs::write(path, &body) {
            eprintln!("{path}: {error}");
            std::process::exit(1);
        }
        return;
    }
    let batches: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(200);
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
