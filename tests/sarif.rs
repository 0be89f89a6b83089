//! `meshlens lint --format sarif` against the official SARIF 2.1.0 JSON schema (OASIS, errata 01;
//! see testdata/schemas/README.md): the golden SARIF files and the live output must validate, and
//! a deliberately broken document must not, so a validator that accepts everything fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{meshlens, stderr, stdout};
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

const SCHEMA: &str = "testdata/schemas/sarif-schema-2.1.0.json";
const GOLDEN: &str = "testdata/golden";

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The schema as shipped, compiled with the draft it declares and with no retriever: every
/// `$ref` in it is local, and nothing may be fetched.
fn validator() -> Validator {
    let text = fs::read_to_string(repo_path(SCHEMA)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        schema["$schema"], "http://json-schema.org/draft-04/schema#",
        "{SCHEMA} declares another draft: update the validator's draft to match"
    );
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .offline()
        .build(&schema)
        .expect("the SARIF schema compiles")
}

/// Every violation, one line each: where in the document, which schema keyword, and why.
fn violations(validator: &Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| {
            format!(
                "  at {:?} (schema {}): {error}",
                error.instance_path().to_string(),
                error.schema_path()
            )
        })
        .collect()
}

fn parse(what: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{what} is not JSON: {error}"))
}

/// The report of `what` if it violates the schema, `None` if it validates.
fn check(validator: &Validator, what: &str, text: &str) -> Option<String> {
    let errors = violations(validator, &parse(what, text));
    (!errors.is_empty()).then(|| {
        format!(
            "{what}: {} SARIF 2.1.0 schema violation(s):\n{}",
            errors.len(),
            errors.join("\n")
        )
    })
}

fn assert_valid(what: &str, text: &str) {
    if let Some(report) = check(&validator(), what, text) {
        panic!("{report}");
    }
}

fn lint_sarif(args: &[&str]) -> String {
    let mut full = vec!["lint"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--format", "sarif"]);
    let output = meshlens(&full);
    let out = stdout(&output);
    assert!(
        !out.trim().is_empty(),
        "meshlens {} printed nothing (exit {:?}); stderr:\n{}",
        full.join(" "),
        output.status.code(),
        stderr(&output)
    );
    out
}

#[test]
fn golden_sarif_files_validate() {
    let mut goldens: Vec<PathBuf> = fs::read_dir(repo_path(GOLDEN))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sarif"))
        .collect();
    goldens.sort();
    assert!(!goldens.is_empty(), "no *.sarif in {GOLDEN}");

    let validator = validator();
    let reports: Vec<String> = goldens
        .iter()
        .filter_map(|path| {
            let name = path
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .unwrap_or(path);
            check(
                &validator,
                &name.display().to_string(),
                &fs::read_to_string(path).unwrap(),
            )
        })
        .collect();
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
}

#[test]
fn lint_istio_reference_sarif_validates() {
    let out = lint_sarif(&[
        "--policies",
        "testdata/policies/istio-reference",
        "--inventory",
        "testdata/inventory/istio-reference.yaml",
    ]);
    assert_valid("meshlens lint (istio-reference) --format sarif", &out);
}

#[test]
fn lint_traces_sarif_validates() {
    let out = lint_sarif(&[
        "--traces",
        "testdata/traces/bookinfo-conformance.otlp.jsonl",
        "--policies",
        "testdata/policies/bookinfo",
        "--inventory",
        "testdata/inventory/bookinfo.yaml",
    ]);
    assert_valid("meshlens lint --traces (bookinfo) --format sarif", &out);
}

/// The validator is live: it accepts a minimal log, and rejects each deliberately wrong field at
/// the place it is wrong.
#[test]
fn schema_rejects_invalid_sarif() {
    let validator = validator();
    let result = json!({
        "ruleId": "meshlens/example",
        "level": "error",
        "message": { "text": "example" },
    });
    let valid = json!({
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "meshlens" } },
            "results": [result],
        }],
    });
    assert_eq!(violations(&validator, &valid), Vec::<String>::new());

    let mut wrong_version = valid.clone();
    wrong_version["version"] = json!("9.9");
    let mut wrong_level = valid.clone();
    wrong_level["runs"][0]["results"][0]["level"] = json!("fatal");
    let mut no_driver = valid.clone();
    no_driver["runs"][0]["tool"] = json!({});
    let mut bad_line = valid;
    bad_line["runs"][0]["results"][0]["locations"] = json!([{
        "physicalLocation": {
            "artifactLocation": { "uri": "policy.yaml" },
            "region": { "startLine": 0 },
        },
    }]);

    for (document, path) in [
        (wrong_version, "/version"),
        (wrong_level, "/runs/0/results/0/level"),
        (no_driver, "/runs/0/tool"),
        (
            bad_line,
            "/runs/0/results/0/locations/0/physicalLocation/region/startLine",
        ),
    ] {
        let errors: Vec<_> = validator.iter_errors(&document).collect();
        assert!(
            errors
                .iter()
                .any(|error| error.instance_path().to_string() == path),
            "expected a violation at {path}, got {:?} for {document}",
            errors.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }
}
