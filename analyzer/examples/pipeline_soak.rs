//! A long run of the live path — protobuf → decode → normalise → pair → aggregate — on
//! fresh mesh traffic (new trace ids, paths with ids) among 50 services, printing the
//! process's resident memory as it goes: it must level off, bounded by edges and the pairing
//! store, not grow with spans.
//!
//! ```sh
//! cargo run --release -p meshlens-analyzer --example pipeline_soak -- 6000000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use meshlens_analyzer::{Analyzer, AnalyzerConfig};
use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
use meshlens_collector::normalize::Normalizer;
use meshlens_collector::{Interner, wire};
use prost::Message;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICES: usize = 50;
const CALLS_PER_BATCH: usize = 256;

/// Resident set size in MiB, from /proc (0 where there is none).
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    let spans: usize = std::env::args()
        .nth(1)
        .map_or(20_000_000, |n| n.parse().unwrap());
    let names: Vec<String> = (0..SERVICES).map(|i| format!("svc-{i:02}")).collect();
    let peers: Vec<Peer<'_>> = names
        .iter()
        .map(|s| Peer::sidecar(s, "mesh", "v1"))
        .collect();
    let paths: Vec<String> = (0..1000).map(|i| format!("/api/items/{i}")).collect();
    let interner = Interner::new();
    let normalizer = Normalizer::new(interner.clone());
    let mut analyzer = Analyzer::new(interner, AnalyzerConfig::default());
    let batches = spans / (CALLS_PER_BATCH * 2);
    let started = Instant::now();
    let mut out = Vec::new();
    for batch in 0..batches {
        let calls: Vec<EnvoyCall<'_>> = (0..CALLS_PER_BATCH)
            .map(|i| {
                let n = batch * CALLS_PER_BATCH + i;
                let caller = n % SERVICES;
                let callee = (caller + 1 + (n / SERVICES) % 3 * 7) % SERVICES;
                let mut call = EnvoyCall::get(
                    peers[caller],
                    peers[callee],
                    &paths[n % paths.len()],
                    n as u64,
                );
                // Live time: 200 ms of traffic per batch, so a run passes the 15 minutes the windows keep.
                call.start_unix_nanos = 1_764_230_400_000_000_000 + batch as u64 * 200_000_000;
                call
            })
            .collect();
        let body = request_of(&calls).encode_to_vec();
        out.clear();
        let _ = wire::normalize_request(&body, &normalizer, &mut out);
        let now_ms = 1_764_230_400_000 + batch as u64 * 200 + 20;
        analyzer.ingest(&out, now_ms);
        if batch % (batches / 20).max(1) == 0 || batch + 1 == batches {
            println!(
                "{:>11} spans  {:>7.1} MiB RSS  {} edges  {} waiting  {:.0} s",
                (batch + 1) * CALLS_PER_BATCH * 2,
                rss_mib(),
                analyzer.graph().edges().count(),
                analyzer.stats().pending,
                started.elapsed().as_secs_f64()
            );
        }
    }
}
