//! Evaluation with Istio's AuthorizationPolicy semantics: one table per rule of DESIGN.md
//! "Checking traffic against Istio AuthorizationPolicy", then Istio's own builder and reference
//! inputs (expected decisions derived from the semantics and the files' comments, not from
//! generated output), then properties.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshlens_policies::eval::{Decision, Options, PolicySet, Request, RuleStatus, Verdict};
use meshlens_policies::model::{
    Action, AuthorizationPolicy, Condition, Location, Operation, Rule, Source,
};
use meshlens_policies::parse::parse_policies;
use serde_json::{Value, json};

use Verdict::{Allow as ALLOW, Deny as DENY};

// ---------------------------------------------------------------------------------------------
// Helpers

/// One policy document; `spec` is a YAML flow mapping.
fn policy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec: {spec}\n---\n"
    )
}

/// A dry-run policy document.
fn dry_run_policy(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  annotations:\n    istio.io/dry-run: \"true\"\nspec: {spec}\n---\n"
    )
}

fn parse(yaml: &str) -> Vec<AuthorizationPolicy> {
    let parsed = parse_policies(Path::new("test.yaml"), yaml).expect("YAML");
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    parsed.policies
}

fn set(yaml: &str) -> PolicySet {
    PolicySet::new(parse(yaml), Options::default())
}

fn testdata(folder: &str, file: &str) -> PolicySet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/policies")
        .join(folder)
        .join(file);
    let text = std::fs::read_to_string(&path).expect("testdata");
    let parsed = parse_policies(&path, &text).expect("YAML");
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    PolicySet::new(parsed.policies, Options::default())
}

fn request(v: &Value) -> Request {
    serde_json::from_value(v.clone()).expect("request JSON")
}

fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

/// A request to foo/httpbin (app=httpbin, version=v1), with `extra` merged in.
fn httpbin(extra: Value) -> Value {
    let mut base = json!({"destination": {"namespace": "foo", "workload": "httpbin",
        "labels": {"app": "httpbin", "version": "v1"}}});
    merge(&mut base, extra);
    base
}

fn mtls(principal: &str) -> Value {
    json!({"source": {"principal": principal}})
}

fn get(path: &str) -> Value {
    json!({"request": {"method": "GET", "path": path}})
}

fn with(a: Value, b: Value) -> Value {
    let mut a = a;
    merge(&mut a, b);
    a
}

/// Asserts the verdict and the deciding (policy, rule), and that `explain` agrees.
#[track_caller]
fn expect(set: &PolicySet, req: Value, verdict: Verdict, by: Option<(&str, usize)>) -> Decision {
    let r = request(&req);
    let d = set.evaluate(&r);
    assert_eq!(d.decision, verdict, "request {req}\n{d:#?}");
    assert_eq!(d.policy.as_deref().zip(d.rule), by, "request {req}\n{d:#?}");
    assert_eq!(set.explain(&r).decision, d);
    d
}

fn here() -> Location {
    Location {
        file: Arc::new(PathBuf::from("code.yaml")),
        line: 1,
        column: 1,
    }
}

fn model_policy(
    namespace: &str,
    name: &str,
    action: Action,
    rules: Option<Vec<Rule>>,
) -> AuthorizationPolicy {
    AuthorizationPolicy {
        name: name.to_owned(),
        namespace: Some(namespace.to_owned()),
        selector: None,
        target_refs: Vec::new(),
        action,
        provider: (action == Action::Custom).then(|| "ext".to_owned()),
        rules,
        dry_run: false,
        location: here(),
        spec_location: here(),
    }
}

// ---------------------------------------------------------------------------------------------
// The request and decision JSON

#[test]
fn request_json_is_the_documented_shape() {
    let r: Request = serde_json::from_str(
        r#"{"source":{"principal":"cluster.local/ns/foo/sa/sleep","namespace":"foo","ip":"10.0.0.5","remote_ip":"10.0.0.6"},
            "destination":{"namespace":"foo","workload":"httpbin","labels":{"app":"httpbin"},"ip":"10.0.0.9","port":8000},
            "protocol":"http",
            "request":{"method":"GET","path":"/ip","host":"httpbin.foo:8000","headers":{"x-token":"admin"},
                       "auth":{"principal":"iss/sub","audiences":[],"presenter":"","claims":{}}},
            "sni":""}"#,
    )
    .unwrap();
    assert_eq!(
        r.source.principal.as_deref(),
        Some("cluster.local/ns/foo/sa/sleep")
    );
    assert_eq!(r.destination.port, Some(8000));
    assert_eq!(r.request.headers["x-token"], "admin");
    assert!(r.validate().is_ok());

    // Every field is optional.
    assert_eq!(
        serde_json::from_str::<Request>("{}").unwrap(),
        Request::default()
    );
    // Typos are errors, at every level.
    for typo in [
        r#"{"sorce":{}}"#,
        r#"{"source":{"principle":"x"}}"#,
        r#"{"destination":{"label":{}}}"#,
        r#"{"request":{"header":{}}}"#,
        r#"{"request":{"auth":{"claim":{}}}}"#,
        r#"{"protocol":"udp"}"#,
        r#"{"source":{"ip":"10.0.0"}}"#,
        r#"{"destination":{"port":70000}}"#,
    ] {
        assert!(serde_json::from_str::<Request>(typo).is_err(), "{typo}");
    }
    let grpc: Request = serde_json::from_str(r#"{"protocol":"grpc"}"#).unwrap();
    assert_eq!(grpc.protocol, meshlens_policies::eval::Protocol::Http);
    let nested: Request =
        serde_json::from_str(r#"{"request":{"auth":{"claims":{"a":{"b":["x","y"]},"n":1}}}}"#)
            .unwrap();
    assert_eq!(nested.request.auth.unwrap().claims["a"]["b"][1], "y");

    // The same fact twice must agree.
    let mismatch =
        request(&json!({"source": {"principal": "cluster.local/ns/bar/sa/x", "namespace": "foo"}}));
    assert!(
        mismatch
            .validate()
            .unwrap_err()
            .to_string()
            .contains("\"bar\"")
    );
}

#[test]
fn decision_json_has_the_documented_fields() {
    let s = set(&policy(
        "foo",
        "deny-method-get",
        "{action: DENY, rules: [{to: [{operation: {methods: [GET]}}]}]}",
    ));
    let d = expect(
        &s,
        httpbin(get("/ip")),
        DENY,
        Some(("foo/deny-method-get", 0)),
    );
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["decision"], "DENY");
    assert_eq!(v["policy"], "foo/deny-method-get");
    assert_eq!(v["action"], "DENY");
    assert_eq!(v["rule"], 0);
    assert_eq!(v["dry_run"], json!([]));
    assert_eq!(
        v["reason"],
        "denied by DENY policy foo/deny-method-get rule 0: to[0].methods: \"GET\" matched [\"GET\"]"
    );
    for key in [
        "decision", "policy", "action", "rule", "dry_run", "reason", "custom", "audit",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }

    let d = expect(
        &s,
        httpbin(json!({"request": {"method": "POST"}})),
        ALLOW,
        None,
    );
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["policy"], Value::Null);
    assert_eq!(v["action"], Value::Null);
    assert_eq!(v["rule"], Value::Null);
    assert_eq!(
        v["reason"],
        "allowed: no ALLOW policy applies to foo/httpbin"
    );
}

#[test]
fn destination_labels_come_from_the_inventory() {
    use meshlens_policies::model::{Inventory, Workload};
    let workload = |ns: &str, name: &str, app: &str| Workload {
        name: name.to_owned(),
        kind: "Deployment".to_owned(),
        namespace: ns.to_owned(),
        labels: [("app".to_owned(), app.to_owned())].into(),
        service_account: "default".to_owned(),
        ..Workload::default()
    };
    let inventory = Inventory {
        workloads: vec![
            workload("foo", "httpbin", "httpbin"),
            workload("bar", "web", "web-bar"),
            workload("baz", "web", "web-baz"),
        ],
        ..Inventory::default()
    };
    let complete = |v: Value| {
        let mut r = request(&v);
        r.complete_from(&inventory);
        r
    };
    let r = complete(json!({"destination": {"namespace": "foo", "workload": "httpbin"}}));
    assert_eq!(r.destination.labels["app"], "httpbin");
    // A unique name gives the namespace too.
    let r = complete(json!({"destination": {"workload": "httpbin"}}));
    assert_eq!(r.destination_namespace(), "foo");
    // Ambiguous without a namespace, unknown, or labels given: unchanged.
    assert!(
        complete(json!({"destination": {"workload": "web"}}))
            .destination
            .labels
            .is_empty()
    );
    assert_eq!(
        complete(json!({"destination": {"namespace": "baz", "workload": "web"}}))
            .destination
            .labels["app"],
        "web-baz"
    );
    assert!(
        complete(json!({"destination": {"workload": "nope"}}))
            .destination
            .labels
            .is_empty()
    );
    let r = complete(
        json!({"destination": {"namespace": "foo", "workload": "httpbin", "labels": {"app": "mine"}}}),
    );
    assert_eq!(r.destination.labels["app"], "mine");
}

// ---------------------------------------------------------------------------------------------
// Scope: root namespace, namespace, selector, targetRef

#[test]
fn scope_root_namespace_namespace_and_selector() {
    let yaml = [
        policy("istio-system", "deny-admin", "{action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}"),
        policy("bar", "deny-post", "{action: DENY, rules: [{to: [{operation: {methods: [POST]}}]}]}"),
        policy(
            "foo",
            "deny-put",
            "{selector: {matchLabels: {app: httpbin, version: v2}}, action: DENY, rules: [{to: [{operation: {methods: [PUT]}}]}]}",
        ),
        policy(
            "foo",
            "deny-delete",
            "{selector: {matchLabels: {app: httpbin}}, action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}",
        ),
    ]
    .concat();
    let s = set(&yaml);
    let other = |ns: &str, extra: Value| {
        with(
            json!({"destination": {"namespace": ns, "labels": {"app": "other"}}}),
            extra,
        )
    };
    // Root namespace: everywhere.
    expect(
        &s,
        httpbin(get("/admin")),
        DENY,
        Some(("istio-system/deny-admin", 0)),
    );
    expect(
        &s,
        other("bar", get("/admin")),
        DENY,
        Some(("istio-system/deny-admin", 0)),
    );
    // Another namespace's policy: only there.
    let post = json!({"request": {"method": "POST"}});
    expect(&s, httpbin(post.clone()), ALLOW, None);
    expect(&s, other("bar", post), DENY, Some(("bar/deny-post", 0)));
    // Selectors: a subset of the workload's labels.
    let put = json!({"request": {"method": "PUT"}});
    expect(&s, httpbin(put.clone()), ALLOW, None);
    expect(
        &s,
        httpbin(with(
            put,
            json!({"destination": {"labels": {"version": "v2"}}}),
        )),
        DENY,
        Some(("foo/deny-put", 0)),
    );
    let delete = json!({"request": {"method": "DELETE"}});
    expect(
        &s,
        httpbin(delete.clone()),
        DENY,
        Some(("foo/deny-delete", 0)),
    );
    expect(&s, other("foo", delete), ALLOW, None);

    // Another root namespace: istio-system becomes an ordinary namespace.
    let moved = PolicySet::new(
        parse(&yaml),
        Options {
            root_namespace: "mesh-root".to_owned(),
            ..Options::default()
        },
    );
    expect(&moved, httpbin(get("/admin")), ALLOW, None);
    expect(
        &moved,
        other("istio-system", get("/admin")),
        DENY,
        Some(("istio-system/deny-admin", 0)),
    );

    // policies_for lists what applies, in evaluation order.
    let labels: BTreeMap<String, String> = [("app".to_owned(), "httpbin".to_owned())].into();
    let ids: Vec<String> = s
        .policies_for("foo", &labels)
        .map(AuthorizationPolicy::id)
        .collect();
    assert_eq!(ids, ["foo/deny-delete", "istio-system/deny-admin"]);
}

