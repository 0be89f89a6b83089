//! The detector: per-edge state and baselines, one hysteresis tracker per (kind, subject).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use super::baseline::{Baseline, History, secs_to_ms};
use super::config::{AnomalyConfig, PairingCounters};
use super::format;
use super::model::{
    Anomaly, AnomalyEvent, AnomalyKind, EdgeRef, Evidence, MESH_NODE, Severity, Subject,
};
use crate::snapshot::{GraphSnapshot, PairingStats};

/// What one check says about one subject at one observation.
#[derive(Debug)]
enum Check {
    /// Nothing wrong (or nothing to judge).
    Clear,
    /// Past the clear threshold but not the start threshold: keeps an open anomaly open.
    Holding(Finding),
    /// Past the start threshold.
    Firing(Finding),
}

#[derive(Debug)]
struct Finding {
    severity: Severity,
    message: String,
    evidence: Evidence,
}

/// A (kind, subject) that is not idle.
#[derive(Debug, Clone)]
enum Tracker {
    /// Firing for this many consecutive observations, not yet started.
    Pending(u32),
    /// Started; `clear` consecutive clear observations so far.
    Open { anomaly: Anomaly, clear: u32 },
}

/// Kinds judged per edge, in the order of [`EdgeState::trackers`].
const EDGE_KINDS: [AnomalyKind; 5] = [
    AnomalyKind::NewEdge,
    AnomalyKind::TrafficDrop,
    AnomalyKind::ErrorBurst,
    AnomalyKind::LatencyRegression,
    AnomalyKind::AuthzDenialBurst,
];

const NEW_EDGE: usize = 0;
const TRAFFIC: usize = 1;
const ERRORS: usize = 2;
const LATENCY: usize = 3;
const AUTHZ: usize = 4;

#[derive(Debug, Default)]
struct EdgeState {
    last_seen_ms: u64,
    trace_ids: Vec<String>,
    rps: History,
    error_rate: History,
    p99: History,
    trackers: [Option<Tracker>; 5],
}

/// One edge's numbers in a snapshot (duplicates of an edge, e.g. per protocol, summed).
#[derive(Debug, Default)]
struct EdgeObs {
    requests: f64,
    errors: f64,
    client_errors: f64,
    authz_denials: f64,
    rps: f64,
    p50: f64,
    p99: f64,
    trace_ids: Vec<String>,
}

/// Finds anomalies in a sequence of graph snapshots. Feed it every snapshot in time order
/// with [`observe`](Self::observe); the snapshot's `generated_at_unix_ms` is its only clock.
#[derive(Debug)]
pub struct AnomalyDetector {
    config: AnomalyConfig,
    baseline_edges: Option<BTreeSet<EdgeRef>>,
    first_ms: Option<u64>,
    last_ms: Option<u64>,
    edges: HashMap<EdgeRef, EdgeState>,
    /// Edges that are not new (seen in the warm-up, or whose new-edge anomaly has ended).
    known: HashSet<EdgeRef>,
    gap_history: History,
    gap_tracker: Option<Tracker>,
    prev_pairing: Option<PairingStats>,
    prev_gap_ms: Option<u64>,
    closed: VecDeque<Anomaly>,
    next_id: u64,
    untracked_edges: u64,
    /// Anomalies judged outside the detector (the policy checks), by kind and edge.
    signals: BTreeMap<(AnomalyKind, EdgeRef), Tracker>,
}

/// A condition judged outside the detector (the live policy checks) that holds on an edge at
/// one observation: it opens an anomaly at once and ends it after `end_after` observations
/// without it.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub kind: AnomalyKind,
    pub edge: EdgeRef,
    pub severity: Severity,
    pub message: String,
    pub trace_ids: Vec<String>,
    /// Requests behind it.
    pub requests: f64,
}

