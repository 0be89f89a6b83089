//! The `meshlens` binary: command-line wiring only. Everything it does lives in the crates.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    init_logging();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("meshlens: {error:#}");
            ExitCode::from(cmd::EXIT_INPUT_ERROR)
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MESHLENS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
