//! `meshlens lint`.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use meshlens_policies::lint::{self, LintOptions};
use meshlens_policies::report::{self, Date, FailOn, Format, Report, Suppressions, WriteOptions};

use meshlens_policies::report::suppress::IGNORE_FILE;

use super::policy_input::PolicyArgs;

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    input: PolicyArgs,
    /// Report format: text, json, sarif, junit, github or markdown.
    #[arg(long, default_value_t = Format::Text, value_name = "FORMAT", value_parser = str::parse::<Format>)]
    format: Format,
    /// Exit 1 when a finding is at or above this severity (error, warning, never).
    #[arg(long, default_value_t = FailOn::Error, value_name = "LEVEL", value_parser = str::parse::<FailOn>)]
    fail_on: FailOn,
    /// Suppressions (code + subject + reason + optional expiry) [default: ./.meshlens-ignore.yaml if present].
    #[arg(long, value_name = "FILE")]
    ignore_file: Option<PathBuf>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let loaded = args.input.load()?;
    let options = LintOptions {
        root_namespace: args.input.root_namespace.clone(),
        trust_domain: args.input.trust_domain.clone(),
        ..LintOptions::default()
    };
    let mut findings = lint::lint(&loaded.policies, loaded.inventory.as_ref(), &options);
    findings.extend(loaded.invalid.iter().map(lint::invalid_policy));
    let mut report = Report::new(findings);

    let ignore_file = args
        .ignore_file
        .clone()
        .or_else(|| Some(PathBuf::from(IGNORE_FILE)).filter(|p| p.exists()));
    if let Some(path) = ignore_file {
        let suppressions = Suppressions::read(&path)?;
        report = suppressions.apply(report, Date::today_utc());
    }

    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let write_options = WriteOptions {
        color: to_terminal && args.format == Format::Text,
        checks: lint::CHECKS,
        ..WriteOptions::default()
    };
    match &args.output {
        Some(path) => {
            let mut file =
                File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            report::write_report(&report, args.format, &write_options, &mut file)?;
            file.flush()?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            report::write_report(&report, args.format, &write_options, &mut out)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::from(report::exit_code(&report, args.fail_on)))
}
