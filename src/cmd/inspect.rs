//! `meshlens inspect`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use meshlens_collector::Interner;
use meshlens_collector::inspect::inspect_files;

use super::output::TextOrJson;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Trace files or directories: OTLP JSON / JSON lines / protobuf, Zipkin v2 JSON,
    /// Tempo/Kiali trace JSON (detected from content).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    traces: Vec<PathBuf>,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<TextOrJson>,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let inspection = inspect_files(&args.traces, Interner::new())?;
    let format = TextOrJson::or_by_terminal(args.format);
    let mut out = std::io::stdout().lock();
    match format {
        TextOrJson::Json => {
            serde_json::to_writer_pretty(&mut out, &inspection)?;
            writeln!(out)?;
        }
        TextOrJson::Text => write!(out, "{inspection}")?,
    }
    Ok(ExitCode::SUCCESS)
}
