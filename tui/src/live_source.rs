//! An in-process analyzer as the dashboard's source (`meshlens demo`, `meshlens tui` without
//! `--connect`): a feeder thread sends the graph, anomalies, policy usage and sample traces
//! once a second, as the streaming API would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;
use std::time::Duration;

use meshlens_analyzer::Window;
use meshlens_analyzer::live::Live;

use crate::convert::{policy_panel, trace_sample};
use crate::data::Update;

/// Sample traces sent per update.
const TRACES: usize = 50;

/// Stops the feeder when dropped.
#[derive(Debug)]
pub struct Feeder {
    stop: Arc<AtomicBool>,
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Updates from `live` every `interval` over `window`, until the [`Feeder`] is dropped or the
/// dashboard stops listening.
pub fn feed(live: Live, window: Window, interval: Duration) -> (Receiver<Update>, Feeder) {
    // A small buffer: a dashboard that falls behind skips updates rather than queueing them.
    let (tx, rx) = mpsc::sync_channel(4);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let spawned = thread::Builder::new()
        .name("meshlens-tui-feed".into())
        .spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                if !send_all(&tx, &live, window) {
                    break;
                }
                thread::sleep(interval);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!("cannot start the dashboard's feeder: {error}");
    }
    (rx, Feeder { stop })
}

/// False once the dashboard is gone.
fn send_all(tx: &SyncSender<Update>, live: &Live, window: Window) -> bool {
    let updates = [
        Update::Snapshot {
            graph: Box::new(live.snapshot(window)),
            anomalies: live.anomalies(),
        },
        Update::Policies(
            live.policies()
                .map(|p| policy_panel(p.status(), live.policy_usage())),
        ),
        Update::Traces(
            live.sample_traces(None, TRACES)
                .into_iter()
                .map(|t| trace_sample(&t))
                .collect(),
        ),
    ];
    for update in updates {
        match tx.try_send(update) {
            Ok(()) | Err(mpsc::TrySendError::Full(_)) => {}
            Err(mpsc::TrySendError::Disconnected(_)) => return false,
        }
    }
    true
}
