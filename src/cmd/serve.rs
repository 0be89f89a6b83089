//! `meshlens serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use meshlens_analyzer::AnalyzerConfig;
use meshlens_analyzer::anomaly::AnomalyConfig;
use meshlens_analyzer::anomaly::AnomalyEvent;
use meshlens_analyzer::api::{self, parse_duration};
use meshlens_analyzer::conformance::live::{LivePolicies, PolicySource};
use meshlens_analyzer::live::{Live, Ticker, now_ms};
use meshlens_analyzer::servicegraph::ServiceGraphMetrics;
use meshlens_collector::Interner;
use meshlens_collector::server::auth::BearerToken;
use meshlens_collector::server::conn::HttpLimits;
use meshlens_collector::server::tls::{self, TlsFiles};
use meshlens_collector::server::{
    BoundAddrs, Collector, DEFAULT_MAX_GRPC_REQUEST_BYTES, DEFAULT_MAX_HTTP_REQUEST_BYTES,
    DEFAULT_QUEUE_SPANS, Pipeline, PipelineReport, Security, ServeConfig,
};
use meshlens_policies::eval;

use super::listen::{Listen, parse_bytes};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// OTLP/gRPC listener: IP:PORT, PORT (loopback) or off.
    #[arg(
        long,
        env = "MESHLENS_OTLP_GRPC",
        default_value = "127.0.0.1:4317",
        value_name = "ADDR"
    )]
    otlp_grpc: Listen,
    /// OTLP/HTTP listener (POST /v1/traces): IP:PORT, PORT (loopback) or off.
    #[arg(
        long,
        env = "MESHLENS_OTLP_HTTP",
        default_value = "127.0.0.1:4318",
        value_name = "ADDR"
    )]
    otlp_http: Listen,
    /// Zipkin v2 listener (POST /api/v2/spans): IP:PORT, PORT (loopback) or off.
    #[arg(
        long,
        env = "MESHLENS_ZIPKIN",
        default_value = "127.0.0.1:9411",
        value_name = "ADDR"
    )]
    zipkin: Listen,
    /// API listener (/metrics, /healthz, /api/v1/...): IP:PORT, PORT (loopback) or off.
    #[arg(
        long,
        env = "MESHLENS_API",
        default_value = "127.0.0.1:9464",
        value_name = "ADDR"
    )]
    api: Listen,
    /// Largest accepted request, after decompression [default: 4MiB for gRPC, 20MiB for HTTP].
    #[arg(long, env = "MESHLENS_MAX_REQUEST_BYTES", value_parser = parse_bytes, value_name = "SIZE")]
    max_request_bytes: Option<usize>,
    /// Spans held between the receivers and the pipeline; beyond it clients are told to retry.
    #[arg(long, env = "MESHLENS_QUEUE_SPANS", default_value_t = DEFAULT_QUEUE_SPANS, value_name = "N")]
    queue_spans: usize,
    /// Request bytes held at once over all receivers: each request reserves its declared
    /// length (or the size limit) before its body is read; beyond it clients are told to retry.
    #[arg(long, env = "MESHLENS_MAX_INFLIGHT_BYTES", default_value = "256MiB", value_parser = parse_bytes, value_name = "SIZE")]
    max_inflight_bytes: usize,
    /// Append every accepted batch to FILE as OTLP JSON lines.
    #[arg(long, env = "MESHLENS_RECORD", value_name = "FILE")]
    record: Option<PathBuf>,
    /// How long a client or server half waits for its other half before it becomes an edge
    /// to a virtual or user node.
    #[arg(long, env = "MESHLENS_PAIR_TTL", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pair_ttl: Duration,
    /// Halves waiting at most; beyond it new halves are dropped and counted.
    #[arg(
        long,
        env = "MESHLENS_PAIR_MAX_ITEMS",
        default_value_t = 100_000,
        value_name = "N"
    )]
    pair_max_items: usize,
    /// Anomaly thresholds (YAML); defaults are documented in the README.
    #[arg(long, env = "MESHLENS_ANOMALY_CONFIG", value_name = "FILE")]
    anomaly_config: Option<PathBuf>,
    /// Span attribute giving how many requests a sampled span stands for (e.g. SampleRate);
    /// W3C tracestate `ot=th:` thresholds are always honoured.
    #[arg(long, env = "MESHLENS_SPAN_MULTIPLIER_KEY", value_name = "KEY")]
    span_multiplier_key: Option<String>,
    /// AuthorizationPolicy files or directories to hold the traffic against: violations and
    /// RBAC denials become anomalies. Reloaded when the files change and on SIGHUP; a broken
    /// edit keeps the last good set.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    policies: Vec<PathBuf>,
    /// Kubernetes manifests for the policy checks: callers' service accounts, workloads' labels.
    #[arg(long, num_args = 1.., value_name = "PATH", requires = "policies")]
    inventory: Vec<PathBuf>,
    /// Namespace whose policies apply mesh-wide (meshConfig.rootNamespace).
    #[arg(long, default_value = "istio-system", value_name = "NS")]
    root_namespace: String,
    /// The mesh's trust domain, for principals.
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    trust_domain: String,
    /// Serve TLS only on every listener with this PEM certificate (chain); needs --tls-key.
    /// Re-read when the file changes.
    #[arg(
        long,
        env = "MESHLENS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "MESHLENS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate signed by a CA in this PEM bundle.
    #[arg(
        long,
        env = "MESHLENS_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_client_ca: Option<PathBuf>,
    /// Require `Authorization: Bearer <token>` on every request (GET /healthz excepted); the
    /// token is the file's content, surrounding whitespace trimmed.
    #[arg(long, env = "MESHLENS_AUTH_TOKEN_FILE", value_name = "FILE")]
    auth_token_file: Option<PathBuf>,
}

