//! `meshlens demo`: a collector and its live analyzer (started as `serve` starts them, on
//! loopback port 0), the demo policies, and the built-in mesh simulator sending its traffic
//! and scripted incidents to that collector over real OTLP/gRPC. `--headless` prints a
//! summary after `--duration`; otherwise the dashboard shows [`DemoHandle::live`] until quit.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use meshlens_analyzer::anomaly::{Anomaly, AnomalyConfig, Subject};
use meshlens_analyzer::api::parse_duration;
use meshlens_analyzer::conformance::live::{LivePolicies, PolicySource};
use meshlens_analyzer::live::{Live, now_ms};
use meshlens_analyzer::snapshot::GraphSnapshot;
use meshlens_analyzer::{AnalyzerConfig, Window};
use meshlens_collector::server::conn::HttpLimits;
use meshlens_collector::server::{
    BoundAddrs, DEFAULT_INFLIGHT_BYTES, DEFAULT_MAX_GRPC_REQUEST_BYTES,
    DEFAULT_MAX_HTTP_REQUEST_BYTES, DEFAULT_QUEUE_SPANS, ServeConfig,
};
use meshlens_collector::simulate::manifests::namespace_policies;
use meshlens_collector::simulate::{
    LoadConfig, Protocol, Scenario, SendStats, StatsSnapshot, Timeline, Topology,
};
use meshlens_policies::eval;
use serde::Serialize;
use tokio::sync::watch;

use super::serve::{self, Running, Ticking};

const BOOKINFO_POLICIES: &str = include_str!("../../testdata/demo/bookinfo/policies.yaml");
const BOOKINFO_INVENTORY: &str = include_str!("../../testdata/demo/bookinfo/inventory.yaml");

/// Simulation seconds per second unless told: every kind of finding within two minutes.
pub const DEFAULT_TIME_SCALE: f64 = 2.0;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run without the dashboard and print a summary after --duration.
    #[arg(long)]
    headless: bool,
    /// How long to run [default: the incident timeline, 240 simulated seconds].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    duration: Option<Duration>,
    /// The simulated mesh.
    #[arg(long, default_value = "bookinfo", value_name = "bookinfo|large")]
    scenario: Scenario,
    /// Simulated seconds per wall-clock second: the incidents come this much faster, and the
    /// detector's time settings (baselines, warm-up, pairing TTL, ticks) shrink to match.
    /// 1 runs the timeline at real speed against the default detector configuration.
    #[arg(long, default_value_t = DEFAULT_TIME_SCALE, value_name = "FACTOR")]
    time_scale: f64,
    /// Spans per second sent [default: 200 for bookinfo, 3000 for large].
    #[arg(long, value_name = "SPANS")]
    rate: Option<f64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Seed of the simulated traffic.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// What [`start_demo`] needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoOptions {
    pub scenario: Scenario,
    pub time_scale: f64,
    /// Spans per second; `None`: the scenario's default.
    pub rate: Option<f64>,
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::Bookinfo,
            time_scale: DEFAULT_TIME_SCALE,
            rate: None,
            seed: 1,
        }
    }
}

/// A running demo: collector, live analyzer and simulator, on a runtime of their own.
/// The dashboard reads `live`; [`DemoHandle::shutdown`] stops everything.
#[derive(Debug)]
pub struct DemoHandle {
    pub live: Live,
    /// The collector's listeners (loopback, port 0 resolved): the API serves
    /// `/api/v1/graph`, `/api/v1/anomalies`, … as `serve` does.
    pub addrs: BoundAddrs,
    pub topology: Arc<Topology>,
    pub timeline: Arc<Timeline>,
    pub time_scale: f64,
    stats: Arc<SendStats>,
    started: Instant,
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    stop: watch::Sender<bool>,
    sender: Option<tokio::task::JoinHandle<anyhow::Result<Option<String>>>>,
    policy_dir: PathBuf,
}

