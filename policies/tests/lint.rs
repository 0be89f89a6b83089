//! Static lint checks (each fires on a minimal bad policy and stays quiet on the corrected one)
//! and the report formats, exit codes and suppressions, with golden files for the text and
//! markdown reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/common/golden.rs"]
mod golden;
use golden::assert_golden;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use meshlens_policies::inventory::parse_inventory;
use meshlens_policies::lint::{self, CHECKS, LintOptions};
use meshlens_policies::model::{AuthorizationPolicy, Inventory};
use meshlens_policies::parse;
use meshlens_policies::report::{
    self, Date, FailOn, Finding, Format, Location, MarkdownOptions, Report, Severity, Suppressions,
    WriteOptions, exit_code, github, junit, markdown, sarif, text,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The project's test data (`testdata/` at the workspace root).
fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(path)
}

/// Policies of a YAML text, which must be valid.
fn policies(yaml: &str) -> Vec<AuthorizationPolicy> {
    let parsed = parse::parse_policies(Path::new("policies/p.yaml"), yaml).unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    parsed.policies
}

/// One `AuthorizationPolicy` document in namespace `foo`.
fn doc(name: &str, spec: &str) -> String {
    doc_in("foo", name, spec)
}

fn doc_in(namespace: &str, name: &str, spec: &str) -> String {
    let spec: String = spec.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n{spec}"
    )
}

fn dry_run_doc(name: &str, spec: &str) -> String {
    doc(name, spec).replace(
        "  namespace: foo\n",
        "  namespace: foo\n  annotations:\n    istio.io/dry-run: \"true\"\n",
    )
}

const INVENTORY: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: foo
---
apiVersion: v1
kind: Namespace
metadata:
  name: test
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin
  namespace: foo
spec:
  template:
    metadata:
      labels:
        app: httpbin
        version: v1
    spec:
      serviceAccountName: httpbin
      containers:
      - name: httpbin
        ports:
        - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleep
  namespace: foo
spec:
  template:
    metadata:
      labels:
        app: sleep
    spec:
      serviceAccountName: sleep
      containers:
      - name: sleep
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
  namespace: test
---
apiVersion: v1
kind: Service
metadata:
  name: httpbin
  namespace: foo
spec:
  selector:
    app: httpbin
  ports:
  - name: http
    port: 8000
    targetPort: 8080
"#;

fn inventory() -> Inventory {
    let (inventory, errors) = parse_inventory(Path::new("k8s.yaml"), INVENTORY).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    inventory
}

fn lint_yaml(yaml: &str, inventory: Option<&Inventory>) -> Vec<Finding> {
    lint::lint(&policies(yaml), inventory, &LintOptions::default())
}

fn with_code<'a>(findings: &'a [Finding], code: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.code == code).collect()
}

/// `bad` raises `code` (once per expected severity, in order) and `good` does not.
fn check(
    code: &str,
    severities: &[Severity],
    bad: &str,
    good: &str,
    inventory: Option<&Inventory>,
) {
    let found = lint_yaml(bad, inventory);
    let hits = with_code(&found, code);
    let got: Vec<Severity> = hits.iter().map(|f| f.severity).collect();
    assert_eq!(got, severities, "{code} on the bad policy: {found:#?}");
    for hit in &hits {
        assert_eq!(hit.kind, "policy-lint");
        assert!(hit.policy.is_some(), "{hit:?}");
        let location = hit.location.as_ref().unwrap();
        assert_eq!(location.file, "policies/p.yaml");
        assert!(location.line > 0 && location.column > 0);
        let policy = hit.policy.as_deref().unwrap();
        assert!(
            hit.message.contains(policy),
            "message names the policy: {}",
            hit.message
        );
    }
    let quiet = lint_yaml(good, inventory);
    assert!(
        with_code(&quiet, code).is_empty(),
        "{code} on the corrected policy: {quiet:#?}"
    );
}

use Severity::{Error, Info, Warning};

// ---------------------------------------------------------------------------------------------
// Reference policies: no false positives