#[test]
fn policy_and_request_without_namespace_mean_default() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: deny-all\nspec: {action: DENY, rules: [{}]}\n";
    let s = set(yaml);
    expect(&s, json!({}), DENY, Some(("default/deny-all", 0)));
    expect(
        &s,
        json!({"destination": {"namespace": "default"}}),
        DENY,
        Some(("default/deny-all", 0)),
    );
    expect(
        &s,
        json!({"destination": {"namespace": "foo"}}),
        ALLOW,
        None,
    );
}

#[test]
fn target_refs_attach_to_gateways_and_waypoints_only() {
    let yaml = [
        policy(
            "foo",
            "gw-deny",
            "{targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: ingress}], action: DENY, rules: [{}]}",
        ),
        policy(
            "istio-system",
            "waypoints",
            "{targetRef: {group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}, action: DENY, rules: [{to: [{operation: {paths: [/private]}}]}]}",
        ),
        policy("foo", "deny-sidecars-delete", "{action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}"),
    ]
    .concat();
    let s = set(&yaml);
    let gateway = |ns: &str, name: &str, extra: Value| {
        with(
            json!({"destination": {"namespace": ns, "labels": {"gateway.networking.k8s.io/gateway-name": name}}}),
            extra,
        )
    };
    let waypoint = |extra: Value| {
        with(
            json!({"destination": {"namespace": "foo", "labels": {
                "gateway.networking.k8s.io/gateway-name": "waypoint",
                "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint"}}}),
            extra,
        )
    };
    // A sidecar ignores targetRef policies.
    expect(&s, httpbin(get("/private")), ALLOW, None);
    // The Gateway the policy names, in the policy's namespace.
    expect(
        &s,
        gateway("foo", "ingress", get("/")),
        DENY,
        Some(("foo/gw-deny", 0)),
    );
    expect(&s, gateway("foo", "other", get("/")), ALLOW, None);
    expect(&s, gateway("bar", "ingress", get("/")), ALLOW, None);
    // Gateways (not waypoints) still take selector policies.
    let delete = json!({"request": {"method": "DELETE"}});
    expect(
        &s,
        gateway("foo", "other", delete.clone()),
        DENY,
        Some(("foo/deny-sidecars-delete", 0)),
    );
    // Waypoints: root-namespace GatewayClass policies, never selector policies.
    expect(
        &s,
        waypoint(get("/private")),
        DENY,
        Some(("istio-system/waypoints", 0)),
    );
    expect(&s, waypoint(delete), ALLOW, None);
}

// ---------------------------------------------------------------------------------------------
// Order: CUSTOM → DENY → no ALLOW → ALLOW → deny; AUDIT never decides

#[test]
fn deny_before_allow_and_the_default_allow() {
    let s = set(&[
        policy(
            "foo",
            "deny-get",
            "{action: DENY, rules: [{to: [{operation: {methods: [GET]}}]}]}",
        ),
        policy(
            "foo",
            "allow-get-post",
            "{action: ALLOW, rules: [{to: [{operation: {methods: [GET, POST]}}]}]}",
        ),
        policy(
            "foo",
            "audit-post",
            "{action: AUDIT, rules: [{to: [{operation: {methods: [POST]}}]}]}",
        ),
    ]
    .concat());
    // DENY wins even though the ALLOW matches too.
    expect(&s, httpbin(get("/")), DENY, Some(("foo/deny-get", 0)));
    // ALLOW matches; AUDIT is reported, not deciding.
    let d = expect(
        &s,
        httpbin(json!({"request": {"method": "POST"}})),
        ALLOW,
        Some(("foo/allow-get-post", 0)),
    );
    assert_eq!(d.action, Some(ALLOW));
    assert_eq!(d.audit.len(), 1);
    assert_eq!(d.audit[0].policy, "foo/audit-post");
    assert!(
        d.reason
            .starts_with("allowed by ALLOW policy foo/allow-get-post rule 0: "),
        "{}",
        d.reason
    );
    // ALLOW policies apply but none matches.
    let d = expect(
        &s,
        httpbin(json!({"request": {"method": "PUT"}})),
        DENY,
        None,
    );
    assert_eq!(
        d.reason,
        "denied: ALLOW policies apply to foo/httpbin but none matched"
    );
    // Only AUDIT: allowed (no ALLOW policy), logged.
    let audit_only = set(&policy("foo", "audit-all", "{action: AUDIT, rules: [{}]}"));
    let d = expect(&audit_only, httpbin(get("/")), ALLOW, None);
    assert_eq!(d.audit[0].policy, "foo/audit-all");
}

#[test]
fn custom_is_reported_not_decided_and_needs_one_provider() {
    let s = set(&[
        policy("foo", "ext", "{action: CUSTOM, provider: {name: my-authz}, rules: [{to: [{operation: {paths: [/admin/*]}}]}]}"),
        policy("foo", "ext-2", "{action: CUSTOM, provider: {name: my-authz}, rules: [{to: [{operation: {paths: [/other]}}]}]}"),
    ]
    .concat());
    let d = expect(&s, httpbin(get("/admin/users")), ALLOW, None);
    assert_eq!(d.custom.len(), 1);
    assert_eq!(d.custom[0].policy, "foo/ext");
    assert_eq!(d.custom[0].provider.as_deref(), Some("my-authz"));
    assert!(
        d.reason
            .contains("CUSTOM policy foo/ext (provider my-authz) allows it"),
        "{}",
        d.reason
    );
    let d = expect(&s, httpbin(get("/public")), ALLOW, None);
    assert!(d.custom.is_empty());

    // Two providers on one workload: Istio installs a deny-all instead of ext_authz.
    let conflict = set(&[
        policy(
            "foo",
            "a",
            "{action: CUSTOM, provider: {name: one}, rules: [{to: [{operation: {paths: [/a]}}]}]}",
        ),
        policy(
            "foo",
            "b",
            "{action: CUSTOM, provider: {name: two}, rules: [{to: [{operation: {paths: [/b]}}]}]}",
        ),
    ]
    .concat());
    let d = expect(&conflict, httpbin(get("/anything")), DENY, None);
    assert!(d.reason.contains("one, two"), "{}", d.reason);
}

// ---------------------------------------------------------------------------------------------
// Missing vs empty rules

#[test]
fn missing_rules_never_match_empty_rule_always_matches() {
    // ALLOW without rules: applies, allows nothing.
    let nothing = set(&policy("foo", "allow-nothing", "{}"));
    expect(&nothing, httpbin(get("/")), DENY, None);
    expect(
        &nothing,
        json!({"destination": {"namespace": "bar"}}),
        ALLOW,
        None,
    );
    let empty_list = set(&policy("foo", "allow-none", "{rules: []}"));
    expect(&empty_list, httpbin(get("/")), DENY, None);
    // DENY / AUDIT without rules: no effect. (The API server refuses a DENY without rules;
    // built in code, for policies that reach meshlens some other way.)
    let deny_nothing = PolicySet::new(
        vec![
            model_policy("foo", "deny-nothing", Action::Deny, None),
            model_policy("foo", "deny-empty", Action::Deny, Some(Vec::new())),
            model_policy("foo", "audit-nothing", Action::Audit, None),
        ],
        Options::default(),
    );
    let d = expect(&deny_nothing, httpbin(get("/")), ALLOW, None);
    assert!(d.audit.is_empty());
    // rules: [{}] matches everything.
    let everything = set(&policy("foo", "deny-all", "{action: DENY, rules: [{}]}"));
    let d = expect(
        &everything,
        httpbin(get("/")),
        DENY,
        Some(("foo/deny-all", 0)),
    );
    assert!(
        d.reason
            .ends_with("the rule has no conditions, so it matches every request"),
        "{}",
        d.reason
    );
    // from/to entries with an empty source/operation (which the API server refuses; built in
    // code) constrain nothing.
    let empty_parts = PolicySet::new(
        vec![model_policy(
            "foo",
            "deny-all",
            Action::Deny,
            Some(vec![Rule {
                from: vec![Source::default()],
                to: vec![Operation::default()],
                ..Rule::default()
            }]),
        )],
        Options::default(),
    );
    expect(
        &empty_parts,
        httpbin(get("/")),
        DENY,
        Some(("foo/deny-all", 0)),
    );
}

// ---------------------------------------------------------------------------------------------
// AND / OR structure and not* fields

