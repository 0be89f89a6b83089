//! `meshlens lint`.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use meshlens_analyzer::conformance::offline::check_trace_files;
use meshlens_analyzer::conformance::{self, offline::TraceCheck, offline::TraceReport};
use meshlens_analyzer::render::{self, MermaidOptions};
use meshlens_analyzer::snapshot::GraphSnapshot;
use meshlens_policies::eval::{self, PolicySet};
use meshlens_policies::lint::{self, LintOptions};
use meshlens_policies::report::{
    self, Date, FailOn, Format, MarkdownOptions, Report, Suppressions, WriteOptions,
};

use meshlens_policies::report::suppress::IGNORE_FILE;

use super::policy_input::PolicyArgs;
use super::trace_input::PairingArgs;

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    input: PolicyArgs,
    /// Recorded traces to hold against the policies (any format `meshlens inspect` reads):
    /// adds the trace findings (traffic-denied-by-policy, rbac-denial-observed, …).
    #[arg(long, num_args = 1.., value_name = "FILE")]
    traces: Vec<PathBuf>,
    /// A graph written by `meshlens graph --format json`: report edges new or missing since.
    #[arg(long, value_name = "GRAPH.json", requires = "traces")]
    baseline: Option<PathBuf>,
    #[command(flatten)]
    pairing: PairingArgs,
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
    let traced = if args.traces.is_empty() {
        None
    } else {
        Some(check_traces(&args, loaded)?)
    };
    if let Some(traced) = &traced {
        findings.extend(traced.findings.iter().cloned());
    }
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
    let checks: Vec<_> = lint::CHECKS
        .iter()
        .chain(conformance::CHECKS)
        .cloned()
        .collect();
    let write_options = WriteOptions {
        color: to_terminal && args.format == Format::Text,
        checks: &checks,
        markdown: MarkdownOptions {
            title: None,
            mermaid: traced.as_ref().map(|t| offending_edges_graph(t, &report)),
        },
        sarif_default_file: args.traces.first().map(|p| p.display().to_string()),
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

fn check_traces(
    args: &LintArgs,
    loaded: super::policy_input::LoadedPolicies,
) -> anyhow::Result<TraceReport> {
    let baseline = match &args.baseline {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let graph: GraphSnapshot = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a graph written by `meshlens graph --format json`",
                    path.display()
                )
            })?;
            Some(graph)
        }
    };
    let policies = PolicySet::new(
        loaded.policies,
        eval::Options {
            root_namespace: args.input.root_namespace.clone(),
            trust_domain: args.input.trust_domain.clone(),
        },
    );
    let report = check_trace_files(
        &args.traces,
        args.pairing.analyzer_config(),
        TraceCheck {
            policies: &policies,
            inventory: loaded.inventory.as_ref(),
            trust_domain: &args.input.trust_domain,
            baseline: baseline.as_ref(),
        },
    )?;
    tracing::debug!(
        spans = report.spans,
        shapes = report.shapes,
        overflow = report.shapes_overflow,
        "checked request shapes"
    );
    Ok(report)
}

/// The observed graph in Mermaid with the edges the (unsuppressed) findings name drawn thick.
fn offending_edges_graph(traced: &TraceReport, report: &Report) -> String {
    let highlight = report
        .findings
        .iter()
        .filter_map(|f| f.edge())
        .map(|(s, t)| (s.to_owned(), t.to_owned()))
        .collect();
    let options = MermaidOptions {
        highlight,
        ..MermaidOptions::default()
    };
    let mut out = Vec::new();
    // Writing into memory cannot fail.
    let _ = render::mermaid(&traced.graph, &options, &mut out);
    String::from_utf8_lossy(&out).trim_end().to_owned()
}
