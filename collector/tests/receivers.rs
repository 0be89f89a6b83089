//! The receivers against real clients over loopback: spec-correct answers to good and bad
//! requests, and the server keeps serving after each bad one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/common/metrics.rs"]
mod metrics;
#[path = "support/raw_grpc.rs"]
mod raw_grpc;
use metrics::metric;

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use meshlens_collector::Interner;
use meshlens_collector::sample::envoy_request;
use meshlens_collector::server::conn::HttpLimits;
use meshlens_collector::server::{Collector, DEFAULT_INFLIGHT_BYTES, Pipeline, ServeConfig};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use reqwest::StatusCode;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

fn config(max_request_bytes: usize, queue_spans: usize) -> ServeConfig {
    let loopback = Some("127.0.0.1:0".parse().unwrap());
    ServeConfig {
        otlp_grpc: loopback,
        otlp_http: loopback,
        zipkin: loopback,
        api: loopback,
        max_grpc_request_bytes: max_request_bytes,
        max_http_request_bytes: max_request_bytes,
        queue_spans,
        max_inflight_bytes: DEFAULT_INFLIGHT_BYTES,
        record: None,
        span_multiplier_key: None,
        http_limits: HttpLimits::default(),
        security: Default::default(),
    }
}

async fn start(max_request_bytes: usize) -> Collector {
    Collector::start(
        config(max_request_bytes, 100_000),
        Pipeline::summary(Interner::new()),
    )
    .await
    .unwrap()
}

struct Http {
    client: reqwest::Client,
    url: String,
}

impl Http {
    fn otlp(collector: &Collector) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: format!("http://{}/v1/traces", collector.addrs().otlp_http.unwrap()),
        }
    }

    async fn post(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.post_with(content_type, None, body).await
    }

    async fn post_with(
        &self,
        content_type: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", content_type)
            .body(body);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request.send().await.unwrap()
    }
}

async fn rpc_status(response: reqwest::Response) -> tonic_types::pb::Status {
    assert_eq!(response.headers()["content-type"], PROTOBUF);
    tonic_types::pb::Status::decode(response.bytes().await.unwrap()).unwrap()
}

async fn api_get(collector: &Collector, path: &str) -> String {
    let url = format!("http://{}{path}", collector.addrs().api.unwrap());
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn http_protobuf_and_json_requests_are_acknowledged_in_their_own_encoding() {
    let collector = start(1 << 20).await;
    let http = Http::otlp(&collector);
    let request = envoy_request(10, 1);

    let response = http.post(PROTOBUF, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], PROTOBUF);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None);

    let mut json = Vec::new();
    meshlens_collector::formats::otlp_json::encode_request(&envoy_request(5, 2), &mut json);
    let response = http
        .post_with("application/json; charset=utf-8", Some("gzip"), gzip(&json))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], JSON);
    assert_eq!(response.text().await.unwrap(), "{}");

    // An empty request is a success, as the specification says.
    let response = http.post(PROTOBUF, Vec::new()).await;
    assert_eq!(response.status(), StatusCode::OK);

    let report = collector.shutdown().await;
    assert_eq!(report.spans, 15);
}

#[tokio::test]
async fn spans_with_invalid_ids_get_a_partial_success() {
    let collector = start(1 << 20).await;
    let http = Http::otlp(&collector);
    let mut request = envoy_request(4, 3);
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![0xab; 3];

    let response = http.post(PROTOBUF, request.encode_to_vec()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("trace id"),
        "{}",
        partial.error_message
    );

    let mut json = Vec::new();
    meshlens_collector::formats::otlp_json::encode_request(&request, &mut json);
    let response = http.post(JSON, json).await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], "1");

    let metrics = api_get(&collector, "/metrics").await;
    assert_eq!(
        metric(
            &metrics,
            "meshlens_spans_rejected_total{receiver=\"otlp_http_protobuf\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &metrics,
            "meshlens_spans_accepted_total{receiver=\"otlp_http_protobuf\"}"
        ),
        3.0
    );
    assert_eq!(collector.shutdown().await.spans, 6);
}