#[test]
fn rule_structure_and_or_not() {
    let s = set(&policy(
        "foo",
        "structure",
        r#"{rules: [
            {from: [{source: {namespaces: [a]}}, {source: {namespaces: [b]}}],
             to: [{operation: {methods: [GET], paths: [/x]}}, {operation: {methods: [PUT]}}],
             when: [{key: "request.headers[x-a]", values: ["1"]}, {key: "request.headers[x-b]", values: ["2"], notValues: ["3"]}]},
            {from: [{source: {principals: ["cluster.local/ns/c/sa/*"], notPrincipals: [cluster.local/ns/c/sa/evil]}}],
             to: [{operation: {notMethods: [DELETE]}}]}
        ]}"#,
    ));
    let a = mtls("cluster.local/ns/a/sa/x");
    let headers = json!({"request": {"headers": {"x-a": "1", "x-b": "2"}}});
    let ok = with(with(a.clone(), get("/x")), headers.clone());
    // from: any; to: any; inside an operation: all; when: all.
    expect(&s, httpbin(ok.clone()), ALLOW, Some(("foo/structure", 0)));
    expect(
        &s,
        httpbin(with(ok.clone(), mtls("cluster.local/ns/b/sa/x"))),
        ALLOW,
        Some(("foo/structure", 0)),
    );
    expect(
        &s,
        httpbin(with(ok.clone(), mtls("cluster.local/ns/z/sa/x"))),
        DENY,
        None,
    );
    expect(&s, httpbin(with(ok.clone(), get("/y"))), DENY, None);
    expect(
        &s,
        httpbin(with(ok.clone(), json!({"request": {"method": "PUT"}}))),
        ALLOW,
        Some(("foo/structure", 0)),
    );
    expect(
        &s,
        httpbin(with(ok.clone(), json!({"request": {"method": "POST"}}))),
        DENY,
        None,
    );
    expect(
        &s,
        httpbin(with(
            with(a.clone(), get("/x")),
            json!({"request": {"headers": {"x-a": "1"}}}),
        )),
        DENY,
        None,
    );
    // values and notValues both hold.
    expect(
        &s,
        httpbin(with(
            ok.clone(),
            json!({"request": {"headers": {"x-b": "3"}}}),
        )),
        DENY,
        None,
    );
    // principals and notPrincipals both hold.
    let c = |sa: &str, method: &str| {
        httpbin(with(
            mtls(&format!("cluster.local/ns/c/sa/{sa}")),
            json!({"request": {"method": method}}),
        ))
    };
    expect(&s, c("good", "POST"), ALLOW, Some(("foo/structure", 1)));
    expect(&s, c("evil", "POST"), DENY, None);
    expect(&s, c("good", "DELETE"), DENY, None);

    // explain names the condition that failed, per part.
    let e = s.explain(&request(&c("evil", "POST")));
    let rule1 = &e.policies[0].rules[1];
    assert_eq!(rule1.status, RuleStatus::Failed);
    assert_eq!(
        rule1.details,
        [
            "from[0].notPrincipals: \"cluster.local/ns/c/sa/evil\" matched [\"cluster.local/ns/c/sa/evil\"]"
        ]
    );
    let text = e.to_string();
    assert!(text.contains("ALLOW foo/structure at test.yaml:"), "{text}");
    assert!(text.contains("rule 0 at test.yaml:"), "{text}");
    assert!(
        text.contains("from[0].namespaces: \"cluster.local/ns/c/sa/evil\" matched none of [\"a\"]"),
        "{text}"
    );
    assert!(
        text.starts_with("DENY http request to foo/httpbin: denied: ALLOW policies apply"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// String forms

#[test]
fn exact_prefix_suffix_and_presence() {
    let s = set(&policy(
        "foo",
        "strings",
        r#"{action: DENY, rules: [
            {to: [{operation: {paths: [/exact]}}]},
            {to: [{operation: {paths: ["/prefix/*"]}}]},
            {to: [{operation: {paths: ["*/suffix"]}}]},
            {when: [{key: "request.headers[x-present]", values: ["*"]}]},
            {from: [{source: {requestPrincipals: ["*"]}}]}
        ]}"#,
    ));
    expect(&s, httpbin(get("/exact")), DENY, Some(("foo/strings", 0)));
    expect(&s, httpbin(get("/exact/no")), ALLOW, None);
    expect(&s, httpbin(get("/Exact")), ALLOW, None);
    expect(&s, httpbin(get("/prefix/")), DENY, Some(("foo/strings", 1)));
    expect(
        &s,
        httpbin(get("/prefix/a/b")),
        DENY,
        Some(("foo/strings", 1)),
    );
    expect(&s, httpbin(get("/prefix")), ALLOW, None);
    expect(
        &s,
        httpbin(get("/a/b/suffix")),
        DENY,
        Some(("foo/strings", 2)),
    );
    // `*` on a header is Envoy's present_match: an empty value is present.
    expect(
        &s,
        httpbin(json!({"request": {"headers": {"x-present": ""}}})),
        DENY,
        Some(("foo/strings", 3)),
    );
    expect(
        &s,
        httpbin(json!({"request": {"headers": {"x-other": "v"}}})),
        ALLOW,
        None,
    );
    // `*` elsewhere is `.+`: a JWT with non-empty issuer and subject.
    expect(
        &s,
        httpbin(json!({"request": {"auth": {"principal": "iss/sub"}}})),
        DENY,
        Some(("foo/strings", 4)),
    );
    expect(
        &s,
        httpbin(json!({"request": {"auth": {"principal": "iss/"}}})),
        ALLOW,
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// Identities

#[test]
fn principals_namespaces_service_accounts_need_mtls() {
    let s = set(&policy(
        "foo",
        "who",
        r#"{rules: [
            {from: [{source: {principals: [cluster.local/ns/default/sa/sleep]}}]},
            {from: [{source: {namespaces: [test, "prod-*"]}}]},
            {from: [{source: {serviceAccounts: [bar/robot, local-sa]}}]}
        ]}"#,
    ));
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/default/sa/sleep")),
        ALLOW,
        Some(("foo/who", 0)),
    );
    // A principal given as a SPIFFE URI is the same identity.
    expect(
        &s,
        httpbin(mtls("spiffe://cluster.local/ns/default/sa/sleep")),
        ALLOW,
        Some(("foo/who", 0)),
    );
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/default/sa/other")),
        DENY,
        None,
    );
    // Namespaces come from the principal's /ns/ segment.
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/test/sa/any")),
        ALLOW,
        Some(("foo/who", 1)),
    );
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/prod-eu/sa/any")),
        ALLOW,
        Some(("foo/who", 1)),
    );
    // Service accounts: any trust domain; a bare name is in the policy's namespace.
    expect(
        &s,
        httpbin(mtls("other.domain/ns/bar/sa/robot")),
        ALLOW,
        Some(("foo/who", 2)),
    );
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/foo/sa/local-sa")),
        ALLOW,
        Some(("foo/who", 2)),
    );
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/bar/sa/robot-2")),
        DENY,
        None,
    );
    // Without mTLS there is no identity: `source.namespace` is not one.
    let d = expect(
        &s,
        httpbin(json!({"source": {"namespace": "test"}})),
        DENY,
        None,
    );
    assert_eq!(
        d.reason,
        "denied: ALLOW policies apply to foo/httpbin but none matched"
    );
    let e = s.explain(&request(&httpbin(json!({"source": {"namespace": "test"}}))));
    assert!(
        e.policies[0].rules[1].details[0].contains("no mTLS principal"),
        "{e:#?}"
    );
    assert!(
        e.policies[0].rules[1].details[0]
            .contains("identities come from the mTLS certificate only")
    );
}

#[test]
fn not_principals_hold_without_identity() {
    // Istio's "deny plain text" pattern: NOT(principal matches .+) holds without mTLS.
    let s = set(&[
        policy(
            "foo",
            "require-mtls",
            r#"{action: DENY, rules: [{from: [{source: {notPrincipals: ["*"]}}]}]}"#,
        ),
        policy(
            "foo",
            "only-foo",
            "{action: DENY, rules: [{from: [{source: {notNamespaces: [foo]}}]}]}",
        ),
    ]
    .concat());
    expect(&s, httpbin(get("/")), DENY, Some(("foo/only-foo", 0)));
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/bar/sa/x")),
        DENY,
        Some(("foo/only-foo", 0)),
    );
    expect(&s, httpbin(mtls("cluster.local/ns/foo/sa/x")), ALLOW, None);
    let plain = set(&policy(
        "foo",
        "require-mtls",
        r#"{action: DENY, rules: [{from: [{source: {notPrincipals: ["*"]}}]}]}"#,
    ));
    expect(
        &plain,
        httpbin(get("/")),
        DENY,
        Some(("foo/require-mtls", 0)),
    );
    expect(
        &plain,
        httpbin(mtls("cluster.local/ns/bar/sa/x")),
        ALLOW,
        None,
    );
}

#[test]
fn trust_domain_and_trust_domains() {
    let yaml = [
        policy("foo", "by-principal", "{rules: [{from: [{source: {principals: [cluster.local/ns/foo/sa/a]}}]}]}"),
        policy("foo", "by-domain", r#"{rules: [{from: [{source: {trustDomains: ["partner*"], notTrustDomains: [partner-bad]}}]}]}"#),
    ]
    .concat();
    let default = set(&yaml);
    expect(
        &default,
        httpbin(mtls("cluster.local/ns/foo/sa/a")),
        ALLOW,
        Some(("foo/by-principal", 0)),
    );
    expect(
        &default,
        httpbin(mtls("partner-eu/ns/x/sa/y")),
        ALLOW,
        Some(("foo/by-domain", 0)),
    );
    expect(&default, httpbin(mtls("partner-bad/ns/x/sa/y")), DENY, None);
    // `cluster.local` in a policy means the mesh's trust domain.
    let example = PolicySet::new(
        parse(&yaml),
        Options {
            trust_domain: "example.org".to_owned(),
            ..Options::default()
        },
    );
    expect(
        &example,
        httpbin(mtls("example.org/ns/foo/sa/a")),
        ALLOW,
        Some(("foo/by-principal", 0)),
    );
    expect(
        &example,
        httpbin(mtls("cluster.local/ns/foo/sa/a")),
        DENY,
        None,
    );
}

#[test]
fn request_principals_audiences_presenter_claims() {
    let s = set(&policy(
        "foo",
        "jwt",
        r#"{rules: [
            {from: [{source: {requestPrincipals: ["https://issuer.example.com/user1"]}}]},
            {when: [{key: request.auth.audiences, values: [aud1]}, {key: request.auth.presenter, values: ["client-*"]}]},
            {when: [{key: "request.auth.claims[groups]", values: [admins]}]},
            {when: [{key: "request.auth.claims[org][team]", values: ["*-ops"]}]}
        ]}"#,
    ));
    let auth = |v: Value| httpbin(json!({"request": {"auth": v}}));
    expect(
        &s,
        auth(json!({"principal": "https://issuer.example.com/user1"})),
        ALLOW,
        Some(("foo/jwt", 0)),
    );
    // Without the principal field, the iss and sub claims say who it is.
    expect(
        &s,
        auth(json!({"claims": {"iss": "https://issuer.example.com", "sub": "user1"}})),
        ALLOW,
        Some(("foo/jwt", 0)),
    );
    expect(
        &s,
        auth(json!({"principal": "https://issuer.example.com/user2"})),
        DENY,
        None,
    );
    expect(
        &s,
        auth(json!({"audiences": ["aud0", "aud1"], "presenter": "client-web"})),
        ALLOW,
        Some(("foo/jwt", 1)),
    );
    expect(
        &s,
        auth(json!({"claims": {"aud": "aud1", "azp": "client-cli"}})),
        ALLOW,
        Some(("foo/jwt", 1)),
    );
    expect(
        &s,
        auth(json!({"audiences": ["aud1"], "presenter": "server"})),
        DENY,
        None,
    );
    // List claims match when any element matches.
    expect(
        &s,
        auth(json!({"claims": {"groups": ["users", "admins"]}})),
        ALLOW,
        Some(("foo/jwt", 2)),
    );
    expect(
        &s,
        auth(json!({"claims": {"groups": "admins"}})),
        ALLOW,
        Some(("foo/jwt", 2)),
    );
    expect(
        &s,
        auth(json!({"claims": {"groups": ["users"]}})),
        DENY,
        None,
    );
    expect(&s, auth(json!({"claims": {"groups": true}})), DENY, None);
    expect(
        &s,
        auth(json!({"claims": {"org": {"team": "sre-ops"}}})),
        ALLOW,
        Some(("foo/jwt", 3)),
    );
    expect(
        &s,
        auth(json!({"claims": {"org": {"team": ["dev", "web-ops"]}}})),
        ALLOW,
        Some(("foo/jwt", 3)),
    );
    expect(&s, auth(json!({"claims": {"org": "sre-ops"}})), DENY, None);

    // Istio's "require a JWT" pattern.
    let require = set(&policy(
        "foo",
        "require-jwt",
        r#"{action: DENY, rules: [{from: [{source: {notRequestPrincipals: ["*"]}}]}]}"#,
    ));
    expect(
        &require,
        httpbin(get("/")),
        DENY,
        Some(("foo/require-jwt", 0)),
    );
    expect(&require, auth(json!({"principal": "iss/sub"})), ALLOW, None);
}

