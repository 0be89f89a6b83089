//! Findings and the CI report formats: text, json, sarif, junit, github, markdown; exit codes.
//!
//! A [`Finding`] is one thing a check found (a static policy lint now, a trace-based
//! conformance finding later); a [`Report`] is the sorted findings plus a [`Summary`]. Every
//! format is written to a `&mut dyn Write` by [`write_report`] (or the per-format functions in
//! the submodules), and [`exit_code`] decides the process exit code from the report alone, so
//! the format never changes it. [`suppress`] reads `.meshlens-ignore.yaml` and silences known
//! findings until their expiry date.
//!
//! The JSON shape is a contract (`--format json`):
//! `{"findings":[{"kind","code","severity","message","location":{"file","line","column"},"policy"}],
//! "summary":{"errors","warnings","infos"}}`. Later findings add fields (through
//! [`Finding::extra`]), never rename these.

pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod suppress;
pub mod text;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use markdown::MarkdownOptions;
pub use suppress::{Date, Suppression, SuppressionError, Suppressions};

use crate::model;

/// How bad a finding is. Serialised in lowercase: `error`, `warning`, `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a finding points: a file as it was given (relative paths stay relative), 1-based line
/// and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: impl Into<String>, line: usize, column: usize) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }
}

impl From<&model::Location> for Location {
    fn from(location: &model::Location) -> Self {
        Self {
            file: location.file.display().to_string(),
            line: location.line,
            column: location.column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One finding. `kind` groups findings by what produced them (`policy-lint` for the static
/// checks; trace-based findings use their own kinds such as `traffic-denied-by-policy`);
/// `code` is stable across releases (`ML122`). Evidence beyond the common fields goes into
/// [`extra`](Self::extra), which is flattened into the JSON object (e.g. `"edge"`, `"count"`,
/// `"trace_ids"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The policy involved, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Extra evidence fields, written after the common ones.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    pub fn new(
        kind: impl Into<String>,
        code: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            code: code.into(),
            severity,
            message: message.into(),
            location: None,
            policy: None,
            extra: serde_json::Map::new(),
        }
    }

    /// A finding of a catalogued check, at the check's default severity.
    pub fn of(check: &CheckInfo, message: impl Into<String>) -> Self {
        Self::new(check.kind, check.code, check.severity, message)
    }

    pub fn at(mut self, location: impl Into<Location>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn at_opt(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn for_policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Adds an evidence field (flattened into the JSON object). The common field names
    /// (`kind`, `code`, `severity`, `message`, `location`, `policy`) are refused: they would
    /// produce a duplicate key.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        let key = key.into();
        if !COMMON_FIELDS.contains(&key.as_str()) {
            self.extra.insert(key, value.into());
        }
        self
    }

    /// The `(source, target)` of an `"edge": {"source", "target"}` evidence field.
    pub fn edge(&self) -> Option<(&str, &str)> {
        let edge = self.extra.get("edge")?;
        Some((edge.get("source")?.as_str()?, edge.get("target")?.as_str()?))
    }

    /// `file:line:col: severity[code] message`, or without the location part when there is none.
    pub fn one_line(&self) -> String {
        match &self.location {
            Some(location) => format!(
                "{location}: {}[{}] {}",
                self.severity, self.code, self.message
            ),
            None => format!("{}[{}] {}", self.severity, self.code, self.message),
        }
    }

    fn sort_key(&self) -> impl Ord + '_ {
        (
            self.location.is_none(),
            self.location.as_ref(),
            self.severity,
            &self.code,
            &self.policy,
            &self.message,
        )
    }
}

const COMMON_FIELDS: [&str; 6] = ["kind", "code", "severity", "message", "location", "policy"];

/// Counts by severity, and how many findings a suppression file silenced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Written only when some finding was suppressed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(findings: &[Finding]) -> Self {
        let mut summary = Self::default();
        for finding in findings {
            match finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => summary.infos += 1,
            }
        }
        summary
    }

    pub fn total(&self) -> usize {
        self.errors + self.warnings + self.infos
    }
}

impl fmt::Display for Summary {
    /// `1 error, 2 warnings, 0 infos` (`, 1 suppressed` when some were).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        write!(
            f,
            "{}, {}, {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.infos, "info")
        )?;
        if self.suppressed > 0 {
            write!(f, ", {} suppressed", self.suppressed)?;
        }
        Ok(())
    }
}

/// Findings in a stable order (by file, line, column, severity, code) and their summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Report {
    /// Sorts the findings and counts them.
    pub fn new(mut findings: Vec<Finding>) -> Self {
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let summary = Summary::of(&findings);
        Self { findings, summary }
    }

    /// Adds findings (e.g. trace-based ones to the static ones), keeping the order and the
    /// suppressed count.
    pub fn extend(self, findings: impl IntoIterator<Item = Finding>) -> Self {
        let suppressed = self.summary.suppressed;
        let mut all = self.findings;
        all.extend(findings);
        let mut report = Self::new(all);
        report.summary.suppressed = suppressed;
        report
    }

    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A check's catalogue entry: its stable code, a short kebab-case name, the finding `kind`,
/// its default severity and a one-line description (for SARIF rules, `--help` and docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub severity: Severity,
    pub description: &'static str,
}

/// Checks the report module itself raises.
pub const REPORT_CHECKS: &[CheckInfo] = &[suppress::SUPPRESSION_EXPIRED];