#[test]
fn istio_reference_examples_get_at_most_info_findings() {
    let files = parse::read_policies(&[testdata("policies/istio-reference")]).unwrap();
    assert!(files.errors.is_empty(), "{:?}", files.errors);
    assert_eq!(files.policies.len(), 10);
    let findings = lint::lint(&files.policies, None, &LintOptions::default());
    let loud: Vec<String> = findings
        .iter()
        .filter(|f| f.severity != Info)
        .map(Finding::one_line)
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    // What the infos are: the allow-nothing examples and the DENY rules with HTTP-only fields.
    let codes: BTreeSet<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from(["ML123", "ML125"]));
    // With the inventory written for them, only what that inventory lacks is added: the
    // namespaces the examples name but it does not declare, and the workloads it does not run.
    let (inventory, errors) =
        meshlens_policies::inventory::read_inventory(&[testdata("inventory/istio-reference.yaml")])
            .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let with_inventory = lint::lint(&files.policies, Some(&inventory), &LintOptions::default());
    let added: Vec<(String, &str)> = with_inventory
        .iter()
        .filter(|f| !findings.contains(f))
        .map(|f| {
            let file = f
                .location
                .as_ref()
                .unwrap()
                .file
                .rsplit('/')
                .next()
                .unwrap();
            (file.to_owned(), f.code.as_str())
        })
        .collect();
    assert_eq!(
        added,
        [
            ("01-httpbin.yaml".to_owned(), "ML102"), // namespaces: ["test"]
            ("02-httpbin.yaml".to_owned(), "ML102"), // namespaces: ["dev"]
            ("04-anyname.yaml".to_owned(), "ML102"), // metadata.namespace: ns1
            ("07-allow-nothing.yaml".to_owned(), "ML101"), // no app=httpbin in bar
        ]
    );
    // Each reference file alone, too (no cross-file effects hide anything).
    for policy in &files.policies {
        let alone = lint::lint(std::slice::from_ref(policy), None, &LintOptions::default());
        assert!(alone.iter().all(|f| f.severity == Info), "{alone:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// ML10x: against the inventory

#[test]
fn ml101_selector_matching_no_workload() {
    let inv = inventory();
    let bad = doc(
        "p",
        "selector:\n  matchLabels:\n    app: httbin\nrules:\n- {}",
    );
    let good = doc(
        "p",
        "selector:\n  matchLabels:\n    app: httpbin\nrules:\n- {}",
    );
    check("ML101", &[Warning], &bad, &good, Some(&inv));
    let found = lint_yaml(&bad, Some(&inv));
    let message = &with_code(&found, "ML101")[0].message;
    assert!(
        message.contains("httpbin (app=httpbin,version=v1)"),
        "{message}"
    );
    // Without an inventory nothing is known about workloads.
    assert!(with_code(&lint_yaml(&bad, None), "ML101").is_empty());
    // A root-namespace policy selects across namespaces, when the inventory has the root
    // namespace at all (an app inventory says nothing about the mesh's gateways).
    let root = |app: &str| {
        doc_in(
            "istio-system",
            "p",
            &format!("selector:\n  matchLabels:\n    app: {app}\nrules:\n- {{}}"),
        )
    };
    assert!(with_code(&lint_yaml(&root("gateway"), Some(&inv)), "ML101").is_empty());
    let (mesh, _) = parse_inventory(
        Path::new("mesh.yaml"),
        &format!(
            "{INVENTORY}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n"
        ),
    )
    .unwrap();
    check(
        "ML101",
        &[Warning],
        &root("gateway"),
        &root("sleep"),
        Some(&mesh),
    );
}

#[test]
fn ml102_unknown_namespace() {
    let inv = inventory();
    check(
        "ML102",
        &[Warning],
        &doc_in("fooo", "p", "rules:\n- {}"),
        &doc_in("foo", "p", "rules:\n- {}"),
        Some(&inv),
    );
    check(
        "ML102",
        &[Warning],
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      namespaces: [\"tset\"]",
        ),
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      namespaces: [\"test\"]",
        ),
        Some(&inv),
    );
    // Kubernetes' own namespaces and the root namespace need not be in the inventory.
    let builtin = doc_in(
        "istio-system",
        "p",
        "rules:\n- from:\n  - source:\n      namespaces: [\"kube-system\", \"istio-system\", \"default\"]",
    );
    assert!(lint_yaml(&builtin, Some(&inv)).is_empty());
}

#[test]
fn ml103_unknown_service_account() {
    let inv = inventory();
    check(
        "ML103",
        &[Warning],
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/foo/sa/sleeep\"]",
        ),
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/foo/sa/sleep\"]",
        ),
        Some(&inv),
    );
    check(
        "ML103",
        &[Warning],
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      serviceAccounts: [\"test/writer\"]",
        ),
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      serviceAccounts: [\"test/reader\", \"test/default\"]",
        ),
        Some(&inv),
    );
    // The ingress gateway's account in the root namespace is not expected in an app inventory.
    let gateway = doc(
        "p",
        "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account\"]",
    );
    assert!(lint_yaml(&gateway, Some(&inv)).is_empty());
}

#[test]
fn ml104_target_ref_not_found() {
    let inv = inventory();
    check(
        "ML104",
        &[Warning],
        &doc(
            "p",
            "targetRefs:\n- kind: Service\n  group: \"\"\n  name: httpbinn\nrules:\n- {}",
        ),
        &doc(
            "p",
            "targetRefs:\n- kind: Service\n  group: \"\"\n  name: httpbin\nrules:\n- {}",
        ),
        Some(&inv),
    );
}

// ---------------------------------------------------------------------------------------------
// ML11x: values that never match

