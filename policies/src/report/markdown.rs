//! `--format markdown`: a PR comment. A summary table, a findings table and, when the caller
//! has one, a Mermaid graph of the offending edges (trace-based findings fill it).

use std::io::{self, Write};

use super::{Report, Severity};

/// What the markdown report adds to the findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The heading; `meshlens` when `None`.
    pub title: Option<String>,
    /// A Mermaid graph definition (e.g. `graph LR` and edges), written in a ```` ```mermaid ````
    /// block under "Offending edges".
    pub mermaid: Option<String>,
}

/// Escapes text for a GitHub-flavoured markdown table cell.
pub fn escape_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            '\r' => {}
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

fn badge(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "❌ error",
        Severity::Warning => "⚠️ warning",
        Severity::Info => "ℹ️ info",
    }
}

/// Writes the markdown report.
pub fn write_markdown(
    report: &Report,
    options: &MarkdownOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let title = options.title.as_deref().unwrap_or("meshlens");
    writeln!(out, "### {}", escape_cell(title))?;
    writeln!(out)?;
    let summary = &report.summary;
    writeln!(out, "| errors | warnings | infos | suppressed |")?;
    writeln!(out, "|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| {} | {} | {} | {} |",
        summary.errors, summary.warnings, summary.infos, summary.suppressed
    )?;
    writeln!(out)?;
    if report.findings.is_empty() {
        writeln!(out, "No findings.")?;
    } else {
        writeln!(out, "| severity | code | location | policy | message |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for finding in &report.findings {
            let location = finding
                .location
                .as_ref()
                .map(|l| format!("`{}`", escape_cell(&l.to_string())))
                .unwrap_or_default();
            let policy = finding
                .policy
                .as_deref()
                .map(|p| format!("`{}`", escape_cell(p)))
                .unwrap_or_default();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                badge(finding.severity),
                escape_cell(&finding.code),
                location,
                policy,
                escape_cell(&finding.message)
            )?;
        }
    }
    if let Some(mermaid) = &options.mermaid {
        writeln!(out)?;
        writeln!(out, "#### Offending edges")?;
        writeln!(out)?;
        writeln!(out, "```mermaid")?;
        writeln!(out, "{}", mermaid.trim_end())?;
        writeln!(out, "```")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(
            escape_cell("a|b\nc <d> & `e`"),
            "a\\|b<br>c &lt;d&gt; &amp; 'e'"
        );
    }
}
