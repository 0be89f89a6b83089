//! `--connect`: attach to a running `meshlens serve` through its server-sent-events stream
//! (`GET /api/v1/stream`), reconnecting with backoff, and its policy status
//! (`GET /api/v1/policies`).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use meshlens_analyzer::anomaly::Anomaly;
use meshlens_analyzer::snapshot::GraphSnapshot;
use serde::Deserialize;

use meshlens_analyzer::conformance::live::PolicyStatus;
use meshlens_analyzer::conformance::usage::WorkloadPolicies;
use meshlens_analyzer::samples::TraceView;

use crate::convert::{policy_panel, trace_sample};
use crate::data::{ConnectionState, PolicyPanel, TraceSample, Update};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// `event:` field; `message` when absent.
    pub event: String,
    /// `data:` lines joined by `\n`.
    pub data: String,
}

/// Incremental parser of an event stream (the WHATWG `text/event-stream` format): feed it
/// bytes as they arrive, split anywhere, and it yields complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous byte was `\r` (a following `\n` belongs to the same line end).
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' => self.end_line(&mut events),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut events);
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if self.has_data {
                let event = if self.event.is_empty() {
                    "message".to_owned()
                } else {
                    std::mem::take(&mut self.event)
                };
                events.push(SseEvent {
                    event,
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {} // id, retry: not needed
        }
    }
}

/// The JSON of one `update` event.
#[derive(Debug, Deserialize)]
struct StreamUpdate {
    graph: GraphSnapshot,
    #[serde(default)]
    anomalies: Vec<Anomaly>,
}

/// Turns an `update` event into an [`Update::Snapshot`]; other events and bad JSON give `None`.
pub fn update_from_event(event: &SseEvent) -> Option<Update> {
    if event.event != "update" {
        return None;
    }
    let update: StreamUpdate = serde_json::from_str(&event.data).ok()?;
    Some(Update::Snapshot {
        graph: Box::new(update.graph),
        anomalies: update.anomalies,
    })
}

/// Options of [`connect`].
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Graph window: `60s`, `5m`, `15m`, `all`.
    pub window: String,
    /// Update interval (`1s`).
    pub interval: String,
    /// First reconnect delay, doubled per failure up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How often the policy status and usage, and the sample traces, are fetched again.
    pub policy_refresh: Duration,
    /// Sent as `Authorization` on every request (a `serve --auth-token-file`); mark it
    /// sensitive so that `Debug` does not show it.
    pub authorization: Option<reqwest::header::HeaderValue>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            window: "60s".to_owned(),
            interval: "1s".to_owned(),
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            policy_refresh: Duration::from_secs(10),
            authorization: None,
        }
    }
}

/// The running stream reader. Dropping it (or [`Connection::stop`]) asks the thread to stop
/// at its next wake-up.
#[derive(Debug)]
pub struct Connection {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Connection {
    /// Asks the reader to stop and waits for it (at most until its current read returns:
    /// the server sends an update every interval).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `http://host:9464`, `host:9464` or `http://host:9464/` → `http://host:9464`.
pub fn normalize_base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

/// Starts a thread that reads `base_url`'s update stream and sends [`Update`]s (snapshots,
/// policy status, connection state) until the receiver is dropped or the connection stopped.
pub fn connect(base_url: &str, options: ConnectOptions) -> (Receiver<Update>, Connection) {
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let base = normalize_base_url(base_url);
    let thread = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("meshlens-tui-sse".to_owned())
            .spawn(move || reader(&base, &options, &tx, &stop))
            .ok()
    };
    (rx, Connection { stop, thread })
}

/// Why a connection ended.
enum End {
    /// Stopped or nobody listens any more: leave.
    Quit,
    /// Lost: try again after the backoff.
    Lost(String),
}

fn reader(base: &str, options: &ConnectOptions, tx: &Sender<Update>, stop: &AtomicBool) {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(authorization) = &options.authorization {
        headers.insert(reqwest::header::AUTHORIZATION, authorization.clone());
    }
    let client = match reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(None)
        .default_headers(headers)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            let _ = tx.send(Update::Connection(ConnectionState::Disconnected {
                url: base.to_owned(),
                error: error.to_string(),
                retry_in_ms: 0,
            }));
            return;
        }
    };
    let mut attempt = 0u32;
    let mut backoff = options.min_backoff;
    while !stop.load(Ordering::SeqCst) {
        attempt += 1;
        let connecting = ConnectionState::Connecting {
            url: base.to_owned(),
            attempt,
        };
        if tx.send(Update::Connection(connecting)).is_err() {
            return;
        }
        let started = Instant::now();
        let error = match session(&client, base, options, tx, stop) {
            End::Quit => return,
            End::Lost(error) => error,
        };
        // A connection that lived a while resets the backoff.
        if started.elapsed() > Duration::from_secs(5) {
            backoff = options.min_backoff;
            attempt = 0;
        }
        let lost = ConnectionState::Disconnected {
            url: base.to_owned(),
            error,
            retry_in_ms: u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
        };
        if tx.send(Update::Connection(lost)).is_err() {
            return;
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50).min(backoff));
        }
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

