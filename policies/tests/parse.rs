//! Parsing policies and manifests: Istio's own validation data (every valid document accepted,
//! every invalid one rejected, one by one), the reference examples into the expected model,
//! positions of errors, directories, skipped kinds, the inventory, and input that must never
//! panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use meshlens_policies::inventory::{parse_inventory, read_inventory};
use meshlens_policies::model::{Action, AuthorizationPolicy, Rule};
use meshlens_policies::parse::{ParseError, ParsedFile, parse_policies, read_policies};

fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(relative)
}

fn read(relative: &str) -> String {
    fs::read_to_string(testdata(relative)).unwrap()
}

/// The documents of a file with the line each starts on, split at `---` lines, so that each
/// can be parsed and asserted on its own.
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = vec![(1, String::new())];
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            documents.push((i + 2, String::new()));
        } else if let Some((_, current)) = documents.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.retain(|(_, d)| d.lines().any(|l| l.starts_with("kind:")));
    documents
}

fn parse(text: &str) -> ParsedFile {
    parse_policies(Path::new("test.yaml"), text).unwrap()
}

/// The one policy of `text`, failing with the errors otherwise.
fn policy(text: &str) -> AuthorizationPolicy {
    let parsed = parse(text);
    assert!(
        parsed.errors.is_empty(),
        "unexpected errors: {:#?}",
        messages(&parsed.errors)
    );
    assert_eq!(parsed.policies.len(), 1);
    parsed.policies.into_iter().next().unwrap()
}

/// The error messages of `text`, which must yield no policy.
fn rejected(text: &str) -> Vec<String> {
    let parsed = parse(text);
    assert!(parsed.policies.is_empty(), "accepted: {text}");
    assert!(!parsed.errors.is_empty());
    messages(&parsed.errors)
}

fn messages(errors: &[ParseError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

fn with_spec(spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: foo\nspec:\n{spec}"
    )
}

// ---- Istio's validation data ----------------------------------------------------------------

#[test]
fn every_valid_validation_document_is_accepted() {
    for file in [
        "policies/istio-validation/authz-valid.yaml",
        "policies/istio-validation/security-v1-AuthorizationPolicy.yaml",
        "policies/istio-validation/security-v1beta1-AuthorizationPolicy.yaml",
    ] {
        let documents = documents(&read(file));
        assert!(!documents.is_empty());
        for (line, document) in documents {
            let parsed = parse(&document);
            assert!(
                parsed.errors.is_empty() && parsed.policies.len() == 1,
                "{file}: document at line {line} rejected: {:#?}",
                messages(&parsed.errors)
            );
        }
    }
}

#[test]
fn every_invalid_validation_document_is_rejected_with_istios_meaning() {
    let documents = documents(&read("policies/istio-validation/authz-invalid.yaml"));
    assert_eq!(documents.len(), 2);
    for (line, document) in documents {
        let expected = document
            .lines()
            .find_map(|l| l.strip_prefix("_err:"))
            .unwrap()
            .trim()
            .to_lowercase();
        let parsed = parse(&document);
        assert!(
            parsed.policies.is_empty(),
            "document at line {line} accepted"
        );
        assert!(
            parsed
                .errors
                .iter()
                .any(|e| e.message().to_lowercase().contains(&expected)),
            "document at line {line}: expected {expected:?}, got {:#?}",
            messages(&parsed.errors)
        );
    }
}

#[test]
fn every_builder_input_parses() {
    let dir = testdata("policies/istio-builder");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 27);
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .filter(|l| *l == "kind: AuthorizationPolicy")
            .count();
        let parsed = parse_policies(&file, &text).unwrap();
        assert!(
            parsed.errors.is_empty(),
            "{}: {:#?}",
            file.display(),
            messages(&parsed.errors)
        );
        assert_eq!(parsed.policies.len(), expected, "{}", file.display());
    }
}