impl ServeArgs {
    /// The token file, for `tui --connect`, which shares these flags.
    pub(super) fn auth_token_file(&self) -> Option<&std::path::Path> {
        self.auth_token_file.as_deref()
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let prepared = prepare(args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(prepared))
}

/// What the flags ask for, read and checked: configuration, anomaly thresholds, policies.
#[derive(Debug)]
pub(super) struct Prepared {
    pub config: ServeConfig,
    pub analyzer: AnalyzerConfig,
    pub anomalies: AnomalyConfig,
    pub policies: Option<Arc<LivePolicies>>,
}

pub(super) fn prepare(args: ServeArgs) -> anyhow::Result<Prepared> {
    let analyzer = AnalyzerConfig {
        pair_ttl: args.pair_ttl,
        max_items: args.pair_max_items,
        ..AnalyzerConfig::default()
    };
    let anomalies = match &args.anomaly_config {
        Some(path) => AnomalyConfig::from_yaml(path.as_path())?,
        None => AnomalyConfig::default(),
    };
    let policies = if args.policies.is_empty() {
        None
    } else {
        let source = PolicySource {
            policies: args.policies.clone(),
            inventory: args.inventory.clone(),
            options: eval::Options {
                root_namespace: args.root_namespace.clone(),
                trust_domain: args.trust_domain.clone(),
            },
        };
        let policies = LivePolicies::new(source, now_ms())
            .map_err(|e| anyhow::anyhow!("cannot load the policies: {e}"))?;
        Some(Arc::new(policies))
    };
    let security = security(&args)?;
    let config = ServeConfig {
        otlp_grpc: args.otlp_grpc.0,
        otlp_http: args.otlp_http.0,
        zipkin: args.zipkin.0,
        api: args.api.0,
        max_grpc_request_bytes: args
            .max_request_bytes
            .unwrap_or(DEFAULT_MAX_GRPC_REQUEST_BYTES),
        max_http_request_bytes: args
            .max_request_bytes
            .unwrap_or(DEFAULT_MAX_HTTP_REQUEST_BYTES),
        queue_spans: args.queue_spans.max(1),
        max_inflight_bytes: args.max_inflight_bytes,
        record: args.record,
        span_multiplier_key: args.span_multiplier_key,
        http_limits: HttpLimits::default(),
        security,
    };
    Ok(Prepared {
        config,
        analyzer,
        anomalies,
        policies,
    })
}

/// TLS and the token, checked now: a broken certificate, key or token file is a startup error
/// naming the file (exit 2), before any port is bound.
fn security(args: &ServeArgs) -> anyhow::Result<Security> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.tls_client_ca.clone(),
        }),
        // clap's `requires` makes these usage errors; kept for callers that build the args.
        (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key"),
        (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert"),
        (None, None) if args.tls_client_ca.is_some() => {
            anyhow::bail!("--tls-client-ca needs --tls-cert and --tls-key")
        }
        (None, None) => None,
    };
    if let Some(files) = &tls {
        tls::check(files)?;
    }
    let token = args
        .auth_token_file
        .as_deref()
        .map(BearerToken::from_file)
        .transpose()?;
    Ok(Security { tls, token })
}

