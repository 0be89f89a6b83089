//! `--format json`: the report as one JSON object on one line,
//! `{"findings":[...],"summary":{"errors":N,"warnings":N,"infos":N}}`.

use std::io::{self, Write};

use super::Report;

/// Writes the report as compact JSON followed by a newline.
pub fn write_json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::report::{Finding, Location, Severity};

    #[test]
    fn json_has_exactly_the_contract_field_names() {
        let report = Report::new(vec![
            Finding::new("policy-lint", "ML120", Severity::Warning, "split")
                .at(Location::new("p.yaml", 3, 5))
                .for_policy("foo/httpbin"),
        ]);
        let mut out = Vec::new();
        write_json(&report, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"findings":[{"kind":"policy-lint","code":"ML120","severity":"warning","#,
                r#""message":"split","location":{"file":"p.yaml","line":3,"column":5},"#,
                r#""policy":"foo/httpbin"}],"summary":{"errors":0,"warnings":1,"infos":0}}"#,
                "\n"
            )
        );
    }

    #[test]
    fn json_round_trips_with_extra_evidence() {
        let report = Report::new(vec![
            Finding::new(
                "traffic-denied-by-policy",
                "ML201",
                Severity::Error,
                "denied",
            )
            .with(
                "edge",
                serde_json::json!({"source": "reviews.bookinfo", "target": "ratings.bookinfo"}),
            )
            .with("count", 12),
        ]);
        let mut out = Vec::new();
        write_json(&report, &mut out).unwrap();
        let back: Report = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, report);
        assert_eq!(
            back.findings[0].edge(),
            Some(("reviews.bookinfo", "ratings.bookinfo"))
        );
    }
}