#[tokio::test]
async fn bad_requests_get_the_documented_status_and_the_server_keeps_serving() {
    let collector = start(1 << 20).await;
    let http = Http::otlp(&collector);
    let valid = envoy_request(3, 4).encode_to_vec();

    // Truncated protobuf: 400 with a google.rpc.Status INVALID_ARGUMENT.
    let response = http.post(PROTOBUF, valid[..valid.len() - 5].to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let status = rpc_status(response).await;
    assert_eq!(status.code, 3);
    assert!(
        status.message.contains("invalid protobuf"),
        "{}",
        status.message
    );

    // Garbage JSON: 400, answered in JSON.
    let response = http.post(JSON, b"{\"resourceSpans\": [ {,".to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 3);
    assert!(
        body["message"].as_str().unwrap().contains("line 1"),
        "{body}"
    );

    // Unknown content type: 415.
    let response = http.post("text/plain", valid.clone()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Unsupported content encoding: 415, body never read.
    let response = http.post_with(PROTOBUF, Some("br"), valid.clone()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Not POST: 405 with Allow.
    let response = reqwest::get(&http.url).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");

    // Over the size limit: 413 RESOURCE_EXHAUSTED.
    let response = http.post(PROTOBUF, vec![0x0a; (1 << 20) + 1]).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(rpc_status(response).await.code, 8);

    // A gzip bomb: 64 MiB of zeros in ~64 KiB, refused at the limit, not expanded.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    let response = http.post_with(PROTOBUF, Some("gzip"), bomb).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Corrupt gzip: 400.
    let response = http
        .post_with(PROTOBUF, Some("gzip"), b"not gzip at all".to_vec())
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Still serving.
    let response = http.post(PROTOBUF, valid).await;
    assert_eq!(response.status(), StatusCode::OK);

    let metrics = api_get(&collector, "/metrics").await;
    let errors = |reason: &str| {
        metric(
            &metrics,
            &format!(
                "meshlens_request_errors_total{{receiver=\"otlp_http_protobuf\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(errors("decode"), 2.0);
    assert_eq!(errors("too_large"), 2.0);
    assert_eq!(errors("unsupported_media_type"), 2.0);
    assert_eq!(errors("method_not_allowed"), 1.0);
    assert_eq!(collector.shutdown().await.spans, 3);
}

#[tokio::test]
async fn grpc_answers_with_otlp_status_codes() {
    let collector = start(64 << 10).await;
    let endpoint = format!("http://{}", collector.addrs().otlp_grpc.unwrap());
    let mut client = TraceServiceClient::connect(endpoint.clone()).await.unwrap();

    let answer = client.export(envoy_request(8, 5)).await.unwrap();
    assert_eq!(answer.into_inner().partial_success, None);

    let mut invalid = envoy_request(2, 6);
    invalid.resource_spans[0].scope_spans[0].spans[0]
        .span_id
        .clear();
    let answer = client.export(invalid).await.unwrap().into_inner();
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);

    let too_big = envoy_request(2_000, 7);
    assert!(too_big.encoded_len() > 64 << 10);
    let status = client.export(too_big).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

    // Garbage where a protobuf message should be: INVALID_ARGUMENT.
    let garbage = b"\x0a\xff\xff\xff\x7f garbage".to_vec();
    let status = raw_grpc::export_raw(&endpoint, garbage).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("invalid protobuf"), "{status:?}");

    // Gzip is accepted; a gzip bomb (1 MiB of zeros in a 64 KiB limit) is refused.
    let mut gzip_client = TraceServiceClient::connect(endpoint)
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    gzip_client.export(envoy_request(4, 8)).await.unwrap();
    let mut bomb = envoy_request(1, 9);
    bomb.resource_spans[0].scope_spans[0].spans[0].name = "\0".repeat(1 << 20);
    let status = gzip_client.export(bomb).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");

    // Still serving.
    let empty = client.export(ExportTraceServiceRequest::default()).await;
    assert!(empty.is_ok(), "{empty:?}");
    let metrics = api_get(&collector, "/metrics").await;
    let errors = |reason: &str| {
        let name =
            format!("meshlens_request_errors_total{{receiver=\"otlp_grpc\",reason=\"{reason}\"}}");
        metric(&metrics, &name)
    };
    assert_eq!(errors("decode"), 1.0);
    assert_eq!(errors("too_large"), 2.0);
    assert_eq!(collector.shutdown().await.spans, 13);
}

/// Sends bytes as they are, to put malformed messages on the wire.
/// A pipeline that cannot keep up fills the queue: clients are told to retry (HTTP 503 with
/// Retry-After, gRPC UNAVAILABLE with RetryInfo), and nothing acknowledged is lost.
#[tokio::test]
async fn a_full_queue_answers_retryable_and_loses_nothing_acknowledged() {
    let (release, blocked) = mpsc::channel::<()>();
    let (consumed_tx, consumed) = mpsc::channel::<usize>();
    let sink = move |spans: &[meshlens_collector::Span]| {
        let _ = blocked.recv();
        let _ = consumed_tx.send(spans.len());
    };
    let pipeline = Pipeline {
        interner: Interner::new(),
        sink: Box::new(sink),
        api: axum::Router::new(),
        metrics: Vec::new(),
    };
    let collector = Collector::start(config(1 << 20, 20), pipeline)
        .await
        .unwrap();
    let http = Http::otlp(&collector);

    // The first batch is taken by the pipeline and blocks there; the next two fill the queue.
    let mut acknowledged: u32 = 0;
    let mut refused = None;
    for seed in 0..5 {
        let response = http
            .post(PROTOBUF, envoy_request(10, seed).encode_to_vec())
            .await;
        match response.status() {
            StatusCode::OK => acknowledged += 10,
            StatusCode::SERVICE_UNAVAILABLE => {
                refused = Some(response);
                break;
            }
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = refused.expect("the queue filled up");
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(rpc_status(refused).await.code, 14);

    let endpoint = format!("http://{}", collector.addrs().otlp_grpc.unwrap());
    let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
    let status = client.export(envoy_request(10, 9)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert_eq!(
        details.retry_info().and_then(|r| r.retry_delay),
        Some(Duration::from_secs(1))
    );

    let metrics = api_get(&collector, "/metrics").await;
    assert!(
        metric(
            &metrics,
            "meshlens_spans_refused_total{receiver=\"otlp_http_protobuf\"}"
        ) >= 10.0
    );
    // The batch the sink holds is still queued: acknowledged, not yet consumed.
    assert_eq!(
        metric(&metrics, "meshlens_queue_spans "),
        f64::from(acknowledged)
    );

    for _ in 0..10 {
        let _ = release.send(());
    }
    let report = collector.shutdown().await;
    assert_eq!(report.spans, u64::from(acknowledged));
    assert_eq!(consumed.try_iter().sum::<usize>(), acknowledged as usize);
}

#[tokio::test]
async fn zipkin_v2_json_is_accepted_and_normalised() {
    let collector = start(1 << 20).await;
    let url = format!("http://{}/api/v2/spans", collector.addrs().zipkin.unwrap());
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/traces/yelp.zipkin.json"
    ))
    .unwrap();
    let client = reqwest::Client::new();
    let response = client
        .post(&url)
        .header("content-type", JSON)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let response = client
        .post(&url)
        .header("content-type", JSON)
        .body("[{\"traceId\":")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Acknowledged means queued: the summary catches up as the pipeline drains.
    let mut summary = serde_json::Value::Null;
    for _ in 0..100 {
        summary = serde_json::from_str(&api_get(&collector, "/api/v1/summary").await).unwrap();
        if summary["spans"] == 16 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(summary["spans"], 16);
    assert!(
        summary["workloads"].as_array().unwrap().len() >= 5,
        "{summary}"
    );
    assert_eq!(collector.shutdown().await.spans, 16);
}

/// Slow or stuck HTTP clients cannot hold the server: a client that never finishes its
/// headers is cut off at the deadline, connections past the cap are closed at once, and the
/// server answers real requests as soon as a slot frees up.
#[tokio::test]
async fn slowloris_clients_are_cut_off_and_the_server_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let limits = HttpLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_millis(400),
    };
    let collector = Collector::start(
        ServeConfig {
            http_limits: limits,
            ..config(1 << 20, 100_000)
        },
        Pipeline::summary(Interner::new()),
    )
    .await
    .unwrap();
    let addr = collector.addrs().otlp_http.unwrap();
    let started = std::time::Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: meshlens\r\nContent-Ty")
            .await
            .unwrap();
        stalled.push(stream);
    }
    // Both slots are taken: a third connection is closed without an answer.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = third
        .write_all(b"GET /v1/traces HTTP/1.1\r\nHost: meshlens\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer))
        .await
        .expect("the refused connection is closed at once");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));

    // The stalled clients are cut off at the header deadline...
    for mut stream in stalled {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("a stalled client is disconnected");
    }
    assert!(started.elapsed() >= Duration::from_millis(400));

    // ... and real requests are served again.
    let response = Http::otlp(&collector)
        .post(PROTOBUF, envoy_request(4, 9).encode_to_vec())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(collector.shutdown().await.spans, 4);
}

/// Request bytes held at once are budgeted over every receiver: clients that declare large
/// bodies and send them slowly fill the budget, then further requests are refused at once
/// and retryably (503 + Retry-After, UNAVAILABLE over gRPC), and served again once the slow
/// ones are gone. Memory stays bounded however many connections are open.
#[tokio::test]
async fn request_bytes_in_flight_are_budgeted_and_past_the_budget_refused_retryably() {
    use tokio::io::AsyncWriteExt;

    // 1 MiB requests: four fill a 4 MiB budget.
    let collector = Collector::start(
        ServeConfig {
            max_inflight_bytes: 4 << 20,
            ..config(1 << 20, 100_000)
        },
        Pipeline::summary(Interner::new()),
    )
    .await
    .unwrap();
    let addr = collector.addrs().otlp_http.unwrap();
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nHost: meshlens\r\nContent-Type: {PROTOBUF}\r\n\
             Content-Length: {}\r\n\r\n\x0a\x05",
            1 << 20
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let http = Http::otlp(&collector);
    let response = http
        .post(PROTOBUF, envoy_request(4, 1).encode_to_vec())
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        rpc_status(response).await.code,
        tonic::Code::Unavailable as i32
    );

    let grpc_url = format!("http://{}", collector.addrs().otlp_grpc.unwrap());
    let mut client = TraceServiceClient::connect(grpc_url).await.unwrap();
    let refused = client.export(envoy_request(4, 2)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);

    let metrics = api_get(&collector, "/metrics").await;
    let busy = |receiver: &str| {
        metric(
            &metrics,
            &format!("meshlens_request_errors_total{{receiver=\"{receiver}\",reason=\"busy\"}}"),
        )
    };
    assert_eq!(busy("otlp_http_protobuf"), 1.0, "{metrics}");
    assert_eq!(busy("otlp_grpc"), 1.0, "{metrics}");

    // The slow clients go away: their reservations are given back.
    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = http
        .post(PROTOBUF, envoy_request(4, 3).encode_to_vec())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    client.export(envoy_request(4, 4)).await.unwrap();
    assert_eq!(collector.shutdown().await.spans, 8);
}
