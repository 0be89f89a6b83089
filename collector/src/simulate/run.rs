//! Sending the simulated mesh's traffic: `connections` tasks, each with its own
//! connection and simulator, paced to a total span rate, until a duration or a stop signal
//! — or until the receiver refuses a credential (the token, the client certificate), which
//! stops every connection.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::send::{ClientTls, Protocol, SendError, Sender};
use super::stats::SendStats;
use super::timeline::Timeline;
use super::topology::Topology;
use super::traffic::Simulator;
use crate::server::auth::BearerToken;

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
    /// `Authorization: Bearer <token>` on every request.
    pub auth: Option<BearerToken>,
    /// gRPC over TLS (the other protocols refuse it: [`super::send::secured_url`]).
    pub tls: Option<ClientTls>,
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
            auth: None,
            tls: None,
        }
    }
}

/// Sends until the duration is over or `stop` turns true. Fails when a connection cannot be
/// made, and with [`SendError::Unauthenticated`] as soon as the receiver refuses a
/// credential (every connection then stops after its request in flight); other refusals
/// are counted in `stats`. Returns the last sending error seen.
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
        senders.push(
            Sender::connect(
                config.protocol,
                &config.target,
                config.auth.as_ref(),
                config.tls.as_ref(),
            )
            .await?,
        );
    }
    // Turned true by the first connection refused a credential: the others stop too.
    let halt = Arc::new(watch::Sender::new(false));
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
            Stops {
                stop: stop.clone(),
                halted: halt.subscribe(),
                halt: halt.clone(),
            },
            started,
        ));
    }
    let mut last_error = None;
    let mut refused = None;
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Ended::Done(error)) => last_error = error.or(last_error),
            Ok(Ended::Unauthenticated(error)) => refused = refused.or(Some(error)),
            Err(_) => {}
        }
    }
    match refused {
        Some(error) => Err(error),
        None => Ok(last_error),
    }
}

/// How a connection's loop ended.
#[derive(Debug)]
enum Ended {
    /// Its time was up or it was stopped; the last sending error it saw.
    Done(Option<String>),
    /// The receiver refused a credential.
    Unauthenticated(SendError),
}

/// What stops a connection: the caller's signal, or another connection's refused credential.
#[derive(Debug)]
struct Stops {
    stop: watch::Receiver<bool>,
    halted: watch::Receiver<bool>,
    halt: Arc<watch::Sender<bool>>,
}

impl Stops {
    fn stopped(&self) -> bool {
        *self.stop.borrow() || *self.halted.borrow()
    }

    async fn changed(&mut self) {
        tokio::select! {
            _ = self.stop.changed() => {}
            _ = self.halted.changed() => {}
        }
    }
}

async fn connection(
    config: LoadConfig,
    connections: usize,
    mut sender: Sender,
    mut simulator: Simulator,
    stats: Arc<SendStats>,
    mut stops: Stops,
    started: Instant,
) -> Ended {
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
        if stops.stopped() {
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
                    _ = stops.changed() => {}
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
        if let Some(credential) = sender.refused() {
            stops.halt.send_replace(true);
            return Ended::Unauthenticated(SendError::unauthenticated(
                &config.target,
                credential,
                sender.presents(credential),
                last_error.unwrap_or_default(),
            ));
        }
        sent += batch.spans as u64;
    }
    Ended::Done(last_error)
}

fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
