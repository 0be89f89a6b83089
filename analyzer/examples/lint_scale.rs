//! Input for the `meshlens lint --traces` benchmark: N recorded Envoy spans (OTLP JSON lines,
//! one export request of 512 spans per line, as a collector's file exporter writes them) of
//! calls among 50 services in 10 namespaces, and 100 AuthorizationPolicies over them.
//!
//! ```sh
//! cargo run --release -p meshlens-analyzer --example lint_scale -- 1000000 /tmp/lint-scale
//! time target/release/meshlens lint --traces /tmp/lint-scale/traces.jsonl \
//!   --policies /tmp/lint-scale/policies --format json > /dev/null
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use meshlens_collector::envoy_call::{EnvoyCall, Peer, request_of};
use meshlens_collector::formats::otlp_json::encode_request;

const SERVICES: usize = 50;
const NAMESPACES: usize = 10;
const CALLS_PER_REQUEST: usize = 256;

fn service(i: usize) -> (String, String) {
    (format!("svc-{i:02}"), format!("ns-{}", i % NAMESPACES))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let spans: usize = args.next().map_or(1_000_000, |n| n.parse().unwrap());
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/lint-scale".into()));
    std::fs::create_dir_all(dir.join("policies")).unwrap();

    let names: Vec<(String, String)> = (0..SERVICES).map(service).collect();
    let peers: Vec<Peer<'_>> = names
        .iter()
        .map(|(s, ns)| Peer::sidecar(s, ns, "v1"))
        .collect();
    let paths = ["/api/items/0", "/api/items/1", "/health", "/api/orders"];
    let mut out = BufWriter::new(std::fs::File::create(dir.join("traces.jsonl")).unwrap());
    let mut line = Vec::new();
    let calls = spans / 2;
    let mut seed = 0u64;
    while (seed as usize) < calls {
        let batch: Vec<EnvoyCall<'_>> = (0..CALLS_PER_REQUEST.min(calls - seed as usize))
            .map(|_| {
                seed += 1;
                let n = seed as usize;
                let caller = n % SERVICES;
                let callee = (caller + 1 + (n / SERVICES) % 3 * 7) % SERVICES;
                let mut call =
                    EnvoyCall::get(peers[caller], peers[callee], paths[n % paths.len()], seed);
                if n.is_multiple_of(5) {
                    call.method = "POST";
                }
                if n.is_multiple_of(97) {
                    call.status = 503;
                    call.response_flags = "UF";
                }
                call
            })
            .collect();
        line.clear();
        encode_request(&request_of(&batch), &mut line);
        line.push(b'\n');
        out.write_all(&line).unwrap();
    }
    out.flush().unwrap();

    // Two policies per service: an ALLOW naming its callers' (default) service accounts and
    // a DENY of DELETE.
    for (i, (name, ns)) in names.iter().enumerate() {
        let mut yaml = String::new();
        let callers: Vec<String> = (0..3)
            .map(|k| (i + SERVICES - 1 - k * 7) % SERVICES)
            .map(|c| format!("\"cluster.local/ns/{}/sa/default\"", names[c].1))
            .collect();
        let _ = write!(
            yaml,
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}-allow\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: {name}\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: [{}]\n    to:\n    - operation:\n        methods: [\"GET\", \"POST\"]\n        paths: [\"/api/*\", \"/health\"]\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}-deny-delete\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels:\n      app: {name}\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        methods: [\"DELETE\"]\n",
            callers.join(", ")
        );
        std::fs::write(dir.join("policies").join(format!("{name}.yaml")), yaml).unwrap();
    }
    println!(
        "wrote {} spans to {} and {} policies",
        calls * 2,
        dir.join("traces.jsonl").display(),
        SERVICES * 2
    );
}