#[test]
fn builder_inputs_keep_every_field() {
    let text = read("policies/istio-builder/allow-full-rule-in.yaml");
    let p = policy(&text);
    let rules = p.rules.as_ref().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0].from[0].service_accounts,
        ["my-ns/my-sa", "sa-only"]
    );
    assert_eq!(
        rules[0].from[0].not_service_accounts,
        ["my-ns/my-sa-not", "sa-not-only"]
    );
    let source = &rules[1].from[0];
    assert_eq!(source.principals.len(), 4);
    assert_eq!(source.remote_ip_blocks, ["1.2.3.4", "5.6.0.0/16"]);
    assert_eq!(source.not_remote_ip_blocks, ["9.0.0.1", "9.2.0.0/16"]);
    let operation = &rules[1].to[0];
    assert_eq!(operation.ports, ["80", "90"]);
    assert_eq!(operation.paths[5], "/{**}/path/template");
    assert_eq!(rules[1].when.len(), 14);
    let nested = &rules[1].when[9];
    assert_eq!(nested.key, "request.auth.claims[nested1][nested2]");
    assert_eq!(nested.not_values[0], "not-nested");

    let trust = policy(&read("policies/istio-builder/trust-domains-in.yaml"));
    let from = &trust.rules.unwrap()[0].from;
    assert_eq!(from[0].trust_domains, ["cluster.local", "another.local"]);
    assert_eq!(from[1].not_trust_domains, ["bad*", "untrusted"]);
}

// ---- reference examples into the model --------------------------------------------------------

#[test]
fn reference_examples_parse_to_the_expected_model() {
    let example = |n: &str| policy(&read(&format!("policies/istio-reference/{n}")));

    let p = example("01-httpbin.yaml");
    assert_eq!(
        (p.name.as_str(), p.namespace.as_deref()),
        ("httpbin", Some("foo"))
    );
    assert_eq!(p.id(), "foo/httpbin");
    assert_eq!(p.action, Action::Allow);
    assert_eq!(p.selector, None);
    let rules = p.rules.as_ref().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].from.len(), 2);
    assert_eq!(
        rules[0].from[0].principals,
        ["cluster.local/ns/default/sa/sleep"]
    );
    assert_eq!(rules[0].from[1].namespaces, ["test"]);
    assert_eq!(rules[0].to.len(), 2);
    assert_eq!(rules[0].to[0].methods, ["GET"]);
    assert_eq!(rules[0].to[0].paths, ["/info*"]);
    assert_eq!(rules[0].when[0].key, "request.auth.claims[iss]");
    assert_eq!(rules[0].when[0].values, ["https://accounts.google.com"]);
    assert!(!p.dry_run);
    // Locations: the document, `spec:`, the rule, each source/operation key, the condition.
    assert_eq!((p.location.line, p.location.column), (1, 1));
    assert_eq!((p.spec_location.line, p.spec_location.column), (6, 1));
    let at = |l: &Option<meshlens_policies::model::Location>| {
        let l = l.as_ref().unwrap();
        (l.line, l.column)
    };
    assert_eq!(at(&rules[0].location), (9, 5));
    assert_eq!(at(&rules[0].from[1].location), (12, 7));
    assert_eq!(at(&rules[0].to[1].location), (18, 7));
    assert_eq!(at(&rules[0].when[0].location), (22, 7));
    assert!(p.location.file.ends_with("test.yaml"));

    let p = example("02-httpbin.yaml");
    assert_eq!(p.action, Action::Deny);
    assert_eq!(p.rules.as_ref().unwrap()[0].from[0].namespaces, ["dev"]);

    let p = example("03-httpbin.yaml");
    assert_eq!(p.rules.as_ref().unwrap()[0].to[0].ports, ["8080"]);

    let p = example("04-anyname.yaml");
    assert_eq!(p.action, Action::Audit);
    assert_eq!(p.namespace.as_deref(), Some("ns1"));
    assert_eq!(p.selector, Some(labels(&[("app", "myapi")])));

    // `spec: {}`: no rules at all (never matches), unlike an empty list or an empty rule.
    let p = example("05-allow-nothing.yaml");
    assert_eq!(
        (p.action, p.rules.clone(), p.selector.clone()),
        (Action::Allow, None, None)
    );

    let p = example("06-allow-all.yaml");
    let rules = p.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        Rule {
            location: None,
            ..rules[0].clone()
        },
        Rule::default()
    );

    let p = example("07-allow-nothing.yaml");
    assert_eq!(
        (p.rules, p.selector),
        (None, Some(labels(&[("app", "httpbin")])))
    );

    let p = example("08-allow-nothing.yaml");
    assert_eq!(p.namespace.as_deref(), Some("istio-system"));
    assert_eq!(p.selector, Some(labels(&[("version", "v1")])));

    let p = example("09-dry-run-example.yaml");
    assert!(p.dry_run);
    assert_eq!(p.namespace, None);
    assert_eq!(p.id(), "default/dry-run-example");

    let p = example("10-ext-authz-custom.yaml");
    assert_eq!(p.action, Action::Custom);
    assert_eq!(p.provider.as_deref(), Some("my-custom-authz"));
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn missing_empty_and_empty_rule_lists_differ() {
    assert_eq!(policy(&with_spec("  action: ALLOW\n")).rules, None);
    assert_eq!(policy(&with_spec("  rules: []\n")).rules, Some(vec![]));
    assert_eq!(
        policy(&with_spec("  rules: [{}]\n")).rules.unwrap().len(),
        1
    );
    // A null field is dropped by the API server, like an absent one.
    assert_eq!(policy(&with_spec("  rules:\n")).rules, None);
    let no_spec = policy(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: p}\n",
    );
    assert_eq!((no_spec.rules, no_spec.spec_location.line), (None, 1));
}

