//! The flags every command over recorded traces shares.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use meshlens_analyzer::AnalyzerConfig;
use meshlens_analyzer::api::parse_duration;

#[derive(Debug, Args)]
pub struct TraceInput {
    /// Trace files or directories (any format `meshlens inspect` reads).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    pub traces: Vec<PathBuf>,
    #[command(flatten)]
    pub pairing: PairingArgs,
}

impl TraceInput {
    pub fn analyzer_config(&self) -> AnalyzerConfig {
        self.pairing.analyzer_config()
    }
}

#[derive(Debug, Args)]
pub struct PairingArgs {
    /// How long a half waits for its other half, in span time.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub pair_ttl: Duration,
}

impl PairingArgs {
    pub fn analyzer_config(&self) -> AnalyzerConfig {
        AnalyzerConfig {
            pair_ttl: self.pair_ttl,
            ..AnalyzerConfig::default()
        }
    }
}