#[test]
fn ml110_methods_that_are_not_http_methods() {
    let op = |methods: &str| {
        doc(
            "p",
            &format!("rules:\n- to:\n  - operation:\n      {methods}"),
        )
    };
    check(
        "ML110",
        &[Warning],
        &op("methods: [\"get\"]"),
        &op("methods: [\"GET\"]"),
        None,
    );
    check(
        "ML110",
        &[Warning, Warning],
        &op("methods: [\"FETCH\", \"/pkg.Svc/Call\", \"POST\"]"),
        &op("methods: [\"POST\", \"P*\"]"),
        None,
    );
    check(
        "ML110",
        &[Warning],
        &op("notMethods: [\"delete\"]"),
        &op("notMethods: [\"DELETE\"]"),
        None,
    );
    let found = lint_yaml(&op("methods: [\"get\"]"), None);
    assert!(
        with_code(&found, "ML110")[0]
            .message
            .contains("write \"GET\"")
    );
}

#[test]
fn ml111_principal_with_spiffe_prefix() {
    let src = |p: &str| {
        doc(
            "p",
            &format!("rules:\n- from:\n  - source:\n      principals: [\"{p}\"]"),
        )
    };
    check(
        "ML111",
        &[Error],
        &src("spiffe://cluster.local/ns/foo/sa/sleep"),
        &src("cluster.local/ns/foo/sa/sleep"),
        None,
    );
    let when = |p: &str| {
        doc(
            "p",
            &format!("rules:\n- when:\n  - key: source.principal\n    notValues: [\"{p}\"]"),
        )
    };
    check(
        "ML111",
        &[Error],
        &when("spiffe://cluster.local/ns/foo/sa/sleep"),
        &when("cluster.local/ns/foo/sa/sleep"),
        None,
    );
}

#[test]
fn ml112_principal_without_trust_domain() {
    let src = |p: &str| {
        doc(
            "p",
            &format!("rules:\n- from:\n  - source:\n      principals: [\"{p}\"]"),
        )
    };
    check(
        "ML112",
        &[Warning],
        &src("ns/foo/sa/sleep"),
        &src("cluster.local/ns/foo/sa/sleep"),
        None,
    );
    check(
        "ML112",
        &[Warning],
        &src("foo/sleep"),
        &src("*/ns/foo/sa/sleep"),
        None,
    );
    let found = lint_yaml(&src("foo/sleep"), None);
    assert!(
        with_code(&found, "ML112")[0]
            .message
            .contains("\"cluster.local/ns/foo/sa/sleep\"")
    );
}

#[test]
fn ml113_foreign_trust_domain_is_info_and_aliases_silence_it() {
    let yaml = doc(
        "p",
        "rules:\n- from:\n  - source:\n      principals: [\"example.org/ns/foo/sa/sleep\"]",
    );
    check(
        "ML113",
        &[Info],
        &yaml,
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/foo/sa/sleep\"]",
        ),
        None,
    );
    let options = LintOptions {
        trust_domain_aliases: vec!["example.org".into()],
        ..LintOptions::default()
    };
    assert!(lint::lint(&policies(&yaml), None, &options).is_empty());
}

#[test]
fn ml115_path_without_leading_slash() {
    let op = |paths: &str| {
        doc(
            "p",
            &format!("rules:\n- to:\n  - operation:\n      {paths}"),
        )
    };
    check(
        "ML115",
        &[Warning],
        &op("paths: [\"admin\"]"),
        &op("paths: [\"/admin\"]"),
        None,
    );
    check(
        "ML115",
        &[Warning],
        &op("notPaths: [\"healthz*\"]"),
        &op("notPaths: [\"/healthz*\", \"*.js\", \"*\"]"),
        None,
    );
}

#[test]
fn ml116_gateway_class_target_outside_the_root_namespace() {
    let spec = "targetRefs:\n- kind: GatewayClass\n  group: gateway.networking.k8s.io\n  name: istio\nrules:\n- {}";
    check(
        "ML116",
        &[Error],
        &doc("p", spec),
        &doc_in("istio-system", "p", spec),
        None,
    );
}

