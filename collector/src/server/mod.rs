//! `meshlens serve`: the receivers, the queue, the pipeline and the API, started and stopped
//! as one [`Collector`].

mod api;
pub mod auth;
mod body;
pub mod conn;
mod grpc;
mod http;
mod inflight;
mod ingest;
pub mod metrics;
mod pipeline;
mod queue;
mod record;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::intern::Interner;
use crate::normalize::Normalizer;
use crate::summary::Summary;
pub use inflight::DEFAULT_INFLIGHT_BYTES;
pub use pipeline::{PipelineReport, SpanSink};

/// OTLP's recommended gRPC message limit.
pub const DEFAULT_MAX_GRPC_REQUEST_BYTES: usize = 4 << 20;
pub const DEFAULT_MAX_HTTP_REQUEST_BYTES: usize = 20 << 20;
pub const DEFAULT_QUEUE_SPANS: usize = 200_000;
/// Bytes the queue holds at most (span records, paths and, with `--record`, the requests).
pub const DEFAULT_QUEUE_BYTES: usize = 256 << 20;
/// How long in-flight requests and open streams get to finish at shutdown before their
/// connections are closed; acknowledged spans are drained whatever happens.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A gRPC export that has not completed in this long is answered DEADLINE_EXCEEDED.
pub const GRPC_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent streams per gRPC connection (exporters use one or a few).
pub const GRPC_MAX_STREAMS: u32 = 100;

/// What to listen on and how much to hold. `None` disables a listener.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
    pub zipkin: Option<SocketAddr>,
    pub api: Option<SocketAddr>,
    pub max_grpc_request_bytes: usize,
    pub max_http_request_bytes: usize,
    pub queue_spans: usize,
    /// Request bytes the receivers hold at once ([`DEFAULT_INFLIGHT_BYTES`]).
    pub max_inflight_bytes: usize,
    pub record: Option<PathBuf>,
    /// An attribute giving how many requests a sampled span stands for.
    pub span_multiplier_key: Option<String>,
    /// Connection cap and header deadline of the HTTP listeners (OTLP/HTTP, Zipkin, API);
    /// the deadline bounds every listener's TLS handshake too.
    pub http_limits: conn::HttpLimits,
    /// TLS and the bearer token, for every listener.
    pub security: Security,
}

/// How clients prove themselves. The default: plain text, no token.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Every listener serves TLS only (mTLS with a client CA).
    pub tls: Option<tls::TlsFiles>,
    /// Every request but `GET /healthz` must carry `Authorization: Bearer <token>`.
    pub token: Option<auth::BearerToken>,
}

/// Where accepted spans go, and the API routes that read what they became.
#[derive(Debug)]
pub struct Pipeline {
    pub interner: Interner,
    pub sink: Box<dyn SpanSink>,
    pub api: axum::Router,
    /// Metrics computed at scrape time, served on `/metrics` with the collector's own.
    pub metrics: Vec<Box<dyn prometheus_client::collector::Collector>>,
}

impl Pipeline {
    /// Spans feed a [`Summary`] served at `GET /api/v1/summary`.
    pub fn summary(interner: Interner) -> Self {
        let summary = Arc::new(std::sync::Mutex::new(Summary::new(interner.clone())));
        let api = api::summary_router(summary.clone());
        let sink = move |spans: &[crate::span::Span]| match summary.lock() {
            Ok(mut summary) => summary.add(spans),
            Err(poisoned) => poisoned.into_inner().add(spans),
        };
        Self {
            interner,
            sink: Box::new(sink),
            api,
            metrics: Vec::new(),
        }
    }
}

impl Pipeline {
    /// Adds a consumer after the existing one(s) (each batch goes to both, in order) and its
    /// API routes.
    pub fn with(self, mut sink: impl SpanSink, api: axum::Router) -> Self {
        let mut first = self.sink;
        Self {
            interner: self.interner,
            sink: Box::new(move |spans: &[crate::span::Span]| {
                first.consume(spans);
                sink.consume(spans);
            }),
            api: self.api.merge(api),
            metrics: self.metrics,
        }
    }

