//! `meshlens suggest`.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use meshlens_analyzer::conformance::offline::observed_requests;
use meshlens_policies::suggest::{SuggestOptions, suggest};

use super::policy_input::load_inventory;
use super::trace_input::TraceInput;

#[derive(Debug, Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    input: TraceInput,
    /// Kubernetes manifests (Deployments, ServiceAccounts, …): callers' service accounts
    /// (their principals) and destinations' labels (the policies' selectors).
    #[arg(long, num_args = 1.., value_name = "PATH")]
    inventory: Vec<PathBuf>,
    /// Also write an allow-nothing policy per destination namespace, so workloads without
    /// observed traffic deny everything too.
    #[arg(long)]
    allow_nothing: bool,
    /// Keep observed paths as they are instead of turning id-like segments into `{*}`.
    #[arg(long)]
    exact_paths: bool,
    /// yaml (the policies; the coverage note goes to standard error) or json (policies and
    /// coverage as data).
    #[arg(long, value_enum, default_value_t = SuggestFormat::Yaml)]
    format: SuggestFormat,
    /// Namespace whose policies apply mesh-wide (meshConfig.rootNamespace).
    #[arg(long, default_value = "istio-system", value_name = "NS")]
    root_namespace: String,
    /// The mesh's trust domain, for principals.
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    trust_domain: String,
    /// Write to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SuggestFormat {
    Yaml,
    Json,
}

pub fn run(args: SuggestArgs) -> anyhow::Result<ExitCode> {
    let inventory = load_inventory(&args.inventory)?;
    let observed = observed_requests(
        &args.input.traces,
        args.input.analyzer_config(),
        inventory.as_ref(),
        &args.trust_domain,
    )?;
    let mut options = SuggestOptions {
        trust_domain: args.trust_domain.clone(),
        root_namespace: args.root_namespace.clone(),
        allow_nothing: args.allow_nothing,
        ..SuggestOptions::default()
    };
    options.paths.templates = !args.exact_paths;
    let suggestion = suggest(&observed, inventory.as_ref(), &options);
    let text = match args.format {
        SuggestFormat::Yaml => {
            eprint!("{}", suggestion.coverage);
            suggestion.to_yaml()
        }
        SuggestFormat::Json => serde_json::to_string_pretty(&suggestion)? + "\n",
    };
    match &args.output {
        Some(path) => {
            let mut file =
                File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            file.write_all(text.as_bytes())?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
