//! The fuzz targets of every meshlens parser, in one place.
//!
//! Each target is a plain function over arbitrary bytes that panics when an invariant breaks.
//! The same functions run two ways:
//! - coverage-guided by libFuzzer (`fuzz_targets/*.rs`, `cargo +nightly fuzz run <target>`,
//!   feature `libfuzzer`);
//! - on stable under `cargo test` (`tests/replay.rs`): the committed corpus in
//!   `corpus/<target>/`, then a bounded number of random and mutated inputs from proptest.
//!
//! Beyond "never panics", each target checks what truly holds of its parser; see each doc.

use std::path::Path;

use meshlens_collector::formats::compression::{self, Compression, DecompressError};
use meshlens_collector::formats::{otlp_json, source, zipkin, zipkin_encode};
use meshlens_collector::normalize::{Normalizer, envoy};
use meshlens_collector::span::{PeerAddress, ProxyKind};
use meshlens_collector::{Interner, wire};
use meshlens_policies::lint::{LintOptions, lint};
use meshlens_policies::parse::parse_policies;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// The analyzer's path templating, compiled in from its source file: depending on
/// `meshlens-analyzer` would build polars (with coverage instrumentation) for one pure module.
#[path = "../../analyzer/src/paths.rs"]
#[allow(dead_code, unused_qualifications)]
pub mod paths;

/// A fuzz target: panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay test and the README.
pub const TARGETS: &[(&str, Target)] = &[
    ("otlp_protobuf", otlp_protobuf),
    ("otlp_json", otlp_json),
    ("zipkin_json", zipkin_json),
    ("gzip_body", gzip_body),
    ("envoy_attrs", envoy_attrs),
    ("policy_yaml", policy_yaml),
    ("path_template", path_template),
    ("recorded_lines", recorded_lines),
];

fn normalizer() -> Normalizer {
    Normalizer::new(Interner::new()).with_multiplier_key("SampleRate")
}

fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len() as u64)
        .sum()
}

/// The OTLP protobuf walker (`serve`'s hot path) on arbitrary bytes.
///
/// - When the walker accepts a body, [`wire::count_spans`] accepts it too, and every span is
///   either normalised or counted as rejected; when it refuses one, nothing is appended.
/// - Against prost: when both accept a body they count the same spans. When prost accepts
///   and the walker refuses, the only reason may be a group (wire types 3/4, deprecated and
///   never written by OTLP) in a field prost skips. The walker accepts more than prost does:
///   it does not decode (so does not UTF-8 check or depth-limit) what it skips.
/// - Whatever prost decodes, re-encoded canonically, walks to exactly the spans (and the
///   rejections) that normalising the owned request gives: the two ingest paths agree.
pub fn otlp_protobuf(data: &[u8]) {
    let normalizer = normalizer();
    let mut spans = Vec::new();
    let walked = wire::normalize_request(data, &normalizer, &mut spans);
    let counted = wire::count_spans(data);
    match &walked {
        Ok(rejected) => {
            let Ok(count) = counted else {
                panic!("the walker accepted what count_spans refused: {counted:?}");
            };
            assert_eq!(spans.len() as u64 + rejected.count, count);
            assert_eq!(rejected.first_error.is_some(), rejected.count > 0);
        }
        Err(_) => assert!(spans.is_empty(), "a refused body left spans behind"),
    }
    let Ok(request) = ExportTraceServiceRequest::decode(data) else {
        return;
    };
    match (&walked, &counted) {
        (Ok(_), Ok(count)) => assert_eq!(*count, span_count(&request), "prost counts otherwise"),
        (Err(error), _) => assert_eq!(
            error.what, "unsupported wire type",
            "prost accepts what the walker refuses: {error}"
        ),
        (Ok(_), Err(error)) => unreachable!("checked above: {error}"),
    }
    owned_and_wire_agree(&request, &normalizer);
}

