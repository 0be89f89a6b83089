//! Senders to trace receivers: OTLP/gRPC (`TraceService/Export`), OTLP/HTTP with protobuf or
//! JSON bodies, and Zipkin v2 JSON. A refused attempt is retried as the OTLP specification
//! asks — HTTP 429/502/503/504 after `Retry-After` when given, gRPC `UNAVAILABLE` (and
//! `RESOURCE_EXHAUSTED` with `RetryInfo`) after its retry delay — else with exponential
//! backoff, up to a deadline; what the receiver kept is counted from its answer
//! (`partial_success.rejected_spans`).
//!
//! A receiver that asks for a bearer token gets `Authorization: Bearer <token>` on every
//! request (an HTTP header, gRPC metadata); an answer refusing it (HTTP 401, gRPC
//! `UNAUTHENTICATED`) is never retried. gRPC can run over TLS ([`ClientTls`]: the CA to trust,
//! a client certificate for mTLS); the HTTP senders cannot (reqwest's rustls would need a
//! process-wide crypto provider), and say so rather than send in clear text.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic_types::StatusExt;

use crate::formats::{otlp_json, zipkin_encode};
use crate::server::auth::BearerToken;
use crate::server::tls::{self, TlsError};

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
    /// TLS asked for where it cannot be had, or an `https://` target without a CA to trust.
    #[error("{0}")]
    Tls(String),
    /// The receiver refused the request's credentials (HTTP 401, gRPC `UNAUTHENTICATED`, a
    /// TLS alert about the client certificate): retrying cannot help.
    #[error("{target} {refused} ({message})")]
    Unauthenticated {
        target: String,
        credential: Credential,
        /// Whether the client presented that credential at all.
        presented: bool,
        /// "refused the bearer token", "asks for a client certificate"…
        refused: &'static str,
        message: String,
    },
}

/// What a receiver can refuse for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The bearer token: HTTP 401, gRPC `UNAUTHENTICATED`.
    Token,
    /// The client certificate (mutual TLS): a TLS alert after the handshake (TLS 1.3 sends
    /// it once the client has finished).
    Certificate,
}

impl SendError {
    /// An [`SendError::Unauthenticated`] for `target`; `presented`: whether the client sent
    /// the credential refused.
    pub fn unauthenticated(
        target: &str,
        credential: Credential,
        presented: bool,
        message: String,
    ) -> Self {
        let refused = match (credential, presented) {
            (Credential::Token, true) => "refused the bearer token",
            (Credential::Token, false) => "asks for a bearer token",
            (Credential::Certificate, true) => "refused the client certificate",
            (Credential::Certificate, false) => "asks for a client certificate",
        };
        Self::Unauthenticated {
            target: target.to_owned(),
            credential,
            presented,
            refused,
            message,
        }
    }
}

/// The message for TLS with an HTTP protocol.
const TLS_GRPC_ONLY: &str = "TLS is supported for --protocol grpc only: the OTLP/HTTP and \
                             Zipkin senders have no TLS backend (reqwest's rustls would need a \
                             process-wide crypto provider)";

/// TLS of the gRPC sender: the CAs to trust (not the system's: there is no trust store
/// here), a client certificate for mutual TLS, and the name the server's certificate must
/// carry (by default the target's host). rustls with ring.
#[derive(Clone)]
pub struct ClientTls {
    ca: Arc<[u8]>,
    identity: Option<Pair>,
    server_name: Option<String>,
}

