//! Writes the seed corpus (`fuzz/corpus/seed-*` files) from `testdata/` and the collector's
//! sample requests: `cargo run -p meshlens-fuzz --example seed_corpus`. Inputs found by
//! fuzzing (crashes turned regressions, interesting finds) are committed next to the seeds
//! under other names and are left alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use meshlens_collector::formats::otlp_json;
use meshlens_collector::sample;
use prost::Message;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn testdata(path: &str) -> Vec<u8> {
    fs::read(root().join("../testdata").join(path)).unwrap()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = root().join("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn with_limit(limit: u16, body: &[u8]) -> Vec<u8> {
    [&limit.to_le_bytes()[..], body].concat()
}

/// The first `n` lines of a JSON-lines file.
fn lines(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n').take(n) {
        out.extend_from_slice(line);
    }
    out
}

fn main() {
    let small_otlp = [
        "otlp-spec-example.json",
        "jaeger-example.otlp.json",
        "istio-otel-egress.otlp.json",
    ];
    let zipkin = ["envoy.zipkin.json", "messaging-kafka.zipkin.json"];
    let conformance = testdata("traces/bookinfo-conformance.otlp.jsonl");

    // OTLP protobuf: testdata re-encoded, and Envoy-shaped sample requests (the bench's).
    for name in small_otlp {
        let request = otlp_json::decode_request(&testdata(&format!("traces/{name}"))).unwrap();
        write("otlp_protobuf", name, &request.encode_to_vec());
    }
    for line in conformance.split(|&b| b == b'\n').take(3) {
        let request = otlp_json::decode_request(line).unwrap();
        let name = format!("conformance-{}", request.encoded_len());
        write("otlp_protobuf", &name, &request.encode_to_vec());
    }
    write(
        "otlp_protobuf",
        "envoy-4",
        &sample::envoy_request(4, 7).encode_to_vec(),
    );
    write("otlp_protobuf", "empty", b"");
    // Found by reading the walker against the owned path (the differential check fires on
    // it): a valueless key after a valued one, and an RBAC denial inside an array value.
    let odd = sample::odd_attributes_request();
    let dir = root().join("corpus/otlp_protobuf");
    fs::write(dir.join("regression-odd-attributes"), odd.encode_to_vec()).unwrap();
    let mut json = Vec::new();
    otlp_json::encode_request(&odd, &mut json);
    fs::write(
        root().join("corpus/otlp_json/regression-odd-attributes"),
        json,
    )
    .unwrap();

    // OTLP JSON: the small testdata documents and a few conformance lines.
    for name in small_otlp {
        write("otlp_json", name, &testdata(&format!("traces/{name}")));
    }
    for (i, line) in conformance.split(|&b| b == b'\n').take(3).enumerate() {
        write("otlp_json", &format!("conformance-{i}"), line);
    }

    // Zipkin v2 JSON.
    for name in zipkin {
        write("zipkin_json", name, &testdata(&format!("traces/{name}")));
    }

    // Compressed bodies: two bytes of limit, then the body.
    let otlp = testdata("traces/otlp-spec-example.json");
    write("gzip_body", "gzip", &with_limit(4096, &gzip(&otlp)));
    write(
        "gzip_body",
        "gzip-over-limit",
        &with_limit(100, &gzip(&otlp)),
    );
    write("gzip_body", "zlib", &with_limit(4096, &zlib(&otlp)));
    write(
        "gzip_body",
        "bomb",
        &with_limit(60000, &gzip(&vec![0; 1 << 20])),
    );
    write("gzip_body", "not-gzip", &with_limit(10, b"plain"));

    // Envoy attribute values, as proxies send them.
    let envoy = [
        (
            "node-id",
            "sidecar~10.244.0.25~productpage-v1-6f89b6c557-sg2bc.bookinfo~bookinfo.svc.cluster.local",
        ),
        (
            "node-id-v6",
            "router~fd00::1~istio-ingressgateway-5d9f.istio-system~istio-system.svc.cluster.local",
        ),
        (
            "cluster",
            "outbound|9080|v1|reviews.bookinfo.svc.cluster.local",
        ),
        ("cluster-inbound", "inbound|9080||"),
        (
            "cluster-sni",
            "outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local",
        ),
        ("cluster-passthrough", "InboundPassthroughClusterIpv4"),
        ("peer-v4", "10.244.0.25:34567"),
        ("peer-v6", "[fd00::25]:443"),
        (
            "xfcc",
            "By=spiffe://cluster.local/ns/bookinfo/sa/reviews;Hash=0d1f;Subject=\"\";URI=spiffe://cluster.local/ns/bookinfo/sa/productpage",
        ),
        (
            "xfcc-two",
            "By=spiffe://a;URI=\"spiffe://x,y\",By=spiffe://b;Subject=\"C=US;O=\\\"q\\\"\";URI=spiffe://cluster.local/ns/default/sa/sleep",
        ),
        (
            "url",
            "http://reviews.bookinfo.svc.cluster.local:9080/reviews/0?x=1#f",
        ),
        ("url-v6", "https://user@[::1]:8443/a/b"),
        ("span-name", "reviews.bookinfo.svc.cluster.local:9080/*"),
        ("flags", "UH,RBAC"),
    ];
    for (name, value) in envoy {
        write("envoy_attrs", name, value.as_bytes());
    }

    // AuthorizationPolicy YAML: the reference and validation files.
    for dir in ["istio-reference", "istio-validation", "bookinfo"] {
        let dir_path = root().join("../testdata/policies").join(dir);
        let mut files: Vec<PathBuf> = fs::read_dir(&dir_path)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let name = format!("{dir}-{}", file.file_name().unwrap().to_string_lossy());
            write("policy_yaml", &name, &fs::read(&file).unwrap());
        }
    }
    write(
        "policy_yaml",
        "builder-full-rule",
        &testdata("policies/istio-builder/allow-full-rule-in.yaml"),
    );

    // Paths.
    let paths = [
        "/reviews/0",
        "/api/v1/users/12345/orders",
        "/o/123e4567-e89b-12d3-a456-426614174000",
        "/t/dGhpcyBpcyBhIHRva2VuMTIz",
        "/a//b/",
        "/static/cafe",
    ];
    for (i, path) in paths.iter().enumerate() {
        write("path_template", &i.to_string(), path.as_bytes());
    }

    // Recorded files: JSON lines, a Zipkin array, a protobuf request.
    write("recorded_lines", "jsonl", &lines(&conformance, 4));
    write(
        "recorded_lines",
        "zipkin",
        &testdata("traces/envoy.zipkin.json"),
    );
    write(
        "recorded_lines",
        "protobuf",
        &sample::envoy_request(3, 1).encode_to_vec(),
    );
    let mut cut = lines(&conformance, 2);
    cut.extend_from_slice(&conformance[..40]);
    write("recorded_lines", "cut-off-last-line", &cut);
}