#[test]
fn dry_run_annotation() {
    let annotated = |value: &str| {
        format!(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  annotations:\n    istio.io/dry-run: {value}\nspec: {{}}\n"
        )
    };
    assert!(policy(&annotated("\"true\"")).dry_run);
    assert!(!policy(&annotated("\"false\"")).dry_run);
    assert!(!policy(&with_spec("  {}\n")).dry_run);
    let errors = rejected(&annotated("true"));
    assert!(
        errors[0].contains("annotations[\"istio.io/dry-run\"] must be a string"),
        "{errors:?}"
    );

    let parsed = parse(&read("policies/istio-builder/dry-run-mix-in.yaml"));
    let dry: Vec<bool> = parsed.policies.iter().map(|p| p.dry_run).collect();
    assert_eq!(dry, [true, false]);
}

// ---- validation rules -------------------------------------------------------------------------

/// Each spec must be rejected with a message containing the expected text.
#[test]
fn istio_validation_rules() {
    let cases: &[(&str, &str)] = &[
        (
            "  action: deny\n  rules: [{}]\n",
            "action must be one of ALLOW, DENY, AUDIT, CUSTOM, found \"deny\" (did you mean \"DENY\"?)",
        ),
        (
            "  action: DENY\n",
            "DENY action without `rules` is meaningless",
        ),
        (
            "  action: DENY\n  rules: []\n",
            "DENY action without `rules`",
        ),
        ("  action: CUSTOM\n", "CUSTOM action without `rules`"),
        (
            "  action: CUSTOM\n  rules: [{}]\n",
            "CUSTOM action needs `provider.name`",
        ),
        (
            "  action: CUSTOM\n  provider: {name: \"\"}\n  rules: [{}]\n",
            "CUSTOM action needs `provider.name`",
        ),
        (
            "  provider: {name: ext}\n  rules: [{}]\n",
            "`provider` is only allowed with action CUSTOM, found ALLOW",
        ),
        (
            "  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - from: [{source: {principals: [a]}}]\n",
            "\"principals\" is not supported with action CUSTOM",
        ),
        (
            "  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - when: [{key: \"request.auth.claims[iss]\", values: [a]}]\n",
            "\"request.auth.claims[iss]\" is not supported with action CUSTOM",
        ),
        (
            "  selector: {matchLabels: {app: a}}\n  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n",
            "only one of selector, targetRef or targetRefs can be set",
        ),
        (
            "  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw, namespace: other}\n",
            "cross namespace referencing is not supported",
        ),
        (
            "  targetRef: {kind: Deployment, group: apps, name: d}\n",
            "targetRef must be one of",
        ),
        (
            "  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io}]\n",
            "targetRef name must be set",
        ),
        (
            "  selector: {matchLabels: {app: \"web-*\"}}\n",
            "wildcard not allowed in label value match",
        ),
        (
            "  selector: {matchLabels: {\"*\": a}}\n",
            "wildcard not allowed in label key match",
        ),
        (
            "  rules:\n  - from:\n    - source: {serviceAccounts: [a], notPrincipals: [b]}\n",
            "cannot set serviceAccounts with namespaces or principals",
        ),
        (
            "  rules:\n  - from:\n    - source: {notServiceAccounts: [a], notNamespaces: [b]}\n",
            "cannot set serviceAccounts with namespaces or principals",
        ),
        (
            "  rules:\n  - from:\n    - source: {serviceAccounts: [a/b/c]}\n",
            "expected format 'serviceAccount' or 'namespace/serviceAccount'",
        ),
        (
            "  rules:\n  - from:\n    - source: {serviceAccounts: [\"ns/*\"]}\n",
            "wildcard not allowed in service account",
        ),
        (
            "  rules:\n  - from:\n    - source: {ipBlocks: [1.2.3.256]}\n",
            "bad IP address \"1.2.3.256\" in ipBlocks",
        ),
        (
            "  rules:\n  - from:\n    - source: {notRemoteIpBlocks: [10.0.0.0/40]}\n",
            "bad CIDR range \"10.0.0.0/40\" in notRemoteIpBlocks",
        ),
        (
            "  rules:\n  - from:\n    - source: {principals: [\"\"]}\n",
            "empty value not allowed in principals",
        ),
        (
            "  rules:\n  - from:\n    - source: {}\n",
            "`from.source` must not be empty",
        ),
        (
            "  rules:\n  - from:\n    - source: {principals: []}\n",
            "`from.source` must not be empty",
        ),
        (
            "  rules:\n  - from:\n    - {}\n",
            "`from.source` must not be null",
        ),
        (
            "  rules:\n  - to:\n    - operation: {}\n",
            "`to.operation` must not be empty",
        ),
        (
            "  rules:\n  - to:\n    - {}\n",
            "`to.operation` must not be null",
        ),
        (
            "  rules:\n  - to:\n    - operation: {ports: [\"0\"]}\n",
            "bad port \"0\"",
        ),
        (
            "  rules:\n  - to:\n    - operation: {notPorts: [\"http\"]}\n",
            "bad port \"http\"",
        ),
        (
            "  rules:\n  - to:\n    - operation: {paths: [\"/{**}/a/{*}\"]}\n",
            "{**} must be the last operator",
        ),
        (
            "  rules:\n  - to:\n    - operation: {paths: [\"/a/{name}\"]}\n",
            "'{' or '}' outside a {*} or {**} operator",
        ),
        (
            "  rules:\n  - to:\n    - operation: {notPaths: [\"/{*}/b*\"]}\n",
            "segment \"b*\" is not a valid literal",
        ),
        (
            "  rules:\n  - to:\n    - operation: {methods: [GET, \"\"]}\n",
            "empty value not allowed in methods",
        ),
        (
            "  rules:\n  - when:\n    - key: request.headers[x]\n",
            "at least one of `values` or `notValues` must be set for key request.headers[x]",
        ),
        (
            "  rules:\n  - when:\n    - values: [a]\n",
            "condition needs a `key`",
        ),
        (
            "  rules:\n  - when:\n    - {key: \"\", values: [a]}\n",
            "`key` must not be empty",
        ),
        (
            "  rules:\n  - when:\n    - {key: \"request.header[x]\", values: [a]}\n",
            "unknown attribute \"request.header[x]\" (did you mean \"request.headers[x]\"?)",
        ),
        (
            "  rules:\n  - when:\n    - {key: request.headers, values: [a]}\n",
            "should have the format a[b]",
        ),
        (
            "  rules:\n  - when:\n    - {key: destination.namespace, values: [a]}\n",
            "replaced by the policy's metadata.namespace",
        ),
        (
            "  rules:\n  - when:\n    - {key: source.ip, notValues: [nope]}\n",
            "bad IP address \"nope\" in notValues of source.ip",
        ),
        (
            "  rules:\n  - when:\n    - {key: destination.port, values: [\"70000\"]}\n",
            "bad port \"70000\"",
        ),
        (
            "  rules:\n  - when:\n    - {key: source.serviceAccount, values: [\"a/b/c\"]}\n",
            "expected format",
        ),
        (
            "  rules:\n  - when:\n    - {key: connection.sni, values: [\"\"]}\n",
            "empty value not allowed in values",
        ),
        ("  rules:\n  - null\n", "rules[0] must not be null"),
    ];
    for (spec, expected) in cases {
        let errors = rejected(&with_spec(spec));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "spec:\n{spec}expected {expected:?}, got {errors:#?}"
        );
    }
}