/// Normalising an owned request and walking its canonical encoding give the same spans.
fn owned_and_wire_agree(request: &ExportTraceServiceRequest, normalizer: &Normalizer) {
    let mut owned = Vec::new();
    let owned_rejected = normalizer.normalize_request(request, &mut owned);
    let bytes = request.encode_to_vec();
    let mut walked = Vec::new();
    let rejected = match wire::normalize_request(&bytes, normalizer, &mut walked) {
        Ok(rejected) => rejected,
        Err(error) => panic!("the walker refuses prost's own encoding: {error}"),
    };
    assert_eq!(rejected, owned_rejected, "rejections differ");
    assert_eq!(walked.len(), owned.len());
    for (i, (w, o)) in walked.iter().zip(&owned).enumerate() {
        assert_eq!(
            w, o,
            "span {i} differs between the walker and the owned path"
        );
    }
}

/// OTLP/JSON decoding: errors carry a line; a decoded request normalises the same on both
/// ingest paths; its canonical JSON decodes back to a request with the same canonical JSON
/// (when its ids have valid lengths: see below).
pub fn otlp_json(data: &[u8]) {
    match otlp_json::decode_request(data) {
        Err(error) => assert!(error.line >= 1, "an error without a line: {error}"),
        Ok(request) => {
            owned_and_wire_agree(&request, &normalizer());
            if !ids_have_valid_lengths(&request) {
                // Ids are written as hex, and hex that is not 16 or 32 characters long reads
                // as base64 (Tempo's ids): a malformed id does not round-trip. Its span is
                // rejected either way.
                return;
            }
            let mut once = Vec::new();
            otlp_json::encode_request(&request, &mut once);
            let again = match otlp_json::decode_request(&once) {
                Ok(again) => again,
                Err(error) => panic!("canonical JSON does not decode: {error}"),
            };
            let mut twice = Vec::new();
            otlp_json::encode_request(&again, &mut twice);
            assert!(
                once == twice,
                "canonical JSON is not a fixed point:\n{}\n{}",
                String::from_utf8_lossy(&once),
                String::from_utf8_lossy(&twice)
            );
        }
    }
}

fn ids_have_valid_lengths(request: &ExportTraceServiceRequest) -> bool {
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans);
    let valid = |id: &[u8], len: usize| id.is_empty() || id.len() == len;
    spans.clone().all(|span| {
        valid(&span.trace_id, 16) && valid(&span.span_id, 8) && valid(&span.parent_span_id, 8)
    }) && spans
        .flat_map(|span| &span.links)
        .all(|link| valid(&link.trace_id, 16) && valid(&link.span_id, 8))
}

/// Zipkin v2 JSON decoding: errors carry a line; a decoded batch normalises the same on both
/// ingest paths, and encodes to Zipkin JSON that decodes to as many spans.
pub fn zipkin_json(data: &[u8]) {
    match zipkin::decode_spans(data) {
        Err(error) => assert!(error.line >= 1, "an error without a line: {error}"),
        Ok(request) => {
            owned_and_wire_agree(&request, &normalizer());
            let mut json = Vec::new();
            zipkin_encode::encode_spans(&request, &mut json);
            match zipkin::decode_spans(&json) {
                Ok(again) => assert_eq!(span_count(&again), span_count(&request)),
                Err(error) => panic!("encoded Zipkin JSON does not decode: {error}"),
            }
        }
    }
}

