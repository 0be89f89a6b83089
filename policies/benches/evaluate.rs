//! Evaluation with 1,000 policies across 100 namespaces (10 in the root namespace, 10 in each
//! of 99 others): per namespace one DENY without selector, eight ALLOW policies each selecting
//! one app with principals, namespaces, methods, paths and a header condition, and one AUDIT or
//! dry-run DENY on `version: v2`. Requests that hit an ALLOW rule, miss every rule, are denied,
//! and arrive over TCP. The index should make each cost independent of the 1,000.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use meshlens_policies::eval::{Options, PolicySet, Request};
use meshlens_policies::model::{
    Action, AuthorizationPolicy, Condition, Location, Operation, Rule, Source,
};

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn policy(
    namespace: &str,
    name: String,
    selector: Option<(&str, String)>,
    action: Action,
    rules: Vec<Rule>,
) -> AuthorizationPolicy {
    let location = Location {
        file: Arc::new(PathBuf::from("bench.yaml")),
        line: 1,
        column: 1,
    };
    AuthorizationPolicy {
        name,
        namespace: Some(namespace.to_owned()),
        selector: selector.map(|(k, v)| BTreeMap::from([(k.to_owned(), v)])),
        target_refs: Vec::new(),
        action,
        provider: None,
        rules: Some(rules),
        dry_run: false,
        location: location.clone(),
        spec_location: location,
    }
}

fn policies() -> Vec<AuthorizationPolicy> {
    let mut out = Vec::with_capacity(1000);
    for i in 0..10 {
        out.push(policy(
            "istio-system",
            format!("mesh-{i}"),
            (i % 2 == 0).then(|| ("team", format!("team-{i}"))),
            if i % 3 == 0 {
                Action::Audit
            } else {
                Action::Deny
            },
            vec![Rule {
                to: vec![Operation {
                    paths: vec![format!("/internal/{i}/*")],
                    ..Operation::default()
                }],
                ..Rule::default()
            }],
        ));
    }
    for n in 0..99 {
        let ns = format!("ns-{n}");
        out.push(policy(
            &ns,
            "deny-foreign-delete".to_owned(),
            None,
            Action::Deny,
            vec![Rule {
                from: vec![Source {
                    not_namespaces: vec![ns.clone(), "istio-system".to_owned()],
                    ..Source::default()
                }],
                to: vec![Operation {
                    methods: strings(&["DELETE"]),
                    ..Operation::default()
                }],
                ..Rule::default()
            }],
        ));
        for app in 0..8 {
            let mut rules = vec![
                Rule {
                    from: vec![
                        Source {
                            principals: vec![format!("cluster.local/ns/{ns}/sa/client-{app}")],
                            ..Source::default()
                        },
                        Source {
                            namespaces: vec![format!("ns-{}", (n + 1) % 99), "shared-*".to_owned()],
                            ..Source::default()
                        },
                    ],
                    to: vec![Operation {
                        methods: strings(&["GET", "POST"]),
                        paths: vec![format!("/api/v{app}/*"), "/api/{*}/items".to_owned()],
                        ..Operation::default()
                    }],
                    ..Rule::default()
                },
                Rule {
                    to: vec![Operation {
                        paths: strings(&["/healthz", "/metrics"]),
                        ports: strings(&["15020"]),
                        ..Operation::default()
                    }],
                    ..Rule::default()
                },
            ];
            if app % 2 == 0 {
                rules.push(Rule {
                    when: vec![Condition {
                        key: "request.headers[x-tenant]".to_owned(),
                        values: vec![format!("tenant-{app}")],
                        not_values: Vec::new(),
                        location: None,
                    }],
                    ..Rule::default()
                });
            }
            out.push(policy(
                &ns,
                format!("allow-{app}"),
                Some(("app", format!("svc-{app}"))),
                Action::Allow,
                rules,
            ));
        }
        let mut last = policy(
            &ns,
            "v2-watch".to_owned(),
            Some(("version", "v2".to_owned())),
            if n % 2 == 0 {
                Action::Audit
            } else {
                Action::Deny
            },
            vec![Rule {
                to: vec![Operation {
                    not_methods: strings(&["GET"]),
                    ..Operation::default()
                }],
                ..Rule::default()
            }],
        );
        last.dry_run = n % 2 == 1;
        out.push(last);
    }
    out
}

fn request(json: &str) -> Request {
    match serde_json::from_str(json) {
        Ok(r) => r,
        Err(e) => panic!("bench request {json}: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let set = PolicySet::new(policies(), Options::default());
    assert_eq!(set.len(), 1000);
    let destination = r#""destination":{"namespace":"ns-42","workload":"svc-3","labels":{"app":"svc-3","version":"v2","team":"team-4"},"port":8080}"#;
    let cases = [
        (
            "hit",
            format!(
                r#"{{"source":{{"principal":"cluster.local/ns/ns-42/sa/client-3","ip":"10.1.2.3"}},{destination},"request":{{"method":"GET","path":"/api/v3/items?page=2","host":"svc-3.ns-42:8080","headers":{{"x-request-id":"abc"}}}}}}"#
            ),
            true,
        ),
        (
            "miss",
            format!(
                r#"{{"source":{{"principal":"cluster.local/ns/ns-7/sa/client-3"}},{destination},"request":{{"method":"PUT","path":"/api/v3/../v4/items","host":"svc-3.ns-42:8080"}}}}"#
            ),
            false,
        ),
        (
            "deny",
            format!(
                r#"{{"source":{{"principal":"cluster.local/ns/ns-7/sa/client-3"}},{destination},"request":{{"method":"DELETE","path":"/api/v3/items"}}}}"#
            ),
            false,
        ),
        (
            "tcp",
            format!(
                r#"{{"source":{{"principal":"cluster.local/ns/ns-43/sa/x"}},{destination},"protocol":"tcp"}}"#
            ),
            false,
        ),
    ];
    for (name, json, allowed) in &cases {
        let r = request(json);
        assert_eq!(
            set.evaluate(&r).is_allowed(),
            *allowed,
            "{name}: {:#?}",
            set.evaluate(&r)
        );
        c.bench_function(&format!("evaluate/{name}"), |b| {
            b.iter(|| set.evaluate(black_box(&r)))
        });
    }
    let r = request(&cases[0].1);
    c.bench_function("explain/hit", |b| b.iter(|| set.explain(black_box(&r))));
    c.bench_function("compile/1000", |b| {
        b.iter(|| PolicySet::new(black_box(policies()), Options::default()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