/// Starts the collector and live analyzer on loopback, the demo policies, and the simulator
/// sending to the collector over OTLP/gRPC. Call it (and [`DemoHandle::shutdown`]) from
/// synchronous code: the handle runs a tokio runtime of its own.
pub fn start_demo(options: DemoOptions) -> anyhow::Result<DemoHandle> {
    let scale = if options.time_scale.is_finite() && options.time_scale >= 1.0 {
        options.time_scale
    } else {
        anyhow::bail!("--time-scale must be 1 or more");
    };
    let topology = Arc::new(Topology::new(options.scenario));
    let timeline = Arc::new(Timeline::demo(&topology));
    let policy_dir = write_policies(&topology)?;
    let policies = {
        let mut source = PolicySource {
            policies: vec![policy_dir.join("policies.yaml")],
            inventory: Vec::new(),
            options: eval::Options {
                root_namespace: "istio-system".to_owned(),
                trust_domain: "cluster.local".to_owned(),
            },
        };
        if options.scenario == Scenario::Bookinfo {
            source.inventory.push(policy_dir.join("inventory.yaml"));
        }
        LivePolicies::new(source, now_ms())
            .map_err(|e| anyhow::anyhow!("cannot load the demo policies: {e}"))?
    };
    let loopback = Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    let config = ServeConfig {
        otlp_grpc: loopback,
        otlp_http: loopback,
        zipkin: loopback,
        api: loopback,
        max_grpc_request_bytes: DEFAULT_MAX_GRPC_REQUEST_BYTES,
        max_http_request_bytes: DEFAULT_MAX_HTTP_REQUEST_BYTES,
        queue_spans: DEFAULT_QUEUE_SPANS,
        max_inflight_bytes: DEFAULT_INFLIGHT_BYTES,
        record: None,
        span_multiplier_key: None,
        http_limits: HttpLimits::default(),
        // Loopback only, for this process: no TLS, no token.
        security: Default::default(),
    };
    let defaults = AnalyzerConfig::default();
    let analyzer = AnalyzerConfig {
        pair_ttl: defaults.pair_ttl.div_f64(scale),
        ..defaults
    };
    let anomalies = scaled_anomaly_config(scale);
    let ticking = if scale > 1.0 {
        Ticking::Scaled(scale)
    } else {
        Ticking::Standard
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let prepared = serve::Prepared {
        config,
        analyzer,
        anomalies,
        policies: Some(Arc::new(policies)),
    };
    let running = runtime.block_on(serve::start(prepared, ticking))?;
    let addrs = running.addrs();
    let grpc = addrs
        .otlp_grpc
        .context("the demo's OTLP/gRPC listener did not start")?;
    let rate = options.rate.unwrap_or(match options.scenario {
        Scenario::Bookinfo => 200.0,
        Scenario::Large => 3000.0,
    });
    let load = LoadConfig {
        protocol: Protocol::Grpc,
        target: grpc.to_string(),
        rate,
        duration: None,
        connections: 1,
        batch_spans: 256,
        time_scale: scale,
        seed: options.seed,
        ..LoadConfig::default()
    };
    let stats = Arc::new(SendStats::default());
    let (stop, stopped) = watch::channel(false);
    let sender = runtime.spawn({
        let (topology, timeline, stats) = (topology.clone(), timeline.clone(), stats.clone());
        async move {
            meshlens_collector::simulate::run(load, topology, timeline, stats, stopped)
                .await
                .map_err(anyhow::Error::from)
        }
    });
    Ok(DemoHandle {
        live: running.live.clone(),
        addrs,
        topology,
        timeline,
        time_scale: scale,
        stats,
        started: Instant::now(),
        runtime,
        running: Some(running),
        stop,
        sender: Some(sender),
        policy_dir,
    })
}

// The dashboard (`meshlens tui`, `demo` without `--headless`) reads these.
#[allow(dead_code)]
impl DemoHandle {
    /// Simulated seconds since the start (what the incident timeline is at).
    pub fn sim_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.time_scale
    }

    /// The simulator's counters so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops the simulator, then the collector (draining its queue), and says what happened.
    pub fn shutdown(mut self) -> anyhow::Result<DemoReport> {
        self.stop.send_replace(true);
        let sent = match self.sender.take() {
            Some(task) => self
                .runtime
                .block_on(task)
                .context("the simulator stopped")?,
            None => Ok(None),
        };
        let wall = self.started.elapsed();
        // Let the last batches through the pipeline and the pairing TTL, then one more look.
        let graph = self.live.snapshot(Window::Whole);
        let recent = self.live.snapshot(Window::ONE_MINUTE);
        let anomalies = self.live.anomalies();
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.stop());
        }
        let _ = std::fs::remove_dir_all(&self.policy_dir);
        let send_error = sent?;
        Ok(DemoReport {
            scenario: self.topology.scenario.to_string(),
            wall_seconds: wall.as_secs_f64(),
            simulated_seconds: wall.as_secs_f64() * self.time_scale,
            time_scale: self.time_scale,
            spans: self.stats.snapshot(),
            send_error,
            graph: GraphSummary::of(&graph, &recent),
            incidents: incidents(&self.timeline, &anomalies),
            anomalies: anomalies.iter().map(AnomalyLine::of).collect(),
        })
    }
}

