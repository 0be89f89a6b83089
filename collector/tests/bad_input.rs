//! Hostile and malformed input end to end (issue 7): deep nesting, a million attributes,
//! 10 MB strings, invalid UTF-8, duplicate keys. Each gets a clear answer (HTTP 400 with the
//! message, gRPC INVALID_ARGUMENT, or acceptance with bounded, `<overflow>`ed facts), and
//! the server answers the next request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/raw_grpc.rs"]
mod raw_grpc;

use std::sync::{Arc, Mutex};

use meshlens_collector::formats::otlp_json;
use meshlens_collector::intern::OVERFLOW;
use meshlens_collector::sample::{self, envoy_request};
use meshlens_collector::server::conn::HttpLimits;
use meshlens_collector::server::{Collector, DEFAULT_INFLIGHT_BYTES, Pipeline, ServeConfig};
use meshlens_collector::{Interner, Span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use prost::Message;
use reqwest::StatusCode;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";
const LIMIT: usize = 64 << 20;

/// A collector whose pipeline keeps every span, with the interner to read them.
struct Server {
    collector: Collector,
    spans: Arc<Mutex<Vec<Span>>>,
    interner: Interner,
    client: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        let loopback = Some("127.0.0.1:0".parse().unwrap());
        let config = ServeConfig {
            otlp_grpc: loopback,
            otlp_http: loopback,
            zipkin: loopback,
            api: loopback,
            max_grpc_request_bytes: LIMIT,
            max_http_request_bytes: LIMIT,
            queue_spans: 100_000,
            max_inflight_bytes: DEFAULT_INFLIGHT_BYTES,
            record: None,
            span_multiplier_key: None,
            http_limits: HttpLimits::default(),
            security: Default::default(),
        };
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let interner = Interner::new();
        let pipeline = Pipeline {
            interner: interner.clone(),
            sink: Box::new(move |batch: &[Span]| kept.lock().unwrap().extend_from_slice(batch)),
            api: axum::Router::new(),
            metrics: Vec::new(),
        };
        let collector = Collector::start(config, pipeline).await.unwrap();
        Self {
            collector,
            spans,
            interner,
            client: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        let addrs = self.collector.addrs();
        let addr = if path == "/api/v2/spans" {
            addrs.zipkin
        } else {
            addrs.otlp_http
        };
        self.client
            .post(format!("http://{}{path}", addr.unwrap()))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn otlp(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.post("/v1/traces", content_type, body).await
    }

    /// A 400 whose message (JSON or google.rpc.Status) contains `needle`.
    async fn refused(&self, content_type: &str, body: Vec<u8>, needle: &str) -> String {
        let response = self.otlp(content_type, body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let message = message(content_type, response).await;
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        message
    }

    /// The next good request is served.
    async fn still_serving(&self) {
        let response = self
            .otlp(PROTOBUF, envoy_request(2, 99).encode_to_vec())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// Waits until the pipeline has taken `n` spans in all and returns the last.
    async fn span_number(&self, n: usize) -> Span {
        for _ in 0..200 {
            if let Some(span) = self.spans.lock().unwrap().get(n - 1) {
                return span.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("span {n} never arrived");
    }
}

async fn message(content_type: &str, response: reqwest::Response) -> String {
    let bytes = response.bytes().await.unwrap();
    if content_type == PROTOBUF {
        tonic_types::pb::Status::decode(bytes).unwrap().message
    } else {
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], 3, "{body}");
        body["message"].as_str().unwrap().to_owned()
    }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn one_span(
    edit: impl FnOnce(&mut opentelemetry_proto::tonic::trace::v1::Span),
) -> ExportTraceServiceRequest {
    let mut request = envoy_request(1, 3);
    edit(&mut request.resource_spans[0].scope_spans[0].spans[0]);
    request
}

fn json(request: &ExportTraceServiceRequest) -> Vec<u8> {
    let mut out = Vec::new();
    otlp_json::encode_request(request, &mut out);
    out
}

#[tokio::test]
async fn deep_nesting_is_refused_in_json_and_skipped_in_protobuf() {
    let server = Server::start().await;

    // 100,000 nested arrays in an attribute value: serde_json's recursion limit, a 400 that
    // says so and where, not a stack overflow.
    let mut doc =
        String::from(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":"#);
    doc.push_str(&r#"{"arrayValue":{"values":["#.repeat(100_000));
    let message = server
        .refused(JSON, doc.into_bytes(), "recursion limit")
        .await;
    assert!(message.contains(": line 1, column "), "{message}");
    let kvlists = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{}"#,
        r#"{"key":"k","value":{"kvlistValue":{"values":["#.repeat(100_000)
    );
    server
        .refused(JSON, kvlists.into_bytes(), "recursion limit")
        .await;
    // The same on the Zipkin receiver: nested tag values are not strings.
    let zipkin = format!(
        r#"[{{"traceId":"1","id":"2","tags":{{"a":{}}}}}]"#,
        "[".repeat(100_000)
    );
    let response = server
        .post("/api/v2/spans", JSON, zipkin.into_bytes())
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.still_serving().await;

    // Protobuf: the walker skips what it does not read by its length, without recursing, so
    // 100,000 levels in an ignored attribute cost nothing and the span is kept.
    let mut value = b"\x0a\x04deep".to_vec();
    for _ in 0..100_000 {
        let mut array = Vec::new();
        prost::encoding::bytes::encode(1, &value, &mut array);
        value.clear();
        prost::encoding::bytes::encode(5, &array, &mut value);
    }
    let request = envoy_request(1, 5);
    let mut span = request.resource_spans[0].scope_spans[0].spans[0].encode_to_vec();
    prost::encoding::bytes::encode(9, &sample::raw_attribute("custom", &value), &mut span);
    let body = sample::raw_request(&span);
    let response = server.otlp(PROTOBUF, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    server.still_serving().await;
    assert_eq!(server.collector.shutdown().await.spans, 5);
}

#[tokio::test]
async fn a_million_attributes_and_ten_megabyte_strings_are_accepted_within_bounds() {
    let server = Server::start().await;
    let ten_mb = "n".repeat(10 << 20);

    // One span, a million attributes (~10 MB of protobuf): linear work, one span kept.
    let request = one_span(|span| {
        span.attributes
            .extend((0..1_000_000).map(|i| kv("attr", Value::IntValue(i))));
    });
    let response = server.otlp(PROTOBUF, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    server.span_number(1).await;

    // A 10 MB span name and 10 MB values of attributes normalisation reads: accepted, and
    // what the span keeps is `<overflow>`, no path, never a 10 MB copy.
    let request = one_span(|span| {
        span.name = ten_mb.clone();
        span.attributes = vec![
            kv("http.url", Value::StringValue(format!("http://h/{ten_mb}"))),
            kv("http.method", Value::StringValue(ten_mb.clone())),
            kv("upstream_cluster", Value::StringValue(ten_mb.clone())),
            kv("custom", Value::StringValue(ten_mb.clone())),
        ];
    });
    for (content_type, body) in [(PROTOBUF, request.encode_to_vec()), (JSON, json(&request))] {
        let response = server.otlp(content_type, body).await;
        assert_eq!(response.status(), StatusCode::OK, "{content_type}");
    }
    for n in [2, 3] {
        let span = server.span_number(n).await;
        assert_eq!(server.interner.resolve(span.name), OVERFLOW);
        assert_eq!(
            span.method.map(|m| server.interner.resolve(m)),
            Some(OVERFLOW)
        );
        assert_eq!(span.path, None);
    }

    // Over the request limit: 413, nothing read past it.
    let response = server.otlp(PROTOBUF, vec![0x0a; LIMIT + 1]).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    server.still_serving().await;
    assert_eq!(server.collector.shutdown().await.spans, 5);
}

#[tokio::test]
async fn invalid_utf8_is_refused_where_it_is_read() {
    let server = Server::start().await;
    let mut bytes = one_span(|span| span.name = "MARKER".into()).encode_to_vec();
    let at = bytes.windows(6).position(|w| w == b"MARKER").unwrap();
    bytes[at] = 0xff;

    // HTTP protobuf: 400, INVALID_ARGUMENT, with the offset of the string.
    let message = server
        .refused(PROTOBUF, bytes.clone(), "string is not valid UTF-8")
        .await;
    assert!(
        message.contains(&format!("invalid protobuf at byte {}:", at - 1)),
        "{message}"
    );

    // gRPC: INVALID_ARGUMENT (sent raw, as a client with a broken encoder would).
    let endpoint = format!("http://{}", server.collector.addrs().otlp_grpc.unwrap());
    let status = raw_grpc(&endpoint, bytes).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("not valid UTF-8"), "{status:?}");
    let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
    client.export(envoy_request(1, 1)).await.unwrap();

    // JSON is text: invalid UTF-8 inside a string is a 400 with its line.
    let mut doc = json(&one_span(|span| span.name = "MARKER".into()));
    let at = doc.windows(6).position(|w| w == b"MARKER").unwrap();
    doc[at] = 0xff;
    let message = server.refused(JSON, doc, "line 1").await;
    assert!(
        message.contains("unicode") || message.contains("UTF-8"),
        "{message}"
    );
    server.still_serving().await;
}

#[tokio::test]
async fn duplicate_json_keys_are_refused_with_their_position() {
    let server = Server::start().await;
    let message = server
        .refused(
            JSON,
            br#"{"resourceSpans":[],"resourceSpans":[]}"#.to_vec(),
            "duplicate field",
        )
        .await;
    assert!(message.contains("resourceSpans"), "{message}");
    let doc = json(&envoy_request(1, 2));
    let text = String::from_utf8(doc).unwrap();
    let doubled = text.replacen("\"name\":", "\"name\":\"first\",\"name\":", 1);
    let message = server
        .refused(JSON, doubled.into_bytes(), "duplicate field `name`")
        .await;
    assert!(message.contains(": line 1, column "), "{message}");

    // Zipkin tags are a map of strings: a repeated tag keeps both in order, and the later
    // value wins in normalisation, as for any attribute (Zipkin's own server keeps the last).
    let zipkin = br#"[{"traceId":"0af7651916cd43dd8448eb211c80319c","id":"b7ad6b7169203331","kind":"CLIENT","name":"get","localEndpoint":{"serviceName":"web"},"tags":{"http.method":"GET","http.method":"POST"}}]"#;
    let response = server.post("/api/v2/spans", JSON, zipkin.to_vec()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let span = server.span_number(1).await;
    assert_eq!(
        span.method.map(|m| server.interner.resolve(m)),
        Some("POST")
    );
    server.still_serving().await;
}

async fn raw_grpc(endpoint: &str, body: Vec<u8>) -> tonic::Status {
    raw_grpc::export_raw(endpoint, body).await.unwrap_err()
}