// ---------------------------------------------------------------------------------------------
// Hosts, paths, ports, methods, IPs

#[test]
fn hosts_are_case_insensitive_and_include_the_port() {
    let s = set(&policy(
        "foo",
        "hosts",
        r#"{rules: [{to: [{operation: {hosts: [httpbin.foo, "api.foo:*", "*.example.com"]}}]}]}"#,
    ));
    let host = |h: &str| httpbin(json!({"request": {"host": h}}));
    expect(&s, host("httpbin.foo"), ALLOW, Some(("foo/hosts", 0)));
    expect(&s, host("HTTPBIN.Foo"), ALLOW, Some(("foo/hosts", 0)));
    expect(&s, host("www.EXAMPLE.com"), ALLOW, Some(("foo/hosts", 0)));
    expect(&s, host("api.foo:8000"), ALLOW, Some(("foo/hosts", 0)));
    expect(&s, host("api.foo"), DENY, None);
    // Istio compares the whole Host header: `httpbin.foo` does not match `httpbin.foo:8000`.
    expect(&s, host("httpbin.foo:8000"), DENY, None);
    let e = s.explain(&request(&host("httpbin.foo:8000")));
    assert!(
        e.policies[0].rules[0].details[0].contains("port included"),
        "{e:#?}"
    );
    // The Host header in `headers` is the same thing.
    expect(
        &s,
        httpbin(json!({"request": {"headers": {"Host": "httpbin.foo"}}})),
        ALLOW,
        Some(("foo/hosts", 0)),
    );
}

#[test]
fn paths_are_normalized_case_sensitive_and_templated() {
    let s = set(&[
        policy("foo", "deny-admin", r#"{action: DENY, rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]}"#),
        policy(
            "foo",
            "allow-api",
            r#"{rules: [{to: [{operation: {paths: ["/api/{*}/items", "/static/{**}", "/{**}/health"]}}]}]}"#,
        ),
    ]
    .concat());
    let deny = Some(("foo/deny-admin", 0));
    let allow = Some(("foo/allow-api", 0));
    expect(&s, httpbin(get("/admin/users")), DENY, deny);
    // BASE normalisation: dot segments, unreserved escapes, backslashes, the query.
    expect(&s, httpbin(get("/public/../admin/users")), DENY, deny);
    expect(&s, httpbin(get("/%61dmin/users")), DENY, deny);
    expect(&s, httpbin(get("/admin/%2e%2e/admin/users")), DENY, deny);
    expect(&s, httpbin(get("/admin\\users")), DENY, deny);
    expect(&s, httpbin(get("/admin/users?x=1")), DENY, deny);
    expect(&s, httpbin(get("/admin/./users")), DENY, deny);
    expect(&s, httpbin(get("/admin/..;x=y/admin/z")), DENY, deny);
    // `%2F` stays encoded under BASE, and paths are case-sensitive.
    expect(&s, httpbin(get("/admin%2Fusers")), DENY, None);
    expect(&s, httpbin(get("/ADMIN/users")), DENY, None);
    // Templates: {*} is one segment, {**} any rest.
    expect(&s, httpbin(get("/api/v1/items")), ALLOW, allow);
    expect(&s, httpbin(get("/api/v1/v2/items")), DENY, None);
    expect(&s, httpbin(get("/static/css/site.css")), ALLOW, allow);
    expect(&s, httpbin(get("/static/")), ALLOW, allow);
    expect(&s, httpbin(get("/a/b/health")), ALLOW, allow);
    expect(&s, httpbin(get("/health")), DENY, None);
}

#[test]
fn ports_methods_and_ip_blocks() {
    let s = set(&policy(
        "foo",
        "net",
        r#"{rules: [
            {to: [{operation: {ports: ["8080"], notMethods: [DELETE]}}]},
            {from: [{source: {ipBlocks: [10.0.0.0/8], notIpBlocks: [10.9.0.0/16]}}]},
            {from: [{source: {remoteIpBlocks: [203.0.113.7, "2001:db8::/32"]}}]}
        ]}"#,
    ));
    let port =
        |p: u16, m: &str| httpbin(json!({"destination": {"port": p}, "request": {"method": m}}));
    expect(&s, port(8080, "GET"), ALLOW, Some(("foo/net", 0)));
    expect(&s, port(8080, "DELETE"), DENY, None);
    expect(&s, port(9090, "GET"), DENY, None);
    let ip = |v: Value| httpbin(json!({"source": v}));
    expect(
        &s,
        ip(json!({"ip": "10.1.2.3"})),
        ALLOW,
        Some(("foo/net", 1)),
    );
    expect(&s, ip(json!({"ip": "10.9.2.3"})), DENY, None);
    expect(
        &s,
        ip(json!({"ip": "192.168.0.1", "remote_ip": "203.0.113.7"})),
        ALLOW,
        Some(("foo/net", 2)),
    );
    // remote_ip falls back to the connection's address.
    expect(
        &s,
        ip(json!({"ip": "203.0.113.7"})),
        ALLOW,
        Some(("foo/net", 2)),
    );
    expect(
        &s,
        ip(json!({"ip": "2001:db8::1"})),
        ALLOW,
        Some(("foo/net", 2)),
    );
    expect(
        &s,
        ip(json!({"ip": "192.168.0.1", "remote_ip": "198.51.100.1"})),
        DENY,
        None,
    );
}

// ---------------------------------------------------------------------------------------------
// `when` keys

#[test]
fn every_when_key() {
    // (key, values, a request that matches, one that does not)
    let cases: Vec<(&str, &str, Value, Value)> = vec![
        (
            "request.headers[X-Token]",
            "[admin]",
            json!({"request": {"headers": {"x-TOKEN": "admin"}}}),
            json!({"request": {"headers": {"x-token": "user"}}}),
        ),
        (
            "source.ip",
            "[10.0.0.0/24]",
            json!({"source": {"ip": "10.0.0.5"}}),
            json!({"source": {"ip": "10.0.1.5"}}),
        ),
        (
            "remote.ip",
            "[192.168.1.1]",
            json!({"source": {"ip": "192.168.1.1"}}),
            json!({"source": {"ip": "10.0.0.1", "remote_ip": "192.168.1.2"}}),
        ),
        (
            "source.namespace",
            "[foo]",
            mtls("cluster.local/ns/foo/sa/a"),
            json!({"source": {"namespace": "foo"}}),
        ),
        (
            "source.principal",
            "[cluster.local/ns/foo/sa/sleep]",
            mtls("cluster.local/ns/foo/sa/sleep"),
            mtls("cluster.local/ns/foo/sa/other"),
        ),
        (
            "source.serviceAccount",
            "[foo/sleep]",
            mtls("td/ns/foo/sa/sleep"),
            mtls("td/ns/bar/sa/sleep"),
        ),
        (
            "request.auth.principal",
            "[iss/sub]",
            json!({"request": {"auth": {"principal": "iss/sub"}}}),
            json!({"request": {"auth": {"principal": "iss/other"}}}),
        ),
        (
            "request.auth.audiences",
            "[aud1]",
            json!({"request": {"auth": {"audiences": ["aud1"]}}}),
            json!({"request": {"auth": {"audiences": ["aud2"]}}}),
        ),
        (
            "request.auth.presenter",
            "[client]",
            json!({"request": {"auth": {"presenter": "client"}}}),
            json!({"request": {"auth": {"presenter": "other"}}}),
        ),
        (
            "request.auth.claims[iss]",
            "[\"https://accounts.google.com\"]",
            json!({"request": {"auth": {"claims": {"iss": "https://accounts.google.com"}}}}),
            json!({"request": {}}),
        ),
        (
            "request.auth.claims[nested1][nested2]",
            "[\"nested-*\"]",
            json!({"request": {"auth": {"claims": {"nested1": {"nested2": ["a", "nested-b"]}}}}}),
            json!({"request": {"auth": {"claims": {"nested1": "nested-b"}}}}),
        ),
        (
            "destination.ip",
            "[10.1.0.0/16]",
            json!({"destination": {"ip": "10.1.2.3"}}),
            json!({"destination": {"ip": "10.2.2.3"}}),
        ),
        (
            "destination.port",
            "[\"8000\"]",
            json!({"destination": {"port": 8000}}),
            json!({"destination": {"port": 8001}}),
        ),
        (
            "connection.sni",
            "[\"*.example.com\"]",
            json!({"sni": "api.example.com"}),
            json!({"sni": "example.com"}),
        ),
        (
            "request.headers[:method]",
            "[GET]",
            get("/"),
            json!({"request": {"method": "POST"}}),
        ),
        (
            "request.headers[:path]",
            "[\"/a?x=1\"]",
            get("/b/../a?x=1"),
            get("/a"),
        ),
    ];
    for (key, values, yes, no) in cases {
        let s = set(&policy(
            "foo",
            "when",
            &format!("{{rules: [{{when: [{{key: \"{key}\", values: {values}}}]}}]}}"),
        ));
        let d = s.evaluate(&request(&httpbin(yes.clone())));
        assert_eq!(d.decision, ALLOW, "{key} with {yes}: {d:#?}");
        let d = s.evaluate(&request(&httpbin(no.clone())));
        assert_eq!(d.decision, DENY, "{key} with {no}: {d:#?}");
        // notValues is the negation.
        let s = set(&policy(
            "foo",
            "when",
            &format!("{{rules: [{{when: [{{key: \"{key}\", notValues: {values}}}]}}]}}"),
        ));
        assert_eq!(
            s.evaluate(&request(&httpbin(yes.clone()))).decision,
            DENY,
            "not {key} with {yes}"
        );
        assert_eq!(
            s.evaluate(&request(&httpbin(no.clone()))).decision,
            ALLOW,
            "not {key} with {no}"
        );
    }
}

#[test]
fn filter_metadata_is_absent_and_unknown_keys_invalidate_the_rule() {
    // A meshlens request carries no Envoy filter metadata.
    let s = set(&policy(
        "foo",
        "meta",
        r#"{rules: [{when: [{key: "experimental.envoy.filters.a.b[c]", values: [x]}]}]}"#,
    ));
    expect(&s, httpbin(get("/")), DENY, None);
    let s = set(&policy(
        "foo",
        "meta",
        r#"{rules: [{when: [{key: "experimental.envoy.filters.a.b[c]", notValues: [x]}]}]}"#,
    ));
    expect(&s, httpbin(get("/")), ALLOW, Some(("foo/meta", 0)));

    // The parser refuses unknown keys; a model built in code shows the evaluator does too: the
    // rule never matches, in DENY as in ALLOW (Istio skips the invalid rule).
    let unknown = Rule {
        when: vec![Condition {
            key: "destination.labels[app]".to_owned(),
            values: vec!["httpbin".to_owned()],
            not_values: Vec::new(),
            location: None,
        }],
        ..Rule::default()
    };
    let s = PolicySet::new(
        vec![
            model_policy(
                "foo",
                "deny-unknown",
                Action::Deny,
                Some(vec![
                    unknown.clone(),
                    Rule {
                        to: vec![Operation {
                            methods: vec!["DELETE".to_owned()],
                            ..Operation::default()
                        }],
                        ..Rule::default()
                    },
                ]),
            ),
            model_policy("foo", "allow-unknown", Action::Allow, Some(vec![unknown])),
        ],
        Options::default(),
    );
    expect(&s, httpbin(get("/")), DENY, None);
    expect(
        &s,
        httpbin(json!({"request": {"method": "DELETE"}})),
        DENY,
        Some(("foo/deny-unknown", 1)),
    );
    let e = s.explain(&request(&httpbin(get("/"))));
    let rule = &e.policies[1].rules[0];
    assert_eq!(rule.status, RuleStatus::Invalid);
    assert!(
        rule.details[0].contains("unknown key \"destination.labels[app]\""),
        "{rule:#?}"
    );
}