/// Decompression within a limit (the first two bytes choose it, up to 64 KiB): the output
/// never exceeds the limit, a bomb is `TooLarge`, and compressing then decompressing gives
/// the bytes back exactly when they fit.
pub fn gzip_body(data: &[u8]) {
    let (limit, raw) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    for encoding in [Compression::Gzip, Compression::Deflate] {
        match compression::decompress(encoding, raw, limit) {
            Ok(out) => assert!(out.len() <= limit, "{} > {limit}", out.len()),
            Err(DecompressError::TooLarge { limit: reported }) => assert_eq!(reported, limit),
            Err(DecompressError::Corrupt { .. }) => {}
        }
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let gzipped = match std::io::Write::write_all(&mut encoder, raw) {
        Ok(()) => encoder.finish(),
        Err(error) => Err(error),
    };
    let Ok(gzipped) = gzipped else {
        panic!("gzip into memory failed");
    };
    match compression::decompress(Compression::Gzip, &gzipped, limit) {
        Ok(out) => assert!(
            raw.len() <= limit && out == raw,
            "round trip changed the bytes"
        ),
        Err(DecompressError::TooLarge { .. }) => assert!(raw.len() > limit),
        Err(error) => panic!("our own gzip does not decompress: {error}"),
    }
}

fn within(part: &str, whole: &str) -> bool {
    let (start, end) = (
        whole.as_ptr() as usize,
        whole.as_ptr() as usize + whole.len(),
    );
    let p = part.as_ptr() as usize;
    p >= start && p + part.len() <= end
}

/// The Envoy string parsers (`node_id`, `upstream_cluster`, peer addresses, XFCC, cluster
/// hosts, URLs): never panic, return pieces of their input, and what they parse formats back
/// to a string that parses the same.
pub fn envoy_attrs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s: &str = &text;

    if let Some(node) = envoy::parse_node_id(s) {
        assert!(!node.pod.is_empty() && within(node.pod, s));
        assert!(
            node.namespace
                .is_none_or(|ns| !ns.is_empty() && !ns.contains('.'))
        );
        assert!(!node.domain.contains('~'));
        let kind = match node.proxy {
            ProxyKind::Sidecar => "sidecar",
            ProxyKind::Gateway => "router",
            ProxyKind::Waypoint => "waypoint",
            _ => "plain-envoy",
        };
        let ip = node.ip.map(|ip| ip.to_string()).unwrap_or_default();
        let ns = node.namespace.unwrap_or("");
        let formatted = format!("{kind}~{ip}~{}.{ns}~{}", node.pod, node.domain);
        assert_eq!(
            envoy::parse_node_id(&formatted),
            Some(node),
            "{formatted:?}"
        );
    }

    if let Some(cluster) = envoy::parse_upstream_cluster(s) {
        assert_eq!(cluster.name, s.trim());
        if cluster.direction != envoy::ClusterDirection::Other {
            let dir = match cluster.direction {
                envoy::ClusterDirection::Inbound => "inbound",
                _ => "outbound",
            };
            let port = cluster.port.map(|p| p.to_string()).unwrap_or_default();
            let formatted = format!(
                "{dir}|{port}|{}|{}",
                cluster.subset.unwrap_or(""),
                cluster.host.unwrap_or("")
            );
            let Some(again) = envoy::parse_upstream_cluster(&formatted) else {
                panic!("{formatted:?} does not parse");
            };
            assert_eq!(
                (again.direction, again.port, again.subset, again.host),
                (
                    cluster.direction,
                    cluster.port,
                    cluster.subset,
                    cluster.host
                ),
                "{formatted:?}"
            );
            assert_eq!(
                (again.service, again.namespace),
                (cluster.service, cluster.namespace)
            );
        }
    }

    if let Some((service, namespace)) = envoy::cluster_local_service(s) {
        assert!(within(service, s) && within(namespace, s));
        let formatted = format!("{service}.{namespace}.svc.cluster.local");
        assert_eq!(
            envoy::cluster_local_service(&formatted),
            Some((service, namespace))
        );
    }

    if let Some(peer) = envoy::parse_peer_address(s) {
        assert_eq!(envoy::parse_peer_address(&format_peer(peer)), Some(peer));
    }
    // Addresses built from the bytes format to text that parses back to them.
    if let [a, b, c, d, p1, p2, ..] = *data {
        let v4 = PeerAddress {
            ip: std::net::Ipv4Addr::new(a, b, c, d).into(),
            port: Some(u16::from_le_bytes([p1, p2])),
        };
        assert_eq!(envoy::parse_peer_address(&format_peer(v4)), Some(v4));
    }
    if let Some(bytes) = data.get(..18) {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&bytes[..16]);
        let v6 = PeerAddress {
            ip: std::net::Ipv6Addr::from(octets).into(),
            port: Some(u16::from_le_bytes([bytes[16], bytes[17]])),
        };
        assert_eq!(envoy::parse_peer_address(&format_peer(v6)), Some(v6));
        let bare = PeerAddress { port: None, ..v6 };
        assert_eq!(envoy::parse_peer_address(&format_peer(bare)), Some(bare));
    }

    if let Some(uri) = envoy::xfcc_uri(s) {
        assert!(!uri.is_empty() && within(uri, s));
    }
    // A URI without XFCC's delimiters is found in the last element, quoted or not, whatever
    // quoted delimiters come before it.
    let uri: String = s
        .chars()
        .filter(|c| !matches!(c, '"' | ',' | ';' | '\\'))
        .collect();
    let uri = uri.trim();
    if !uri.is_empty() {
        let headers = [
            format!("By=spiffe://a;Hash=0;URI={uri}"),
            format!("By=\"x,y;z\";URI=spiffe://first,Hash=1;URI=\"{uri}\";DNS=d"),
            format!("URI=spiffe://a,Subject=\"C=x;\\\"q,\";uri={uri}"),
        ];
        for header in &headers {
            assert_eq!(envoy::xfcc_uri(header), Some(uri), "{header:?}");
        }
    }

    let path = envoy::path_from_url(s);
    assert!(path.is_empty() || path == "/" || within(path, s));
    assert!(within(envoy::strip_query(s), s));
    if let Some(authority) = envoy::authority_from_url(s) {
        assert!(within(authority, s));
        let (host, _) = envoy::split_host_port(authority);
        assert!(within(host, authority));
    }
    if let Some((host, _)) = envoy::host_port_from_span_name(s) {
        assert!(within(host, s));
    }
    let _ = envoy::has_failure_flag(s) | envoy::has_rbac_flag(s);
}

