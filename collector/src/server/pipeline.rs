//! The consumer side of the queue: records accepted batches and hands spans to the sink
//! (the analyzer), on a thread of its own so a slow disk or a busy analyzer never stalls the
//! receivers — they only ever see the queue fill and answer "retry".

use std::sync::Arc;
use std::thread;

use super::metrics::IngestMetrics;
use super::queue::QueueReceiver;
use super::record::Recorder;
use crate::span::Span;

/// Where accepted spans go after the queue.
pub trait SpanSink: Send + 'static {
    fn consume(&mut self, spans: &[Span]);
}

impl<F: FnMut(&[Span]) + Send + 'static> SpanSink for F {
    fn consume(&mut self, spans: &[Span]) {
        self(spans)
    }
}

/// What the pipeline did, reported when it stops.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipelineReport {
    pub batches: u64,
    pub spans: u64,
    pub recorded_batches: u64,
    pub record_errors: u64,
}

pub(super) fn spawn(
    mut queue: QueueReceiver,
    mut recorder: Option<Recorder>,
    mut sink: Box<dyn SpanSink>,
    metrics: Arc<IngestMetrics>,
) -> std::io::Result<thread::JoinHandle<PipelineReport>> {
    thread::Builder::new()
        .name("meshlens-pipeline".into())
        .spawn(move || {
            let mut report = PipelineReport::default();
            while let Some(batch) = queue.blocking_recv() {
                if let (Some(recorder), Some(request)) = (recorder.as_mut(), &batch.record) {
                    match recorder.append(request) {
                        Ok(()) => {
                            report.recorded_batches += 1;
                            metrics.recorded_batches.inc();
                        }
                        Err(error) => record_failed(&mut report, &metrics, recorder, &error),
                    }
                }
                sink.consume(&batch.spans);
                report.batches += 1;
                report.spans += batch.spans.len() as u64;
                queue.done(&batch);
                // Flush when idle: under load lines go out in large writes, and a quiet
                // moment leaves nothing acknowledged only in memory.
                if queue.is_empty()
                    && let Some(recorder) = recorder.as_mut()
                    && let Err(error) = recorder.flush()
                {
                    record_failed(&mut report, &metrics, recorder, &error);
                }
            }
            if let Some(recorder) = recorder {
                let path = recorder.path().to_owned();
                if let Err(error) = recorder.close() {
                    tracing::error!(path = %path.display(), %error, "could not flush the recording");
                    report.record_errors += 1;
                    metrics.record_errors.inc();
                }
            }
            report
        })
}

fn record_failed(
    report: &mut PipelineReport,
    metrics: &IngestMetrics,
    recorder: &Recorder,
    error: &std::io::Error,
) {
    report.record_errors += 1;
    metrics.record_errors.inc();
    tracing::error!(path = %recorder.path().display(), %error, "could not write to the recording");
}
