//! `meshlens graph`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use meshlens_analyzer::AnalyzerConfig;
use meshlens_analyzer::api::parse_duration;
use meshlens_analyzer::render::{self, DotOptions, MermaidOptions};
use meshlens_analyzer::traces::graph_of_trace_files;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Trace files or directories (any format `meshlens inspect` reads).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    traces: Vec<PathBuf>,
    /// json (the API's graph), dot (Graphviz) or mermaid.
    #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
    format: GraphFormat,
    /// How long a half waits for its other half, in span time.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pair_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Json,
    Dot,
    Mermaid,
}

pub fn run(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let config = AnalyzerConfig {
        pair_ttl: args.pair_ttl,
        ..AnalyzerConfig::default()
    };
    let graph = graph_of_trace_files(&args.traces, config)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        GraphFormat::Json => render::json(&graph, &mut out)?,
        GraphFormat::Dot => render::dot(&graph, &DotOptions::default(), &mut out)?,
        GraphFormat::Mermaid => render::mermaid(&graph, &MermaidOptions::default(), &mut out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
