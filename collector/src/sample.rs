//! Envoy/Istio-shaped OTLP requests, generated deterministically: the benchmark's input, test
//! fixtures, and the seed of the load generator. Every attribute is a string, as Envoy sends.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

/// The bookinfo calls a sidecar mesh makes: (caller, callee, port, path).
const CALLS: &[(&str, &str, u16, &str)] = &[
    ("productpage", "details", 9080, "/details/0"),
    ("productpage", "reviews", 9080, "/reviews/0"),
    ("reviews", "ratings", 9080, "/ratings/0"),
    ("istio-ingressgateway", "productpage", 9080, "/productpage"),
];
const NAMESPACE: &str = "bookinfo";

pub fn string_attr(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Envoy tags that carry nothing meshlens reads; [`Shape::Lean`] leaves them out.
const INCIDENTAL_TAGS: &[&str] = &[
    "zone",
    "downstream_cluster",
    "request_size",
    "response_size",
    "upstream_cluster.name",
];

/// How much a generated span carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every tag an Istio sidecar sends: 20 string attributes, ~860 bytes on the wire, as in
    /// the real bookinfo trace.
    Full,
    /// 15 string attributes: the incidental tags left out.
    Lean,
}

/// A request of `spans` sidecar spans (alternating CLIENT and SERVER halves of bookinfo calls,
/// ~15 string attributes each), grouped one resource per emitting workload as Envoy's OTel
/// tracer does. `seed` varies ids and timings.
pub fn envoy_request(spans: usize, seed: u64) -> ExportTraceServiceRequest {
    envoy_request_shaped(spans, seed, Shape::Full)
}

/// [`envoy_request`] with spans of the given [`Shape`].
pub fn envoy_request_shaped(spans: usize, seed: u64, shape: Shape) -> ExportTraceServiceRequest {
    let spans = (0..spans).map(|i| {
        let n = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let (caller, callee, port, path) = CALLS[(n / 2) as usize % CALLS.len()];
        let client = i % 2 == 0;
        let workload = if client { caller } else { callee };
        let mut span = envoy_span(n, caller, callee, port, path, client);
        if shape == Shape::Lean {
            span.attributes
                .retain(|kv| !INCIDENTAL_TAGS.contains(&kv.key.as_str()));
        }
        (format!("{workload}.{NAMESPACE}"), span)
    });
    request_by_service(spans)
}