#[test]
fn accepted_edge_cases() {
    // Istio accepts these, so meshlens must too.
    for spec in [
        "  rules:\n  - from:\n    - source: {principals: [\"a*b\"]}\n",
        "  rules:\n  - from: []\n    to: []\n    when: []\n",
        "  rules:\n  - to: [{operation: {paths: [\"/{*}/a/{**}\", \"/x/{**}\"]}}]\n",
        "  rules:\n  - to: [{operation: {hosts: [\"*.example.com\"], ports: [\"65535\"]}}]\n",
        "  rules:\n  - from: [{source: {ipBlocks: [\"2001:db8::1\", \"2001:db8::/32\"]}}]\n",
        "  rules:\n  - when: [{key: \"request.experimental.inline.headers[x]\", values: [a]}]\n",
        "  rules:\n  - when: [{key: source.trustDomain, values: [cluster.local]}]\n",
        "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n  - {kind: Service, group: \"\", name: svc}\n",
        "  action: AUDIT\n",
        "  selector: {}\n",
        "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n",
    ] {
        policy(&with_spec(spec));
    }
    let p = policy(&with_spec(
        "  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n",
    ));
    assert_eq!(p.target_refs.len(), 1);
    assert_eq!(
        (
            p.target_refs[0].kind.as_str(),
            p.target_refs[0].name.as_str()
        ),
        ("Gateway", "gw")
    );
}