#[test]
fn ml117_service_target_is_enforced_by_waypoints_only() {
    check(
        "ML117",
        &[Info],
        &doc(
            "p",
            "targetRefs:\n- kind: Service\n  group: \"\"\n  name: httpbin\nrules:\n- {}",
        ),
        &doc(
            "p",
            "selector:\n  matchLabels:\n    app: httpbin\nrules:\n- {}",
        ),
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// ML12x: the rules of one policy

#[test]
fn ml120_from_and_to_split_into_two_rules() {
    let split = "rules:\n- from:\n  - source:\n      namespaces: [\"test\"]\n- to:\n  - operation:\n      methods: [\"GET\"]";
    let joined = "rules:\n- from:\n  - source:\n      namespaces: [\"test\"]\n  to:\n  - operation:\n      methods: [\"GET\"]";
    check(
        "ML120",
        &[Warning],
        &doc("p", split),
        &doc("p", joined),
        None,
    );
    let when_split = "action: DENY\nrules:\n- to:\n  - operation:\n      ports: [\"8080\"]\n- when:\n  - key: source.ip\n    values: [\"10.0.0.1\"]";
    let two_from = "action: DENY\nrules:\n- from:\n  - source:\n      namespaces: [\"a\"]\n- from:\n  - source:\n      namespaces: [\"b\"]";
    check(
        "ML120",
        &[Warning],
        &doc("p", when_split),
        &doc("p", two_from),
        None,
    );
}

#[test]
fn ml121_rule_made_redundant_by_another() {
    let bad = "rules:\n- from:\n  - source:\n      namespaces: [\"foo\"]\n- from:\n  - source:\n      principals: [\"cluster.local/ns/foo/sa/sleep\"]\n  to:\n  - operation:\n      methods: [\"GET\"]";
    let good = bad.replace("ns/foo/sa/sleep", "ns/bar/sa/sleep");
    check("ML121", &[Warning], &doc("p", bad), &doc("p", &good), None);
    let found = lint_yaml(&doc("p", bad), None);
    let message = &with_code(&found, "ML121")[0].message;
    assert!(
        message.contains("rules[1] is redundant: rules[0]"),
        "{message}"
    );
    // Duplicates: only the later one is reported.
    let twice = "rules:\n- to:\n  - operation:\n      paths: [\"/a*\"]\n- to:\n  - operation:\n      paths: [\"/a*\"]";
    let found = lint_yaml(&doc("p", twice), None);
    let hits = with_code(&found, "ML121");
    assert_eq!(hits.len(), 1);
    assert!(hits[0].message.contains("rules[1] is redundant"));
}

#[test]
fn ml122_rule_whose_conditions_never_hold() {
    let op = |fields: &str| {
        doc(
            "p",
            &format!("rules:\n- to:\n  - operation:\n      {fields}"),
        )
    };
    // The only rule of an ALLOW: the policy allows nothing (error).
    check(
        "ML122",
        &[Error],
        &op("methods: [\"GET\"]\n      notMethods: [\"GET\"]"),
        &op("methods: [\"GET\"]\n      notMethods: [\"POST\"]"),
        None,
    );
    check(
        "ML122",
        &[Error],
        &op("ports: [\"8080\"]\n      notPorts: [\"8080\"]"),
        &op("ports: [\"8080\", \"9090\"]\n      notPorts: [\"8080\"]"),
        None,
    );
    check(
        "ML122",
        &[Error],
        &op("paths: [\"/admin/users\", \"/admin/keys\"]\n      notPaths: [\"/admin/*\"]"),
        &op("paths: [\"/admin/users\", \"/public\"]\n      notPaths: [\"/admin/*\"]"),
        None,
    );
    // A principal's namespace against namespaces in the same source.
    check(
        "ML122",
        &[Error],
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/a/sa/x\"]\n      namespaces: [\"b\"]",
        ),
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/a/sa/x\"]\n      namespaces: [\"a\"]",
        ),
        None,
    );
    // Another rule still allows something: warning.
    let two = "rules:\n- to:\n  - operation:\n      methods: [\"GET\"]\n      notMethods: [\"GET\"]\n- to:\n  - operation:\n      methods: [\"POST\"]";
    check(
        "ML122",
        &[Warning],
        &doc("p", two),
        &doc(
            "p",
            &two.replace("notMethods: [\"GET\"]", "notMethods: [\"HEAD\"]"),
        ),
        None,
    );
    // A DENY whose contradiction is HTTP-only still matches TCP: said in the message.
    let deny = doc(
        "p",
        "action: DENY\nrules:\n- to:\n  - operation:\n      paths: [\"/a\"]\n      notPaths: [\"/a\"]",
    );
    let found = lint_yaml(&deny, None);
    let hit = with_code(&found, "ML122")[0];
    assert_eq!(hit.severity, Warning);
    assert!(hit.message.contains("on TCP"), "{}", hit.message);
}

#[test]
fn ml123_allow_nothing_is_info_only() {
    check(
        "ML123",
        &[Info],
        &doc("p", "{}"),
        &doc(
            "p",
            "rules:\n- from:\n  - source:\n      namespaces: [\"foo\"]",
        ),
        None,
    );
    let found = lint_yaml(&doc("p", "{}"), None);
    assert!(found.iter().all(|f| f.severity == Info), "{found:#?}");
}

#[test]
fn ml124_audit_without_rules_has_no_effect() {
    // (DENY and CUSTOM policies without rules are refused by the parser, as by Istio.)
    check(
        "ML124",
        &[Warning],
        &doc("p", "action: AUDIT"),
        &doc(
            "p",
            "action: AUDIT\nrules:\n- to:\n  - operation:\n      paths: [\"/admin*\"]",
        ),
        None,
    );
}

#[test]
fn ml125_deny_with_http_fields_widens_on_tcp() {
    check(
        "ML125",
        &[Info],
        &doc(
            "p",
            "action: DENY\nrules:\n- to:\n  - operation:\n      methods: [\"POST\"]",
        ),
        &doc(
            "p",
            "action: DENY\nrules:\n- to:\n  - operation:\n      ports: [\"9000\"]",
        ),
        None,
    );
    let found = lint_yaml(
        &doc(
            "p",
            "action: DENY\nrules:\n- from:\n  - source:\n      namespaces: [\"dev\"]\n  to:\n  - operation:\n      methods: [\"POST\"]",
        ),
        None,
    );
    let message = &with_code(&found, "ML125")[0].message;
    assert!(
        message.contains("every TCP connection with namespaces [\"dev\"]"),
        "{message}"
    );
    // ALLOW rules with HTTP fields are dropped on TCP (stricter): nothing to say.
    let allow = doc(
        "p",
        "rules:\n- to:\n  - operation:\n      methods: [\"POST\"]",
    );
    assert!(with_code(&lint_yaml(&allow, None), "ML125").is_empty());
}

