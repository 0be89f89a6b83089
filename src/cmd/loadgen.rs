//! `meshlens loadgen`: the simulated mesh's traffic as load against any trace receiver.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use meshlens_analyzer::api::parse_duration;
use meshlens_collector::server::auth::BearerToken;
use meshlens_collector::simulate::send::{ClientTls, Credential, secured_url};
use meshlens_collector::simulate::{
    LoadConfig, Protocol, Scenario, SendError, SendStats, StatsSnapshot, Timeline, Topology, run,
};
use serde::Serialize;
use tokio::sync::watch;

/// Exit codes, as `--help` tells them.
const AFTER_HELP: &str = "\
Exit status: 0 when every span was delivered; 1 when some were given up on, including when the
receiver refuses the bearer token (HTTP 401, gRPC UNAUTHENTICATED) or the client certificate:
not retried, every connection stops at once; 2 when the target cannot be reached (a failed TLS
handshake included) or a flag or file is wrong (TLS with an HTTP protocol, an unreadable token,
CA, certificate or key file).";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct LoadgenArgs {
    /// Receiver: HOST:PORT, PORT (loopback) or a URL (https:// for gRPC over TLS, with
    /// --tls-ca) [default: 127.0.0.1 and the protocol's port: 4317 gRPC, 4318 HTTP, 9411
    /// Zipkin].
    #[arg(long, value_name = "ADDR|URL")]
    target: Option<String>,
    /// How spans travel.
    #[arg(
        long,
        default_value = "grpc",
        value_name = "grpc|http-protobuf|http-json|zipkin"
    )]
    protocol: Protocol,
    /// Spans per second over all connections; 0 sends as fast as the receiver takes them.
    #[arg(long, default_value_t = 10_000.0, value_name = "SPANS")]
    rate: f64,
    /// How long to send.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    duration: Duration,
    /// Simulate a layered mesh of N services instead of the scenario's.
    #[arg(long, value_name = "N")]
    services: Option<usize>,
    /// Concurrent connections, each with its own simulator.
    #[arg(long, default_value_t = 1, value_name = "N")]
    connections: usize,
    /// The simulated mesh.
    #[arg(long, default_value = "bookinfo", value_name = "bookinfo|large")]
    scenario: Scenario,
    /// Spans per export request (whole traces kept together).
    #[arg(long, default_value_t = 512, value_name = "N")]
    batch_spans: usize,
    /// Play the demo's scripted incidents too (errors, latency, denials, a gap).
    #[arg(long)]
    incidents: bool,
    /// Print the final summary as one JSON object (the per-second lines go to stderr).
    #[arg(long)]
    json: bool,
    /// Seed of the simulated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Send `Authorization: Bearer <token>` with every request, the token being the file's
    /// content with surrounding whitespace trimmed (as `serve --auth-token-file` reads it).
    #[arg(long, env = "MESHLENS_AUTH_TOKEN_FILE", value_name = "FILE")]
    auth_token_file: Option<PathBuf>,
    /// gRPC over TLS, trusting the CA(s) in this PEM bundle (no system trust store is
    /// used). --protocol grpc only.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: present this PEM client certificate (chain); needs --tls-key and --tls-ca.
    #[arg(long, value_name = "FILE", requires_all = ["tls_key", "tls_ca"])]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The name the server's certificate must carry [default: the target's host].
    #[arg(long, value_name = "NAME", requires = "tls_ca")]
    tls_server_name: Option<String>,
}

/// The final numbers.
#[derive(Debug, Serialize)]
struct Summary {
    protocol: &'static str,
    target: String,
    seconds: f64,
    #[serde(flatten)]
    spans: StatsSnapshot,
    sent_per_second: f64,
    accepted_per_second: f64,
    last_error: Option<String>,
}