/// Spans as one request, one resource per `service.name` (as Envoy's OTel tracer exports
/// them), resources in first-seen order.
pub fn request_by_service(
    spans: impl IntoIterator<Item = (String, Span)>,
) -> ExportTraceServiceRequest {
    let mut by_service: Vec<(String, Vec<Span>)> = Vec::new();
    for (service, span) in spans {
        match by_service.iter_mut().find(|(s, _)| *s == service) {
            Some((_, spans)) => spans.push(span),
            None => by_service.push((service, vec![span])),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![string_attr("service.name", service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

fn envoy_span(n: u64, caller: &str, callee: &str, port: u16, path: &str, client: bool) -> Span {
    let workload = if client { caller } else { callee };
    let gateway = workload == "istio-ingressgateway";
    // One proxy per workload: its node_id (pod, IP) is the same on every span it sends.
    let replica = workload
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let pod = format!("{workload}-v1-6f89b6c557-{:05x}", replica % 0xfffff);
    let node_id = if gateway {
        format!("router~10.244.0.14~{pod}.istio-system~istio-system.svc.cluster.local")
    } else {
        format!(
            "sidecar~10.244.0.{}~{pod}.{NAMESPACE}~{NAMESPACE}.svc.cluster.local",
            replica % 250
        )
    };
    let host = format!("{callee}.{NAMESPACE}.svc.cluster.local");
    let upstream_cluster = if client {
        format!("outbound|{port}||{host}")
    } else {
        format!("inbound|{port}||")
    };
    let failed = n % 50 == 7;
    let status_code = if failed { "503" } else { "200" };
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&(n / 2 + 1).to_be_bytes());
    trace_id[8..].copy_from_slice(&0x5eed_u64.to_be_bytes());
    let start = 1_701_779_876_000_000_000 + n * 1_000_000;
    Span {
        trace_id: trace_id.to_vec(),
        // The SERVER half's parent is its CLIENT half, as Envoy propagates it.
        span_id: (n | 1 << 40).to_be_bytes().to_vec(),
        parent_span_id: if client {
            Vec::new()
        } else {
            ((n - 1) | 1 << 40).to_be_bytes().to_vec()
        },
        name: format!("{host}:{port}/*"),
        kind: if client {
            span::SpanKind::Client
        } else {
            span::SpanKind::Server
        } as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 2_000_000 + (n % 7) * 300_000,
        attributes: vec![
            string_attr("node_id", node_id),
            string_attr("zone", "us-east-1a"),
            string_attr(
                "guid:x-request-id",
                format!("{:032x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            ),
            string_attr("http.url", format!("http://{callee}:{port}{path}?user=42")),
            string_attr("http.method", "GET"),
            string_attr("downstream_cluster", "-"),
            string_attr("user_agent", "python-requests/2.31.0"),
            string_attr("http.protocol", "HTTP/1.1"),
            string_attr("peer.address", format!("10.244.0.{}", (n + 3) % 250)),
            string_attr("request_size", "0"),
            string_attr("upstream_cluster", upstream_cluster.clone()),
            string_attr("upstream_cluster.name", upstream_cluster),
            string_attr("http.status_code", status_code),
            string_attr("response_size", "1843"),
            string_attr("response_flags", if failed { "UF" } else { "-" }),
            string_attr("istio.canonical_service", workload),
            string_attr("istio.canonical_revision", "v1"),
            string_attr(
                "istio.namespace",
                if gateway { "istio-system" } else { NAMESPACE },
            ),
            string_attr("istio.mesh_id", "cluster.local"),
            string_attr("component", "proxy"),
        ],
        status: failed.then(|| Status {
            code: status::StatusCode::Error as i32,
            message: String::new(),
        }),
        ..Default::default()
    }
}

/// An OTLP request body holding one already-encoded `Span`, built field by field: for inputs
/// prost would refuse to build or encode (nesting deeper than it decodes, invalid UTF-8).
pub fn raw_request(span: &[u8]) -> Vec<u8> {
    let mut scope = Vec::new();
    prost::encoding::bytes::encode(2, &span.to_vec(), &mut scope);
    let mut resource_spans = Vec::new();
    prost::encoding::bytes::encode(2, &scope, &mut resource_spans);
    let mut body = Vec::new();
    prost::encoding::bytes::encode(1, &resource_spans, &mut body);
    body
}

/// An encoded `KeyValue` of `key` and an already-encoded `AnyValue`, to append to an encoded
/// span as field 9 (attributes).
pub fn raw_attribute(key: &str, any_value: &[u8]) -> Vec<u8> {
    let mut kv = Vec::new();
    prost::encoding::string::encode(1, &key.to_owned(), &mut kv);
    prost::encoding::bytes::encode(2, &any_value.to_vec(), &mut kv);
    kv
}

/// A one-span request with attributes that once normalised differently on the wire path and
/// the owned path (found by fuzzing): a key without a value after the same key with one, and
/// an RBAC denial inside an array under an unknown key.
pub fn odd_attributes_request() -> ExportTraceServiceRequest {
    let value = |v: any_value::Value| Some(AnyValue { value: Some(v) });
    let denial = AnyValue {
        value: Some(any_value::Value::StringValue(
            "rbac_access_denied_matched_policy[none]".into(),
        )),
    };
    let mut request = envoy_request(1, 0);
    request.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .extend([
            KeyValue {
                key: "error".into(),
                value: value(any_value::Value::BoolValue(true)),
                ..KeyValue::default()
            },
            KeyValue {
                key: "error".into(),
                ..KeyValue::default()
            },
            KeyValue {
                key: "custom".into(),
                value: value(any_value::Value::ArrayValue(
                    opentelemetry_proto::tonic::common::v1::ArrayValue {
                        values: vec![denial],
                    },
                )),
                ..KeyValue::default()
            },
        ]);
    request
}