#[test]
fn metadata_is_required_and_validated() {
    let base = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n";
    assert!(rejected(&format!("{base}spec: {{}}\n"))[0].contains("metadata.name is required"));
    assert!(
        rejected(&format!("{base}metadata: {{namespace: foo}}\n"))[0]
            .contains("metadata.name is required")
    );
    assert!(
        rejected(&format!("{base}metadata: {{name: Bad_Name}}\n"))[0]
            .contains("invalid name \"Bad_Name\"")
    );
    assert!(
        rejected(&format!("{base}metadata: {{name: a, namespace: a.b}}\n"))[0]
            .contains("invalid namespace")
    );
    let old =
        "apiVersion: security.istio.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: {name: a}\n";
    assert!(rejected(old)[0].contains("unsupported apiVersion \"security.istio.io/v1alpha1\""));
}

// ---- positions and messages -------------------------------------------------------------------

#[test]
fn errors_carry_file_line_and_column() {
    let text = "\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny
  namespace: foo
spec:
  action: DENY
  rules:
  - to:
    - operation:
        method: [\"GET\"]
        paths: /admin
  - from:
    - source:
        ipBlocks: [\"10.0.0.1\", \"10.0.0.300\"]
        principal: [a]
    when:
    - key: request.headers[x]
      values: [80]
";
    let parsed = parse_policies(Path::new("policies/deny.yaml"), text).unwrap();
    assert!(parsed.policies.is_empty());
    assert_eq!(
        messages(&parsed.errors),
        [
            "policies/deny.yaml:11:9: unknown field \"method\" in operation (did you mean \"methods\"?)",
            "policies/deny.yaml:12:16: \"paths\" must be a list of strings, found a string (write paths: [\"…\"])",
            "policies/deny.yaml:16:9: unknown field \"principal\" in source (did you mean \"principals\"?)",
            "policies/deny.yaml:15:32: bad IP address \"10.0.0.300\" in ipBlocks",
            "policies/deny.yaml:19:16: values[0] must be a string, found a number (quote it)",
        ]
    );
    let first = &parsed.errors[0];
    let location = first.location().unwrap();
    assert_eq!((location.line, location.column), (11, 9));
    assert_eq!(first.path(), Path::new("policies/deny.yaml"));
}

#[test]
fn invalid_validation_file_errors_point_at_the_field() {
    let file = testdata("policies/istio-validation/authz-invalid.yaml");
    let parsed = parse_policies(&file, &fs::read_to_string(&file).unwrap()).unwrap();
    assert!(parsed.policies.is_empty());
    let positions: Vec<(usize, usize)> = parsed
        .errors
        .iter()
        .map(|e| (e.location().unwrap().line, e.location().unwrap().column))
        .collect();
    // The `serviceAccounts:` keys of the two documents.
    assert_eq!(positions, [(10, 13), (22, 13)]);
    assert!(
        parsed.errors[0]
            .to_string()
            .starts_with(&format!("{}:10:13: ", file.display()))
    );
}

#[test]
fn misplaced_fields_are_told_where_they_belong() {
    let errors = rejected(&with_spec("  rules:\n  - principals: [a]\n"));
    assert!(
        errors[0].ends_with(
            "unknown field \"principals\" in rule (\"principals\" belongs in from[].source)"
        ),
        "{errors:?}"
    );
    let errors = rejected(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nrules: [{}]\n",
    );
    assert!(
        errors[0].ends_with("unknown field \"rules\" in the document (\"rules\" belongs in spec)"),
        "{errors:?}"
    );
}

#[test]
fn wrong_types_name_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            "  rules: {}\n",
            "test.yaml:7:10: \"rules\" must be a list, found a mapping",
        ),
        (
            "  rules: [[a]]\n",
            "test.yaml:7:11: rule must be a mapping, found a list",
        ),
        (
            "  rules:\n  - from: {source: {}}\n",
            "test.yaml:8:11: \"from\" must be a list, found a mapping",
        ),
        (
            "  rules:\n  - to: [{operation: [a]}]\n",
            "test.yaml:8:22: operation must be a mapping, found a list",
        ),
        (
            "  selector: {matchLabels: [a]}\n",
            "test.yaml:7:27: \"matchLabels\" must be a mapping, found a list",
        ),
        (
            "  selector: {matchLabels: {version: 1}}\n",
            "matchLabels[\"version\"] must be a string, found a number (quote it)",
        ),
        (
            "  action: 1\n",
            "test.yaml:7:11: \"action\" must be a string, found a number",
        ),
        (
            "  provider: ext\n  action: CUSTOM\n  rules: [{}]\n",
            "provider must be a mapping, found a string",
        ),
        ("  [a]\n", "spec must be a mapping, found a list"),
        (
            "  rules:\n  - when: [{key: [a], values: [b]}]\n",
            "\"key\" must be a string, found a list",
        ),
        (
            "  rules:\n  - {1: a}\n",
            "field names in rule must be strings, found a number",
        ),
    ];
    for (spec, expected) in cases {
        let errors = rejected(&with_spec(spec));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "spec:\n{spec}expected {expected:?}, got {errors:#?}"
        );
    }
}