/// One connection: the stream until it ends.
fn session(
    client: &reqwest::blocking::Client,
    base: &str,
    options: &ConnectOptions,
    tx: &Sender<Update>,
    stop: &AtomicBool,
) -> End {
    let url = format!(
        "{base}/api/v1/stream?window={}&interval={}",
        options.window, options.interval
    );
    let mut response = match client.get(&url).send() {
        Ok(response) => response,
        Err(error) => return End::Lost(error.to_string()),
    };
    if response.status() == reqwest::StatusCode::UNAUTHORIZED {
        let hint = if options.authorization.is_some() {
            "the token was refused"
        } else {
            "the server wants a bearer token: --auth-token-file"
        };
        return End::Lost(format!("{url}: HTTP {}: {hint}", response.status()));
    }
    if !response.status().is_success() {
        return End::Lost(format!("{url}: HTTP {}", response.status()));
    }
    if tx
        .send(Update::Connection(ConnectionState::Connected {
            url: base.to_owned(),
        }))
        .is_err()
    {
        return End::Quit;
    }
    let mut policies_at: Option<Instant> = None;
    let mut parser = SseParser::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            return End::Quit;
        }
        if policies_at.is_none_or(|at| at.elapsed() >= options.policy_refresh) {
            policies_at = Some(Instant::now());
            if let Some(panel) = fetch_policies(client, base)
                && tx.send(Update::Policies(panel)).is_err()
            {
                return End::Quit;
            }
            if let Some(traces) = fetch_traces(client, base)
                && tx.send(Update::Traces(traces)).is_err()
            {
                return End::Quit;
            }
        }
        let n = match response.read(&mut chunk) {
            Ok(0) => return End::Lost("the stream ended".to_owned()),
            Ok(n) => n,
            Err(error) => return End::Lost(error.to_string()),
        };
        for event in parser.feed(&chunk[..n]) {
            if let Some(update) = update_from_event(&event)
                && tx.send(update).is_err()
            {
                return End::Quit;
            }
        }
    }
}

/// `Some(Some(panel))` with the status, `Some(None)` when serve checks no policies (404),
/// `None` when it could not tell (network error: keep what is shown).
fn fetch_policies(client: &reqwest::blocking::Client, base: &str) -> Option<Option<PolicyPanel>> {
    let response = client
        .get(format!("{base}/api/v1/policies"))
        .timeout(Duration::from_secs(3))
        .send()
        .ok()?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Some(None);
    }
    if !response.status().is_success() {
        return None;
    }
    let answer: PoliciesAnswer = serde_json::from_slice(&response.bytes().ok()?).ok()?;
    Some(Some(policy_panel(answer.status, answer.workloads)))
}

/// `GET /api/v1/policies`: the set's status and, from servers that have it, the rule usage.
#[derive(Debug, Deserialize)]
struct PoliciesAnswer {
    #[serde(flatten)]
    status: PolicyStatus,
    #[serde(default)]
    workloads: Vec<WorkloadPolicies>,
}

/// The sample traces `serve` keeps (`GET /api/v1/traces`); `None` when it could not tell.
fn fetch_traces(client: &reqwest::blocking::Client, base: &str) -> Option<Vec<TraceSample>> {
    #[derive(Deserialize)]
    struct Answer {
        traces: Vec<TraceView>,
    }
    let response = client
        .get(format!("{base}/api/v1/traces?limit=50"))
        .timeout(Duration::from_secs(3))
        .send()
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let answer: Answer = serde_json::from_slice(&response.bytes().ok()?).ok()?;
    Some(answer.traces.iter().map(trace_sample).collect())
}