impl Drop for DemoHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if self.running.is_some() {
            let _ = std::fs::remove_dir_all(&self.policy_dir);
        }
    }
}

/// The default detector configuration with its durations divided by `scale` (at 1: the
/// defaults). Counts of observations stay: the ticker observes `scale` times as often.
pub fn scaled_anomaly_config(scale: f64) -> AnomalyConfig {
    let mut config = AnomalyConfig::default();
    if scale > 1.0 {
        config.baseline.window_seconds /= scale;
        config.baseline.sample_interval_seconds /= scale;
        config.baseline.min_span_seconds /= scale;
        config.new_edge.warmup_seconds /= scale;
        config.new_edge.open_seconds /= scale;
        config.forget_after_seconds /= scale;
    }
    config
}

fn write_policies(topology: &Topology) -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("meshlens-demo-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files: Vec<(&str, String)> = match topology.scenario {
        Scenario::Bookinfo => vec![
            ("policies.yaml", BOOKINFO_POLICIES.to_owned()),
            ("inventory.yaml", BOOKINFO_INVENTORY.to_owned()),
        ],
        Scenario::Large => vec![("policies.yaml", namespace_policies(topology))],
    };
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(dir)
}

/// What the demo saw.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub scenario: String,
    pub wall_seconds: f64,
    pub simulated_seconds: f64,
    pub time_scale: f64,
    pub spans: StatsSnapshot,
    pub send_error: Option<String>,
    pub graph: GraphSummary,
    pub incidents: Vec<IncidentLine>,
    pub anomalies: Vec<AnomalyLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphSummary {
    pub nodes: usize,
    pub edges: usize,
    /// The busiest edges over the last minute.
    pub top_edges: Vec<EdgeLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EdgeLine {
    pub source: String,
    pub target: String,
    pub rps: f64,
    pub error_rate: f64,
    pub p99_ms: f64,
}

impl GraphSummary {
    fn of(whole: &GraphSnapshot, recent: &GraphSnapshot) -> Self {
        let mut edges: Vec<EdgeLine> = recent
            .edges
            .iter()
            .map(|e| EdgeLine {
                source: e.source.clone(),
                target: e.target.clone(),
                rps: e.rps,
                error_rate: e.error_rate,
                p99_ms: e.latency_ms.p99,
            })
            .collect();
        edges.sort_by(|a, b| b.rps.total_cmp(&a.rps));
        edges.truncate(10);
        Self {
            nodes: whole.nodes.len(),
            edges: whole.edges.len(),
            top_edges: edges,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AnomalyLine {
    pub kind: String,
    pub subject: String,
    pub severity: String,
    pub open: bool,
    pub message: String,
}

impl AnomalyLine {
    fn of(a: &Anomaly) -> Self {
        Self {
            kind: a.kind.as_str().to_owned(),
            subject: a.subject.to_string(),
            severity: a.severity.as_str().to_owned(),
            open: a.is_open(),
            message: a.message.clone(),
        }
    }
}

/// A scripted incident and the anomalies that reported it.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentLine {
    pub name: String,
    pub description: String,
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub expected: Vec<String>,
    /// Expected kinds the analyzer reported (on the incident's edge, when it has one).
    pub seen: Vec<String>,
}

fn incidents(timeline: &Timeline, anomalies: &[Anomaly]) -> Vec<IncidentLine> {
    timeline
        .incidents
        .iter()
        .map(|incident| {
            let mut seen: Vec<String> = incident
                .expected
                .iter()
                .filter(|kind| {
                    anomalies.iter().any(|a| {
                        a.kind.as_str() == **kind
                            && match (&incident.edge, &a.subject) {
                                (Some((source, target)), Subject::Edge(edge)) => {
                                    &edge.source == source && &edge.target == target
                                }
                                (Some(_), Subject::Node(_)) => false,
                                (None, _) => true,
                            }
                    })
                })
                .map(|k| (*k).to_owned())
                .collect();
            seen.dedup();
            IncidentLine {
                name: incident.name.to_owned(),
                description: incident.description.clone(),
                start_seconds: incident.start,
                end_seconds: incident.end,
                expected: incident.expected.iter().map(|k| (*k).to_owned()).collect(),
                seen,
            }
        })
        .collect()
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

impl DemoReport {
    /// The human summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let s = &self.spans;
        let _ = writeln!(
            out,
            "meshlens demo: {} scenario, {:.0} s at {}× ({} of simulated time)",
            self.scenario,
            self.wall_seconds,
            self.time_scale,
            clock(self.simulated_seconds)
        );
        let _ = writeln!(
            out,
            "spans: sent {}, accepted {} ({} rejected, {} failed, {} retries) over OTLP/gRPC",
            s.sent_spans, s.accepted_spans, s.rejected_spans, s.failed_spans, s.retries
        );
        if let Some(error) = &self.send_error {
            let _ = writeln!(out, "last sending error: {error}");
        }
        let g = &self.graph;
        let _ = writeln!(out, "graph: {} nodes, {} edges", g.nodes, g.edges);
        let _ = writeln!(out, "top edges (last minute):");
        for e in &g.top_edges {
            let _ = writeln!(
                out,
                "  {} → {}  {:.1} rps  {:.1}% errors  p99 {:.1} ms",
                e.source,
                e.target,
                e.rps,
                e.error_rate * 100.0,
                e.p99_ms
            );
        }
        let open = self.anomalies.iter().filter(|a| a.open).count();
        let _ = writeln!(
            out,
            "anomalies: {} ({open} open, {} ended)",
            self.anomalies.len(),
            self.anomalies.len() - open
        );
        for a in &self.anomalies {
            let _ = writeln!(
                out,
                "  [{}] {} on {} ({}): {}",
                a.severity,
                a.kind,
                a.subject,
                if a.open { "open" } else { "ended" },
                a.message
            );
        }
        let _ = writeln!(out, "scripted incidents (simulated time):");
        for i in &self.incidents {
            let started = i.start_seconds <= self.simulated_seconds;
            let verdict = if !started {
                "not reached".to_owned()
            } else if i.seen.is_empty() {
                "not detected".to_owned()
            } else {
                format!("detected as {}", i.seen.join(", "))
            };
            let _ = writeln!(
                out,
                "  {}–{} {}: {} — {verdict}",
                clock(i.start_seconds),
                clock(i.end_seconds),
                i.name,
                i.description
            );
        }
        out
    }
}

impl DemoArgs {
    pub fn headless(&self) -> bool {
        self.headless
    }
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dashboard = !args.headless && std::io::stdout().is_terminal();
    if !args.headless && !dashboard {
        eprintln!(
            "meshlens demo: standard output is not a terminal; running headless (as with \
             --headless) and printing a summary at the end"
        );
    }
    let options = DemoOptions {
        scenario: args.scenario,
        time_scale: args.time_scale,
        rate: args.rate,
        seed: args.seed,
    };
    let demo = start_demo(options)?;
    if dashboard {
        return run_dashboard(demo);
    }
    let duration = args.duration.unwrap_or_else(|| {
        Duration::from_secs_f64(demo.timeline.length / demo.time_scale.max(1.0))
    });
    println!("{}", serve::listening_line(demo.addrs));
    eprintln!(
        "meshlens demo: simulating {} for {:.0} s at {}× ({} simulated); Ctrl-C ends it early",
        demo.topology.scenario,
        duration.as_secs_f64(),
        demo.time_scale,
        clock(duration.as_secs_f64() * demo.time_scale)
    );
    let interrupted = demo.runtime.block_on(async {
        tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = tokio::signal::ctrl_c() => true,
        }
    });
    if interrupted {
        eprintln!("meshlens demo: interrupted");
    }
    let report = demo.shutdown()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}

/// The dashboard over the demo until the user quits; the simulation runs on meanwhile.
fn run_dashboard(demo: DemoHandle) -> anyhow::Result<ExitCode> {
    let (updates, feeder) = meshlens_tui::live_source::feed(
        demo.live.clone(),
        Window::ONE_MINUTE,
        Duration::from_secs(1),
    );
    let shown = meshlens_tui::run(updates, meshlens_tui::RunOptions::default());
    drop(feeder);
    let report = demo.shutdown()?;
    shown.context("terminal dashboard")?;
    print!("{}", report.text());
    Ok(ExitCode::SUCCESS)
}
