//! Senders to trace receivers: OTLP/gRPC (`TraceService/Export`), OTLP/HTTP with protobuf or
//! JSON bodies, and Zipkin v2 JSON. A refused attempt is retried as the OTLP specification
//! asks — HTTP 429/502/503/504 after `Retry-After` when given, gRPC `UNAVAILABLE` (and
//! `RESOURCE_EXHAUSTED` with `RetryInfo`) after its retry delay — else with exponential
//! backoff, up to a deadline; what the receiver kept is counted from its answer
//! (`partial_success.rejected_spans`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::transport::Channel;
use tonic_types::StatusExt;

use crate::formats::{otlp_json, zipkin_encode};

/// How spans travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Grpc,
    HttpProtobuf,
    HttpJson,
    Zipkin,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http-protobuf",
            Self::HttpJson => "http-json",
            Self::Zipkin => "zipkin",
        }
    }

    /// The receiver's usual port.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Grpc => 4317,
            Self::HttpProtobuf | Self::HttpJson => 4318,
            Self::Zipkin => 9411,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" | "otlp-grpc" => Ok(Self::Grpc),
            "http-protobuf" | "http/protobuf" | "http" => Ok(Self::HttpProtobuf),
            "http-json" | "http/json" => Ok(Self::HttpJson),
            "zipkin" => Ok(Self::Zipkin),
            other => Err(format!(
                "unknown protocol {other:?} (grpc, http-protobuf, http-json or zipkin)"
            )),
        }
    }
}

/// Why spans could not be sent at all.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{0:?} is not a target URL or HOST:PORT")]
    Target(String),
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
}

/// How long to keep trying one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// No attempt starts later than this after the first.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
        }
    }
}

/// What became of one request's spans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub spans: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Given up on.
    pub failed: u64,
    pub retries: u32,
}

/// One attempt's answer.
#[derive(Debug)]
enum Attempt {
    /// Taken; this many spans refused in `partial_success`.
    Accepted(u64),
    /// Refused for now: try again (after this long, when the receiver said).
    Retry(Option<Duration>, String),
    /// Refused for good.
    Failed(String),
}

#[derive(Debug)]
enum Transport {
    Grpc(TraceServiceClient<Channel>),
    Http {
        client: reqwest::Client,
        url: String,
    },
}

/// A connection to one receiver.
#[derive(Debug)]
pub struct Sender {
    protocol: Protocol,
    transport: Transport,
    retry: RetryPolicy,
    /// The last permanent or final error, for the user.
    last_error: Option<String>,
}

/// `host:port`, `http://host:port` or `http://host:port/path`: the URL to send to, with the
/// protocol's standard path when none is given.
pub fn target_url(protocol: Protocol, target: &str) -> Result<String, SendError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(SendError::Target(target.to_owned()));
    }
    let with_scheme = if target.contains("://") {
        target.to_owned()
    } else if let Ok(port) = target.parse::<u16>() {
        format!("http://127.0.0.1:{port}")
    } else {
        format!("http://{target}")
    };
    let (scheme, rest) = with_scheme
        .split_once("://")
        .ok_or_else(|| SendError::Target(target.to_owned()))?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.starts_with('/') {
        return Err(SendError::Target(target.to_owned()));
    }
    let has_path = rest.contains('/') && !rest.ends_with('/');
    let base = with_scheme.trim_end_matches('/');
    Ok(match (protocol, has_path) {
        (Protocol::Grpc, _) | (_, true) => base.to_owned(),
        (Protocol::HttpProtobuf | Protocol::HttpJson, false) => format!("{base}/v1/traces"),
        (Protocol::Zipkin, false) => format!("{base}/api/v2/spans"),
    })
}

impl Sender {
    /// Connects (gRPC) or prepares a client (HTTP) for `target`.
    pub async fn connect(protocol: Protocol, target: &str) -> Result<Self, SendError> {
        let url = target_url(protocol, target)?;
        let transport = match protocol {
            Protocol::Grpc => {
                let endpoint = Channel::from_shared(url.clone())
                    .map_err(|_| SendError::Target(target.to_owned()))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(30));
                let channel = endpoint.connect().await.map_err(|e| SendError::Connect {
                    target: url.clone(),
                    message: error_chain(&e),
                })?;
                Transport::Grpc(
                    TraceServiceClient::new(channel)
                        .max_decoding_message_size(16 << 20)
                        .max_encoding_message_size(64 << 20),
                )
            }
            _ => Transport::Http {
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| SendError::Connect {
                        target: url.clone(),
                        message: error_chain(&e),
                    })?,
                url,
            },
        };
        Ok(Self {
            protocol,
            transport,
            retry: RetryPolicy::default(),
            last_error: None,
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The error that made the last request fail, if it did.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Sends `request` (of `spans` spans), retrying as the receiver asks.
    pub async fn send(&mut self, request: &ExportTraceServiceRequest, spans: u64) -> Delivery {
        let body = self.encode(request);
        let started = tokio::time::Instant::now();
        let mut backoff = self.retry.first_backoff;
        let mut delivery = Delivery {
            spans,
            ..Delivery::default()
        };
        loop {
            match self.attempt(request, &body).await {
                Attempt::Accepted(rejected) => {
                    delivery.rejected = rejected.min(spans);
                    delivery.accepted = spans - delivery.rejected;
                    self.last_error = None;
                    return delivery;
                }
                Attempt::Failed(message) => {
                    self.last_error = Some(message);
                    delivery.failed = spans;
                    return delivery;
                }
                Attempt::Retry(after, message) => {
                    let wait = after.unwrap_or(backoff).min(self.retry.max_backoff);
                    if started.elapsed() + wait > self.retry.deadline {
                        self.last_error = Some(format!("gave up retrying: {message}"));
                        delivery.failed = spans;
                        return delivery;
                    }
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.retry.max_backoff);
                    delivery.retries += 1;
                }
            }
        }
    }

    fn encode(&self, request: &ExportTraceServiceRequest) -> Vec<u8> {
        let mut body = Vec::new();
        match self.protocol {
            Protocol::Grpc => {}
            Protocol::HttpProtobuf => body = request.encode_to_vec(),
            Protocol::HttpJson => otlp_json::encode_request(request, &mut body),
            Protocol::Zipkin => zipkin_encode::encode_spans(request, &mut body),
        }
        body
    }

    async fn attempt(&mut self, request: &ExportTraceServiceRequest, body: &[u8]) -> Attempt {
        match &mut self.transport {
            Transport::Grpc(client) => match client.export(request.clone()).await {
                Ok(response) => Attempt::Accepted(rejected(response.get_ref())),
                Err(status) => grpc_refusal(&status),
            },
            Transport::Http { client, url } => {
                let content_type = match self.protocol {
                    Protocol::HttpProtobuf => "application/x-protobuf",
                    _ => "application/json",
                };
                let response = client
                    .post(url.as_str())
                    .header("content-type", content_type)
                    .body(body.to_vec())
                    .send()
                    .await;
                match response {
                    Ok(response) => http_answer(self.protocol, response).await,
                    // Connection refused or reset: the receiver may be restarting.
                    Err(error) => Attempt::Retry(None, error_chain(&error)),
                }
            }
        }
    }
}

