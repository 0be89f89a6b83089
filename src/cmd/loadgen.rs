//! `meshlens loadgen`: the simulated mesh's traffic as load against any trace receiver.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use meshlens_analyzer::api::parse_duration;
use meshlens_collector::simulate::{
    LoadConfig, Protocol, Scenario, SendStats, StatsSnapshot, Timeline, Topology, run,
};
use serde::Serialize;
use tokio::sync::watch;

#[derive(Debug, Args)]
pub struct LoadgenArgs {
    /// Receiver: HOST:PORT, PORT (loopback) or a URL [default: 127.0.0.1 and the protocol's
    /// port: 4317 gRPC, 4318 HTTP, 9411 Zipkin].
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
    let last_error = result.with_context(|| format!("cannot send to {target}"))?;
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