impl AnomalyDetector {
    pub fn new(config: AnomalyConfig) -> Self {
        let baseline_edges = config.new_edge.baseline_set();
        Self {
            config,
            baseline_edges,
            first_ms: None,
            last_ms: None,
            edges: HashMap::new(),
            known: HashSet::new(),
            gap_history: History::default(),
            gap_tracker: None,
            prev_pairing: None,
            prev_gap_ms: None,
            closed: VecDeque::new(),
            next_id: 0,
            untracked_edges: 0,
            signals: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &AnomalyConfig {
        &self.config
    }

    /// Edges seen but not tracked because `max_edges` was reached.
    pub fn untracked_edges(&self) -> u64 {
        self.untracked_edges
    }

    /// Takes in the next snapshot and returns the anomalies it started and ended. A
    /// snapshot not newer than the previous one is ignored.
    pub fn observe(&mut self, snapshot: &GraphSnapshot) -> Vec<AnomalyEvent> {
        let now = snapshot.generated_at_unix_ms;
        if self.last_ms.is_some_and(|last| now <= last) {
            return Vec::new();
        }
        self.last_ms = Some(now);
        let first = *self.first_ms.get_or_insert(now);
        let window = if snapshot.window_seconds.is_finite() && snapshot.window_seconds > 0.0 {
            snapshot.window_seconds
        } else {
            60.0
        };
        let mut events = Vec::new();

        let observed = aggregate(snapshot, window);
        for (edge, obs) in &observed {
            if !self.edges.contains_key(edge) {
                if self.edges.len() >= self.config.max_edges {
                    self.untracked_edges += 1;
                    continue;
                }
                self.edges.insert(edge.clone(), EdgeState::default());
            }
            if let Some(state) = self.edges.get_mut(edge) {
                state.last_seen_ms = now;
                if !obs.trace_ids.is_empty() {
                    state.trace_ids = obs.trace_ids.clone();
                    state.trace_ids.truncate(self.config.max_trace_ids);
                }
            }
        }

        // Every tracked edge is judged, present or not (an absent edge has no traffic).
        let mut tracked: Vec<EdgeRef> = self.edges.keys().cloned().collect();
        tracked.sort();
        let forget_ms = secs_to_ms(self.config.forget_after_seconds);
        for edge in tracked {
            let obs = observed.get(&edge);
            let Some(mut state) = self.edges.remove(&edge) else {
                continue;
            };
            if obs.is_none() && now.saturating_sub(state.last_seen_ms) > forget_ms {
                // Forgotten: whatever is open ends now.
                for slot in &mut state.trackers {
                    if let Some(Tracker::Open { mut anomaly, .. }) = slot.take() {
                        anomaly.ended_at_unix_ms = Some(now);
                        self.close(&anomaly);
                        events.push(AnomalyEvent::Ended(anomaly));
                    }
                }
                continue;
            }
            self.judge_edge(&edge, &mut state, obs, now, first, window, &mut events);
            self.edges.insert(edge, state);
        }

        self.judge_gap(snapshot, now, window, &mut events);
        events
    }

    /// Takes in the signals that hold at `now` (every one of them each time: a tracked signal
    /// missing from `current` counts as clear) and returns the anomalies started and ended.
    pub fn observe_signals(&mut self, now: u64, current: Vec<Signal>) -> Vec<AnomalyEvent> {
        let mut firing: BTreeMap<(AnomalyKind, EdgeRef), Signal> = current
            .into_iter()
            .map(|s| ((s.kind, s.edge.clone()), s))
            .collect();
        let mut keys: Vec<(AnomalyKind, EdgeRef)> = self.signals.keys().cloned().collect();
        keys.extend(
            firing
                .keys()
                .filter(|k| !self.signals.contains_key(*k))
                .cloned(),
        );
        let mut events = Vec::new();
        for key in keys {
            let mut slot = self.signals.remove(&key);
            let check = match firing.remove(&key) {
                Some(signal) => Check::Firing(Finding {
                    severity: signal.severity,
                    message: signal.message,
                    evidence: Evidence::new(signal.trace_ids).with("requests", signal.requests),
                }),
                None => Check::Clear,
            };
            let edge = key.1.clone();
            let event = step(
                &mut slot,
                check,
                1,
                self.config.hysteresis.end_after,
                now,
                &mut self.next_id,
                key.0,
                || Subject::Edge(edge),
            );
            if let Some(event) = event {
                if let AnomalyEvent::Ended(a) = &event {
                    self.close(a);
                }
                events.push(event);
            }
            if let Some(tracker) = slot {
                self.signals.insert(key, tracker);
            }
        }
        events
    }

    /// The anomalies open now, newest first.
    pub fn open(&self) -> Vec<Anomaly> {
        let mut out: Vec<Anomaly> = self
            .edges
            .values()
            .flat_map(|s| s.trackers.iter())
            .chain(std::iter::once(&self.gap_tracker))
            .flatten()
            .chain(self.signals.values())
            .filter_map(|t| match t {
                Tracker::Open { anomaly, .. } => Some(anomaly.clone()),
                Tracker::Pending(_) => None,
            })
            .collect();
        sort_newest_first(&mut out);
        out
    }

    /// The open anomalies and the most recently closed ones (at most `max_recent`), newest
    /// first.
    pub fn recent(&self) -> Vec<Anomaly> {
        let mut out = self.open();
        out.extend(self.closed.iter().cloned());
        sort_newest_first(&mut out);
        out
    }

    fn close(&mut self, anomaly: &Anomaly) {
        if self.config.max_recent == 0 {
            return;
        }
        while self.closed.len() >= self.config.max_recent {
            self.closed.pop_front();
        }
        self.closed.push_back(anomaly.clone());
    }

    #[allow(clippy::too_many_arguments)]
    fn judge_edge(
        &mut self,
        edge: &EdgeRef,
        state: &mut EdgeState,
        obs: Option<&EdgeObs>,
        now: u64,
        first: u64,
        window: f64,
        events: &mut Vec<AnomalyEvent>,
    ) {
        let new_edge = self.check_new_edge(edge, state, obs, now, first);
        let cfg = &self.config;
        let hy = &cfg.hysteresis;
        // Ratios and p99s are judged only with enough requests; the rate always (0 if absent).
        let rps = obs.map_or(0.0, |o| o.rps);
        let checks: [(usize, Check, u32, u32); 5] = [
            (NEW_EDGE, new_edge, 1, 1),
            (
                TRAFFIC,
                check_traffic(cfg, edge, state, obs, window),
                hy.start_after,
                hy.end_after,
            ),
            (
                ERRORS,
                obs.map_or(Check::Clear, |o| check_errors(cfg, edge, state, o, window)),
                hy.start_after,
                hy.end_after,
            ),
            (
                LATENCY,
                obs.map_or(Check::Clear, |o| check_latency(cfg, edge, state, o, window)),
                cfg.latency_regression.consecutive,
                hy.end_after,
            ),
            (
                AUTHZ,
                obs.map_or(Check::Clear, |o| check_authz(cfg, edge, state, o, window)),
                hy.start_after,
                hy.end_after,
            ),
        ];
        for (slot, check, start_after, end_after) in checks {
            let kind = EDGE_KINDS[slot];
            let event = step(
                &mut state.trackers[slot],
                check,
                start_after,
                end_after,
                now,
                &mut self.next_id,
                kind,
                || Subject::Edge(edge.clone()),
            );
            if let Some(event) = event {
                if let AnomalyEvent::Ended(a) = &event {
                    self.close(a);
                    if kind == AnomalyKind::NewEdge && self.known.len() < self.config.max_edges {
                        self.known.insert(edge.clone());
                    }
                }
                events.push(event);
            }
        }
        // Baselines learn only from observations where nothing is pending or open.
        let bcfg = &self.config.baseline;
        if let Some(o) = obs {
            if state.trackers[TRAFFIC].is_none() {
                state.rps.push(now, rps, bcfg);
            }
            // The error baseline is frozen only by its own (relative) rule: an edge that
            // always fails a little sits above Kiali's absolute 0.1% for good, and must
            // still learn its normal rate.
            if o.requests >= self.config.error_burst.min_requests
                && !error_rate_elevated(&self.config, state, o)
            {
                state.error_rate.push(now, o.errors / o.requests, bcfg);
            }
            if state.trackers[LATENCY].is_none()
                && o.requests >= self.config.latency_regression.min_requests
                && o.p99 > 0.0
            {
                state.p99.push(now, o.p99, bcfg);
            }
        }
    }

    fn check_new_edge(
        &mut self,
        edge: &EdgeRef,
        state: &EdgeState,
        obs: Option<&EdgeObs>,
        now: u64,
        first: u64,
    ) -> Check {
        let cfg = &self.config.new_edge;
        if let Some(Tracker::Open { anomaly, .. }) = &state.trackers[NEW_EDGE] {
            // Open for `open_seconds`, whatever the traffic; then the edge is known.
            let age = now.saturating_sub(anomaly.started_at_unix_ms);
            return if age < secs_to_ms(cfg.open_seconds) {
                Check::Holding(Finding {
                    severity: anomaly.severity,
                    message: anomaly.message.clone(),
                    evidence: anomaly.evidence.clone(),
                })
            } else {
                Check::Clear
            };
        }
        let Some(obs) = obs else {
            return Check::Clear;
        };
        if !cfg.enabled || obs.requests < cfg.min_requests || self.known.contains(edge) {
            return Check::Clear;
        }
        let (severity, message) = match &self.baseline_edges {
            Some(baseline) if baseline.contains(edge) => return Check::Clear,
            Some(_) => (
                Severity::Warning,
                format!(
                    "new edge {edge}: not in the baseline graph ({} requests, {})",
                    format::count(obs.requests),
                    format::rate(obs.rps),
                ),
            ),
            None => {
                if now.saturating_sub(first) < secs_to_ms(cfg.warmup_seconds) {
                    if self.known.len() < self.config.max_edges {
                        self.known.insert(edge.clone());
                    }
                    return Check::Clear;
                }
                (
                    Severity::Info,
                    format!(
                        "new edge {edge}: first seen after {:.0}s of observation ({} requests, {})",
                        now.saturating_sub(first) as f64 / 1000.0,
                        format::count(obs.requests),
                        format::rate(obs.rps),
                    ),
                )
            }
        };
        Check::Firing(Finding {
            severity,
            message,
            evidence: Evidence::new(state.trace_ids.clone())
                .with("requests", obs.requests)
                .with("rps", obs.rps),
        })
    }

    fn judge_gap(
        &mut self,
        snapshot: &GraphSnapshot,
        now: u64,
        window: f64,
        events: &mut Vec<AnomalyEvent>,
    ) {
        let cfg = &self.config.telemetry_gap;
        let current = snapshot.pairing;
        let (stats, span_seconds) = match cfg.counters {
            PairingCounters::Window => (Some(current), window),
            PairingCounters::Cumulative => {
                let prev = self.prev_pairing.replace(current);
                let span = self
                    .prev_gap_ms
                    .map_or(0.0, |p| now.saturating_sub(p) as f64 / 1000.0);
                (prev.and_then(|p| delta(&p, &current)), span)
            }
        };
        self.prev_gap_ms = Some(now);
        let check = match stats {
            Some(s) if cfg.enabled => check_gap(
                &self.config,
                &s,
                self.gap_history.baseline(&self.config.baseline),
                span_seconds,
            ),
            _ => Check::Clear,
        };
        let event = step(
            &mut self.gap_tracker,
            check,
            self.config.hysteresis.start_after,
            self.config.hysteresis.end_after,
            now,
            &mut self.next_id,
            AnomalyKind::TelemetryGap,
            || Subject::Node(MESH_NODE.to_owned()),
        );
        if let Some(event) = event {
            if let AnomalyEvent::Ended(a) = &event {
                self.close(a);
            }
            events.push(event);
        }
        if let Some(s) = stats
            && self.gap_tracker.is_none()
        {
            let (lost, halves) = lost_halves(&s);
            if halves >= self.config.telemetry_gap.min_halves && halves > 0.0 {
                self.gap_history
                    .push(now, lost / halves, &self.config.baseline);
            }
        }
    }
}

fn sort_newest_first(anomalies: &mut [Anomaly]) {
    anomalies.sort_by(|a, b| {
        b.started_at_unix_ms
            .cmp(&a.started_at_unix_ms)
            // Ids are `<start ms>-<sequence>`: longer is later for the same start.
            .then_with(|| b.id.len().cmp(&a.id.len()))
            .then_with(|| b.id.cmp(&a.id))
    });
}

/// Advances one tracker; returns the event when an anomaly starts or ends.
#[allow(clippy::too_many_arguments)]
fn step(
    slot: &mut Option<Tracker>,
    check: Check,
    start_after: u32,
    end_after: u32,
    now: u64,
    next_id: &mut u64,
    kind: AnomalyKind,
    subject: impl FnOnce() -> Subject,
) -> Option<AnomalyEvent> {
    match (slot.take(), check) {
        (None | Some(Tracker::Pending(_)), Check::Clear | Check::Holding(_)) => None,
        (None, Check::Firing(f)) => start(slot, 1, start_after, f, now, next_id, kind, subject),
        (Some(Tracker::Pending(n)), Check::Firing(f)) => {
            start(slot, n + 1, start_after, f, now, next_id, kind, subject)
        }
        (Some(Tracker::Open { mut anomaly, .. }), Check::Firing(f) | Check::Holding(f)) => {
            anomaly.severity = anomaly.severity.max(f.severity);
            anomaly.message = f.message;
            anomaly.evidence = f.evidence;
            *slot = Some(Tracker::Open { anomaly, clear: 0 });
            None
        }
        (Some(Tracker::Open { mut anomaly, clear }), Check::Clear) => {
            if clear + 1 >= end_after {
                anomaly.ended_at_unix_ms = Some(now);
                Some(AnomalyEvent::Ended(anomaly))
            } else {
                *slot = Some(Tracker::Open {
                    anomaly,
                    clear: clear + 1,
                });
                None
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn start(
    slot: &mut Option<Tracker>,
    count: u32,
    start_after: u32,
    finding: Finding,
    now: u64,
    next_id: &mut u64,
    kind: AnomalyKind,
    subject: impl FnOnce() -> Subject,
) -> Option<AnomalyEvent> {
    if count < start_after {
        *slot = Some(Tracker::Pending(count));
        return None;
    }
    *next_id += 1;
    let anomaly = Anomaly {
        id: format!("{now}-{}", *next_id),
        kind,
        severity: finding.severity,
        subject: subject(),
        started_at_unix_ms: now,
        ended_at_unix_ms: None,
        message: finding.message,
        evidence: finding.evidence,
    };
    *slot = Some(Tracker::Open {
        anomaly: anomaly.clone(),
        clear: 0,
    });
    Some(AnomalyEvent::Started(anomaly))
}

/// The snapshot's edges by (source, target), duplicates summed, edges without requests left
/// out.
fn aggregate(snapshot: &GraphSnapshot, window: f64) -> BTreeMap<EdgeRef, EdgeObs> {
    let mut out: BTreeMap<EdgeRef, EdgeObs> = BTreeMap::new();
    for e in &snapshot.edges {
        let requests = finite(e.requests);
        let rps = if e.rps.is_finite() && e.rps > 0.0 {
            e.rps
        } else {
            requests / window
        };
        if requests <= 0.0 && rps <= 0.0 {
            continue;
        }
        let o = out
            .entry(EdgeRef::new(e.source.clone(), e.target.clone()))
            .or_default();
        o.requests += requests;
        o.errors += finite(e.errors);
        o.client_errors += finite(e.client_errors);
        o.authz_denials += finite(e.authz_denials);
        o.rps += rps;
        o.p50 = o.p50.max(finite(e.latency_ms.p50));
        o.p99 = o.p99.max(finite(e.latency_ms.p99));
        for t in &e.trace_ids {
            if !o.trace_ids.contains(t) {
                o.trace_ids.push(t.clone());
            }
        }
    }
    out
}

fn finite(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// `from + clear_fraction × (threshold − from)`: where an open anomaly clears.
fn clear_level(cfg: &AnomalyConfig, from: f64, threshold: f64) -> f64 {
    from + cfg.hysteresis.clear_fraction * (threshold - from)
}

fn check_traffic(
    cfg: &AnomalyConfig,
    edge: &EdgeRef,
    state: &EdgeState,
    obs: Option<&EdgeObs>,
    window: f64,
) -> Check {
    let t = &cfg.traffic_drop;
    if !t.enabled {
        return Check::Clear;
    }
    let Some(base) = state.rps.baseline(&cfg.baseline) else {
        return Check::Clear;
    };
    let base = base.median;
    if base < t.min_baseline_rps || base <= 0.0 {
        return Check::Clear;
    }
    let rps = obs.map_or(0.0, |o| o.rps);
    let requests = obs.map_or(0.0, |o| o.requests);
    let evidence = Evidence::new(state.trace_ids.clone())
        .with("rps", rps)
        .with("baseline_rps", base)
        .with("requests", requests)
        .with("window_seconds", window);
    let quiet = rps <= 0.0;
    let message = if quiet {
        format!(
            "{edge} has gone quiet: no requests over {} (baseline {})",
            format::window(window),
            format::rate(base)
        )
    } else {
        format!(
            "traffic on {edge} fell to {} (baseline {}, -{:.0}%) over {}",
            format::rate(rps),
            format::rate(base),
            (1.0 - rps / base) * 100.0,
            format::window(window)
        )
    };
    let finding = Finding {
        severity: if quiet {
            Severity::Critical
        } else {
            Severity::Warning
        },
        message,
        evidence,
    };
    if rps < t.drop_ratio * base {
        Check::Firing(finding)
    } else if rps < t.recover_ratio * base {
        Check::Holding(finding)
    } else {
        Check::Clear
    }
}

/// Whether the failure rate is past the clear level of the relative rule (or the edge has
/// an anomaly pending), so it must not enter the baseline.
fn error_rate_elevated(cfg: &AnomalyConfig, state: &EdgeState, o: &EdgeObs) -> bool {
    if matches!(state.trackers[ERRORS], Some(Tracker::Pending(_))) {
        return true;
    }
    let e = &cfg.error_burst;
    let Some(base) = state.error_rate.baseline(&cfg.baseline).map(|b| b.median) else {
        return false;
    };
    let relative = (base * e.relative_factor).max(base + e.relative_min_increase);
    o.requests > 0.0 && o.errors / o.requests >= clear_level(cfg, base, relative)
}

fn check_errors(
    cfg: &AnomalyConfig,
    edge: &EdgeRef,
    state: &EdgeState,
    o: &EdgeObs,
    window: f64,
) -> Check {
    let e = &cfg.error_burst;
    if !e.enabled || o.requests < e.min_requests || o.requests <= 0.0 {
        return Check::Clear;
    }
    let rate = (o.errors / o.requests).min(1.0);
    let client_rate = (o.client_errors / o.requests).min(1.0);
    let base = state.error_rate.baseline(&cfg.baseline).map(|b| b.median);
    let relative = base.map(|b| (b * e.relative_factor).max(b + e.relative_min_increase));

    // The lowest threshold that applies starts the anomaly; it clears below its clear level.
    let mut start: Option<f64> = None;
    let mut hold: Option<f64> = None;
    let mut consider = |threshold: Option<f64>, from: f64| {
        if let Some(t) = threshold {
            start = Some(start.map_or(t, |s: f64| s.min(t)));
            let h = clear_level(cfg, from, t);
            hold = Some(hold.map_or(h, |s: f64| s.min(h)));
        }
    };
    consider(e.warning_ratio, 0.0);
    consider(e.critical_ratio, 0.0);
    consider(relative, base.unwrap_or(0.0));
    let server_firing = o.errors >= e.min_errors && start.is_some_and(|t| rate >= t);
    let server_holding = o.errors > 0.0 && hold.is_some_and(|h| rate >= h);
    let server_critical = server_firing && e.critical_ratio.is_some_and(|c| rate >= c);

    let client_start = e
        .client_error_warning_ratio
        .into_iter()
        .chain(e.client_error_critical_ratio)
        .reduce(f64::min);
    let client_firing =
        o.client_errors >= e.min_errors && client_start.is_some_and(|t| client_rate >= t);
    let client_holding = o.client_errors > 0.0
        && client_start.is_some_and(|t| client_rate >= clear_level(cfg, 0.0, t));
    let client_critical = client_firing
        && e.client_error_critical_ratio
            .is_some_and(|c| client_rate >= c);

    if !(server_firing || server_holding || client_firing || client_holding) {
        return Check::Clear;
    }
    let over = format::window(window);
    let mut parts = Vec::new();
    if server_firing || server_holding || !(client_firing || client_holding) {
        let baseline = base.map_or_else(String::new, |b| {
            format!(" (baseline {})", format::percent(b))
        });
        parts.push(format!(
            "error rate on {edge} rose to {}{baseline} over {over}: {} of {} requests failed",
            format::percent(rate),
            format::count(o.errors),
            format::count(o.requests)
        ));
    }
    if client_firing || client_holding {
        parts.push(format!(
            "4xx rate on {edge} is {} over {over}: {} of {} requests",
            format::percent(client_rate),
            format::count(o.client_errors),
            format::count(o.requests)
        ));
    }
    let mut evidence = Evidence::new(state.trace_ids.clone())
        .with("error_rate", rate)
        .with("errors", o.errors)
        .with("requests", o.requests)
        .with("client_error_rate", client_rate)
        .with("client_errors", o.client_errors)
        .with("window_seconds", window);
    if let Some(b) = base {
        evidence = evidence.with("baseline_error_rate", b);
    }
    if let Some(t) = start {
        evidence = evidence.with("threshold", t);
    }
    let finding = Finding {
        severity: if server_critical || client_critical {
            Severity::Critical
        } else {
            Severity::Warning
        },
        message: parts.join("; "),
        evidence,
    };
    if server_firing || client_firing {
        Check::Firing(finding)
    } else {
        Check::Holding(finding)
    }
}

fn check_latency(
    cfg: &AnomalyConfig,
    edge: &EdgeRef,
    state: &EdgeState,
    o: &EdgeObs,
    window: f64,
) -> Check {
    let l = &cfg.latency_regression;
    if !l.enabled || o.requests < l.min_requests || o.p99 <= 0.0 {
        return Check::Clear;
    }
    let Some(base @ Baseline { median, .. }) = state.p99.baseline(&cfg.baseline) else {
        return Check::Clear;
    };
    let threshold = (median * l.factor)
        .max(median + l.min_increase_ms)
        .max(median + l.mad_factor * base.sigma());
    let hold = clear_level(cfg, median, threshold);
    if o.p99 < hold {
        return Check::Clear;
    }
    let factor = if median > 0.0 {
        o.p99 / median
    } else {
        f64::INFINITY
    };
    let finding = Finding {
        severity: if o.p99 > threshold && factor >= l.critical_factor {
            Severity::Critical
        } else {
            Severity::Warning
        },
        message: format!(
            "p99 latency on {edge} rose to {} (baseline {}{}) over {}",
            format::millis(o.p99),
            format::millis(median),
            if factor.is_finite() {
                format!(", {factor:.1}×")
            } else {
                String::new()
            },
            format::window(window)
        ),
        evidence: Evidence::new(state.trace_ids.clone())
            .with("p99_ms", o.p99)
            .with("p50_ms", o.p50)
            .with("baseline_p99_ms", median)
            .with("baseline_mad_ms", base.mad)
            .with("threshold_ms", threshold)
            .with("requests", o.requests)
            .with("window_seconds", window),
    };
    if o.p99 > threshold {
        Check::Firing(finding)
    } else {
        Check::Holding(finding)
    }
}

fn check_authz(
    cfg: &AnomalyConfig,
    edge: &EdgeRef,
    state: &EdgeState,
    o: &EdgeObs,
    window: f64,
) -> Check {
    let a = &cfg.authz_denial_burst;
    if !a.enabled || o.authz_denials <= 0.0 {
        return Check::Clear;
    }
    let per_minute = o.authz_denials * 60.0 / window;
    let ratio = (o.authz_denials / o.requests.max(o.authz_denials)).min(1.0);
    let firing = per_minute >= a.denials_per_minute
        || (o.authz_denials >= a.min_denials && a.ratio.is_some_and(|r| ratio >= r));
    let cf = cfg.hysteresis.clear_fraction;
    let holding = per_minute >= cf * a.denials_per_minute
        || (o.authz_denials >= cf * a.min_denials && a.ratio.is_some_and(|r| ratio >= cf * r));
    if !(firing || holding) {
        return Check::Clear;
    }
    let finding = Finding {
        severity: if o.authz_denials >= a.min_denials && ratio >= a.critical_ratio {
            Severity::Critical
        } else {
            Severity::Warning
        },
        message: format!(
            "{} authorization denials (403 RBAC) on {edge} over {} ({:.1}/min, {} of requests)",
            format::count(o.authz_denials),
            format::window(window),
            per_minute,
            format::percent(ratio)
        ),
        evidence: Evidence::new(state.trace_ids.clone())
            .with("authz_denials", o.authz_denials)
            .with("denials_per_minute", per_minute)
            .with("denial_ratio", ratio)
            .with("requests", o.requests)
            .with("window_seconds", window),
    };
    if firing {
        Check::Firing(finding)
    } else {
        Check::Holding(finding)
    }
}

/// (lost halves, all halves) of pairing counters.
fn lost_halves(s: &PairingStats) -> (f64, f64) {
    let lost = (s.expired_client + s.expired_server + s.dropped_store_full) as f64;
    (lost, lost + 2.0 * s.paired as f64)
}

/// Counter increments, or `None` when a counter went backwards (a restart).
fn delta(prev: &PairingStats, cur: &PairingStats) -> Option<PairingStats> {
    Some(PairingStats {
        paired: cur.paired.checked_sub(prev.paired)?,
        expired_client: cur.expired_client.checked_sub(prev.expired_client)?,
        expired_server: cur.expired_server.checked_sub(prev.expired_server)?,
        dropped_store_full: cur
            .dropped_store_full
            .checked_sub(prev.dropped_store_full)?,
        unpairable: cur.unpairable.checked_sub(prev.unpairable)?,
        pending: cur.pending,
    })
}

fn check_gap(
    cfg: &AnomalyConfig,
    s: &PairingStats,
    baseline: Option<Baseline>,
    span_seconds: f64,
) -> Check {
    let g = &cfg.telemetry_gap;
    let (lost, halves) = lost_halves(s);
    let Some(base) = baseline else {
        return Check::Clear;
    };
    if halves < g.min_halves || halves <= 0.0 {
        return Check::Clear;
    }
    let ratio = lost / halves;
    let base = base.median;
    let threshold = g.min_ratio.max(base + g.min_rise);
    if ratio < clear_level(cfg, base, threshold) {
        return Check::Clear;
    }
    let store_full = s.dropped_store_full > 0 && g.critical_on_store_full;
    let finding = Finding {
        severity: if store_full {
            Severity::Critical
        } else {
            Severity::Warning
        },
        message: format!(
            "telemetry gap: {} of span halves went unpaired over {} (baseline {}): {} client and {} server halves expired, {} dropped because the pairing store was full",
            format::percent(ratio),
            format::window(span_seconds),
            format::percent(base),
            s.expired_client,
            s.expired_server,
            s.dropped_store_full
        ),
        evidence: Evidence::new(Vec::new())
            .with("lost_ratio", ratio)
            .with("baseline_lost_ratio", base)
            .with("threshold", threshold)
            .with("paired", s.paired as f64)
            .with("expired_client", s.expired_client as f64)
            .with("expired_server", s.expired_server as f64)
            .with("dropped_store_full", s.dropped_store_full as f64)
            .with("unpairable", s.unpairable as f64)
            .with("pending", s.pending as f64)
            .with("window_seconds", span_seconds),
    };
    if ratio >= threshold {
        Check::Firing(finding)
    } else {
        Check::Holding(finding)
    }
}