// ---------------------------------------------------------------------------------------------
// ML13x: policies against each other

const ALLOW_GET_FROM_FOO: &str = "rules:\n- from:\n  - source:\n      namespaces: [\"foo\"]\n  to:\n  - operation:\n      methods: [\"GET\"]";

#[test]
fn ml130_allow_rule_dead_under_a_deny() {
    let allow = doc("allow", ALLOW_GET_FROM_FOO);
    let deny_all_from_foo = doc(
        "deny",
        "action: DENY\nrules:\n- from:\n  - source:\n      namespaces: [\"foo\"]",
    );
    let deny_post = doc(
        "deny",
        "action: DENY\nrules:\n- to:\n  - operation:\n      methods: [\"POST\"]",
    );
    check(
        "ML130",
        &[Warning],
        &format!("{allow}{deny_all_from_foo}"),
        &format!("{allow}{deny_post}"),
        None,
    );
    // A DENY on other workloads, or a dry-run one, does not kill the ALLOW.
    let elsewhere = doc(
        "deny",
        "selector:\n  matchLabels:\n    app: other\naction: DENY\nrules:\n- from:\n  - source:\n      namespaces: [\"foo\"]",
    );
    assert!(with_code(&lint_yaml(&format!("{allow}{elsewhere}"), None), "ML130").is_empty());
    let dry = dry_run_doc(
        "deny",
        "action: DENY\nrules:\n- from:\n  - source:\n      namespaces: [\"foo\"]",
    );
    assert!(with_code(&lint_yaml(&format!("{allow}{dry}"), None), "ML130").is_empty());
    // A root-namespace DENY covers every namespace.
    let root = doc_in("istio-system", "deny", "action: DENY\nrules:\n- {}");
    assert_eq!(
        with_code(&lint_yaml(&format!("{allow}{root}"), None), "ML130").len(),
        1
    );
}

#[test]
fn ml131_dry_run_deny_against_enforced_allow() {
    let allow = doc("allow", ALLOW_GET_FROM_FOO);
    let covering = dry_run_doc(
        "deny",
        "action: DENY\nrules:\n- to:\n  - operation:\n      methods: [\"GET\"]",
    );
    let partial = dry_run_doc(
        "deny",
        "action: DENY\nrules:\n- from:\n  - source:\n      principals: [\"cluster.local/ns/foo/sa/sleep\"]\n  to:\n  - operation:\n      methods: [\"GET\"]\n      paths: [\"/admin*\"]",
    );
    let disjoint = dry_run_doc(
        "deny",
        "action: DENY\nrules:\n- from:\n  - source:\n      namespaces: [\"bar\"]",
    );
    check(
        "ML131",
        &[Warning],
        &format!("{allow}{covering}"),
        &format!("{allow}{disjoint}"),
        None,
    );
    check(
        "ML131",
        &[Info],
        &format!("{allow}{partial}"),
        &format!("{allow}{disjoint}"),
        None,
    );
}