#[test]
fn yaml_syntax_errors_fail_the_file_with_a_position() {
    let error = parse_policies(Path::new("bad.yaml"), "a: 1\nb: [1, 2\nc: d\n").unwrap_err();
    assert!(matches!(error, ParseError::Syntax { .. }));
    assert!(error.to_string().starts_with("bad.yaml:"), "{error}");
    let duplicate = parse_policies(Path::new("dup.yaml"), "kind: A\nkind: B\n").unwrap_err();
    assert_eq!(duplicate.location().unwrap().line, 2, "{duplicate}");
}

// ---- documents, files, kinds ------------------------------------------------------------------

#[test]
fn an_invalid_document_does_not_stop_the_others() {
    let text = format!(
        "{}---\n{}---\n{}",
        with_spec("  rules: [{}]\n"),
        with_spec("  action: NOPE\n"),
        with_spec("  action: DENY\n  rules: [{}]\n").replace("name: p", "name: q")
    );
    let parsed = parse(&text);
    let names: Vec<&str> = parsed.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p", "q"]);
    assert_eq!(parsed.errors.len(), 1);
    assert_eq!(parsed.errors[0].location().unwrap().line, 15);
    assert_eq!(parsed.policies[1].location.line, 17);
}

#[test]
fn other_kinds_are_skipped_and_counted() {
    let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: v1
kind: Service
metadata: {name: s}
---
apiVersion: policy.linkerd.io/v1alpha1
kind: AuthorizationPolicy
metadata: {name: linkerd}
spec: {targetRef: {kind: Server, name: web}}
---
# only a comment
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: e}
---
- not
- an object
---
apiVersion: v1
kind: List
items:
- apiVersion: security.istio.io/v1beta1
  kind: AuthorizationPolicy
  metadata: {name: from-list, namespace: foo}
  spec: {}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
";
    let parsed = parse(text);
    assert!(parsed.errors.is_empty(), "{:#?}", messages(&parsed.errors));
    assert_eq!(parsed.policies.len(), 1);
    assert_eq!(parsed.policies[0].name, "from-list");
    assert_eq!(parsed.policies[0].location.line, 26);
    let counts: Vec<(&str, usize)> = parsed.skipped_by_kind().into_iter().collect();
    assert_eq!(
        counts,
        [
            ("", 1),
            ("AuthorizationPolicy", 1),
            ("ConfigMap", 1),
            ("Deployment", 2),
            ("Service", 1)
        ]
    );
    assert_eq!(parsed.skipped[2].api_version, "policy.linkerd.io/v1alpha1");
    assert_eq!(parsed.skipped[2].location.line, 9);
}

