//! `meshlens graph`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use meshlens_analyzer::render::{self, DotOptions, MermaidOptions};
use meshlens_analyzer::traces::graph_of_trace_files;

use super::trace_input::TraceInput;

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    input: TraceInput,
    /// json (the API's graph), dot (Graphviz) or mermaid.
    #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
    format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Json,
    Dot,
    Mermaid,
}

pub fn run(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let graph = graph_of_trace_files(&args.input.traces, args.input.analyzer_config())?;
    let mut out = std::io::stdout().lock();
    match args.format {
        GraphFormat::Json => render::json(&graph, &mut out)?,
        GraphFormat::Dot => render::dot(&graph, &DotOptions::default(), &mut out)?,
        GraphFormat::Mermaid => render::mermaid(&graph, &MermaidOptions::default(), &mut out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