    /// Adds metrics computed at scrape time.
    pub fn with_metrics(mut self, metrics: impl prometheus_client::collector::Collector) -> Self {
        self.metrics.push(Box::new(metrics));
        self
    }
}

impl std::fmt::Debug for dyn SpanSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpanSink")
    }
}

/// The addresses actually bound (port 0 resolved).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundAddrs {
    pub otlp_grpc: Option<SocketAddr>,
    pub otlp_http: Option<SocketAddr>,
    pub zipkin: Option<SocketAddr>,
    pub api: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the recording {path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the pipeline thread: {0}")]
    Pipeline(std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// A running collector. Dropping it without [`Collector::shutdown`] aborts the listeners.
#[derive(Debug)]
pub struct Collector {
    addrs: BoundAddrs,
    stop: watch::Sender<bool>,
    servers: JoinSet<()>,
    pipeline: std::thread::JoinHandle<PipelineReport>,
    metrics: Arc<metrics::IngestMetrics>,
}

impl Collector {
    /// Binds every listener (so a taken port fails here, before anything runs), then serves.
    pub async fn start(config: ServeConfig, pipeline: Pipeline) -> Result<Self, ServeError> {
        // Broken certificate files fail here, before any port is taken.
        let tls = config
            .security
            .tls
            .as_ref()
            .map(tls::Tls::load)
            .transpose()?;
        let token = config.security.token.clone();
        let grpc_listener = bind(config.otlp_grpc, "OTLP/gRPC").await?;
        let http_listener = bind(config.otlp_http, "OTLP/HTTP").await?;
        let zipkin_listener = bind(config.zipkin, "Zipkin").await?;
        let api_listener = bind(config.api, "the API").await?;
        let addrs = BoundAddrs {
            otlp_grpc: local_addr(&grpc_listener),
            otlp_http: local_addr(&http_listener),
            zipkin: local_addr(&zipkin_listener),
            api: local_addr(&api_listener),
        };

        let recorder = match &config.record {
            Some(path) => {
                Some(
                    record::Recorder::open(path).map_err(|source| ServeError::Record {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let metrics = Arc::new(metrics::IngestMetrics::default());
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        for collector in pipeline.metrics {
            registry.register_collector(collector);
        }
        let (sender, receiver) =
            queue::bounded(config.queue_spans, DEFAULT_QUEUE_BYTES, metrics.clone());
        let pipeline_thread = pipeline::spawn(receiver, recorder, pipeline.sink, metrics.clone())
            .map_err(ServeError::Pipeline)?;
        let mut normalizer = Normalizer::new(pipeline.interner);
        if let Some(key) = &config.span_multiplier_key {
            normalizer = normalizer.with_multiplier_key(key.as_str());
        }
        let ingest = Arc::new(ingest::Ingest::new(
            normalizer,
            sender,
            metrics.clone(),
            config.record.is_some(),
            inflight::InflightBudget::new(config.max_inflight_bytes),
        ));

        let (stop, stopped) = watch::channel(false);
        let mut servers = JoinSet::new();
        let limits = config.http_limits;
        announce(&addrs, tls.as_ref(), token.is_some());
        if let Some(listener) = grpc_listener {
            let service =
                grpc::service(ingest.clone(), config.max_grpc_request_bytes, token.clone());
            let shutdown = until_stopped(stopped.clone());
            let tls = tls.as_ref().map(|tls| tls.grpc.clone());
            let stopped = stopped.clone();
            servers.spawn(async move {
                // Slow or stuck clients: a deadline per request, bounded streams per
                // connection, keep-alive pings that find dead peers.
                let server = tonic::transport::Server::builder()
                    .timeout(GRPC_REQUEST_TIMEOUT)
                    .max_concurrent_streams(GRPC_MAX_STREAMS)
                    .http2_keepalive_interval(Some(Duration::from_secs(30)))
                    .http2_keepalive_timeout(Some(Duration::from_secs(10)))
                    .add_service(service);
                let result = match tls {
                    None => {
                        let incoming = tonic::transport::server::TcpIncoming::from(listener);
                        server
                            .serve_with_incoming_shutdown(incoming, shutdown)
                            .await
                    }
                    Some(acceptor) => {
                        let incoming =
                            conn::tls_incoming(listener, acceptor, limits, stopped, "OTLP/gRPC");
                        server
                            .serve_with_incoming_shutdown(incoming, shutdown)
                            .await
                    }
                };
                if let Err(error) = result {
                    tracing::error!(%error, "OTLP/gRPC server failed");
                }
            });
        }
        let state = |max_request_bytes| http::HttpState {
            ingest: ingest.clone(),
            max_request_bytes,
        };
        let acceptor = tls.as_ref().map(|tls| tls.http.clone());
        let mut serve = |listener, router, what| {
            spawn_http(
                &mut servers,
                listener,
                router,
                stopped.clone(),
                limits,
                what,
                acceptor.clone(),
            );
        };
        if let Some(listener) = http_listener {
            let router = http::otlp_router(state(config.max_http_request_bytes), token.clone());
            serve(listener, router, "OTLP/HTTP");
        }
        if let Some(listener) = zipkin_listener {
            let router = http::zipkin_router(state(config.max_http_request_bytes), token.clone());
            serve(listener, router, "Zipkin");
        }
        if let Some(listener) = api_listener {
            let router = api::router(Arc::new(registry), pipeline.api, token, metrics.clone());
            serve(listener, router, "API");
        }
        drop(ingest);
        if let Some(tls) = tls {
            servers.spawn(tls.watch(stopped.clone()));
        }

        Ok(Self {
            addrs,
            stop,
            servers,
            pipeline: pipeline_thread,
            metrics,
        })
    }

    pub fn addrs(&self) -> BoundAddrs {
        self.addrs
    }

    pub fn metrics(&self) -> &metrics::IngestMetrics {
        &self.metrics
    }

    /// Stops accepting, lets in-flight requests finish, drains the queue into the sink and
    /// the recording, and reports what the pipeline did.
    pub async fn shutdown(mut self) -> PipelineReport {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.servers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                grace = ?SHUTDOWN_GRACE,
                "connections still open after the grace period: closing them"
            );
            self.servers.abort_all();
            while self.servers.join_next().await.is_some() {}
        }
        // Every sender (held by the servers' handlers) is gone now: the pipeline drains and ends.
        let pipeline = self.pipeline;
        match tokio::task::spawn_blocking(move || pipeline.join()).await {
            Ok(Ok(report)) => report,
            _ => {
                tracing::error!("the pipeline thread panicked");
                PipelineReport::default()
            }
        }
    }
}

async fn bind(
    addr: Option<SocketAddr>,
    what: &'static str,
) -> Result<Option<TcpListener>, ServeError> {
    match addr {
        None => Ok(None),
        Some(addr) => TcpListener::bind(addr)
            .await
            .map(Some)
            .map_err(|source| ServeError::Bind { what, addr, source }),
    }
}

fn local_addr(listener: &Option<TcpListener>) -> Option<SocketAddr> {
    listener.as_ref().and_then(|l| l.local_addr().ok())
}

async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|&stop| stop).await;
}

fn spawn_http(
    servers: &mut JoinSet<()>,
    listener: TcpListener,
    router: axum::Router,
    stopped: watch::Receiver<bool>,
    limits: conn::HttpLimits,
    what: &'static str,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    servers.spawn(conn::serve_http(
        listener, router, stopped, limits, what, tls,
    ));
}

/// Says at start which listeners take TLS (and client certificates) and the token.
fn announce(addrs: &BoundAddrs, tls: Option<&tls::Tls>, token: bool) {
    for (what, addr) in [
        ("OTLP/gRPC", addrs.otlp_grpc),
        ("OTLP/HTTP", addrs.otlp_http),
        ("Zipkin", addrs.zipkin),
        ("API", addrs.api),
    ] {
        let (Some(addr), Some(tls)) = (addr, tls) else {
            continue;
        };
        let clients = if tls.mutual {
            "client certificates required"
        } else {
            "no client certificates"
        };
        tracing::info!(listener = what, %addr, "serving TLS only, {clients}");
    }
    if token {
        tracing::info!("a bearer token is required on every request but GET /healthz");
    }
}