#[test]
fn directories_are_read_recursively_in_sorted_order() {
    let all = read_policies(&[testdata("policies")]).unwrap();
    // 6 bookinfo policies, 10 reference examples, 42 builder policies, 2 + 1 + 1 valid
    // validation documents.
    assert_eq!(all.policies.len(), 6 + 10 + 42 + 4);
    assert_eq!(all.files.len(), 4 + 10 + 27 + 4);
    assert!(all.skipped.is_empty());
    // Only authz-invalid.yaml fails, once per document.
    assert_eq!(all.errors.len(), 2);
    assert!(
        all.errors
            .iter()
            .all(|e| e.path().ends_with("authz-invalid.yaml"))
    );
    let mut sorted = all.files.clone();
    sorted.sort();
    assert_eq!(all.files, sorted);
    assert!(all.files[0].ends_with("bookinfo/details.yaml"));

    let dir = std::env::temp_dir().join(format!("meshlens-parse-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("team-a/deep")).unwrap();
    fs::write(
        dir.join("team-a/deep/b.yml"),
        with_spec("  rules: [{}]\n").replace("name: p", "name: b"),
    )
    .unwrap();
    fs::write(
        dir.join("team-a/a.yaml"),
        with_spec("  rules: [{}]\n").replace("name: p", "name: a"),
    )
    .unwrap();
    fs::write(
        dir.join("z.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
    )
    .unwrap();
    fs::write(dir.join("README.md"), "not yaml: [").unwrap();
    let read = read_policies(std::slice::from_ref(&dir)).unwrap();
    let names: Vec<&str> = read.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(read.skipped_by_kind().get("Service"), Some(&1));
    fs::write(dir.join("broken.yaml"), "a: [").unwrap();
    let error = read_policies(std::slice::from_ref(&dir)).unwrap_err();
    assert!(
        error.is_file_level() && error.path().ends_with("broken.yaml"),
        "{error}"
    );
    let missing = read_policies(&[dir.join("nope")]).unwrap_err();
    assert!(matches!(missing, ParseError::Io { .. }));
    fs::remove_dir_all(&dir).unwrap();
}

// ---- inventory --------------------------------------------------------------------------------

#[test]
fn inventory_testdata_is_read() {
    let (inventory, errors) = read_inventory(&[testdata("inventory")]).unwrap();
    assert!(errors.is_empty(), "{:#?}", messages(&errors));
    assert_eq!(
        inventory.namespaces,
        ["bar", "bookinfo", "foo", "istio-system"]
    );
    assert_eq!(inventory.workloads.len(), 6 + 1 + 3);

    let httpbin = inventory.workload("foo", "httpbin").unwrap();
    assert_eq!(
        httpbin.labels,
        labels(&[("app", "httpbin"), ("version", "v1")])
    );
    assert_eq!(
        (httpbin.service_account.as_str(), httpbin.ports.as_slice()),
        ("httpbin", &[8000][..])
    );
    let sleep = inventory.workload("bar", "sleep").unwrap();
    assert_eq!(
        inventory.principal_of(sleep, "cluster.local"),
        "cluster.local/ns/bar/sa/sleep"
    );

    let reviews = inventory.workloads_selected_by("bookinfo", &labels(&[("app", "reviews")]));
    let names: Vec<&str> = reviews.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["reviews-v1", "reviews-v2", "reviews-v3"]);
    assert!(
        reviews
            .iter()
            .all(|w| w.service_account == "bookinfo-reviews" && w.ports == [9080])
    );
    let gateway = inventory
        .workload("istio-system", "istio-ingressgateway")
        .unwrap();
    assert_eq!(
        gateway.service_account,
        "istio-ingressgateway-service-account"
    );
    assert_eq!(
        inventory
            .service("istio-system", "istio-ingressgateway")
            .unwrap()
            .ports[1],
        (80, Some(8080))
    );
    assert!(inventory.has_service_account("bookinfo", "bookinfo-productpage"));

    // The reference policies select what they should.
    let allow_nothing = policy(&read("policies/istio-reference/07-allow-nothing.yaml"));
    let selector = allow_nothing.selector.unwrap();
    assert!(inventory.workloads_selected_by("bar", &selector).is_empty());
    assert_eq!(inventory.workloads_selected_by("foo", &selector).len(), 1);
    let mesh_wide = policy(&read("policies/istio-reference/08-allow-nothing.yaml"));
    let v1 = inventory.workloads_with_labels(&mesh_wide.selector.unwrap());
    assert_eq!(v1.len(), 5);
}

#[test]
fn inventory_defaults() {
    let text = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers:\n      - name: db\n        ports: [{containerPort: 5432, name: pg}]\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: ops}\nspec: {template: {spec: {containers: [{name: a}]}}}\n";
    let (inventory, errors) = parse_inventory(Path::new("i.yaml"), text).unwrap();
    assert!(errors.is_empty(), "{:#?}", messages(&errors));
    let db = inventory.workload("default", "db").unwrap();
    assert_eq!(
        (
            db.kind.as_str(),
            db.service_account.as_str(),
            db.ports.as_slice()
        ),
        ("StatefulSet", "default", &[5432][..])
    );
    let agent = inventory.workload("ops", "agent").unwrap();
    assert!(agent.labels.is_empty() && agent.ports.is_empty());
    assert_eq!(inventory.namespaces, ["default", "ops"]);
}

// ---- hostile input ----------------------------------------------------------------------------

/// xorshift64*: a fixed seed makes failures reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }
}