/// A client certificate (chain) and its private key, PEM.
#[derive(Clone)]
struct Pair {
    cert: Arc<[u8]>,
    key: Arc<[u8]>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is never shown.
        f.debug_struct("ClientTls")
            .field("ca_bytes", &self.ca.len())
            .field("client_certificate", &self.identity.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl ClientTls {
    /// Reads and checks the CA bundle and, for mTLS, the client certificate (chain) and its
    /// key: files without PEM, or a key that is not the certificate's, are errors naming the
    /// file, here rather than at the handshake.
    pub fn from_files(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Self, TlsError> {
        let (ca_pem, _) = tls::read_certs_pem(ca, "CA certificate")?;
        let identity = match identity {
            None => None,
            Some((cert, key)) => {
                let (cert_pem, certs) = tls::read_certs_pem(cert, "client certificate")?;
                let (key_pem, private) = tls::read_key_pem(key, "client private key")?;
                let provider = rustls::crypto::ring::default_provider();
                tls::pair(cert, key, certs, private, &provider)?;
                Some(Pair {
                    cert: Arc::from(cert_pem),
                    key: Arc::from(key_pem),
                })
            }
        };
        Ok(Self {
            ca: Arc::from(ca_pem),
            identity,
            server_name: None,
        })
    }

    /// Checks the server's certificate against `name` instead of the target's host.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Whether a client certificate is presented.
    pub fn mutual(&self) -> bool {
        self.identity.is_some()
    }

    /// Whether the server at `url` refuses this client's certificate (or its lack of one),
    /// with the alert's text. TLS 1.3 servers say so only after the client has finished its
    /// handshake, so a connection looks made, and calls racing the alert fail as cancelled
    /// (retried) rather than with it: a connection of its own is made here, the HTTP/2
    /// preface sent and the server's first answer read. `None` when it answers, or when the
    /// probe fails otherwise (the real connection then tells).
    async fn refusal(&self, url: &str) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let uri = url.parse::<http::Uri>().ok()?;
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(443);
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = rustls_pki_types::ServerName::try_from(name.to_owned()).ok()?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.rustls().ok()?));
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect((host, port)).await?;
            let mut tls = connector.connect(name, tcp).await?;
            // The client preface and an empty SETTINGS frame.
            tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
                .await?;
            tls.flush().await?;
            let mut first = [0u8; 1];
            tls.read(&mut first).await
        };
        match tokio::time::timeout(Duration::from_secs(5), exchange).await {
            Ok(Err(error)) if certificate_refused(&error) => Some(error.to_string()),
            _ => None,
        }
    }

    /// The rustls configuration tonic builds from [`Self::tonic`], for [`Self::refusal`].
    fn rustls(&self) -> Result<rustls::ClientConfig, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            CertificateDer::pem_slice_iter(&self.ca).filter_map(Result::ok),
        );
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some(Pair { cert, key }) => {
                let certs = CertificateDer::pem_slice_iter(cert)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| rustls::Error::General("client certificate".to_owned()))?;
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|_| rustls::Error::General("client key".to_owned()))?;
                builder.with_client_auth_cert(certs, key)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(config)
    }

    fn tonic(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&*self.ca));
        if let Some(Pair { cert, key }) = &self.identity {
            config = config.identity(Identity::from_pem(&**cert, &**key));
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        config
    }
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
    /// A credential was refused: refused for good.
    Unauthenticated(Credential, String),
}

