//! `meshlens inspect`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use meshlens_collector::Interner;
use meshlens_collector::inspect::inspect_files;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Trace files or directories: OTLP JSON / JSON lines / protobuf, Zipkin v2 JSON,
    /// Tempo/Kiali trace JSON (detected from content).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    traces: Vec<PathBuf>,
    /// Output format [default: text on a terminal, json otherwise].
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let inspection = inspect_files(&args.traces, Interner::new())?;
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Text
    } else {
        Format::Json
    });
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &inspection)?;
            writeln!(out)?;
        }
        Format::Text => write!(out, "{inspection}")?,
    }
    Ok(ExitCode::SUCCESS)
}
