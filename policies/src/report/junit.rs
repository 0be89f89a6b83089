//! `--format junit`: one test suite `meshlens`, one test case per policy (or per file, for
//! findings that name no policy); a case fails when it has an error or warning finding, and
//! lists every finding in the failure text (infos alone go to `system-out`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::{Finding, Report, Severity};

/// Writes the JUnit XML document.
pub fn write_junit(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut groups: BTreeMap<(String, String), Vec<&Finding>> = BTreeMap::new();
    for finding in &report.findings {
        let file = finding.location.as_ref().map(|l| l.file.clone());
        let name = finding
            .policy
            .clone()
            .or_else(|| file.clone())
            .unwrap_or_else(|| finding.kind.clone());
        let classname = file.unwrap_or_else(|| "meshlens".to_owned());
        groups.entry((classname, name)).or_default().push(finding);
    }
    let mut suite = TestSuite::new("meshlens");
    for ((classname, name), findings) in groups {
        let details: Vec<String> = findings.iter().map(|f| f.one_line()).collect();
        let failing: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .collect();
        let status = if failing.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut codes: Vec<&str> = Vec::new();
            for finding in &failing {
                if !codes.contains(&finding.code.as_str()) {
                    codes.push(&finding.code);
                }
            }
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(failing[0].message.as_str())
                .set_type(codes.join(","))
                .set_description(details.join("\n"));
            status
        };
        let passed = failing.is_empty();
        let mut case = TestCase::new(name, status);
        case.set_classname(classname);
        if passed {
            case.set_system_out(details.join("\n"));
        }
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("meshlens");
    junit.add_test_suite(suite);
    junit.serialize(&mut *out).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