async fn serve(prepared: Prepared) -> anyhow::Result<ExitCode> {
    let security = prepared.config.security.clone();
    let running = start(prepared, Ticking::Standard).await?;
    let addrs = running.addrs();
    let mut exposed = false;
    for (name, addr) in [
        ("otlp_grpc", addrs.otlp_grpc),
        ("otlp_http", addrs.otlp_http),
        ("zipkin", addrs.zipkin),
        ("api", addrs.api),
    ] {
        if let Some(addr) = addr {
            exposed |= warn_if_exposed(name, addr);
        }
    }
    if exposed {
        warn_if_unguarded(&security);
    }
    // One stable, machine-readable line: scripts and tests that bind port 0 read it.
    println!("{}", listening_line(addrs));
    wait_for_signal(&running.live).await?;
    tracing::info!("shutting down: draining the queue");
    let report = running.stop().await;
    tracing::info!(
        batches = report.batches,
        spans = report.spans,
        recorded_batches = report.recorded_batches,
        "stopped"
    );
    Ok(if report.record_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How the analyzer's clock ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ticking {
    /// As `serve` runs: expiry every second, an observation every 5 s.
    Standard,
    /// This many times faster (the demo's compressed timeline).
    Scaled(f64),
}

/// A collector and its live analyzer, started as `meshlens serve` starts them.
#[derive(Debug)]
pub(super) struct Running {
    pub live: Live,
    collector: Collector,
    ticker: Option<TickerGuard>,
}

#[derive(Debug)]
enum TickerGuard {
    Standard(#[allow(dead_code)] Ticker),
    Scaled(#[allow(dead_code)] ScaledTicker),
}

impl Running {
    pub fn addrs(&self) -> BoundAddrs {
        self.collector.addrs()
    }

    /// Ends the streams, stops the listeners, drains the queue (and the recording), then
    /// stops the ticker.
    pub async fn stop(mut self) -> PipelineReport {
        self.live.close();
        let report = self.collector.shutdown().await;
        drop(self.ticker.take());
        report
    }
}

/// Starts the live analyzer (with the policy checks, when given) and the collector feeding
/// it: what `meshlens serve` runs, and `meshlens demo` in-process.
pub(super) async fn start(prepared: Prepared, ticking: Ticking) -> anyhow::Result<Running> {
    let Prepared {
        config,
        analyzer,
        anomalies,
        policies,
    } = prepared;
    let interner = Interner::new();
    let live = Live::new(interner.clone(), analyzer, anomalies);
    if let Some(policies) = policies {
        tracing::info!(
            policies = policies.status().policies,
            "checking traffic against the authorization policies"
        );
        live.check_policies(policies);
    }
    let sink = {
        let live = live.clone();
        move |spans: &[meshlens_collector::Span]| live.ingest(spans)
    };
    let pipeline = Pipeline::summary(interner)
        .with(sink, api::router(live.clone()))
        .with_metrics(ServiceGraphMetrics::new(live.clone()));
    let collector = Collector::start(config, pipeline).await?;
    let ticker = match ticking {
        Ticking::Standard => TickerGuard::Standard(
            live.spawn_ticker()
                .context("cannot start the analyzer's ticker")?,
        ),
        Ticking::Scaled(scale) => TickerGuard::Scaled(
            ScaledTicker::spawn(live.clone(), scale)
                .context("cannot start the analyzer's ticker")?,
        ),
    };
    Ok(Running {
        live,
        collector,
        ticker: Some(ticker),
    })
}

/// `meshlens: listening otlp_grpc=… otlp_http=… zipkin=… api=…`
pub(super) fn listening_line(addrs: BoundAddrs) -> String {
    format!(
        "meshlens: listening otlp_grpc={} otlp_http={} zipkin={} api={}",
        shown(addrs.otlp_grpc),
        shown(addrs.otlp_http),
        shown(addrs.zipkin),
        shown(addrs.api)
    )
}

/// [`Live::spawn_ticker`] on a faster clock: expiry every `1/scale` s, an observation every
/// `5/scale` s. (Belongs in `Live` as `spawn_ticker_every`; kept here until it moves.)
#[derive(Debug)]
pub(super) struct ScaledTicker {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl ScaledTicker {
    fn spawn(live: Live, scale: f64) -> std::io::Result<Self> {
        let scale = if scale.is_finite() && scale >= 1.0 {
            scale
        } else {
            1.0
        };
        let tick = Duration::from_secs_f64(1.0 / scale);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::Builder::new()
            .name("meshlens-analyzer-tick".into())
            .spawn(move || {
                let mut ticks = 0u64;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    ticks += 1;
                    let observe = ticks.is_multiple_of(5);
                    if observe
                        && let Some(Err(error)) =
                            live.policies().and_then(|p| p.reload_if_changed(now_ms()))
                    {
                        tracing::error!("authorization policies not reloaded: {error}");
                    }
                    for event in live.tick(observe) {
                        match event {
                            AnomalyEvent::Started(a) => tracing::warn!(
                                kind = ?a.kind, severity = ?a.severity, "anomaly: {}", a.message
                            ),
                            AnomalyEvent::Ended(a) => {
                                tracing::info!(kind = ?a.kind, "anomaly ended: {}", a.message)
                            }
                        }
                    }
                }
            })?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for ScaledTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn shown(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "off".to_owned(), |a| a.to_string())
}

fn warn_if_exposed(name: &str, addr: SocketAddr) -> bool {
    let exposed = !addr.ip().is_loopback();
    if exposed {
        tracing::warn!(listener = name, %addr, "listening beyond loopback: reachable from other hosts");
    }
    exposed
}

/// Listeners reachable from other hosts without TLS or without any client check.
fn warn_if_unguarded(security: &Security) {
    if security.tls.is_none() {
        tracing::warn!(
            "no TLS: spans, API answers and any token travel in clear text (--tls-cert, --tls-key)"
        );
    }
    let client_certificates = security
        .tls
        .as_ref()
        .is_some_and(|tls| tls.client_ca.is_some());
    if security.token.is_none() && !client_certificates {
        tracing::warn!(
            "anyone who reaches the listeners can send spans and read the API \
             (--auth-token-file, --tls-client-ca)"
        );
    }
}

/// Returns on SIGINT or SIGTERM; SIGHUP reloads the policies and goes on waiting.
async fn wait_for_signal(live: &Live) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
        loop {
            tokio::select! {
                result = tokio::signal::ctrl_c() => break result.context("cannot watch SIGINT")?,
                _ = terminate.recv() => break,
                _ = hangup.recv() => {
                    let live = live.clone();
                    // Reading files blocks: off the runtime's workers.
                    let _ = tokio::task::spawn_blocking(move || live.reload_policies()).await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = live;
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot watch Ctrl-C")?;
    Ok(())
}