fn rejected(response: &ExportTraceServiceResponse) -> u64 {
    response
        .partial_success
        .as_ref()
        .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0))
}

fn grpc_refusal(status: &tonic::Status) -> Attempt {
    let delay = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    let message = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        tonic::Code::Unavailable
        | tonic::Code::Cancelled
        | tonic::Code::DeadlineExceeded
        | tonic::Code::Aborted
        | tonic::Code::OutOfRange
        | tonic::Code::DataLoss => Attempt::Retry(delay, message),
        // Retryable only when the server says when (OTLP spec).
        tonic::Code::ResourceExhausted if delay.is_some() => Attempt::Retry(delay, message),
        _ => Attempt::Failed(message),
    }
}

async fn http_answer(protocol: Protocol, response: reqwest::Response) -> Attempt {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.unwrap_or_default();
    match status {
        200..=299 => Attempt::Accepted(match protocol {
            Protocol::HttpProtobuf => ExportTraceServiceResponse::decode(body.as_ref())
                .map(|r| rejected(&r))
                .unwrap_or(0),
            Protocol::HttpJson => json_rejected(&body),
            _ => 0,
        }),
        429 | 502 | 503 | 504 => Attempt::Retry(retry_after, format!("HTTP {status}")),
        _ => Attempt::Failed(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )),
    }
}

/// `partialSuccess.rejectedSpans` of an OTLP/JSON answer (a number or, as int64s are in
/// OTLP JSON, a string).
fn json_rejected(body: &[u8]) -> u64 {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    let field = value
        .get("partialSuccess")
        .or_else(|| value.get("partial_success"))
        .and_then(|p| p.get("rejectedSpans").or_else(|| p.get("rejected_spans")));
    match field {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_get_the_protocol_path() {
        let url = |p, t| target_url(p, t).ok();
        assert_eq!(
            url(Protocol::Grpc, "127.0.0.1:4317").as_deref(),
            Some("http://127.0.0.1:4317")
        );
        assert_eq!(
            url(Protocol::HttpJson, "http://127.0.0.1:4318").as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            url(Protocol::Zipkin, "localhost:9411/").as_deref(),
            Some("http://localhost:9411/api/v2/spans")
        );
        assert_eq!(
            url(Protocol::HttpProtobuf, "http://h:1/custom/traces").as_deref(),
            Some("http://h:1/custom/traces")
        );
        assert_eq!(
            url(Protocol::HttpProtobuf, "4318").as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert!(target_url(Protocol::Grpc, "").is_err());
        assert!(target_url(Protocol::Grpc, "ftp://x").is_err());
    }

    #[test]
    fn protocols_parse_and_json_partial_success_reads() {
        assert_eq!("http/protobuf".parse(), Ok(Protocol::HttpProtobuf));
        assert_eq!("GRPC".parse(), Ok(Protocol::Grpc));
        assert!("smtp".parse::<Protocol>().is_err());
        assert_eq!(
            json_rejected(br#"{"partialSuccess":{"rejectedSpans":"3"}}"#),
            3
        );
        assert_eq!(
            json_rejected(br#"{"partialSuccess":{"rejectedSpans":2}}"#),
            2
        );
        assert_eq!(json_rejected(b"{}"), 0);
        assert_eq!(json_rejected(b"not json"), 0);
    }

    #[test]
    fn grpc_unavailable_is_retried_with_its_delay_and_invalid_argument_is_not() {
        let unavailable = tonic::Status::unavailable("queue full");
        assert!(matches!(
            grpc_refusal(&unavailable),
            Attempt::Retry(None, _)
        ));
        let invalid = tonic::Status::invalid_argument("bad");
        assert!(matches!(grpc_refusal(&invalid), Attempt::Failed(_)));
        let exhausted = tonic::Status::resource_exhausted("too big");
        assert!(matches!(grpc_refusal(&exhausted), Attempt::Failed(_)));
    }
}
