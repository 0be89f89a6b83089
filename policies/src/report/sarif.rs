//! `--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it. Tool driver `meshlens`
//! with one rule per check code (id, name, short and full description, default level), one
//! result per finding (ruleId, ruleIndex, level, message, physical location with the file as
//! given and the start line and column). Evidence fields and the policy go into the result's
//! property bag.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_sarif::sarif;

use super::{CheckInfo, Finding, Location, REPORT_CHECKS, Report, Severity};

/// The `$schema` written in the log.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(severity: Severity) -> sarif::ResultLevel {
    match severity {
        Severity::Error => sarif::ResultLevel::Error,
        Severity::Warning => sarif::ResultLevel::Warning,
        Severity::Info => sarif::ResultLevel::Note,
    }
}

/// A relative (or absolute) path as a URI reference: `/` separators, percent-encoding of
/// everything but unreserved characters and `/`.
pub fn path_to_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut uri = String::with_capacity(path.len());
    if path.starts_with('/') {
        uri.push_str("file://");
    }
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(char::from(byte));
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri
}

fn rule(
    code: &str,
    name: &str,
    description: &str,
    severity: Severity,
) -> sarif::ReportingDescriptor {
    sarif::ReportingDescriptor::builder()
        .id(code)
        .name(name)
        .short_description(
            sarif::MultiformatMessageString::builder()
                .text(description)
                .build(),
        )
        .full_description(
            sarif::MultiformatMessageString::builder()
                .text(description)
                .build(),
        )
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(serde_json::json!(level(severity)))
                .build(),
        )
        .build()
}

fn result(finding: &Finding, rule_index: usize, default_file: Option<&str>) -> sarif::Result {
    let mut properties = BTreeMap::new();
    properties.insert("kind".to_owned(), serde_json::json!(finding.kind));
    if let Some(policy) = &finding.policy {
        properties.insert("policy".to_owned(), serde_json::json!(policy));
    }
    for (key, value) in &finding.extra {
        properties.insert(key.clone(), value.clone());
    }
    let bag = sarif::PropertyBag::builder()
        .additional_properties(properties)
        .build();
    let message = sarif::Message::builder()
        .text(finding.message.as_str())
        .build();
    let builder = sarif::Result::builder()
        .rule_id(finding.code.as_str())
        .rule_index(i64::try_from(rule_index).unwrap_or(i64::MAX))
        .level(level(finding.severity))
        .message(message)
        .properties(bag);
    let location = finding
        .location
        .clone()
        .or_else(|| default_file.map(|file| Location::new(file, 1, 1)));
    match location {
        Some(location) => {
            let region = sarif::Region::builder()
                .start_line(i64::try_from(location.line.max(1)).unwrap_or(i64::MAX))
                .start_column(i64::try_from(location.column.max(1)).unwrap_or(i64::MAX))
                .build();
            let physical = sarif::PhysicalLocation::builder()
                .artifact_location(
                    sarif::ArtifactLocation::builder()
                        .uri(path_to_uri(&location.file))
                        .build(),
                )
                .region(region)
                .build();
            builder
                .locations(vec![
                    sarif::Location::builder()
                        .physical_location(physical)
                        .build(),
                ])
                .build()
        }
        None => builder.build(),
    }
}

/// The SARIF log for the report. Rules: `checks`, then [`REPORT_CHECKS`], then a rule for any
/// other code the findings use (named after its kind).
///
/// GitHub code scanning refuses results without a location, so findings that have none point
/// at line 1 of `default_file` when one is given (e.g. the traces file the finding comes
/// from); without it they are written without `locations` (valid SARIF 2.1.0).
pub fn to_sarif(report: &Report, checks: &[CheckInfo], default_file: Option<&str>) -> sarif::Sarif {
    let mut rules = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for check in checks.iter().chain(REPORT_CHECKS) {
        if !index.contains_key(check.code) {
            index.insert(check.code.to_owned(), rules.len());
            rules.push(rule(
                check.code,
                check.name,
                check.description,
                check.severity,
            ));
        }
    }
    for finding in &report.findings {
        if !index.contains_key(&finding.code) {
            index.insert(finding.code.clone(), rules.len());
            rules.push(rule(
                &finding.code,
                &finding.kind,
                &finding.kind,
                finding.severity,
            ));
        }
    }
    let results: Vec<sarif::Result> = report
        .findings
        .iter()
        .map(|finding| {
            let rule = index.get(&finding.code).copied().unwrap_or_default();
            result(finding, rule, default_file)
        })
        .collect();
    let driver = sarif::ToolComponent::builder()
        .name("meshlens")
        .information_uri("https://github.com/meshlens/meshlens")
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(rules)
        .build();
    let run = sarif::Run::builder()
        .tool(sarif::Tool::builder().driver(driver).build())
        .results(results)
        .build();
    sarif::Sarif::builder()
        .schema(SCHEMA)
        .version(sarif::Version::V2_1_0.to_string())
        .runs(vec![run])
        .build()
}

/// Writes the SARIF log (pretty-printed JSON and a newline); see [`to_sarif`].
pub fn write_sarif(
    report: &Report,
    checks: &[CheckInfo],
    default_file: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let log = to_sarif(report, checks, default_file);
    serde_json::to_writer_pretty(&mut *out, &log).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_to_uri("./policies/a b.yaml"), "policies/a%20b.yaml");
        assert_eq!(path_to_uri("dir\\x#1.yaml"), "dir/x%231.yaml");
        assert_eq!(path_to_uri("/abs/p.yaml"), "file:///abs/p.yaml");
    }
}