/// `--fail-on`: which findings make the exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Errors only (the default).
    #[default]
    Error,
    /// Errors and warnings.
    Warning,
    /// Never: exit 0 whatever was found.
    Never,
}

impl FailOn {
    pub const ALL: [Self; 3] = [Self::Error, Self::Warning, Self::Never];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Never => "never",
        }
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!("unknown --fail-on value {s:?}: expected error, warning or never")
            })
    }
}

/// Exit code for the report: 1 when a finding is at or above `fail_on`, else 0. (2, usage or
/// input errors, is the CLI's.) Suppressed findings do not count; infos never fail.
pub fn exit_code(report: &Report, fail_on: FailOn) -> u8 {
    let summary = &report.summary;
    let failing = match fail_on {
        FailOn::Error => summary.errors,
        FailOn::Warning => summary.errors + summary.warnings,
        FailOn::Never => 0,
    };
    u8::from(failing > 0)
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Sarif,
    Junit,
    Github,
    Markdown,
}

impl Format {
    pub const ALL: [Self; 6] = [
        Self::Text,
        Self::Json,
        Self::Sarif,
        Self::Junit,
        Self::Github,
        Self::Markdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
            Self::Github => "github",
            Self::Markdown => "markdown",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format {s:?}: expected text, json, sarif, junit, github or markdown"
                )
            })
    }
}

/// What the writers need besides the report.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions<'a> {
    /// ANSI colour in the text format (the CLI sets it on a TTY).
    pub color: bool,
    /// The catalogue of checks that may appear (SARIF rules); [`REPORT_CHECKS`] are always
    /// added, and codes missing from it get a rule named after their kind.
    pub checks: &'a [CheckInfo],
    pub markdown: MarkdownOptions,
    /// SARIF: where findings without a location point (code scanning needs one), e.g. the
    /// traces file; see [`sarif::to_sarif`].
    pub sarif_default_file: Option<String>,
}

/// Writes the report in `format`.
pub fn write_report(
    report: &Report,
    format: Format,
    options: &WriteOptions<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write_text(report, out, options.color),
        Format::Json => json::write_json(report, out),
        Format::Sarif => sarif::write_sarif(
            report,
            options.checks,
            options.sarif_default_file.as_deref(),
            out,
        ),
        Format::Junit => junit::write_junit(report, out),
        Format::Github => github::write_github(report, out),
        Format::Markdown => markdown::write_markdown(report, &options.markdown, out),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn finding(severity: Severity, file: Option<&str>, line: usize) -> Finding {
        let f = Finding::new("policy-lint", "ML999", severity, "m");
        match file {
            Some(file) => f.at(Location::new(file, line, 1)),
            None => f,
        }
    }

    #[test]
    fn report_sorts_by_location_and_puts_unlocated_last() {
        let report = Report::new(vec![
            finding(Severity::Info, None, 0),
            finding(Severity::Error, Some("b.yaml"), 1),
            finding(Severity::Warning, Some("a.yaml"), 9),
            finding(Severity::Warning, Some("a.yaml"), 2),
        ]);
        let order: Vec<_> = report
            .findings
            .iter()
            .map(|f| f.location.as_ref().map(|l| (l.file.as_str(), l.line)))
            .collect();
        assert_eq!(
            order,
            [
                Some(("a.yaml", 2)),
                Some(("a.yaml", 9)),
                Some(("b.yaml", 1)),
                None
            ]
        );
        assert_eq!(
            report.summary,
            Summary {
                errors: 1,
                warnings: 2,
                infos: 1,
                suppressed: 0
            }
        );
    }

    #[test]
    fn exit_code_depends_on_fail_on_only() {
        let errors = Report::new(vec![finding(Severity::Error, None, 0)]);
        let warnings = Report::new(vec![finding(Severity::Warning, None, 0)]);
        let infos = Report::new(vec![finding(Severity::Info, None, 0)]);
        let clean = Report::new(vec![]);
        for (report, error, warning) in [
            (&errors, 1, 1),
            (&warnings, 0, 1),
            (&infos, 0, 0),
            (&clean, 0, 0),
        ] {
            assert_eq!(exit_code(report, FailOn::Error), error);
            assert_eq!(exit_code(report, FailOn::Warning), warning);
            assert_eq!(exit_code(report, FailOn::Never), 0);
        }
    }

    #[test]
    fn formats_and_fail_on_parse_from_their_names() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>().unwrap(), format);
        }
        for fail_on in FailOn::ALL {
            assert_eq!(fail_on.as_str().parse::<FailOn>().unwrap(), fail_on);
        }
        assert!("xml".parse::<Format>().is_err());
        assert!("info".parse::<FailOn>().is_err());
    }

    #[test]
    fn extra_fields_never_shadow_the_common_ones() {
        let f = Finding::new("k", "C", Severity::Info, "m")
            .with("code", "X")
            .with("count", 3);
        assert_eq!(f.extra.len(), 1);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"k","code":"C","severity":"info","message":"m","count":3}"#
        );
    }

    #[test]
    fn summary_reads_naturally() {
        let summary = Summary {
            errors: 1,
            warnings: 2,
            infos: 0,
            suppressed: 3,
        };
        assert_eq!(
            summary.to_string(),
            "1 error, 2 warnings, 0 infos, 3 suppressed"
        );
    }
}
