//! Sending the simulated mesh's traffic: `connections` tasks, each with its own
//! connection and simulator, paced to a total span rate, until a duration or a stop signal.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::send::{Protocol, SendError, Sender};
use super::stats::SendStats;
use super::timeline::Timeline;
use super::topology::Topology;
use super::traffic::Simulator;

/// What to send, where, how fast.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub protocol: Protocol,
    /// `host:port` or a URL (see [`super::send::target_url`]).
    pub target: String,
    /// Spans per second over all connections; 0: as fast as the receiver takes them.
    pub rate: f64,
    /// Stop after this long (`None`: until stopped).
    pub duration: Option<Duration>,
    pub connections: usize,
    /// Spans per export request (at least; whole traces are kept together).
    pub batch_spans: usize,
    /// Simulation seconds per wall-clock second (the incident timeline runs this much faster).
    pub time_scale: f64,
    pub seed: u64,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Grpc,
            target: "127.0.0.1:4317".to_owned(),
            rate: 1000.0,
            duration: None,
            connections: 1,
            batch_spans: 512,
            time_scale: 1.0,
            seed: 1,
        }
    }
}

/// Sends until the duration is over or `stop` turns true. Fails only when a connection
/// cannot be made; refusals are counted in `stats`. Returns the last sending error seen.
pub async fn run(
    config: LoadConfig,
    topology: Arc<Topology>,
    timeline: Arc<Timeline>,
    stats: Arc<SendStats>,
    stop: watch::Receiver<bool>,
) -> Result<Option<String>, SendError> {
    let connections = config.connections.max(1);
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        senders.push(Sender::connect(config.protocol, &config.target).await?);
    }
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, sender) in senders.into_iter().enumerate() {
        let simulator = Simulator::new(
            topology.clone(),
            timeline.clone(),
            config
                .seed
                .wrapping_mul(0x100_0000_01b3)
                .wrapping_add(index as u64),
        );
        tasks.spawn(connection(
            config.clone(),
            connections,
            sender,
            simulator,
            stats.clone(),
            stop.clone(),
            started,
        ));
    }
    let mut last_error = None;
    while let Some(result) = tasks.join_next().await {
        if let Ok(Some(error)) = result {
            last_error = Some(error);
        }
    }
    Ok(last_error)
}

async fn connection(
    config: LoadConfig,
    connections: usize,
    mut sender: Sender,
    mut simulator: Simulator,
    stats: Arc<SendStats>,
    mut stop: watch::Receiver<bool>,
    started: Instant,
) -> Option<String> {
    let rate = if config.rate.is_finite() && config.rate > 0.0 {
        Some(config.rate / connections as f64)
    } else {
        None
    };
    let scale = if config.time_scale.is_finite() && config.time_scale > 0.0 {
        config.time_scale
    } else {
        1.0
    };
    // Small batches at low rates, so spans flow steadily (at least ~4 requests a second).
    let batch_spans = match rate {
        Some(rate) => config.batch_spans.min((rate / 4.0).ceil() as usize).max(1),
        None => config.batch_spans.max(1),
    };
    let mut sent = 0u64;
    let mut last_error = None;
    loop {
        if *stop.borrow() {
            break;
        }
        let elapsed = started.elapsed();
        if config.duration.is_some_and(|d| elapsed >= d) {
            break;
        }
        if let Some(rate) = rate {
            let due = elapsed.as_secs_f64() * rate;
            if (sent as f64) > due {
                let wait = Duration::from_secs_f64(((sent as f64 - due) / rate).min(1.0));
                let wait = match config.duration {
                    Some(d) => wait.min(d.saturating_sub(elapsed)),
                    None => wait,
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        }
        let batch = simulator.batch(elapsed.as_secs_f64() * scale, now_unix_nanos(), batch_spans);
        let delivery = sender.send(&batch.request, batch.spans as u64).await;
        stats.record(&delivery);
        if delivery.failed > 0 {
            last_error = sender.last_error().map(str::to_owned);
        }
        sent += batch.spans as u64;
    }
    last_error
}

fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
