//! Subcommands and their flags.

mod authz;
mod demo;
mod export;
mod graph;
mod inspect;
mod lint;
mod listen;
mod loadgen;
mod output;
mod policy_input;
mod serve;
mod suggest;
mod trace_input;
mod tui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Usage or input error: bad flags, unreadable or malformed files.
pub const EXIT_INPUT_ERROR: u8 = 2;

/// meshlens: see your service mesh through the traces its proxies already send.
#[derive(Debug, Parser)]
#[command(name = "meshlens", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive traces from mesh proxies and apps (OTLP gRPC/HTTP, Zipkin v2).
    Serve(serve::ServeArgs),
    /// Show what meshlens understands of recorded traces: workloads, calls, proxy facts.
    Inspect(inspect::InspectArgs),
    /// Print the service graph of recorded traces (JSON, Graphviz DOT or Mermaid).
    Graph(graph::GraphArgs),
    /// Write recorded traces as Parquet tables: spans, requests (paired) and edge statistics.
    Export(export::ExportArgs),
    /// Check requests against authorization policies.
    #[command(subcommand)]
    Authz(authz::AuthzCommand),
    /// Lint authorization policies for CI: findings with codes, severities and locations.
    Lint(lint::LintArgs),
    /// Write least-privilege AuthorizationPolicies that allow exactly the traffic traces show.
    Suggest(suggest::SuggestArgs),
    /// Run a simulated mesh with scripted incidents against an in-process collector.
    Demo(demo::DemoArgs),
    /// Send the simulated mesh's traffic as load to a trace receiver.
    Loadgen(loadgen::LoadgenArgs),
    /// Terminal dashboard attached to a running `serve` (--connect http://host:9464).
    Tui(tui::TuiArgs),
}

impl Cli {
    /// The command draws the dashboard: it owns the terminal, and log lines on standard
    /// error would tear through it.
    pub fn draws_dashboard(&self) -> bool {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        match &self.command {
            Command::Tui(_) => terminal,
            Command::Demo(args) => terminal && !args.headless(),
            _ => false,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Export(args) => export::run(args),
        Command::Authz(command) => authz::run(command),
        Command::Lint(args) => lint::run(args),
        Command::Suggest(args) => suggest::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Loadgen(args) => loadgen::run_loadgen(args),
        Command::Tui(args) => tui::run(args),
    }
}
