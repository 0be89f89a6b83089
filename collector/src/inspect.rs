//! `meshlens inspect`: read trace files, normalise them, and report what was understood.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::formats::source::{SourceError, read_trace_paths};
use crate::intern::Interner;
use crate::normalize::Normalizer;
use crate::summary::{Summary, SummaryReport};

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub files: Vec<FileReport>,
    #[serde(flatten)]
    pub summary: SummaryReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: String,
    pub requests: usize,
    pub spans: u64,
    pub rejected_spans: u64,
    pub first_rejection: Option<String>,
}

pub fn inspect_files(paths: &[PathBuf], interner: Interner) -> Result<Inspection, SourceError> {
    let files = read_trace_paths(paths)?;
    let normalizer = Normalizer::new(interner.clone());
    let mut summary = Summary::new(interner);
    let mut reports = Vec::with_capacity(files.len());
    let mut spans = Vec::new();
    for file in &files {
        let mut report = FileReport {
            path: file.path.display().to_string(),
            format: file.format.to_string(),
            requests: file.requests.len(),
            spans: 0,
            rejected_spans: 0,
            first_rejection: None,
        };
        for request in &file.requests {
            spans.clear();
            let rejected = normalizer.normalize_request(request, &mut spans);
            report.spans += spans.len() as u64;
            report.rejected_spans += rejected.count;
            report.first_rejection = report.first_rejection.or(rejected.first_error);
            summary.add(&spans);
        }
        reports.push(report);
    }
    Ok(Inspection {
        files: reports,
        summary: summary.report(),
    })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            write!(
                f,
                "{}: {}, {} request(s), {} span(s)",
                file.path, file.format, file.requests, file.spans
            )?;
            if file.rejected_spans > 0 {
                write!(f, ", {} rejected", file.rejected_spans)?;
                if let Some(why) = &file.first_rejection {
                    write!(f, " (first: {why})")?;
                }
            }
            writeln!(f)?;
        }
        let s = &self.summary;
        writeln!(
            f,
            "\n{} span(s) from {} workload(s)\n",
            s.spans,
            s.workloads.len()
        )?;
        let width = s
            .workloads
            .iter()
            .map(|w| w.node.len())
            .max()
            .unwrap_or(0)
            .max(8);
        writeln!(
            f,
            "{:<width$}  {:>6}  {:>6}  {:>6}  {:>6}  {:<16}  {:<10}  VERSIONS",
            "WORKLOAD", "SPANS", "CLIENT", "SERVER", "FAILED", "PROXY", "PROTOCOL"
        )?;
        for w in &s.workloads {
            writeln!(
                f,
                "{:<width$}  {:>6}  {:>6}  {:>6}  {:>6}  {:<16}  {:<10}  {}",
                w.node,
                w.spans,
                w.client_spans,
                w.server_spans,
                w.failed_spans,
                w.proxies.join(","),
                w.protocols.join(","),
                w.versions.join(",")
            )?;
        }
        if !s.calls.is_empty() {
            writeln!(f, "\nCalls seen by callers ({}):", s.calls.len())?;
            for c in &s.calls {
                let ports: Vec<String> = c.ports.iter().map(u16::to_string).collect();
                write!(f, "  {} -> {}", c.source, c.destination)?;
                if !ports.is_empty() {
                    write!(f, ":{}", ports.join(","))?;
                }
                write!(f, "  {} span(s)", c.spans)?;
                if !c.protocols.is_empty() {
                    write!(f, ", {}", c.protocols.join(","))?;
                }
                if c.failed_spans > 0 {
                    write!(f, ", {} failed", c.failed_spans)?;
                }
                writeln!(f)?;
            }
        }
        let with = |n: u64, what: &str| format!("{n} span(s) {what}");
        let total = |get: fn(&crate::summary::WorkloadReport) -> u64| {
            s.workloads.iter().map(get).sum::<u64>()
        };
        writeln!(f, "\nProxy facts:")?;
        writeln!(
            f,
            "  {}",
            with(total(|w| w.spans_with_peer_address), "with a peer address")
        )?;
        writeln!(
            f,
            "  {}",
            with(
                total(|w| w.spans_with_principal),
                "with a caller principal (peer URI SAN or XFCC tag)"
            )
        )?;
        writeln!(
            f,
            "  {}",
            with(
                total(|w| w.authz_denied_spans),
                "denied by authorization (403 RBAC)"
            )
        )?;
        writeln!(
            f,
            "  {}",
            with(
                total(|w| w.spans_with_dry_run_verdict),
                "with Istio dry-run verdicts"
            )
        )?;
        Ok(())
    }
}
