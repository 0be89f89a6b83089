//! The analyzer behind `meshlens serve`: one [`Analyzer`] and one [`AnomalyDetector`] shared
//! by the ingest pipeline (which feeds spans), a ticker (which expires unpaired halves and
//! lets the detector look at the last minute even when no traffic arrives) and the API
//! (which reads snapshots).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshlens_collector::{Interner, Span};

use crate::anomaly::{Anomaly, AnomalyConfig, AnomalyDetector, AnomalyEvent};
use crate::conformance::ShapeLog;
use crate::conformance::live::LivePolicies;
use crate::conformance::usage::WorkloadPolicies;
use crate::samples::{TraceSamples, TraceView};
use crate::snapshot::{GraphSnapshot, PairingStats};
use crate::{Analyzer, AnalyzerConfig, Counters, Window};

/// How often the detector looks at the last minute: often enough to start and end
/// anomalies within seconds, rare enough that a snapshot per look costs nothing.
const OBSERVE_EVERY: Duration = Duration::from_secs(5);

/// Request shapes older than this are forgotten by the live policy checks.
const SHAPES_KEPT_MS: u64 = 15 * 60 * 1000;
/// The policy checks look at shapes seen within this: an anomaly ends once the offending
/// traffic has stopped for this long (plus the detector's hysteresis).
const POLICY_WINDOW_MS: u64 = 60 * 1000;

#[derive(Debug)]
struct State {
    analyzer: Analyzer,
    detector: AnomalyDetector,
    policies: Option<Arc<LivePolicies>>,
    samples: TraceSamples,
}

