//! `meshlens authz check` and `meshlens lint` as CI and users run them: exact JSON fields,
//! exit codes that do not depend on the format, errors that name file and line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_golden, meshlens, stderr, stdout};

const REFERENCE: &str = "testdata/policies/istio-reference";
const INVENTORY: &str = "testdata/inventory/istio-reference.yaml";

fn check(request: &str) -> serde_json::Value {
    let output = meshlens(&[
        "authz",
        "check",
        "--policies",
        REFERENCE,
        "--inventory",
        INVENTORY,
        "--format",
        "json",
        "--request",
        request,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn authz_check_answers_with_exactly_the_documented_fields() {
    // foo/httpbin has an ALLOW policy; a GET from sleep in namespace default is allowed by
    // foo/allow-all (06), whatever 01 says.
    let answer = check(
        r#"{"source":{"principal":"cluster.local/ns/default/sa/sleep"},"destination":{"namespace":"foo","workload":"httpbin","port":8000},"request":{"method":"GET","path":"/info","host":"httpbin.foo"}}"#,
    );
    for field in ["decision", "policy", "action", "rule", "dry_run", "reason"] {
        assert!(answer.get(field).is_some(), "{field} missing in {answer}");
    }
    assert_eq!(answer["decision"], "ALLOW");
    assert_eq!(answer["policy"], "foo/allow-all");
    assert_eq!(answer["action"], "ALLOW");
    assert_eq!(answer["rule"], 0);
    assert!(answer["reason"].as_str().unwrap().contains("foo/allow-all"));
}

#[test]
fn a_deny_policy_decides_before_any_allow() {
    // 02-httpbin denies POST from namespace dev.
    let answer = check(
        r#"{"source":{"principal":"cluster.local/ns/dev/sa/app","namespace":"dev"},"destination":{"namespace":"foo","workload":"httpbin","port":8000},"request":{"method":"POST","path":"/data"}}"#,
    );
    assert_eq!(answer["decision"], "DENY");
    assert_eq!(answer["action"], "DENY");
    assert_eq!(answer["policy"], "foo/httpbin");
}

#[test]
fn requests_from_a_file_answer_one_line_each_and_bad_lines_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("requests.jsonl");
    std::fs::write(
        &good,
        "{\"destination\":{\"namespace\":\"bar\",\"workload\":\"sleep\"}}\n\n{\"destination\":{\"namespace\":\"foo\",\"workload\":\"httpbin\"},\"protocol\":\"tcp\"}\n",
    )
    .unwrap();
    let output = meshlens(&[
        "authz",
        "check",
        "--policies",
        REFERENCE,
        "--inventory",
        INVENTORY,
        "--format",
        "json",
        "--requests",
        good.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 2);

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{}\n{\"destination\":{\"port\":\"eighty\"}}\n").unwrap();
    let output = meshlens(&[
        "authz",
        "check",
        "--policies",
        REFERENCE,
        "--requests",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("{}:2", bad.display())),
        "{}",
        stderr(&output)
    );
}

#[test]
fn authz_check_explains_in_text() {
    let output = meshlens(&[
        "authz",
        "check",
        "--policies",
        REFERENCE,
        "--inventory",
        INVENTORY,
        "--format",
        "text",
        "--request",
        r#"{"destination":{"namespace":"foo","workload":"httpbin","port":8080},"request":{"method":"POST","path":"/x"}}"#,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("DENY http request to foo/httpbin"),
        "{text}"
    );
    assert!(text.contains("03-httpbin.yaml"), "{text}");
}

#[test]
fn lint_of_the_reference_examples_matches_the_golden_report() {
    let output = meshlens(&["lint", "--policies", REFERENCE, "--inventory", INVENTORY]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "warnings do not fail by default"
    );
    assert_golden("lint-istio-reference.txt", &stdout(&output));
}

#[test]
fn lint_exit_codes_follow_fail_on_not_the_format() {
    for format in ["text", "json", "sarif", "junit", "github", "markdown"] {
        let code = |fail_on: &str| {
            meshlens(&[
                "lint",
                "--policies",
                REFERENCE,
                "--inventory",
                INVENTORY,
                "--format",
                format,
                "--fail-on",
                fail_on,
            ])
            .status
            .code()
        };
        assert_eq!(code("error"), Some(0), "{format}");
        assert_eq!(code("warning"), Some(1), "{format}");
        assert_eq!(code("never"), Some(0), "{format}");
    }
}

#[test]
fn invalid_policies_are_error_findings_with_their_position() {
    let output = meshlens(&[
        "lint",
        "--format",
        "json",
        "--policies",
        "testdata/policies/istio-validation/authz-invalid.yaml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let first = &report["findings"][0];
    assert_eq!(first["code"], "ML100");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["location"]["line"], 10);
    assert_eq!(first["location"]["column"], 13);
    assert_eq!(report["summary"]["errors"], 2);
}

#[test]
fn lint_sarif_is_accepted_shape_and_written_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("meshlens.sarif");
    let output = meshlens(&[
        "lint",
        "--policies",
        REFERENCE,
        "--inventory",
        INVENTORY,
        "--format",
        "sarif",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    assert!(
        results
            .iter()
            .all(|r| r["ruleId"].as_str().unwrap().starts_with("ML"))
    );
}

#[test]
fn unreadable_or_broken_inputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "kind: AuthorizationPolicy\nspec: [unclosed\n").unwrap();
    for args in [
        vec!["lint", "--policies", broken.to_str().unwrap()],
        vec!["lint", "--policies", "no/such/dir"],
        vec![
            "authz",
            "check",
            "--policies",
            broken.to_str().unwrap(),
            "--request",
            "{}",
        ],
        vec!["lint", "--policies", REFERENCE, "--format", "yaml"],
    ] {
        let output = meshlens(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = meshlens(&["lint", "--policies", broken.to_str().unwrap()]);
    // The parser notices the unclosed list at the end of the input.
    let message = stderr(&output);
    assert!(
        message.contains(&format!("{}:3:1: invalid YAML", broken.display())),
        "{message}"
    );
}