#[test]
fn values_istio_refuses_drop_the_allow_rule_but_only_the_value_in_deny() {
    // The parser validates CIDRs; in code, an invalid one is handled as Istio's builder does.
    let source = |blocks: &[&str]| Rule {
        from: vec![Source {
            ip_blocks: blocks.iter().map(|b| (*b).to_owned()).collect(),
            ..Source::default()
        }],
        ..Rule::default()
    };
    let allow = PolicySet::new(
        vec![model_policy(
            "foo",
            "allow",
            Action::Allow,
            Some(vec![source(&["10.0.0.0/8", "not-an-ip"])]),
        )],
        Options::default(),
    );
    expect(
        &allow,
        httpbin(json!({"source": {"ip": "10.1.1.1"}})),
        DENY,
        None,
    );
    let deny = PolicySet::new(
        vec![model_policy(
            "foo",
            "deny",
            Action::Deny,
            Some(vec![source(&["10.0.0.0/8", "not-an-ip"])]),
        )],
        Options::default(),
    );
    expect(
        &deny,
        httpbin(json!({"source": {"ip": "10.1.1.1"}})),
        DENY,
        Some(("foo/deny", 0)),
    );
    expect(
        &deny,
        httpbin(json!({"source": {"ip": "192.168.1.1"}})),
        ALLOW,
        None,
    );
    // With every value dropped the condition is gone: the DENY rule widens to everything.
    let wide = PolicySet::new(
        vec![model_policy(
            "foo",
            "deny",
            Action::Deny,
            Some(vec![source(&["not-an-ip"])]),
        )],
        Options::default(),
    );
    expect(
        &wide,
        httpbin(json!({"source": {"ip": "192.168.1.1"}})),
        DENY,
        Some(("foo/deny", 0)),
    );
}

// ---------------------------------------------------------------------------------------------
// TCP: HTTP-only fields

#[test]
fn http_only_fields_on_tcp() {
    let s = set(&[
        policy("foo", "allow", r#"{rules: [{to: [{operation: {methods: [GET]}}]}, {to: [{operation: {ports: ["5432"]}}]}]}"#),
        policy("foo", "deny", r#"{action: DENY, rules: [{from: [{source: {namespaces: [evil]}}], to: [{operation: {paths: [/admin]}}]}]}"#),
        policy("foo", "audit", r#"{action: AUDIT, rules: [{when: [{key: "request.headers[x-debug]", values: ["1"]}]}]}"#),
    ]
    .concat());
    let tcp = |port: u16, ns: &str| {
        httpbin(json!({"protocol": "tcp", "destination": {"port": port},
            "source": {"principal": format!("cluster.local/ns/{ns}/sa/x")}}))
    };
    // ALLOW: the rule with methods is dropped on TCP; the ports rule stays.
    expect(&s, tcp(5432, "good"), ALLOW, Some(("foo/allow", 1)));
    let d = expect(&s, tcp(80, "good"), DENY, None);
    // AUDIT widens like DENY: its header condition is ignored.
    assert_eq!(d.audit[0].policy, "foo/audit");
    // DENY: the path condition is ignored, the namespace still applies.
    let d = expect(&s, tcp(5432, "evil"), DENY, Some(("foo/deny", 0)));
    assert!(
        d.reason.contains("(HTTP-only to[0].paths ignored on TCP)"),
        "{}",
        d.reason
    );
    // The same over HTTP: the fields apply.
    let http = |method: &str, path: &str, ns: &str| {
        httpbin(with(
            json!({"request": {"method": method, "path": path}}),
            mtls(&format!("cluster.local/ns/{ns}/sa/x")),
        ))
    };
    expect(&s, http("GET", "/x", "good"), ALLOW, Some(("foo/allow", 0)));
    expect(&s, http("GET", "/x", "evil"), ALLOW, Some(("foo/allow", 0)));
    expect(
        &s,
        http("GET", "/admin", "evil"),
        DENY,
        Some(("foo/deny", 0)),
    );
    let e = s.explain(&request(&tcp(80, "good")));
    let allow = e.policies.iter().find(|p| p.policy == "foo/allow").unwrap();
    assert_eq!(allow.rules[0].status, RuleStatus::DroppedOnTcp);
}

// ---------------------------------------------------------------------------------------------
// What the proxy refuses before authorization

#[test]
fn requests_envoy_rejects_are_denied_before_policies() {
    let s = set(&policy("foo", "allow-all", "{rules: [{}]}"));
    for (req, why) in [
        (get("/a%00b"), "%00"),
        (
            json!({"request": {"method": "get", "path": "/"}}),
            "not upper case",
        ),
        (
            json!({"request": {"headers": {"x bad": "1"}}}),
            "white space",
        ),
    ] {
        let d = expect(&s, httpbin(req), DENY, None);
        assert!(
            d.reason
                .starts_with("denied before authorization: the proxy answers HTTP 400"),
            "{}",
            d.reason
        );
        assert!(d.reason.contains(why), "{}", d.reason);
    }
    // Not for TCP, where there is no HTTP.
    expect(
        &s,
        httpbin(json!({"protocol": "tcp", "request": {"path": "/a%00b"}})),
        ALLOW,
        Some(("foo/allow-all", 0)),
    );
}

// ---------------------------------------------------------------------------------------------
// Dry run

#[test]
fn dry_run_policies_are_reported_not_enforced() {
    let s = set(&[
        dry_run_policy(
            "foo",
            "would-deny",
            "{action: DENY, rules: [{to: [{operation: {paths: [/secret]}}]}]}",
        ),
        dry_run_policy(
            "foo",
            "would-allow",
            "{rules: [{to: [{operation: {paths: [/public]}}]}]}",
        ),
    ]
    .concat());
    // Neither is enforced: no ALLOW policy applies.
    let d = expect(&s, httpbin(get("/secret")), ALLOW, None);
    let runs: Vec<(&str, Verdict, Option<usize>)> = d
        .dry_run
        .iter()
        .map(|r| (r.policy.as_str(), r.decision, r.rule))
        .collect();
    // Enforcing the ALLOW policy would deny /secret (it matches nothing); the DENY would too.
    assert_eq!(
        runs,
        [
            ("foo/would-allow", DENY, None),
            ("foo/would-deny", DENY, Some(0))
        ]
    );
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["dry_run"][1]["policy"], "foo/would-deny");
    assert_eq!(v["dry_run"][1]["decision"], "DENY");
    let d = expect(&s, httpbin(get("/public")), ALLOW, None);
    let runs: Vec<(&str, Verdict)> = d
        .dry_run
        .iter()
        .map(|r| (r.policy.as_str(), r.decision))
        .collect();
    assert_eq!(
        runs,
        [("foo/would-allow", ALLOW), ("foo/would-deny", ALLOW)]
    );
}

// ---------------------------------------------------------------------------------------------
// Istio's builder inputs (../testdata/policies/istio-builder)

#[test]
fn builder_allow_empty_nil_and_deny_empty_rules() {
    let s = testdata("istio-builder", "allow-empty-rule-in.yaml");
    expect(&s, httpbin(get("/")), ALLOW, Some(("foo/allow-all", 0)));
    // The selector needs version=v1 too.
    expect(
        &s,
        json!({"destination": {"namespace": "foo", "labels": {"app": "httpbin"}}}),
        ALLOW,
        None,
    );

    let s = testdata("istio-builder", "allow-nil-rule-in.yaml");
    expect(&s, httpbin(get("/")), DENY, None);
    expect(
        &s,
        httpbin(with(
            mtls("cluster.local/ns/foo/sa/any"),
            json!({"protocol": "tcp"}),
        )),
        DENY,
        None,
    );

    let s = testdata("istio-builder", "deny-empty-rule-in.yaml");
    expect(&s, httpbin(get("/")), DENY, Some(("foo/deny-all", 0)));
    expect(
        &s,
        httpbin(json!({"protocol": "tcp"})),
        DENY,
        Some(("foo/deny-all", 0)),
    );
    expect(
        &s,
        json!({"destination": {"namespace": "foo", "labels": {"app": "other"}}}),
        ALLOW,
        None,
    );

    let s = testdata("istio-builder", "audit-full-rule-in.yaml");
    let d = expect(&s, httpbin(get("/")), ALLOW, None);
    assert_eq!(d.audit.len(), 1);
    assert_eq!(
        (d.audit[0].policy.as_str(), d.audit[0].rule),
        ("foo/audit-all", 0)
    );
}

#[test]
fn builder_contradictory_rules_allow_nothing() {
    // paths and notPaths both contain "*": every non-empty path is excluded, an absent one
    // fails `paths`. The same for hosts/notHosts.
    for file in ["allow-path-in.yaml", "allow-host-before-111-in.yaml"] {
        let s = testdata("istio-builder", file);
        for req in [
            get("/exact"),
            get("/prefix/x"),
            get("/path/template/x"),
            json!({"request": {"host": "example.com"}}),
            json!({}),
        ] {
            expect(&s, httpbin(req), DENY, None);
        }
    }
    // single-policy: each `from` asks for an exact principal without /ns/ and namespaces that
    // need one, so no source can match.
    let s = testdata("istio-builder", "single-policy-in.yaml");
    let all = httpbin(json!({
        "source": {"principal": "rule[0]-from[0]-principal[1]", "ip": "10.0.0.1", "remote_ip": "172.16.10.10"},
        "destination": {"port": 9001, "ip": "10.10.10.10"},
        "request": {"host": "rule[0]-to[0]-host[1]", "headers": {"x-header": "header"},
                    "auth": {"principal": "rule[0]-from[0]-requestPrincipal[1]/"}}
    }));
    expect(&s, all.clone(), DENY, None);
    let e = s.explain(&request(&all));
    let details = &e.policies[0].rules[0].details;
    assert!(
        details[0].starts_with("from[0].namespaces:"),
        "{details:#?}"
    );
    assert!(
        details[1].starts_with("from[1].principals:"),
        "{details:#?}"
    );
}

#[test]
fn builder_allow_full_rule() {
    let s = testdata("istio-builder", "allow-full-rule-in.yaml");
    // rule 0: serviceAccounts ["my-ns/my-sa", "sa-only" (in foo)] minus notServiceAccounts.
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/my-ns/sa/my-sa")),
        ALLOW,
        Some(("foo/httpbin-1", 0)),
    );
    expect(
        &s,
        httpbin(mtls("other.td/ns/foo/sa/sa-only")),
        ALLOW,
        Some(("foo/httpbin-1", 0)),
    );
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/my-ns/sa/my-sa-not")),
        DENY,
        None,
    );
    expect(
        &s,
        httpbin(mtls("cluster.local/ns/foo/sa/sa-not-only")),
        DENY,
        None,
    );
    // rule 1 asks for principals "*" and notPrincipals "*": it can never match.
    let e = s.explain(&request(&httpbin(mtls("cluster.local/ns/ns/sa/principal"))));
    assert_eq!(e.policies[0].rules[1].status, RuleStatus::Failed);
    assert!(
        e.policies[0].rules[1].details[0].starts_with("from[0].notPrincipals:"),
        "{e:#?}"
    );
}

