//! The `meshlens` binary: command-line wiring only. Everything it does lives in the crates.

mod cmd;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    init_logging(!cli.draws_dashboard());
    match cmd::run(cli) {
        Ok(code) => code,
        // A reader that stopped early (`meshlens graph | head`) is not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("meshlens: {error:#}");
            ExitCode::from(cmd::EXIT_INPUT_ERROR)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(to_stderr: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = if to_stderr {
        EnvFilter::try_from_env("MESHLENS_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
    } else {
        EnvFilter::new("off")
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
