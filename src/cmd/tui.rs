//! `meshlens tui`: the terminal dashboard over a collector in this process (serve's flags), or
//! attached to a running `serve` with `--connect URL`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use meshlens_analyzer::api::{parse_duration, parse_window};
use meshlens_collector::server::auth::BearerToken;
use meshlens_tui::live_source::feed;
use meshlens_tui::sse::{ConnectOptions, connect, normalize_base_url};
use meshlens_tui::{ConnectionState, RunOptions};

use super::serve::{self, ServeArgs, Ticking};

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Attach to the API of a running `meshlens serve` (http://host:9464) instead of running
    /// the collector in this process; --auth-token-file gives the token it asks for.
    #[arg(long, value_name = "URL")]
    connect: Option<String>,
    /// Without --connect: the collector's flags, as for `meshlens serve`.
    #[command(flatten)]
    serve: ServeArgs,
    /// Graph window: 60s, 5m, 15m or all.
    #[arg(long, default_value = "60s")]
    window: String,
    /// How often serve sends an update (200ms to 60s).
    #[arg(long, default_value = "1s")]
    interval: String,
}

pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    let Some(target) = args.connect.clone() else {
        return run_in_process(args);
    };
    let url = normalize_base_url(&target);
    if url.starts_with("https://") {
        // reqwest's rustls backend without aws-lc-rs would need a process-wide crypto
        // provider that every other client in the build then depends on.
        anyhow::bail!(
            "--connect {url}: https is not supported yet; reach a TLS serve through a local \
             proxy or port-forward to a plain-text API listener"
        );
    }
    let authorization = args
        .serve
        .auth_token_file()
        .map(BearerToken::from_file)
        .transpose()?
        .map(|token| token.authorization());
    let options = ConnectOptions {
        window: args.window,
        interval: args.interval,
        authorization,
        ..ConnectOptions::default()
    };
    let (updates, connection) = connect(&url, options);
    let result = meshlens_tui::run(
        updates,
        RunOptions {
            connection: ConnectionState::Connecting { url, attempt: 1 },
            ..RunOptions::default()
        },
    );
    drop(connection);
    result.context("terminal dashboard")?;
    Ok(ExitCode::SUCCESS)
}

/// The collector and analyzer in this process, as `serve` runs them, under the dashboard.
fn run_in_process(args: TuiArgs) -> anyhow::Result<ExitCode> {
    let window = parse_window(&args.window).map_err(anyhow::Error::msg)?;
    let interval = parse_duration(&args.interval).map_err(anyhow::Error::msg)?;
    let prepared = serve::prepare(args.serve)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let running = runtime.block_on(serve::start(prepared, Ticking::Standard))?;
    let (updates, feeder) = feed(running.live.clone(), window, interval);
    let shown = meshlens_tui::run(updates, RunOptions::default());
    drop(feeder);
    let _ = runtime.block_on(running.stop());
    shown.context("terminal dashboard")?;
    Ok(ExitCode::SUCCESS)
}
