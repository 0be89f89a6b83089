//! `--format github`: GitHub Actions workflow commands, one annotation per finding:
//! `::error file=F,line=L,col=C,title=CODE::message` (`warning` and `notice` for the others).

use std::io::{self, Write};

use super::{Report, Severity};

/// Escapes a workflow-command message: `%`, `\r`, `\n`.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value: as [`escape_data`], plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    }
}

/// Writes one workflow command per finding; findings without a location carry only a title.
pub fn write_github(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    for finding in &report.findings {
        let mut properties = Vec::new();
        if let Some(location) = &finding.location {
            properties.push(format!("file={}", escape_property(&location.file)));
            properties.push(format!("line={}", location.line));
            properties.push(format!("col={}", location.column));
        }
        properties.push(format!("title={}", escape_property(&finding.code)));
        writeln!(
            out,
            "::{} {}::{}",
            command(finding.severity),
            properties.join(","),
            escape_data(&finding.message)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::report::{Finding, Location};

    #[test]
    fn escaping_follows_github_rules() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("C:\\p,1%\n"), "C%3A\\p%2C1%25%0A");
    }

    #[test]
    fn one_command_per_finding_with_escaped_properties() {
        let report = Report::new(vec![
            Finding::new(
                "policy-lint",
                "ML110",
                Severity::Warning,
                "methods: [get]\nnever",
            )
            .at(Location::new("dir,x/a:b.yaml", 4, 9)),
            Finding::new("traffic", "ML201", Severity::Info, "100% unknown"),
        ]);
        let mut out = Vec::new();
        write_github(&report, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "::warning file=dir%2Cx/a%3Ab.yaml,line=4,col=9,title=ML110::methods: [get]%0Anever\n\
             ::notice title=ML201::100%25 unknown\n"
        );
    }
}