#[test]
fn builder_deny_and_allow() {
    let s = testdata("istio-builder", "deny-and-allow-in.yaml");
    expect(
        &s,
        httpbin(mtls("deny")),
        DENY,
        Some(("foo/httpbin-deny", 0)),
    );
    expect(
        &s,
        httpbin(mtls("allow")),
        ALLOW,
        Some(("foo/httpbin-allow", 0)),
    );
    expect(&s, httpbin(mtls("other")), DENY, None);
    expect(&s, httpbin(get("/")), DENY, None);
}

#[test]
fn builder_multiple_policies() {
    let s = testdata("istio-builder", "multiple-policies-in.yaml");
    let by = |n: usize| {
        Some((
            [
                "foo/httpbin-1",
                "foo/httpbin-2",
                "foo/httpbin-3",
                "foo/httpbin-4",
                "foo/httpbin-5",
                "foo/httpbin-6",
                "foo/httpbin-7",
                "foo/httpbin-8",
                "foo/httpbin-9",
            ][n - 1],
            0,
        ))
    };
    let delete = |extra: Value| {
        httpbin(with(
            json!({"request": {"method": "DELETE", "path": "/x"}}),
            extra,
        ))
    };
    expect(&s, httpbin(get("/x")), ALLOW, by(1));
    expect(
        &s,
        delete(json!({"request": {"path": "/v2"}})),
        ALLOW,
        by(2),
    );
    expect(
        &s,
        delete(json!({"request": {"host": "httpbin.org"}})),
        ALLOW,
        by(3),
    );
    expect(
        &s,
        delete(json!({"destination": {"port": 90}})),
        ALLOW,
        by(4),
    );
    expect(&s, delete(mtls("principals2")), ALLOW, by(5));
    expect(
        &s,
        delete(mtls("cluster.local/ns/namespaces1/sa/x")),
        ALLOW,
        by(7),
    );
    expect(
        &s,
        delete(json!({"source": {"ip": "5.6.7.200"}})),
        ALLOW,
        by(8),
    );
    expect(
        &s,
        delete(json!({"request": {"headers": {"X-ABC": "abc2"}}})),
        ALLOW,
        by(9),
    );
    expect(&s, delete(json!({})), DENY, None);
    // httpbin-1..3 have selectors: a workload with other labels only gets httpbin-4..9.
    let other = json!({"destination": {"namespace": "foo", "labels": {"app": "other"}}, "request": {"method": "GET"}});
    expect(&s, other.clone(), DENY, None);
    expect(
        &s,
        with(other, json!({"destination": {"port": 80}})),
        ALLOW,
        by(4),
    );
}