/// One random edit of the kind that breaks YAML or the schema in interesting ways.
fn mutate(rng: &mut Rng, text: &str) -> String {
    const PIECES: &[&str] = &[
        "-",
        ":",
        " ",
        "\n",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "'",
        "*",
        "&a",
        "*a",
        "!!str",
        "~",
        "null",
        "80",
        "- ",
        "  ",
        "\t",
        "#",
        "---\n",
        "...",
        "|",
        ">",
        "?",
        ",",
        "{}",
        "[]",
        "é",
        "rules",
        "from",
        "source",
        "key",
        "kind: AuthorizationPolicy",
        "- {}\n",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return PIECES[rng.below(PIECES.len())].to_string();
    }
    let at = rng.below(chars.len());
    match rng.below(6) {
        0 => {
            let len = rng.below(8).min(chars.len() - at);
            chars.drain(at..at + len);
        }
        1 => {
            let piece = PIECES[rng.below(PIECES.len())];
            chars.splice(at..at, piece.chars());
        }
        2 => {
            let end = (at + rng.below(40)).min(chars.len());
            let copy: Vec<char> = chars[at..end].to_vec();
            let to = rng.below(chars.len());
            chars.splice(to..to, copy);
        }
        3 => {
            // Re-indent a line: the classic YAML mistake.
            let start = chars[..at]
                .iter()
                .rposition(|c| *c == '\n')
                .map_or(0, |p| p + 1);
            chars.splice(start..start, "  ".chars());
        }
        4 => {
            chars[at] = PIECES[rng.below(PIECES.len())]
                .chars()
                .next()
                .unwrap_or(' ')
        }
        _ => {
            let lines: Vec<&str> = text.lines().collect();
            let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
            let mut lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
            lines.swap(a, b);
            return lines.join("\n");
        }
    }
    chars.into_iter().collect()
}

#[test]
fn random_mutations_never_panic() {
    let seeds = [
        read("policies/istio-builder/allow-full-rule-in.yaml"),
        read("policies/istio-builder/tcp-deny-both-http-tcp-in.yaml"),
        read("policies/istio-reference/10-ext-authz-custom.yaml"),
        read("inventory/istio-reference.yaml"),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut accepted, mut rejected, mut broken) = (0, 0, 0);
    for round in 0..3000 {
        let mut text = seeds[round % seeds.len()].clone();
        for _ in 0..=rng.below(4) {
            text = mutate(&mut rng, &text);
        }
        match parse_policies(Path::new("fuzz.yaml"), &text) {
            Ok(parsed) if parsed.errors.is_empty() => accepted += 1,
            Ok(parsed) => {
                // Every error has a position inside the text.
                let lines = text.lines().count() + 1;
                assert!(
                    parsed
                        .errors
                        .iter()
                        .all(|e| e.location().is_some_and(|l| l.line <= lines))
                );
                rejected += 1;
            }
            Err(_) => broken += 1,
        }
        let _ = parse_inventory(Path::new("fuzz.yaml"), &text);
    }
    // The mutations must exercise all three outcomes to be worth anything.
    assert!(
        accepted > 0 && rejected > 0 && broken > 0,
        "{accepted} {rejected} {broken}"
    );
}

#[test]
fn deep_nesting_and_garbage_are_errors_not_crashes() {
    let mut deep = with_spec("  rules:\n");
    for depth in 0..20_000 {
        deep.push_str(&" ".repeat(2 + depth));
        deep.push_str("- \n");
    }
    let error = parse_policies(Path::new("deep.yaml"), &deep).unwrap_err();
    assert!(error.message().contains("nested more than"), "{error}");
    let flow = with_spec(&format!(
        "  rules: {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    ));
    assert!(parse_policies(Path::new("flow.yaml"), &flow).is_err());

    let billion_laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    assert!(parse_policies(Path::new("laughs.yaml"), billion_laughs).is_err());

    for garbage in [
        "",
        "\0\u{1}\u{2}",
        "---\n...\n---\n",
        "kind: AuthorizationPolicy",
        "{{{{",
        "- - - -",
        ": : :",
        "\u{feff}apiVersion: v1\n",
        "!!binary AAAA",
    ] {
        let _ = parse_policies(Path::new("g.yaml"), garbage);
        let _ = parse_inventory(Path::new("g.yaml"), garbage);
    }
    let bare = rejected("kind: AuthorizationPolicy\napiVersion: security.istio.io/v1\n");
    assert!(bare[0].contains("metadata.name is required"));
}