/// A cheaply cloned handle on the live analyzer.
#[derive(Debug, Clone)]
pub struct Live {
    state: Arc<Mutex<State>>,
    /// Set at shutdown: streams to dashboards end instead of holding the server open.
    closed: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Live {
    pub fn new(interner: Interner, config: AnalyzerConfig, anomalies: AnomalyConfig) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                analyzer: Analyzer::new(interner, config),
                detector: AnomalyDetector::new(anomalies),
                policies: None,
                samples: TraceSamples::default(),
            })),
            closed: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Checks the traffic against `policies` from now on: every request is folded into a
    /// shape, and recent shapes are evaluated at each observation.
    pub fn check_policies(&self, policies: Arc<LivePolicies>) {
        let mut state = self.lock();
        state.analyzer.set_observer(Box::new(ShapeLog::default()));
        state.policies = Some(policies);
    }

    /// The policies checked, if any.
    pub fn policies(&self) -> Option<Arc<LivePolicies>> {
        self.lock().policies.clone()
    }

    /// Reloads the policies now (SIGHUP), logging the outcome; the previous set stays in use
    /// when the files are broken.
    pub fn reload_policies(&self) {
        if let Some(policies) = self.policies() {
            log_reload(&policies.reload(now_ms()));
        }
    }

    /// Ends every open stream; called when the server shuts down.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once [`Live::close`] was called.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.subscribe();
        async move {
            let _ = closed.wait_for(|&c| c).await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters mid-update at worst: keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds a batch of accepted spans, stamped with the wall clock.
    pub fn ingest(&self, spans: &[Span]) {
        let now = now_ms();
        let mut state = self.lock();
        state.analyzer.ingest(spans, now);
        state.samples.observe(spans);
    }

    /// Expires halves past their TTL, and lets the detector observe the last minute.
    /// Returns the anomalies that started or ended.
    pub fn tick(&self, observe: bool) -> Vec<AnomalyEvent> {
        let now = now_ms();
        let mut state = self.lock();
        state.analyzer.tick(now);
        if !observe {
            return Vec::new();
        }
        let snapshot = state.analyzer.snapshot(Window::ONE_MINUTE, now);
        let mut events = state.detector.observe(&snapshot);
        if let Some(policies) = state.policies.clone() {
            let signals = match state.analyzer.observer_mut::<ShapeLog>() {
                Some(log) => {
                    log.forget_before(now.saturating_sub(SHAPES_KEPT_MS));
                    state
                        .analyzer
                        .observer::<ShapeLog>()
                        .map_or_else(Vec::new, |log| {
                            policies.signals(
                                &state.analyzer,
                                log,
                                now.saturating_sub(POLICY_WINDOW_MS),
                            )
                        })
                }
                None => Vec::new(),
            };
            events.extend(state.detector.observe_signals(now, signals));
        }
        events
    }

    /// Ticks every second on a thread of its own until the returned [`Ticker`] is dropped.
    pub fn spawn_ticker(&self) -> std::io::Result<Ticker> {
        let live = self.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = thread::Builder::new()
            .name("meshlens-analyzer-tick".into())
            .spawn(move || {
                let mut since_observe = Duration::ZERO;
                while !stopped.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_secs(1));
                    since_observe += Duration::from_secs(1);
                    let observe = since_observe >= OBSERVE_EVERY;
                    if observe {
                        since_observe = Duration::ZERO;
                        // Files are read outside the analyzer's lock: ingestion goes on.
                        if let Some(reload) =
                            live.policies().and_then(|p| p.reload_if_changed(now_ms()))
                        {
                            log_reload(&reload);
                        }
                    }
                    for event in live.tick(observe) {
                        log_event(&event);
                    }
                }
            })?;
        Ok(Ticker {
            stop,
            handle: Some(handle),
        })
    }

    pub fn snapshot(&self, window: Window) -> GraphSnapshot {
        self.lock().analyzer.snapshot(window, now_ms())
    }

    /// Open and recently closed anomalies, newest first.
    pub fn anomalies(&self) -> Vec<Anomaly> {
        self.lock().detector.recent()
    }

    /// Runs `read` on the analyzer under its lock (for metrics computed at scrape time).
    pub fn with_analyzer<T>(&self, read: impl FnOnce(&Analyzer) -> T) -> T {
        read(&self.lock().analyzer)
    }

    /// Policies and rule hits per workload over the request shapes of the last 15 minutes
    /// (empty without policies).
    pub fn policy_usage(&self) -> Vec<WorkloadPolicies> {
        let state = self.lock();
        match (&state.policies, state.analyzer.observer::<ShapeLog>()) {
            (Some(policies), Some(log)) => policies.usage(&state.analyzer, log),
            _ => Vec::new(),
        }
    }

    /// Kept sample traces, newest first, where `edge.0` called `edge.1` (all with `None`).
    pub fn sample_traces(&self, edge: Option<(&str, &str)>, limit: usize) -> Vec<TraceView> {
        let state = self.lock();
        state.samples.traces(state.analyzer.interner(), edge, limit)
    }

    /// A kept sample trace by id (hex).
    pub fn sample_trace(&self, trace_id: &str) -> Option<TraceView> {
        let state = self.lock();
        state.samples.trace(state.analyzer.interner(), trace_id)
    }

    /// Whole-run pairing counters and the analyzer's other counters.
    pub fn stats(&self) -> (PairingStats, Counters) {
        let state = self.lock();
        (state.analyzer.stats(), state.analyzer.counters())
    }
}

fn log_event(event: &AnomalyEvent) {
    match event {
        AnomalyEvent::Started(a) => {
            tracing::warn!(kind = ?a.kind, severity = ?a.severity, "anomaly: {}", a.message);
        }
        AnomalyEvent::Ended(a) => tracing::info!(kind = ?a.kind, "anomaly ended: {}", a.message),
    }
}

fn log_reload(result: &Result<usize, String>) {
    match result {
        Ok(count) => tracing::info!(policies = count, "authorization policies reloaded"),
        Err(error) => tracing::error!(
            "authorization policies not reloaded, the previous set stays in use: {error}"
        ),
    }
}

/// Stops the ticker thread when dropped.
#[derive(Debug)]
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Milliseconds since the Unix epoch; 0 if the clock is before it.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