pub fn run_loadgen(args: LoadgenArgs) -> anyhow::Result<ExitCode> {
    if args.connections == 0 {
        anyhow::bail!("--connections must be at least 1");
    }
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        anyhow::bail!("--rate must be a number of spans per second, 0 or more");
    }
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| format!("127.0.0.1:{}", args.protocol.default_port()));
    // TLS with an HTTP protocol, or https:// without a CA: before any file is read.
    secured_url(args.protocol, &target, args.tls_ca.is_some())?;
    let auth = args
        .auth_token_file
        .as_deref()
        .map(BearerToken::from_file)
        .transpose()?;
    let tls = match &args.tls_ca {
        None => None,
        Some(ca) => {
            let identity = match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
                (None, None) => None,
                // clap's `requires` makes these usage errors.
                _ => anyhow::bail!("--tls-cert and --tls-key go together"),
            };
            let tls = ClientTls::from_files(ca, identity)?;
            Some(match &args.tls_server_name {
                Some(name) => tls.with_server_name(name.clone()),
                None => tls,
            })
        }
    };
    let topology = Arc::new(match args.services {
        Some(n) => Topology::with_services(n),
        None => Topology::new(args.scenario),
    });
    let timeline = Arc::new(if args.incidents {
        Timeline::demo(&topology)
    } else {
        Timeline::quiet()
    });
    let config = LoadConfig {
        protocol: args.protocol,
        target: target.clone(),
        rate: args.rate,
        duration: Some(args.duration),
        connections: args.connections,
        batch_spans: args.batch_spans.max(1),
        time_scale: 1.0,
        seed: args.seed,
        auth,
        tls,
    };
    let stats = Arc::new(SendStats::default());
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let started = Instant::now();
    let (_stop, stopped) = watch::channel(false);
    let json = args.json;
    let result = runtime.block_on(async {
        let reporter = tokio::spawn(report_every_second(stats.clone(), json));
        let result = tokio::select! {
            result = run(config, topology, timeline, stats.clone(), stopped) => result,
            _ = tokio::signal::ctrl_c() => Ok(Some("interrupted".to_owned())),
        };
        reporter.abort();
        result
    });
    // A refused token or certificate ends the run early: the summary still tells what was sent,
    // then exit 1.
    let (last_error, refused) = match result {
        Ok(last_error) => (last_error, None),
        Err(
            error @ SendError::Unauthenticated {
                credential,
                presented,
                ..
            },
        ) => {
            let hint = match (credential, presented) {
                (Credential::Token, true) => "check --auth-token-file",
                (Credential::Token, false) => "give it with --auth-token-file",
                (Credential::Certificate, true) => "check --tls-cert and --tls-key",
                (Credential::Certificate, false) => "give one with --tls-cert and --tls-key",
            };
            (Some(error.to_string()), Some(format!("{error}; {hint}")))
        }
        Err(error) => return Err(error).with_context(|| format!("cannot send to {target}")),
    };
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let spans = stats.snapshot();
    let summary = Summary {
        protocol: args.protocol.as_str(),
        target,
        seconds,
        spans,
        sent_per_second: spans.sent_spans as f64 / seconds,
        accepted_per_second: spans.accepted_spans as f64 / seconds,
        last_error,
    };
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "loadgen: {} to {} for {:.1} s: sent {} spans ({:.0}/s), accepted {} ({:.0}/s), \
             rejected {}, failed {}, {} requests, {} retries",
            summary.protocol,
            summary.target,
            seconds,
            spans.sent_spans,
            summary.sent_per_second,
            spans.accepted_spans,
            summary.accepted_per_second,
            spans.rejected_spans,
            spans.failed_spans,
            spans.requests,
            spans.retries
        );
        if let Some(error) = &summary.last_error {
            println!("loadgen: last error: {error}");
        }
    }
    if let Some(message) = refused {
        eprintln!("meshlens: loadgen stopped: {message}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if spans.failed_spans > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One line a second: the rates over the last second and the totals.
async fn report_every_second(stats: Arc<SendStats>, to_stderr: bool) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.tick().await;
    let mut previous = stats.snapshot();
    let mut second = 0u64;
    loop {
        interval.tick().await;
        second += 1;
        let now = stats.snapshot();
        let line = format!(
            "{second:>4}s  sent {:>8}/s  accepted {:>8}/s  total sent {} accepted {} failed {}",
            now.sent_spans - previous.sent_spans,
            now.accepted_spans - previous.accepted_spans,
            now.sent_spans,
            now.accepted_spans,
            now.failed_spans
        );
        if to_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
        previous = now;
    }
}
