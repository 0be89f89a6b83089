//! The offline path (`meshlens graph --traces`): the live engine run over recorded spans, time
//! taken from the spans, not the wall clock.

use meshlens_collector::{Interner, Span};

use crate::config::AnalyzerConfig;
use crate::engine::Analyzer;
use crate::observe::RequestObserver;
use crate::snapshot::GraphSnapshot;
use crate::window::Window;

/// The graph of `spans` over the whole input. Every span is ingested at the input's end time
/// (the latest span end), so halves pair however far apart the file holds them, then all
/// halves still waiting expire into virtual / `unknown` edges; the window is the whole input.
/// A live [`Analyzer`] fed the same spans and flushed at the same time gives the same numbers.
pub fn analyze_all<'a>(
    interner: Interner,
    spans: impl IntoIterator<Item = &'a Span>,
    config: AnalyzerConfig,
) -> GraphSnapshot {
    replay(interner, spans, config, None).1
}

/// [`analyze_all`] with `observer` shown every request; the analyzer is returned too, to
/// take the observer back and resolve what it kept.
pub fn replay<'a>(
    interner: Interner,
    spans: impl IntoIterator<Item = &'a Span>,
    config: AnalyzerConfig,
    observer: Option<Box<dyn RequestObserver>>,
) -> (Analyzer, GraphSnapshot) {
    let spans: Vec<&Span> = spans.into_iter().collect();
    let end_ms = input_end_ms(spans.iter().copied());
    let mut analyzer = Analyzer::new(interner, config);
    if let Some(observer) = observer {
        analyzer.set_observer(observer);
    }
    for span in spans {
        analyzer.ingest_span(span, end_ms);
    }
    analyzer.flush(end_ms);
    let graph = analyzer.snapshot(Window::Whole, end_ms);
    (analyzer, graph)
}

/// The latest span end in unix ms (0 for no spans).
pub fn input_end_ms<'a>(spans: impl IntoIterator<Item = &'a Span>) -> u64 {
    spans
        .into_iter()
        .map(|s| s.start_unix_nanos.saturating_add(s.duration_nanos) / 1_000_000)
        .max()
        .unwrap_or(0)
}