#[test]
fn builder_trust_domains_and_wildcard_principals() {
    let s = testdata(
        "istio-builder",
        "simple-policy-principal-with-wildcard-in.yaml",
    );
    expect(
        &s,
        httpbin(mtls("anything/ns/x/sa/y")),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(&s, httpbin(get("/")), DENY, None);

    let yaml_path = |f: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/policies/istio-builder")
            .join(f)
    };
    let load = |f: &str, td: &str| {
        let text = std::fs::read_to_string(yaml_path(f)).unwrap();
        let parsed = parse_policies(&yaml_path(f), &text).unwrap();
        PolicySet::new(
            parsed.policies,
            Options {
                trust_domain: td.to_owned(),
                ..Options::default()
            },
        )
    };
    // from[0] names a cluster.local principal: the mesh's own trust domain.
    let f = "simple-policy-multiple-td-aliases-in.yaml";
    let p = "/ns/rule[0]/sa/from[0]-principal[0]";
    expect(
        &load(f, "cluster.local"),
        httpbin(mtls(&format!("cluster.local{p}"))),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(
        &load(f, "td1"),
        httpbin(mtls(&format!("td1{p}"))),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(
        &load(f, "td1"),
        httpbin(mtls(&format!("cluster.local{p}"))),
        DENY,
        None,
    );
    // from[1]: the principals' namespace is rule[0], not the one `namespaces` asks for.
    expect(
        &load(f, "cluster.local"),
        httpbin(mtls("some-td/ns/rule[0]/sa/from[1]-principal[0]")),
        DENY,
        None,
    );

    // Peers in istio-system, with any principal (`*` among the values).
    let s = testdata("istio-builder", "td-aliases-source-principal-in.yaml");
    expect(
        &s,
        httpbin(mtls("any-td/ns/istio-system/sa/x")),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(&s, httpbin(mtls("any-td/ns/foo/sa/all-td")), DENY, None);

    // trustDomains: cluster.local or another.local; not bad* nor untrusted.
    let s = testdata("istio-builder", "trust-domains-in.yaml");
    expect(
        &s,
        httpbin(mtls("another.local/ns/x/sa/y")),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(
        &s,
        httpbin(mtls("good.td/ns/x/sa/y")),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(&s, httpbin(mtls("bad-td/ns/x/sa/y")), DENY, None);
    // Like notPrincipals, notTrustDomains holds without mTLS: from[1] matches plain text.
    expect(&s, httpbin(get("/")), ALLOW, Some(("foo/httpbin", 0)));

    // simple-policy-td-aliases: its methods are lower case, which Envoy refuses before
    // authorization; no accepted request can match.
    let s = testdata("istio-builder", "simple-policy-td-aliases-in.yaml");
    expect(
        &s,
        httpbin(with(
            mtls("cluster.local/ns/rule[1]/sa/from[0]-principal[0]"),
            json!({"request": {"method": "GET"}}),
        )),
        DENY,
        None,
    );
}

#[test]
fn builder_custom() {
    let s = testdata("istio-builder", "custom-simple-http-in.yaml");
    let d = expect(&s, httpbin(get("/httpbin2")), ALLOW, None);
    let custom: Vec<(&str, usize)> = d
        .custom
        .iter()
        .map(|m| (m.policy.as_str(), m.rule))
        .collect();
    assert_eq!(custom, [("foo/httpbin-2", 0)]);

    let s = testdata("istio-builder", "custom-bad-multiple-providers-in.yaml");
    let d = expect(&s, httpbin(get("/httpbin1")), DENY, None);
    assert!(d.reason.contains("another, default"), "{}", d.reason);
    expect(
        &s,
        json!({"destination": {"namespace": "foo", "labels": {"app": "other"}}}),
        ALLOW,
        None,
    );
}

#[test]
fn builder_dry_run() {
    let s = testdata("istio-builder", "dry-run-allow-in.yaml");
    let d = expect(&s, httpbin(get("/exact")), ALLOW, None);
    assert_eq!(
        (d.dry_run[0].policy.as_str(), d.dry_run[0].decision),
        ("foo/httpbin-1", ALLOW)
    );
    let d = expect(&s, httpbin(get("/other")), ALLOW, None);
    assert_eq!(d.dry_run[0].decision, DENY);

    let s = testdata("istio-builder", "dry-run-allow-and-deny-in.yaml");
    let d = expect(&s, httpbin(get("/deny")), ALLOW, None);
    let runs: Vec<(&str, Verdict)> = d
        .dry_run
        .iter()
        .map(|r| (r.policy.as_str(), r.decision))
        .collect();
    assert_eq!(runs, [("foo/httpbin-1", DENY), ("foo/httpbin-2", DENY)]);
    let d = expect(&s, httpbin(get("/allow")), ALLOW, None);
    let runs: Vec<(&str, Verdict)> = d
        .dry_run
        .iter()
        .map(|r| (r.policy.as_str(), r.decision))
        .collect();
    assert_eq!(runs, [("foo/httpbin-1", ALLOW), ("foo/httpbin-2", ALLOW)]);

    // dry-run "false" is enforced.
    let s = testdata("istio-builder", "dry-run-mix-in.yaml");
    let d = expect(&s, httpbin(get("/allow")), DENY, None);
    assert_eq!(
        (d.dry_run[0].policy.as_str(), d.dry_run[0].decision),
        ("foo/httpbin-1", ALLOW)
    );
    let d = expect(
        &s,
        httpbin(get("/another")),
        ALLOW,
        Some(("foo/httpbin-2", 0)),
    );
    assert_eq!(d.dry_run[0].decision, ALLOW);

    let s = testdata("istio-builder", "tcp-dry-run-mix-in.yaml");
    let tcp = |port: u16| httpbin(json!({"protocol": "tcp", "destination": {"port": port}}));
    let d = expect(&s, tcp(80), DENY, None);
    assert_eq!(
        (d.dry_run[0].policy.as_str(), d.dry_run[0].decision),
        ("foo/httpbin-1", ALLOW)
    );
    expect(&s, tcp(9000), ALLOW, Some(("foo/httpbin-2", 0)));
}

#[test]
fn builder_tcp_allow() {
    // tcp-allow-both-http-tcp: rules 0-2 use HTTP fields and are dropped on TCP; rule 3
    // (ns-1 to port 80) stays.
    let s = testdata("istio-builder", "tcp-allow-both-http-tcp-in.yaml");
    let tcp = |port: u16, ns: &str| {
        httpbin(
            json!({"protocol": "tcp", "destination": {"port": port}, "source": {"principal": format!("cluster.local/ns/{ns}/sa/x")}}),
        )
    };
    expect(&s, tcp(80, "ns-1"), ALLOW, Some(("foo/httpbin-deny", 3)));
    expect(&s, tcp(8080, "ns-1"), DENY, None);
    expect(&s, tcp(9090, "ns-2"), DENY, None);
    // Over HTTP, rule 1 (ns-1, port 8080, GET) applies.
    let http = with(
        tcp(8080, "ns-1"),
        json!({"protocol": "http", "request": {"method": "GET"}}),
    );
    expect(&s, http, ALLOW, Some(("foo/httpbin-deny", 1)));
    let e = s.explain(&request(&tcp(8080, "ns-1")));
    let statuses: Vec<RuleStatus> = e.policies[0].rules.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            RuleStatus::DroppedOnTcp,
            RuleStatus::DroppedOnTcp,
            RuleStatus::DroppedOnTcp,
            RuleStatus::Failed
        ]
    );

    // tcp-allow-only-http: both rules use HTTP fields: nothing is allowed on TCP.
    let s = testdata("istio-builder", "tcp-allow-only-http-in.yaml");
    expect(&s, tcp(80, "ns-1"), DENY, None);
    let http = httpbin(with(
        mtls("cluster.local/ns/ns-1/sa/x"),
        json!({"request": {"host": "example.com"}}),
    ));
    expect(&s, http, ALLOW, Some(("foo/httpbin-deny", 1)));
}

#[test]
fn builder_tcp_deny() {
    let s = testdata("istio-builder", "tcp-deny-both-http-tcp-in.yaml");
    let deny = |rule: usize| Some(("foo/httpbin-deny", rule));
    let from = |ns: &str| json!({"source": {"principal": format!("cluster.local/ns/{ns}/sa/x")}});
    // On TCP rule 0 loses both its HTTP-only conditions and denies every connection: a TCP
    // request to port 80 from ns-1 is denied (rule 7 would too, rule 0 comes first).
    let tcp = |port: u16, extra: Value| {
        httpbin(with(
            json!({"protocol": "tcp", "destination": {"port": port}}),
            extra,
        ))
    };
    let d = expect(&s, tcp(80, from("ns-1")), DENY, deny(0));
    assert!(d.reason.contains("on TCP its only conditions, HTTP-only from[0].requestPrincipals, to[0].methods, are ignored"), "{}", d.reason);
    expect(&s, tcp(8443, from("ns-9")), DENY, deny(0));
    expect(&s, tcp(8443, json!({})), DENY, deny(0));
    // Over HTTP the rules are as written.
    let http = |method: &str, port: u16, extra: Value| {
        httpbin(with(
            json!({"destination": {"port": port}, "request": {"method": method, "path": "/"}}),
            extra,
        ))
    };
    expect(&s, http("GET", 8443, json!({})), DENY, deny(1));
    expect(&s, http("POST", 80, from("ns-1")), DENY, deny(7));
    expect(&s, http("POST", 80, json!({})), DENY, deny(9));
    expect(&s, http("POST", 8080, from("ns-2")), ALLOW, None);
    // rule 2: a JWT whose principal is "id-1" (issuer "id-1", empty subject).
    expect(
        &s,
        http(
            "POST",
            8080,
            json!({"request": {"auth": {"principal": "id-1/"}}}),
        ),
        DENY,
        deny(2),
    );
}

#[test]
fn builder_tcp_audit_and_custom() {
    let tcp = |port: u16, ip: &str| {
        httpbin(json!({"protocol": "tcp", "destination": {"port": port}, "source": {"ip": ip}}))
    };
    // tcp-audit-both: even with its HTTP-only conditions ignored, principals ["principal"]
    // has no /ns/ while namespaces ["ns"] needs one: it never matches.
    let s = testdata("istio-builder", "tcp-audit-both-http-tcp-in.yaml");
    let d = expect(&s, tcp(80, "1.2.3.4"), ALLOW, None);
    assert!(d.audit.is_empty());

    // tcp-custom-both: rule 0 (methods only) matches every TCP connection.
    let s = testdata("istio-builder", "tcp-custom-both-http-tcp-in.yaml");
    let d = expect(&s, tcp(80, "1.2.3.4"), ALLOW, None);
    assert_eq!(
        (d.custom[0].policy.as_str(), d.custom[0].rule),
        ("foo/httpbin-deny", 0)
    );
    // Over HTTP, a POST from 1.2.3.4 to port 80 is rule 2 (ipBlocks and ports).
    let http = with(
        tcp(80, "1.2.3.4"),
        json!({"protocol": "http", "request": {"method": "POST"}}),
    );
    let d = expect(&s, http, ALLOW, None);
    assert_eq!(d.custom[0].rule, 2);

    let s = testdata("istio-builder", "tcp-custom-only-http-in.yaml");
    let d = expect(&s, tcp(80, "10.0.0.1"), ALLOW, None);
    let custom: Vec<&str> = d.custom.iter().map(|m| m.policy.as_str()).collect();
    assert_eq!(custom, ["foo/httpbin-1", "foo/httpbin-2"]);
}

// ---------------------------------------------------------------------------------------------
// The istio.io reference examples (../testdata/policies/istio-reference)

#[test]
fn reference_examples() {
    // 01: ALLOW from sleep or namespace test, GET /info* or POST /data, with a Google JWT.
    let s = testdata("istio-reference", "01-httpbin.yaml");
    let google = json!({"request": {"auth": {"claims": {"iss": "https://accounts.google.com"}}}});
    let sleep = mtls("cluster.local/ns/default/sa/sleep");
    let req = |who: &Value, method: &str, path: &str, jwt: bool| {
        let mut r = httpbin(with(
            who.clone(),
            json!({"request": {"method": method, "path": path}}),
        ));
        if jwt {
            merge(&mut r, google.clone());
        }
        r
    };
    expect(
        &s,
        req(&sleep, "GET", "/info/x", true),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(
        &s,
        req(&mtls("cluster.local/ns/test/sa/x"), "POST", "/data", true),
        ALLOW,
        Some(("foo/httpbin", 0)),
    );
    expect(&s, req(&sleep, "GET", "/info/x", false), DENY, None);
    expect(&s, req(&sleep, "POST", "/info", true), DENY, None);
    expect(
        &s,
        req(&mtls("cluster.local/ns/prod/sa/x"), "GET", "/info", true),
        DENY,
        None,
    );

    // 02: DENY POST from dev.
    let s = testdata("istio-reference", "02-httpbin.yaml");
    let dev = mtls("cluster.local/ns/dev/sa/x");
    expect(
        &s,
        httpbin(with(dev.clone(), json!({"request": {"method": "POST"}}))),
        DENY,
        Some(("foo/httpbin", 0)),
    );
    expect(&s, httpbin(with(dev, get("/"))), ALLOW, None);
    expect(
        &s,
        httpbin(with(
            mtls("cluster.local/ns/prod/sa/x"),
            json!({"request": {"method": "POST"}}),
        )),
        ALLOW,
        None,
    );

    // 03: DENY POST to port 8080.
    let s = testdata("istio-reference", "03-httpbin.yaml");
    let post =
        |port: u16| httpbin(json!({"request": {"method": "POST"}, "destination": {"port": port}}));
    expect(&s, post(8080), DENY, Some(("foo/httpbin", 0)));
    expect(&s, post(80), ALLOW, None);

    // 04: AUDIT GET /user/profile/* on ns1 app=myapi.
    let s = testdata("istio-reference", "04-anyname.yaml");
    let myapi = |path: &str| {
        with(
            json!({"destination": {"namespace": "ns1", "labels": {"app": "myapi"}}}),
            get(path),
        )
    };
    let d = expect(&s, myapi("/user/profile/me"), ALLOW, None);
    assert_eq!(d.audit[0].policy, "ns1/anyname");
    assert!(expect(&s, myapi("/user"), ALLOW, None).audit.is_empty());

    // 05 allow-nothing, 06 allow-all, both: allow-all matches.
    let nothing = testdata("istio-reference", "05-allow-nothing.yaml");
    expect(&nothing, httpbin(get("/")), DENY, None);
    let all = testdata("istio-reference", "06-allow-all.yaml");
    expect(&all, httpbin(get("/")), ALLOW, Some(("foo/allow-all", 0)));
    let mut both = nothing.policies().to_vec();
    both.extend(all.policies().iter().cloned());
    let both = PolicySet::new(both, Options::default());
    expect(&both, httpbin(get("/")), ALLOW, Some(("foo/allow-all", 0)));

    // 07: bar app=httpbin denied; other bar workloads not.
    let s = testdata("istio-reference", "07-allow-nothing.yaml");
    expect(
        &s,
        json!({"destination": {"namespace": "bar", "labels": {"app": "httpbin"}}}),
        DENY,
        None,
    );
    expect(
        &s,
        json!({"destination": {"namespace": "bar", "labels": {"app": "other"}}}),
        ALLOW,
        None,
    );

    // 08: root namespace, version=v1: every v1 workload in the mesh.
    let s = testdata("istio-reference", "08-allow-nothing.yaml");
    expect(&s, httpbin(get("/")), DENY, None);
    expect(
        &s,
        json!({"destination": {"namespace": "bar", "labels": {"version": "v1"}}}),
        DENY,
        None,
    );
    expect(
        &s,
        json!({"destination": {"namespace": "bar", "labels": {"version": "v2"}}}),
        ALLOW,
        None,
    );

    // 09: dry-run DENY /headers, in the default namespace (none given).
    let s = testdata("istio-reference", "09-dry-run-example.yaml");
    let d = expect(
        &s,
        with(
            json!({"destination": {"labels": {"app": "httpbin"}}}),
            get("/headers"),
        ),
        ALLOW,
        None,
    );
    assert_eq!(d.dry_run.len(), 1);
    assert_eq!(
        (d.dry_run[0].policy.as_str(), d.dry_run[0].decision),
        ("default/dry-run-example", DENY)
    );

    // 10: CUSTOM on the ingress gateway for /admin/*.
    let s = testdata("istio-reference", "10-ext-authz-custom.yaml");
    let gw = |path: &str| {
        with(
            json!({"destination": {"namespace": "istio-system", "labels": {"app": "istio-ingressgateway"}}}),
            get(path),
        )
    };
    let d = expect(&s, gw("/admin/x"), ALLOW, None);
    assert_eq!(d.custom[0].provider.as_deref(), Some("my-custom-authz"));
    assert!(expect(&s, gw("/public"), ALLOW, None).custom.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Properties

mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::subsequence;

    fn strings(values: &[&'static str]) -> impl Strategy<Value = Vec<String>> + use<> {
        let values = values.to_vec();
        let len = values.len();
        subsequence(values, 0..=len.min(2)).prop_map(|v| v.into_iter().map(str::to_owned).collect())
    }

    fn source() -> impl Strategy<Value = Source> {
        (
            strings(&["cluster.local/ns/foo/sa/a", "cluster.local/ns/bar/*", "*"]),
            strings(&["cluster.local/ns/foo/sa/b", "*"]),
            strings(&["foo", "b*"]),
            strings(&["bar"]),
            strings(&["10.0.0.0/8"]),
            strings(&["iss/sub", "*"]),
            strings(&["*"]),
        )
            .prop_map(
                |(
                    principals,
                    not_principals,
                    namespaces,
                    not_namespaces,
                    ip_blocks,
                    request_principals,
                    not_request_principals,
                )| Source {
                    principals,
                    not_principals,
                    namespaces,
                    not_namespaces,
                    ip_blocks,
                    request_principals,
                    not_request_principals,
                    ..Source::default()
                },
            )
    }

    fn operation() -> impl Strategy<Value = Operation> {
        (
            strings(&["GET", "POST", "*"]),
            strings(&["DELETE"]),
            strings(&["/admin/*", "/api/{*}", "*/x", "/"]),
            strings(&["/api/secret"]),
            strings(&["80", "8080"]),
            strings(&["example.com", "*.example.com"]),
        )
            .prop_map(
                |(methods, not_methods, paths, not_paths, ports, hosts)| Operation {
                    methods,
                    not_methods,
                    paths,
                    not_paths,
                    ports,
                    hosts,
                    ..Operation::default()
                },
            )
    }

    fn when() -> impl Strategy<Value = Condition> {
        (
            prop::sample::select(vec![
                "request.headers[x-token]",
                "source.ip",
                "request.auth.claims[groups]",
                "destination.port",
            ]),
            any::<bool>(),
        )
            .prop_map(|(key, negated)| {
                let value = match key {
                    "source.ip" => "10.0.0.0/8",
                    "request.auth.claims[groups]" => "admins",
                    "destination.port" => "80",
                    _ => "a",
                };
                let values = vec![value.to_owned()];
                Condition {
                    key: key.to_owned(),
                    values: if negated { Vec::new() } else { values.clone() },
                    not_values: if negated { values } else { Vec::new() },
                    location: None,
                }
            })
    }

    fn rule() -> impl Strategy<Value = Rule> {
        (
            prop::collection::vec(source(), 0..=2),
            prop::collection::vec(operation(), 0..=2),
            prop::collection::vec(when(), 0..=1),
        )
            .prop_map(|(from, to, when)| Rule {
                from,
                to,
                when,
                location: None,
            })
    }

    fn selector() -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
        prop::sample::select(vec![
            None,
            Some(vec![("app", "a")]),
            Some(vec![("app", "a"), ("version", "v1")]),
            Some(vec![("version", "v2")]),
        ])
        .prop_map(|s| {
            s.map(|pairs| {
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
        })
    }

    fn action() -> impl Strategy<Value = Action> {
        prop::sample::select(vec![
            Action::Allow,
            Action::Deny,
            Action::Audit,
            Action::Custom,
        ])
    }

    fn policy(action: impl Strategy<Value = Action>) -> impl Strategy<Value = AuthorizationPolicy> {
        (
            prop::sample::select(vec!["istio-system", "foo", "bar"]),
            0..1000u32,
            selector(),
            action,
            prop::option::of(prop::collection::vec(rule(), 0..=3)),
            any::<bool>(),
            prop::sample::select(vec!["ext", "ext-2"]),
        )
            .prop_map(|(ns, n, selector, action, rules, dry_run, provider)| {
                AuthorizationPolicy {
                    name: format!("p{n}"),
                    namespace: Some(ns.to_owned()),
                    selector,
                    target_refs: Vec::new(),
                    action,
                    provider: (action == Action::Custom).then(|| provider.to_owned()),
                    rules,
                    dry_run,
                    location: here(),
                    spec_location: here(),
                }
            })
    }

    fn policies() -> impl Strategy<Value = Vec<AuthorizationPolicy>> {
        prop::collection::vec(policy(action()), 0..8)
    }

    fn req() -> impl Strategy<Value = Request> {
        let pick = |v: Vec<Option<&'static str>>| prop::sample::select(v);
        (
            (
                prop::sample::select(vec!["foo", "bar", "istio-system"]),
                pick(vec![None, Some("a"), Some("b")]),
                pick(vec![None, Some("v1"), Some("v2")]),
                any::<bool>(),
                pick(vec![
                    None,
                    Some("cluster.local/ns/foo/sa/a"),
                    Some("cluster.local/ns/bar/sa/b"),
                    Some("other.td/ns/foo/sa/a"),
                ]),
            ),
            (
                pick(vec![
                    None,
                    Some("GET"),
                    Some("POST"),
                    Some("DELETE"),
                    Some("get"),
                ]),
                pick(vec![
                    None,
                    Some("/admin/x"),
                    Some("/api/v1"),
                    Some("/api/v1/x"),
                    Some("/a/../admin/y"),
                    Some("/x"),
                    Some("/api/secret"),
                    Some("/%00"),
                ]),
                pick(vec![None, Some("example.com"), Some("www.example.com:80")]),
                pick(vec![None, Some("80"), Some("8080"), Some("9090")]),
                pick(vec![None, Some("10.1.2.3"), Some("192.168.0.1")]),
                pick(vec![None, Some("a"), Some("b")]),
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (ns, app, version, tcp, principal),
                    (method, path, host, port, ip, token, jwt),
                )| {
                    let mut labels = serde_json::Map::new();
                    if let Some(app) = app {
                        labels.insert("app".into(), app.into());
                    }
                    if let Some(version) = version {
                        labels.insert("version".into(), version.into());
                    }
                    let mut v = json!({
                        "destination": {"namespace": ns, "labels": labels},
                        "protocol": if tcp { "tcp" } else { "http" },
                        "request": {},
                        "source": {},
                    });
                    let set = |v: &mut Value, path: &[&str], value: Value| {
                        let mut at = v;
                        for key in &path[..path.len() - 1] {
                            at = &mut at[*key];
                        }
                        at[path[path.len() - 1]] = value;
                    };
                    if let Some(p) = principal {
                        set(&mut v, &["source", "principal"], p.into());
                    }
                    if let Some(ip) = ip {
                        set(&mut v, &["source", "ip"], ip.into());
                    }
                    if let Some(m) = method {
                        set(&mut v, &["request", "method"], m.into());
                    }
                    if let Some(p) = path {
                        set(&mut v, &["request", "path"], p.into());
                    }
                    if let Some(h) = host {
                        set(&mut v, &["request", "host"], h.into());
                    }
                    if let Some(p) = port {
                        set(
                            &mut v,
                            &["destination", "port"],
                            p.parse::<u16>().unwrap().into(),
                        );
                    }
                    if let Some(t) = token {
                        set(&mut v, &["request", "headers"], json!({"x-token": t}));
                    }
                    if jwt {
                        set(
                            &mut v,
                            &["request", "auth"],
                            json!({"principal": "iss/sub", "claims": {"groups": ["admins"]}}),
                        );
                    }
                    request(&v)
                },
            )
    }

    fn eval(policies: &[AuthorizationPolicy], r: &Request) -> Decision {
        PolicySet::new(policies.to_vec(), Options::default()).evaluate(r)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Adding an enforced DENY policy never turns a DENY into an ALLOW.
        #[test]
        fn adding_deny_never_allows(ps in policies(), extra in policy(Just(Action::Deny)), r in req()) {
            let before = eval(&ps, &r);
            let mut more = ps.clone();
            more.push(AuthorizationPolicy { dry_run: false, ..extra });
            let after = eval(&more, &r);
            prop_assert!(!(before.decision == DENY && after.decision == ALLOW), "{before:#?}\n{after:#?}");
        }

        /// Adding an enforced ALLOW policy turns an ALLOW into a DENY only when that ALLOW came
        /// from no ALLOW policy applying (no deciding policy), and then the new policy applies
        /// to the workload and none of its rules match: the DENY names no policy.
        #[test]
        fn adding_allow_denies_only_where_no_allow_applied(ps in policies(), extra in policy(Just(Action::Allow)), r in req()) {
            let before = eval(&ps, &r);
            let extra = AuthorizationPolicy { dry_run: false, ..extra };
            let mut more = ps.clone();
            more.push(extra.clone());
            let set = PolicySet::new(more, Options::default());
            let after = set.evaluate(&r);
            if before.decision == ALLOW && after.decision == DENY {
                prop_assert_eq!(&before.policy, &None);
                prop_assert_eq!(&after.policy, &None);
                let applies = set
                    .policies_for(r.destination_namespace(), &r.destination.labels)
                    .any(|p| p == &extra);
                prop_assert!(applies);
            }
            if before.action == Some(ALLOW) {
                prop_assert_eq!(after.decision, ALLOW);
            }
        }

        /// `spec: {}` (ALLOW, no rules) on a workload denies every request to it that no other
        /// ALLOW policy explicitly allows: all of them when it is the only ALLOW policy.
        #[test]
        fn allow_nothing_denies_everything(ps in policies(), r in req(), use_selector in any::<bool>()) {
            let labels = &r.destination.labels;
            let nothing = AuthorizationPolicy {
                name: "allow-nothing".to_owned(),
                namespace: Some(r.destination_namespace().to_owned()),
                selector: (use_selector && !labels.is_empty()).then(|| labels.clone()),
                target_refs: Vec::new(),
                action: Action::Allow,
                provider: None,
                rules: None,
                dry_run: false,
                location: here(),
                spec_location: here(),
            };
            let mut more = ps.clone();
            more.push(nothing.clone());
            let after = eval(&more, &r);
            if after.decision == ALLOW {
                prop_assert_eq!(after.action, Some(ALLOW));
            }
            let mut alone: Vec<AuthorizationPolicy> = ps
                .into_iter()
                .filter(|p| p.action != Action::Allow || p.dry_run)
                .collect();
            alone.push(nothing);
            prop_assert_eq!(eval(&alone, &r).decision, DENY);
        }

        /// Dry-run ALLOW/DENY/AUDIT policies never change the decision. (Dry-run CUSTOM ones
        /// can: Istio counts their provider when checking a workload has only one.)
        #[test]
        fn dry_run_never_changes_the_decision(ps in policies(), extra in prop::collection::vec(policy(prop::sample::select(vec![Action::Allow, Action::Deny, Action::Audit])), 0..4), r in req()) {
            let before = eval(&ps, &r);
            let mut more = ps.clone();
            more.extend(extra.into_iter().map(|p| AuthorizationPolicy { dry_run: true, ..p }));
            let after = eval(&more, &r);
            prop_assert_eq!(
                (&before.decision, &before.policy, &before.action, &before.rule, &before.reason),
                (&after.decision, &after.policy, &after.action, &after.rule, &after.reason)
            );
        }

        /// The input order of the policies does not matter, and `explain` decides the same.
        #[test]
        fn order_and_explain_agree(ps in policies(), r in req()) {
            let forward = PolicySet::new(ps.clone(), Options::default());
            let mut reversed = ps.clone();
            reversed.reverse();
            let d = forward.evaluate(&r);
            prop_assert_eq!(&forward.explain(&r).decision, &d);
            let names: std::collections::BTreeSet<String> = ps.iter().map(AuthorizationPolicy::id).collect();
            // Same-named policies keep input order, which reversing changes.
            if names.len() == ps.len() {
                prop_assert_eq!(&PolicySet::new(reversed, Options::default()).evaluate(&r), &d);
            }
        }

        /// No input makes evaluation panic.
        #[test]
        fn arbitrary_strings_never_panic(
            path in ".{0,40}", method in ".{0,8}", host in ".{0,20}", header in ".{0,10}",
            principal in ".{0,40}", pattern in "[/a-z*{}%.]{0,20}",
        ) {
            let yaml = super::policy("foo", "p", &format!(
                "{{action: DENY, rules: [{{from: [{{source: {{principals: [{:?}], namespaces: [{:?}]}}}}], to: [{{operation: {{paths: [{:?}], hosts: [{:?}]}}}}]}}]}}",
                pattern, pattern, pattern, pattern));
            let parsed = parse_policies(Path::new("p.yaml"), &yaml).map(|p| p.policies).unwrap_or_default();
            let set = PolicySet::new(parsed, Options::default());
            let mut headers = serde_json::Map::new();
            headers.insert(header.clone(), Value::String(header));
            let r = request(&json!({"destination": {"namespace": "foo"}, "source": {"principal": principal},
                "request": {"method": method, "path": path, "host": host, "headers": headers}}));
            let _ = set.explain(&r).to_string();
        }
    }
}
