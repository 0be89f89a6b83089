//! `meshlens tui --connect URL`: the terminal dashboard attached to a running `serve`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use meshlens_tui::sse::{ConnectOptions, connect, normalize_base_url};
use meshlens_tui::{ConnectionState, RunOptions};

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// The API of a running `meshlens serve` (http://host:9464).
    #[arg(long, value_name = "URL")]
    connect: String,
    /// Graph window: 60s, 5m, 15m or all.
    #[arg(long, default_value = "60s")]
    window: String,
    /// How often serve sends an update (200ms to 60s).
    #[arg(long, default_value = "1s")]
    interval: String,
}

pub fn run(args: TuiArgs) -> anyhow::Result<ExitCode> {
    let options = ConnectOptions {
        window: args.window,
        interval: args.interval,
        ..ConnectOptions::default()
    };
    let url = normalize_base_url(&args.connect);
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