fn format_peer(peer: PeerAddress) -> String {
    match peer.port {
        Some(port) => std::net::SocketAddr::new(peer.ip, port).to_string(),
        None => peer.ip.to_string(),
    }
}

/// AuthorizationPolicy YAML: parsing never panics and every error it reports (the file-level
/// one, or each invalid document's) carries a line; the lints run over whatever parsed.
pub fn policy_yaml(data: &[u8]) {
    // Files that are not UTF-8 are refused before parsing (an I/O error naming the file).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("fuzz.yaml");
    let has_line = |error: &meshlens_policies::parse::ParseError| {
        error.location().is_some_and(|location| location.line >= 1)
    };
    match parse_policies(file, text) {
        Err(error) => assert!(has_line(&error), "an error without a line: {error}"),
        Ok(parsed) => {
            for error in &parsed.errors {
                assert!(has_line(error), "an error without a line: {error}");
            }
            let _ = lint(&parsed.policies, None, &LintOptions::default());
        }
    }
}

/// Path templating: never panics, grows a path at most four-fold (`0` → `{id}`), is
/// idempotent, and the bounded table gives a path's template unless it is too long.
pub fn path_template(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let template = paths::template(path);
    assert!(template.len() <= 4 * path.len());
    assert_eq!(paths::template(&template), template, "not idempotent");
    let mut table = paths::PathTable::new(4);
    match table.intern(path) {
        Some(id) => assert_eq!(table.resolve(id), template),
        None => assert!(path.len() > paths::MAX_PATH_LEN),
    }
}

/// Recorded trace files (`lint --traces`, `inspect`): format sniffing, JSON lines, Zipkin and
/// protobuf fall-backs never panic; whatever reads normalises.
pub fn recorded_lines(data: &[u8]) {
    match source::parse_traces(Path::new("fuzz.jsonl"), data) {
        Ok(file) => {
            let normalizer = normalizer();
            let mut spans = Vec::new();
            for request in &file.requests {
                normalizer.normalize_request(request, &mut spans);
            }
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}