#[test]
fn ml132_dry_run_allow_that_would_deny_allowed_traffic() {
    let dry = dry_run_doc("new", ALLOW_GET_FROM_FOO);
    // No enforced ALLOW in the namespace: everything is allowed today.
    check(
        "ML132",
        &[Info],
        &dry,
        &format!("{}{dry}", doc("old", ALLOW_GET_FROM_FOO)),
        None,
    );
    // An enforced ALLOW the dry-run one does not cover.
    let old_wider = doc(
        "old",
        "rules:\n- from:\n  - source:\n      namespaces: [\"foo\", \"bar\"]",
    );
    check(
        "ML132",
        &[Info],
        &format!("{old_wider}{dry}"),
        &format!("{}{dry}", doc("old", ALLOW_GET_FROM_FOO)),
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// Report formats

/// A fixed finding set: lint findings of a small bad policy file plus a trace-style finding
/// with evidence fields and no location.
fn sample_report() -> Report {
    let yaml = format!(
        "{}{}",
        doc(
            "httpbin",
            "selector:\n  matchLabels:\n    app: httpbin\nrules:\n- from:\n  - source:\n      principals: [\"spiffe://cluster.local/ns/foo/sa/sleep\"]\n- to:\n  - operation:\n      methods: [\"get\"]\n      paths: [\"/data|raw\"]"
        ),
        doc(
            "deny-post",
            "action: DENY\nrules:\n- to:\n  - operation:\n      methods: [\"POST\"]"
        )
    );
    let mut findings = lint_yaml(&yaml, None);
    findings.push(
        Finding::new(
            "traffic-denied-by-policy",
            "ML201",
            Error,
            "reviews.bookinfo -> ratings.bookinfo: 12 successful GET /ratings/0 requests are denied by the declared policies",
        )
        .for_policy("bookinfo/ratings")
        .with(
            "edge",
            serde_json::json!({"source": "reviews.bookinfo", "target": "ratings.bookinfo"}),
        )
        .with("count", 12),
    );
    let mut report = Report::new(findings);
    report.summary.suppressed = 1;
    report
}

fn render(report: &Report, format: Format, options: &WriteOptions<'_>) -> String {
    let mut out = Vec::new();
    report::write_report(report, format, options, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn options() -> WriteOptions<'static> {
    WriteOptions {
        color: false,
        checks: CHECKS,
        markdown: MarkdownOptions::default(),
        sarif_default_file: None,
    }
}

#[test]
fn text_report_matches_the_golden_file() {
    assert_golden(
        "lint-report.txt",
        &render(&sample_report(), Format::Text, &options()),
    );
}

#[test]
fn markdown_report_matches_the_golden_file() {
    let options = WriteOptions {
        markdown: MarkdownOptions {
            title: Some("meshlens lint".into()),
            mermaid: Some(
                "graph LR\n  reviews.bookinfo -->|denied| ratings.bookinfo\n  linkStyle 0 stroke:red"
                    .into(),
            ),
        },
        ..options()
    };
    assert_golden(
        "lint-report.md",
        &render(&sample_report(), Format::Markdown, &options),
    );
}

#[test]
fn empty_reports_say_so() {
    let empty = Report::new(Vec::new());
    assert_eq!(render(&empty, Format::Text, &options()), "no findings\n");
    assert_eq!(
        render(&empty, Format::Json, &options()),
        "{\"findings\":[],\"summary\":{\"errors\":0,\"warnings\":0,\"infos\":0}}\n"
    );
    assert!(render(&empty, Format::Markdown, &options()).contains("No findings."));
    assert_eq!(render(&empty, Format::Github, &options()), "");
}

#[test]
fn text_is_coloured_only_when_asked() {
    let report = sample_report();
    let plain = render(&report, Format::Text, &options());
    assert!(!plain.contains('\x1b'));
    let mut out = Vec::new();
    text::write_text(&report, &mut out, true).unwrap();
    let coloured = String::from_utf8(out).unwrap();
    assert!(
        coloured.contains("\x1b[1;31merror\x1b[0m[ML111]"),
        "{coloured}"
    );
    // Colour codes aside, the text is the same.
    let stripped = coloured
        .replace("\x1b[1;31m", "")
        .replace("\x1b[1;33m", "")
        .replace("\x1b[1;36m", "")
        .replace("\x1b[1m", "")
        .replace("\x1b[0m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn json_report_has_exactly_the_contract_fields() {
    let json: Value =
        serde_json::from_str(&render(&sample_report(), Format::Json, &options())).unwrap();
    let top: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, BTreeSet::from(["findings", "summary"]));
    let summary: BTreeSet<&str> = json["summary"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        summary,
        BTreeSet::from(["errors", "warnings", "infos", "suppressed"])
    );
    for finding in json["findings"].as_array().unwrap() {
        let keys: BTreeSet<&str> = finding
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        if finding["kind"] == "policy-lint" {
            assert_eq!(
                keys,
                BTreeSet::from(["kind", "code", "severity", "message", "location", "policy"])
            );
            let location: BTreeSet<&str> = finding["location"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(location, BTreeSet::from(["file", "line", "column"]));
            assert!(finding["location"]["line"].is_u64());
            assert!(finding["location"]["column"].is_u64());
        } else {
            assert_eq!(
                keys,
                BTreeSet::from([
                    "kind", "code", "severity", "message", "policy", "edge", "count"
                ])
            );
        }
        assert!(["error", "warning", "info"].contains(&finding["severity"].as_str().unwrap()));
    }
    let report: Report = serde_json::from_value(json).unwrap();
    assert_eq!(report, sample_report());
}

#[test]
fn sarif_is_a_valid_2_1_0_log_for_code_scanning() {
    let report = sample_report();
    let text = render(&report, Format::Sarif, &options());
    // It reads back as SARIF.
    let _typed: serde_sarif::sarif::Sarif = serde_json::from_str(&text).unwrap();
    let log: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "meshlens");
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for check in CHECKS {
        assert!(ids.contains(&check.code), "rule {}", check.code);
    }
    assert!(ids.contains(&"ML001"), "the suppression rule");
    assert!(
        ids.contains(&"ML201"),
        "a rule for a code outside the catalogue"
    );
    for rule in rules {
        assert!(
            !rule["shortDescription"]["text"]
                .as_str()
                .unwrap()
                .is_empty()
        );
        assert!(
            ["error", "warning", "note"]
                .contains(&rule["defaultConfiguration"]["level"].as_str().unwrap())
        );
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), report.findings.len());
    for (result, finding) in results.iter().zip(&report.findings) {
        assert_eq!(result["ruleId"], finding.code.as_str());
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], finding.code.as_str());
        let level = match finding.severity {
            Error => "error",
            Warning => "warning",
            Info => "note",
        };
        assert_eq!(result["level"], level);
        assert_eq!(result["message"]["text"], finding.message.as_str());
        match &finding.location {
            Some(location) => {
                let physical = &result["locations"][0]["physicalLocation"];
                assert_eq!(physical["artifactLocation"]["uri"], location.file.as_str());
                assert_eq!(physical["region"]["startLine"], location.line);
                assert_eq!(physical["region"]["startColumn"], location.column);
            }
            None => assert!(result.get("locations").is_none()),
        }
    }
    let evidence = results.iter().find(|r| r["ruleId"] == "ML201").unwrap();
    assert_eq!(evidence["properties"]["count"], 12);
    assert_eq!(evidence["properties"]["policy"], "bookinfo/ratings");
    // The same log whatever the order of calls: deterministic.
    assert_eq!(text, render(&report, Format::Sarif, &options()));
    // Code scanning needs a location on every result: locationless findings can point at a
    // given file.
    let log = sarif::to_sarif(&report, CHECKS, Some("traces/recorded.json"));
    let log: Value = serde_json::to_value(log).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap();
    let moved = results.iter().find(|r| r["ruleId"] == "ML201").unwrap();
    let physical = &moved["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "traces/recorded.json");
    assert_eq!(physical["region"]["startLine"], 1);
    assert!(
        results
            .iter()
            .all(|r| r["locations"][0]["physicalLocation"].is_object())
    );
}

#[test]
fn github_annotations_escape_messages_and_properties() {
    let report = Report::new(vec![
        Finding::new("policy-lint", "ML110", Warning, "line one\nline two: 100%")
            .at(Location::new("dir,with:odd/p.yaml", 7, 3)),
        Finding::new("policy-lint", "ML123", Info, "no rules"),
    ]);
    let out = render(&report, Format::Github, &options());
    assert_eq!(
        out,
        "::warning file=dir%2Cwith%3Aodd/p.yaml,line=7,col=3,title=ML110::line one%0Aline two: 100%25\n\
         ::notice title=ML123::no rules\n"
    );
    let sample = render(&sample_report(), Format::Github, &options());
    assert_eq!(sample.lines().count(), sample_report().findings.len());
    assert!(sample.lines().all(|l| l.starts_with("::error ")
        || l.starts_with("::warning ")
        || l.starts_with("::notice ")));
    assert_eq!(github::escape_property("a:b,c"), "a%3Ab%2Cc");
}

#[test]
fn junit_xml_parses_with_a_case_per_policy() {
    let report = sample_report();
    let xml = render(&report, Format::Junit, &options());
    assert!(xml.starts_with("<?xml"));
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(parsed.test_suites.len(), 1);
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.name.as_str(), "meshlens");
    let names: BTreeSet<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["bookinfo/ratings", "foo/deny-post", "foo/httpbin"])
    );
    // foo/deny-post has only an info finding: it passes; the others fail.
    assert_eq!(suite.failures, 2);
    for case in &suite.test_cases {
        let failed = matches!(case.status, quick_junit::TestCaseStatus::NonSuccess { .. });
        assert_eq!(
            failed,
            case.name.as_str() != "foo/deny-post",
            "{}",
            case.name.as_str()
        );
    }
    let mut direct = Vec::new();
    junit::write_junit(&report, &mut direct).unwrap();
    assert_eq!(String::from_utf8(direct).unwrap(), xml);
}

