//! `meshlens export`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use meshlens_analyzer::traces::export_trace_files;

use super::trace_input::TraceInput;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    input: TraceInput,
    /// Directory for spans.parquet, requests.parquet and edges.parquet (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let exported = export_trace_files(&args.input.traces, args.input.analyzer_config(), &args.out)?;
    let mut out = std::io::stdout().lock();
    for (path, rows) in &exported.tables {
        writeln!(out, "{}\t{rows} rows", path.display())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