#[derive(Debug)]
enum Transport {
    Grpc {
        client: TraceServiceClient<Channel>,
        /// `Bearer <token>`, sent as metadata with every call.
        authorization: Option<AsciiMetadataValue>,
    },
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
    /// The credential the last request was refused for.
    refused: Option<Credential>,
    /// A bearer token goes with every request.
    token: bool,
    /// A client certificate is presented.
    certificate: bool,
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

/// [`target_url`] for a sender with or without TLS: a target without a scheme gets
/// `https://` with TLS; `https://` needs TLS (a CA to trust) and `http://` refuses it; TLS
/// is for gRPC only.
pub fn secured_url(protocol: Protocol, target: &str, tls: bool) -> Result<String, SendError> {
    let url = target_url(protocol, target)?;
    let https = url.starts_with("https://");
    if protocol != Protocol::Grpc {
        return if tls || https {
            Err(SendError::Tls(TLS_GRPC_ONLY.to_owned()))
        } else {
            Ok(url)
        };
    }
    match (tls, https) {
        (false, false) | (true, true) => Ok(url),
        (false, true) => Err(SendError::Tls(format!(
            "{url}: an https:// target needs the CA to trust (--tls-ca): there is no system \
             trust store here"
        ))),
        (true, false) if target.contains("://") => Err(SendError::Tls(format!(
            "{url}: TLS asked for (--tls-ca) but the target says http://: give https:// or \
             HOST:PORT"
        ))),
        (true, false) => Ok(format!("https://{}", url.trim_start_matches("http://"))),
    }
}

impl Sender {
    /// Connects (gRPC) or prepares a client (HTTP) for `target`, with `token` on every
    /// request and gRPC over `tls` when given (see [`secured_url`]).
    pub async fn connect(
        protocol: Protocol,
        target: &str,
        token: Option<&BearerToken>,
        tls: Option<&ClientTls>,
    ) -> Result<Self, SendError> {
        let url = secured_url(protocol, target, tls.is_some())?;
        let authorization = token.map(BearerToken::authorization);
        let transport = match protocol {
            Protocol::Grpc => {
                let mut endpoint = Channel::from_shared(url.clone())
                    .map_err(|_| SendError::Target(target.to_owned()))?
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(30));
                if let Some(tls) = tls {
                    endpoint = endpoint
                        .tls_config(tls.tonic())
                        .map_err(|e| SendError::Tls(format!("{url}: {}", error_chain(&e))))?;
                }
                let channel = endpoint.connect().await.map_err(|e| SendError::Connect {
                    target: url.clone(),
                    message: error_chain(&e),
                })?;
                if let Some(tls) = tls
                    && let Some(alert) = tls.refusal(&url).await
                {
                    return Err(SendError::unauthenticated(
                        target,
                        Credential::Certificate,
                        tls.mutual(),
                        alert,
                    ));
                }
                let authorization =
                    match authorization {
                        None => None,
                        Some(value) => {
                            let mut value = AsciiMetadataValue::try_from(value.as_bytes())
                                .map_err(|_| SendError::Connect {
                                    target: url.clone(),
                                    message: "the token cannot travel as gRPC metadata".to_owned(),
                                })?;
                            value.set_sensitive(true);
                            Some(value)
                        }
                    };
                Transport::Grpc {
                    client: TraceServiceClient::new(channel)
                        .max_decoding_message_size(16 << 20)
                        .max_encoding_message_size(64 << 20),
                    authorization,
                }
            }
            _ => {
                let mut headers = http::HeaderMap::new();
                if let Some(value) = authorization {
                    headers.insert(http::header::AUTHORIZATION, value);
                }
                Transport::Http {
                    client: reqwest::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .connect_timeout(Duration::from_secs(5))
                        .default_headers(headers)
                        .build()
                        .map_err(|e| SendError::Connect {
                            target: url.clone(),
                            message: error_chain(&e),
                        })?,
                    url,
                }
            }
        };
        Ok(Self {
            protocol,
            transport,
            retry: RetryPolicy::default(),
            last_error: None,
            refused: None,
            token: token.is_some(),
            certificate: tls.is_some_and(ClientTls::mutual),
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

    /// The credential the last request was refused for (HTTP 401, gRPC `UNAUTHENTICATED`,
    /// a TLS alert about the client certificate): the next requests will be refused too.
    pub fn refused(&self) -> Option<Credential> {
        self.refused
    }

    /// Whether this sender presents `credential`.
    pub fn presents(&self, credential: Credential) -> bool {
        match credential {
            Credential::Token => self.token,
            Credential::Certificate => self.certificate,
        }
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
        self.refused = None;
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
                Attempt::Unauthenticated(credential, message) => {
                    self.last_error = Some(message);
                    self.refused = Some(credential);
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
            Transport::Grpc {
                client,
                authorization,
            } => {
                let mut call = tonic::Request::new(request.clone());
                if let Some(value) = authorization {
                    call.metadata_mut().insert("authorization", value.clone());
                }
                match client.export(call).await {
                    Ok(response) => Attempt::Accepted(rejected(response.get_ref())),
                    Err(status) => grpc_refusal(&status),
                }
            }
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
    let mut message = format!("{:?}: {}", status.code(), status.message());
    // A transport error's cause (a TLS alert, a reset) is in its source.
    if let Some(source) = std::error::Error::source(status) {
        message.push_str(": ");
        message.push_str(&error_chain(source));
    }
    // Whatever the code (UNAVAILABLE or UNKNOWN), a refused certificate stays refused.
    if certificate_refused(status) {
        return Attempt::Unauthenticated(Credential::Certificate, message);
    }
    match status.code() {
        tonic::Code::Unavailable
        | tonic::Code::Cancelled
        | tonic::Code::DeadlineExceeded
        | tonic::Code::Aborted
        | tonic::Code::OutOfRange
        | tonic::Code::DataLoss => Attempt::Retry(delay, message),
        // Retryable only when the server says when (OTLP spec).
        tonic::Code::ResourceExhausted if delay.is_some() => Attempt::Retry(delay, message),
        tonic::Code::Unauthenticated => Attempt::Unauthenticated(Credential::Token, message),
        _ => Attempt::Failed(message),
    }
}

/// Whether the server's TLS alert among `error`'s causes refuses the client certificate.
/// By its message: by the time it reaches the call, rustls' error has become an
/// `io::Error` holding only the text ("received fatal alert: CertificateRequired").
fn certificate_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    const REFUSALS: [&str; 8] = [
        "CertificateRequired",
        "BadCertificate",
        "UnsupportedCertificate",
        "CertificateRevoked",
        "CertificateExpired",
        "CertificateUnknown",
        "UnknownCA",
        "AccessDenied",
    ];
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            let text = io.to_string();
            if let Some(alert) = text.strip_prefix("received fatal alert: ") {
                return REFUSALS.contains(&alert.trim());
            }
        }
        next = cause.source();
    }
    false
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
        // The body is a google.rpc.Status, binary for protobuf requests: not shown.
        401 => Attempt::Unauthenticated(Credential::Token, "HTTP 401 Unauthorized".to_owned()),
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
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

    #[test]
    fn tls_makes_the_grpc_url_https_and_is_refused_for_http() {
        let url = |p, t, tls| secured_url(p, t, tls).map_err(|e| e.to_string());
        assert_eq!(
            url(Protocol::Grpc, "127.0.0.1:4317", true).as_deref(),
            Ok("https://127.0.0.1:4317")
        );
        assert_eq!(
            url(Protocol::Grpc, "https://collector:4317", true).as_deref(),
            Ok("https://collector:4317")
        );
        assert_eq!(
            url(Protocol::Grpc, "collector:4317", false).as_deref(),
            Ok("http://collector:4317")
        );
        assert!(
            url(Protocol::Grpc, "https://collector:4317", false)
                .is_err_and(|e| e.contains("--tls-ca"))
        );
        assert!(url(Protocol::Grpc, "http://collector:4317", true).is_err());
        for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Zipkin] {
            assert!(url(protocol, "h:1", true).is_err_and(|e| e.contains("grpc only")));
            assert!(url(protocol, "https://h:1", false).is_err_and(|e| e.contains("grpc only")));
            assert!(url(protocol, "h:1", false).is_ok());
        }
    }