#[test]
fn markdown_escapes_table_cells_and_embeds_the_graph_hook() {
    let pipes = Report::new(vec![
        Finding::new("policy-lint", "ML115", Warning, "paths [\"/a|b\"]\nnext")
            .at(Location::new("p|q.yaml", 1, 2)),
    ]);
    let md = render(&pipes, Format::Markdown, &options());
    assert!(
        md.contains("| `p\\|q.yaml:1:2` |  | paths [\"/a\\|b\"]<br>next |"),
        "{md}"
    );
    assert!(!md.contains("```mermaid"));
    let with_graph = MarkdownOptions {
        title: None,
        mermaid: Some("graph LR\n  a --> b\n".into()),
    };
    let mut out = Vec::new();
    markdown::write_markdown(&sample_report(), &with_graph, &mut out).unwrap();
    let md = String::from_utf8(out).unwrap();
    assert!(md.starts_with("### meshlens\n"));
    assert!(
        md.ends_with("```mermaid\ngraph LR\n  a --> b\n```\n"),
        "{md}"
    );
}

// ---------------------------------------------------------------------------------------------
// Exit codes

#[test]
fn exit_codes_follow_fail_on_and_not_the_format() {
    let report = sample_report();
    assert!(report.summary.errors > 0);
    assert_eq!(exit_code(&report, FailOn::Error), 1);
    assert_eq!(exit_code(&report, FailOn::Warning), 1);
    assert_eq!(exit_code(&report, FailOn::Never), 0);
    let warnings = Report::new(lint_yaml(
        &doc(
            "p",
            "rules:\n- to:\n  - operation:\n      methods: [\"get\"]",
        ),
        None,
    ));
    assert_eq!((warnings.summary.errors, warnings.summary.warnings), (0, 1));
    assert_eq!(exit_code(&warnings, FailOn::Error), 0);
    assert_eq!(exit_code(&warnings, FailOn::Warning), 1);
    assert_eq!(exit_code(&warnings, FailOn::Never), 0);
    let infos = Report::new(lint_yaml(&doc("p", "{}"), None));
    assert_eq!(infos.summary.infos, 1);
    for fail_on in FailOn::ALL {
        assert_eq!(exit_code(&infos, fail_on), 0);
        assert_eq!(exit_code(&Report::default(), fail_on), 0);
    }
    // Writing a report in any format leaves it, and so its exit code, unchanged.
    for format in Format::ALL {
        let before = report.clone();
        render(&report, format, &options());
        assert_eq!(report, before, "{format}");
    }
}

