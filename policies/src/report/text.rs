//! `--format text`: for people. Findings grouped by file, one per line as
//! `file:line:col: severity[code] message`, then a summary line. Colour only when asked.

use std::io::{self, Write};

use super::{Finding, Report, Severity};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "\x1b[1;31m",
        Severity::Warning => "\x1b[1;33m",
        Severity::Info => "\x1b[1;36m",
    }
}

/// Writes the findings grouped by file (a blank line between files; findings without a
/// location last, prefixed by their policy when they have one) and a summary line.
pub fn write_text(report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut previous_file: Option<Option<&str>> = None;
    for finding in &report.findings {
        let file = finding.location.as_ref().map(|l| l.file.as_str());
        if previous_file.is_some_and(|previous| previous != file) {
            writeln!(out)?;
        }
        previous_file = Some(file);
        let prefix = match (&finding.location, &finding.policy) {
            (Some(location), _) => format!("{}: ", paint(BOLD, &location.to_string())),
            (None, Some(policy)) => format!("{}: ", paint(BOLD, policy)),
            (None, None) => String::new(),
        };
        writeln!(
            out,
            "{prefix}{}[{}] {}",
            paint(severity_colour(finding.severity), finding.severity.as_str()),
            finding.code,
            one_line(finding)
        )?;
    }
    if !report.findings.is_empty() {
        writeln!(out)?;
    }
    if report.summary.total() == 0 && report.summary.suppressed == 0 {
        writeln!(out, "no findings")
    } else {
        writeln!(out, "{}", report.summary)
    }
}

/// The message on one line (a newline would break `file:line:col:` parsers).
fn one_line(finding: &Finding) -> String {
    finding.message.replace(['\r', '\n'], " ")
}