    #[test]
    fn unauthenticated_is_refused_for_good() {
        let status = tonic::Status::unauthenticated("missing or invalid bearer token");
        assert!(matches!(
            grpc_refusal(&status),
            Attempt::Unauthenticated(Credential::Token, _)
        ));
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: CertificateRequired",
        );
        assert!(certificate_refused(&alert));
        let other = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "received fatal alert: DecodeError",
        );
        assert!(!certificate_refused(&other));
        let error = SendError::unauthenticated("h:1", Credential::Token, false, "HTTP 401".into());
        assert_eq!(error.to_string(), "h:1 asks for a bearer token (HTTP 401)");
    }

    #[test]
    fn client_tls_files_are_checked_and_the_key_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert, key, other_key, garbage) = (
            write("cert.pem", &cert.pem()),
            write("key.pem", &key.serialize_pem()),
            write(
                "other.pem",
                &rcgen::KeyPair::generate().unwrap().serialize_pem(),
            ),
            write("garbage.pem", "not PEM\n"),
        );
        let tls = ClientTls::from_files(&cert, Some((&cert, &key))).unwrap();
        assert!(tls.mutual());
        let shown = format!("{tls:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        let error =
            |ca: &Path, identity| ClientTls::from_files(ca, identity).unwrap_err().to_string();
        let message = error(&garbage, None);
        assert!(message.contains("garbage.pem"), "{message}");
        let message = error(&dir.path().join("missing.pem"), None);
        assert!(
            message.contains("missing.pem") && message.contains("cannot read"),
            "{message}"
        );
        let message = error(&cert, Some((&cert, &other_key)));
        assert!(
            message.contains("other.pem") && message.contains("cert.pem"),
            "{message}"
        );
        let message = error(&cert, Some((&cert, &garbage)));
        assert!(message.contains("garbage.pem"), "{message}");
    }

    /// An OTLP/HTTP receiver on loopback that wants `Bearer right`.
    async fn receiver() -> String {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/v1/traces",
            post(|headers: http::HeaderMap| async move {
                if headers
                    .get("authorization")
                    .is_some_and(|v| v == "Bearer right")
                {
                    (http::StatusCode::OK, "{}")
                } else {
                    (http::StatusCode::UNAUTHORIZED, "{\"code\":16}")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr.to_string()
    }

    #[tokio::test]
    async fn the_token_goes_with_http_requests_and_a_401_is_not_retried() {
        let addr = receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let token = |text: &str| {
            let path = dir.path().join(text);
            std::fs::write(&path, format!("{text}\n")).unwrap();
            BearerToken::from_file(&path).unwrap()
        };
        let request = ExportTraceServiceRequest::default();

        let right = token("right");
        let mut sender = Sender::connect(Protocol::HttpJson, &addr, Some(&right), None)
            .await
            .unwrap();
        let delivery = sender.send(&request, 3).await;
        assert_eq!(delivery.accepted, 3, "{:?}", sender.last_error());
        assert_eq!(sender.refused(), None);

        for token in [Some(token("wrong")), None] {
            let mut sender = Sender::connect(Protocol::HttpJson, &addr, token.as_ref(), None)
                .await
                .unwrap();
            let delivery = sender.send(&request, 3).await;
            assert_eq!((delivery.failed, delivery.retries), (3, 0));
            assert_eq!(sender.refused(), Some(Credential::Token));
            assert_eq!(sender.presents(Credential::Token), token.is_some());
            assert_eq!(sender.last_error(), Some("HTTP 401 Unauthorized"));
        }
    }
}