// ---------------------------------------------------------------------------------------------
// Suppressions

fn today() -> Date {
    Date::new(2025, 6, 15).unwrap()
}

#[test]
fn suppressions_silence_by_policy_location_or_edge_until_they_expire() {
    let report = sample_report();
    let ml111 = report.findings.iter().find(|f| f.code == "ML111").unwrap();
    let at = ml111.location.clone().unwrap();
    let file = format!(
        "suppressions:\n\
         - code: ML111\n  subject: ./{}:{}\n  reason: migrating principals\n  expires: 2025-06-15\n\
         - code: ML201\n  subject: reviews.bookinfo -> ratings.bookinfo\n  reason: known, ticket 42\n\
         - code: ML110\n  subject: foo/httpbin\n  reason: was fine\n  expires: 2025-06-14\n\
         - code: ML125\n  subject: foo/other\n  reason: matches nothing\n",
        at.file, at.line
    );
    let suppressions = Suppressions::parse(Path::new(".meshlens-ignore.yaml"), &file).unwrap();
    assert_eq!(suppressions.entries.len(), 4);
    let applied = suppressions.apply(report.clone(), today());
    let codes: Vec<&str> = applied.findings.iter().map(|f| f.code.as_str()).collect();
    // ML111 (by file:line, valid through its expiry day) and ML201 (by edge) are gone.
    assert!(
        !codes.contains(&"ML111") && !codes.contains(&"ML201"),
        "{codes:?}"
    );
    // ML110's suppression expired yesterday: it is back, with an info finding at the entry.
    assert!(codes.contains(&"ML110"));
    let expired: Vec<&Finding> = applied
        .findings
        .iter()
        .filter(|f| f.code == "ML001")
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].severity, Info);
    assert_eq!(expired[0].kind, "suppression");
    assert_eq!(
        expired[0].location,
        Some(Location::new(".meshlens-ignore.yaml", 9, 3))
    );
    assert!(expired[0].message.contains("expired on 2025-06-14"));
    assert_eq!(applied.summary.suppressed, report.summary.suppressed + 2);
    assert_eq!(applied.summary.total(), report.summary.total() - 2 + 1);
    // Suppressed findings no longer fail the build.
    assert_eq!(exit_code(&applied, FailOn::Error), 0);
    assert_eq!(exit_code(&report, FailOn::Error), 1);
    // The JSON summary counts them.
    let json: Value = serde_json::from_str(&render(&applied, Format::Json, &options())).unwrap();
    assert_eq!(json["summary"]["suppressed"], 3);
    // A day later the ML111 entry has expired too.
    let later = suppressions.apply(report, Date::new(2025, 6, 16).unwrap());
    assert!(later.findings.iter().any(|f| f.code == "ML111"));
    assert_eq!(
        later.findings.iter().filter(|f| f.code == "ML001").count(),
        2
    );
}

#[test]
fn suppressions_need_the_same_code_and_subject() {
    let report = sample_report();
    let file = "- code: ML110\n  subject: foo/deny-post\n  reason: wrong policy\n- code: ML125\n  subject: foo/httpbin\n  reason: wrong code\n";
    let suppressions = Suppressions::parse(Path::new("i.yaml"), file).unwrap();
    let applied = suppressions.apply(report.clone(), today());
    assert_eq!(applied.findings, report.findings);
    assert_eq!(applied.summary, report.summary);
    let file = "- code: ML125\n  subject: foo/deny-post\n  reason: TCP ports are not used\n";
    let applied = Suppressions::parse(Path::new("i.yaml"), file)
        .unwrap()
        .apply(report.clone(), today());
    assert_eq!(applied.findings.len(), report.findings.len() - 1);
}

#[test]
fn the_suppression_file_is_read_from_disk() {
    let dir = std::env::temp_dir().join(format!("meshlens-lint-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(report::suppress::IGNORE_FILE);
    std::fs::write(&path, "suppressions: []\n").unwrap();
    assert!(Suppressions::read(&path).unwrap().entries.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
    let error = Suppressions::read(&path).unwrap_err().to_string();
    assert!(error.contains(".meshlens-ignore.yaml"), "{error}");
}
