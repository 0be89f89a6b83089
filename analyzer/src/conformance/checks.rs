//! The conformance checks: observed request shapes evaluated against the declared policies,
//! and the findings that come of it, in the report module's shape.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use meshlens_collector::span::TraceId;
use meshlens_policies::eval::{Explanation, PolicySet, RuleStatus, Verdict};
use meshlens_policies::model::{Action, AuthorizationPolicy};
use meshlens_policies::report::{CheckInfo, Finding, Location, Severity};
use serde_json::json;

use super::dry_run::disagreements;
use super::request::{Identity, Resolver};
use super::shapes::{Shape, ShapeLog};
use crate::graph::TRACE_IDS_PER_EDGE;
use crate::snapshot::NodeKind;

const fn check(
    code: &'static str,
    kind: &'static str,
    severity: Severity,
    description: &'static str,
) -> CheckInfo {
    CheckInfo {
        code,
        name: kind,
        kind,
        severity,
        description,
    }
}

pub const TRAFFIC_DENIED_BY_POLICY: CheckInfo = check(
    "ML200",
    "traffic-denied-by-policy",
    Severity::Error,
    "Observed traffic went through, but the declared policies deny it: applying them would break it, or the cluster runs other policies than the repository declares.",
);
pub const RBAC_DENIAL_OBSERVED: CheckInfo = check(
    "ML201",
    "rbac-denial-observed",
    Severity::Warning,
    "A proxy denied a call (403 RBAC); the finding says whether the declared policies agree.",
);
pub const RULE_NEVER_MATCHED: CheckInfo = check(
    "ML202",
    "rule-never-matched",
    Severity::Warning,
    "An ALLOW rule on a workload that received traffic matched none of it: over-permissive or dead.",
);
pub const WORKLOAD_WITHOUT_POLICY: CheckInfo = check(
    "ML203",
    "workload-without-policy",
    Severity::Info,
    "A workload receives traffic and no authorization policy applies to it (a warning when others in its namespace have one).",
);
pub const IDENTITY_UNKNOWN: CheckInfo = check(
    "ML204",
    "identity-unknown",
    Severity::Info,
    "Requests whose caller identity could not be resolved: policies that need it were not checked for them.",
);
pub const DRY_RUN_DISAGREES: CheckInfo = check(
    "ML205",
    "dry-run-disagrees",
    Severity::Warning,
    "Istio's dry-run verdict on a span differs from meshlens' evaluation of the same dry-run policy.",
);
pub const NEW_EDGE: CheckInfo = check(
    "ML206",
    "new-edge",
    Severity::Warning,
    "A call between two services that the baseline graph does not have.",
);
pub const MISSING_EDGE: CheckInfo = check(
    "ML207",
    "missing-edge",
    Severity::Info,
    "A call in the baseline graph that the traces no longer show.",
);

/// Every check the trace conformance raises.
pub const CHECKS: &[CheckInfo] = &[
    TRAFFIC_DENIED_BY_POLICY,
    RBAC_DENIAL_OBSERVED,
    RULE_NEVER_MATCHED,
    WORKLOAD_WITHOUT_POLICY,
    IDENTITY_UNKNOWN,
    DRY_RUN_DISAGREES,
    NEW_EDGE,
    MISSING_EDGE,
];

/// Findings about one (edge, method, path, policy) merged across shapes (callers' IPs, hosts).
#[derive(Debug)]
struct Evidence {
    finding: Finding,
    count: f64,
    trace_ids: Vec<String>,
}

/// Findings keyed so that shapes differing only in what the message does not show merge.
#[derive(Debug, Default)]
struct Merged(BTreeMap<(String, String), Evidence>);

impl Merged {
    fn add(&mut self, key: String, shape: &Shape, count: f64, finding: impl FnOnce() -> Finding) {
        let evidence = self
            .0
            .entry((finding_kind_order(&key), key))
            .or_insert_with(|| Evidence {
                finding: finding(),
                count: 0.0,
                trace_ids: Vec::new(),
            });
        evidence.count += count;
        add_trace_ids(&mut evidence.trace_ids, shape.trace_ids.iter().rev());
    }

    fn into_findings(self) -> impl Iterator<Item = Finding> {
        self.0.into_values().map(|e| {
            e.finding
                .with("count", json!(count_value(e.count)))
                .with("trace_ids", json!(e.trace_ids))
        })
    }
}

/// Adds `ids` (hex) as evidence, each once, up to the per-finding cap.
fn add_trace_ids<'a>(into: &mut Vec<String>, ids: impl Iterator<Item = &'a TraceId>) {
    for id in ids {
        let id = hex::encode(id);
        if into.len() < TRACE_IDS_PER_EDGE && !into.contains(&id) {
            into.push(id);
        }
    }
}

fn finding_kind_order(key: &str) -> String {
    key.split('|').next().unwrap_or_default().to_owned()
}

/// Whole counts as integers in JSON; sampled (scaled) counts keep their fraction.
fn count_value(count: f64) -> serde_json::Value {
    if count.fract() == 0.0 && count.abs() < 9e15 {
        json!(count as i64)
    } else {
        json!(count)
    }
}

/// What is known of a policy's rules being used.
#[derive(Debug, Default)]
struct RuleUse {
    /// (policy id, rule) → requests that matched it.
    hits: HashMap<(String, usize), f64>,
    /// Policies that applied to at least one observed request.
    applied: BTreeSet<String>,
}

/// What the checks read besides the shapes.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub policies: &'a PolicySet,
    pub resolver: Resolver<'a>,
}

/// Evaluates every shape and returns the trace findings (without the static lint's and the
/// baseline's): sorted by kind, then edge.
pub fn check_shapes(log: &ShapeLog, inputs: Inputs<'_>) -> Vec<Finding> {
    check_shapes_where(log, inputs, |_| true)
}

/// [`check_shapes`] over the shapes `keep` selects (the live checks: recent ones).
pub fn check_shapes_where(
    log: &ShapeLog,
    inputs: Inputs<'_>,
    keep: impl Fn(&Shape) -> bool,
) -> Vec<Finding> {
    let mut shapes: Vec<&Shape> = log.shapes().filter(|s| keep(s)).collect();
    // Deterministic output whatever the hash order.
    shapes.sort_by_key(|s| (s.first_ms, s.trace_ids.first().copied()));
    let mut merged = Merged::default();
    let mut rule_use = RuleUse::default();
    // target node → (namespace, covered by a policy)
    let mut destinations: BTreeMap<String, (Option<String>, bool)> = BTreeMap::new();
    let mut unknown: BTreeMap<String, (f64, Vec<&Shape>)> = BTreeMap::new();
    let resolver = inputs.resolver;

    for shape in shapes {
        let resolved = resolver.resolve(shape);
        let explanation = inputs.policies.explain(&resolved.request);
        let names = ShapeNames::of(shape, &resolver);
        record_rule_use(&explanation, shape, &mut rule_use);
        let covered = explanation.policies.iter().any(|p| !p.dry_run);
        let entry = destinations
            .entry(names.target.clone())
            .or_insert((resolved.request.destination.namespace.clone(), false));
        entry.1 |= covered;

        let decision = &explanation.decision;
        // The policy to point at: the deciding one, or when no ALLOW rule matched, the first
        // enforced ALLOW policy that could have.
        let involved = decision.policy.clone().or_else(|| {
            explanation
                .policies
                .iter()
                .find(|p| !p.dry_run && p.action == "ALLOW")
                .map(|p| p.policy.clone())
        });
        let deciding = involved
            .as_deref()
            .and_then(|id| policy_by_id(inputs.policies, id));
        // Callers from outside the mesh (`user`) or unseen (`unknown`) have no identity to find.
        if resolved.identity == Identity::Unknown && shape.source.kind == NodeKind::Service {
            let entry = unknown.entry(names.source.clone()).or_default();
            entry.0 += shape.requests;
            entry.1.push(shape);
        }
        if shape.allowed > 0.0
            && decision.decision == Verdict::Deny
            && resolved.identity != Identity::Unknown
        {
            let key = format!(
                "a|{}|{}|{:?}",
                names.edge_key(),
                names.operation(),
                decision.policy
            );
            merged.add(key, shape, shape.allowed, || {
                names
                    .finding(
                        &TRAFFIC_DENIED_BY_POLICY,
                        format!(
                            "{} calls {} ({}) and it went through, but the declared policies deny it: {}",
                            names.source, names.target, names.operation(), decision.reason
                        ),
                    )
                    .at_opt(deciding.map(|p| Location::from(&p.location)))
                    .with("principal", json!(resolved.request.source.principal))
                    .with("identity", resolved.identity.as_str())
                    .policy_opt(involved.clone())
            });
        }
        if shape.denied > 0.0 {
            let agree = decision.decision == Verdict::Deny;
            let key = format!("b|{}|{}|{agree}", names.edge_key(), names.operation());
            let how = if shape.denial_confirmed {
                "RBAC: access denied"
            } else {
                "403, likely RBAC"
            };
            merged.add(key, shape, shape.denied, || {
                let verdict = if agree {
                    format!("the declared policies deny it too: {}", decision.reason)
                } else {
                    format!(
                        "the declared policies would allow it ({}): the cluster enforces something else than the repository declares",
                        decision.reason
                    )
                };
                names
                    .finding(
                        &RBAC_DENIAL_OBSERVED,
                        format!(
                            "{} was denied calling {} ({}; {how}); {verdict}",
                            names.source,
                            names.target,
                            names.operation()
                        ),
                    )
                    .at_opt(deciding.map(|p| Location::from(&p.location)))
                    .with("declared_decision", decision.decision.as_str())
                    .with("confirmed", shape.denial_confirmed)
                    .policy_opt(involved.clone())
            });
        }
        for (policy, message) in disagreements(&shape.key.dry_run, &explanation, &resolver) {
            let key = format!("f|{}|{}|{policy}", names.edge_key(), names.operation());
            let location =
                policy_by_id(inputs.policies, &policy).map(|p| Location::from(&p.location));
            merged.add(key, shape, shape.requests, || {
                names
                    .finding(
                        &DRY_RUN_DISAGREES,
                        format!(
                            "{} → {} ({}): {message}",
                            names.source,
                            names.target,
                            names.operation()
                        ),
                    )
                    .at_opt(location)
                    .for_policy(policy.clone())
            });
        }
    }

    let mut findings: Vec<Finding> = merged.into_findings().collect();
    findings.extend(never_matched(inputs.policies, &rule_use));
    findings.extend(without_policy(&destinations));
    findings.extend(unknown_identities(unknown, &resolver));
    findings
}

/// Names of a shape's parts, as findings show them.
#[derive(Debug)]
struct ShapeNames {
    source: String,
    target: String,
    method: Option<String>,
    path: Option<String>,
}

impl ShapeNames {
    fn of(shape: &Shape, resolver: &Resolver<'_>) -> Self {
        let analyzer = resolver.analyzer;
        let name = |sym| analyzer.interner().resolve(sym).to_owned();
        Self {
            source: name(shape.source.id),
            target: name(shape.target.id),
            method: shape.key.method.map(name),
            path: shape.key.path.map(|p| analyzer.path(p).to_owned()),
        }
    }

    fn edge_key(&self) -> String {
        format!("{} -> {}", self.source, self.target)
    }

    fn operation(&self) -> String {
        match (&self.method, &self.path) {
            (Some(m), Some(p)) => format!("{m} {p}"),
            (Some(m), None) => m.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => "any request".to_owned(),
        }
    }

    fn finding(&self, check: &CheckInfo, message: String) -> Finding {
        let mut finding = Finding::of(check, message).with(
            "edge",
            json!({"source": self.source, "target": self.target}),
        );
        if let Some(method) = &self.method {
            finding = finding.with("method", method.as_str());
        }
        if let Some(path) = &self.path {
            finding = finding.with("path", path.as_str());
        }
        finding
    }
}

trait PolicyOpt {
    fn policy_opt(self, policy: Option<String>) -> Self;
}

impl PolicyOpt for Finding {
    fn policy_opt(mut self, policy: Option<String>) -> Self {
        self.policy = policy;
        self
    }
}

fn policy_by_id<'a>(policies: &'a PolicySet, id: &str) -> Option<&'a AuthorizationPolicy> {
    policies.policies().iter().find(|p| p.id() == id)
}

fn record_rule_use(explanation: &Explanation, shape: &Shape, rule_use: &mut RuleUse) {
    for policy in &explanation.policies {
        rule_use.applied.insert(policy.policy.clone());
        for rule in &policy.rules {
            if rule.status == RuleStatus::Matched {
                *rule_use
                    .hits
                    .entry((policy.policy.clone(), rule.rule))
                    .or_default() += shape.requests;
            }
        }
    }
}

/// Enforced ALLOW rules of policies that applied to observed traffic, which none of it matched.
fn never_matched(policies: &PolicySet, rule_use: &RuleUse) -> Vec<Finding> {
    let mut findings = Vec::new();
    for policy in policies.policies() {
        let id = policy.id();
        if policy.action != Action::Allow || policy.dry_run || !rule_use.applied.contains(&id) {
            continue;
        }
        for (index, rule) in policy.rules.iter().flatten().enumerate() {
            if rule_use.hits.contains_key(&(id.clone(), index)) {
                continue;
            }
            let location = rule.location.as_ref().unwrap_or(&policy.location);
            findings.push(
                Finding::of(
                    &RULE_NEVER_MATCHED,
                    format!(
                        "rule {index} of ALLOW policy {id} matched none of the observed requests to the workloads it selects: remove it or narrow it"
                    ),
                )
                .at(location)
                .for_policy(id.clone())
                .with("rule", index),
            );
        }
    }
    findings
}

fn without_policy(destinations: &BTreeMap<String, (Option<String>, bool)>) -> Vec<Finding> {
    let covered_namespaces: BTreeSet<&str> = destinations
        .values()
        .filter(|(_, covered)| *covered)
        .filter_map(|(ns, _)| ns.as_deref())
        .collect();
    destinations
        .iter()
        .filter(|(_, (_, covered))| !covered)
        .map(|(target, (namespace, _))| {
            let neighbours_covered = namespace
                .as_deref()
                .is_some_and(|ns| covered_namespaces.contains(ns));
            let (severity, why) = if neighbours_covered {
                (
                    Severity::Warning,
                    "while other workloads in its namespace have policies",
                )
            } else {
                (Severity::Info, "it accepts every caller")
            };
            Finding::of(
                &WORKLOAD_WITHOUT_POLICY,
                format!(
                    "{target} receives traffic and no authorization policy applies to it, {why}"
                ),
            )
            .with_severity(severity)
            .with("workload", target.as_str())
        })
        .collect()
}

fn unknown_identities(
    unknown: BTreeMap<String, (f64, Vec<&Shape>)>,
    resolver: &Resolver<'_>,
) -> Vec<Finding> {
    unknown
        .into_iter()
        .map(|(source, (count, shapes))| {
            let advice = if resolver.inventory.is_none() {
                "give --inventory with its Deployment and ServiceAccount, or add a Telemetry custom tag of %DOWNSTREAM_PEER_URI_SAN% to the sidecars"
            } else {
                "add its Deployment (and ServiceAccount) to the --inventory manifests, or add a Telemetry custom tag of %DOWNSTREAM_PEER_URI_SAN% to the sidecars"
            };
            let mut trace_ids: Vec<String> = Vec::new();
            for shape in &shapes {
                add_trace_ids(&mut trace_ids, shape.trace_ids.iter());
            }
            Finding::of(
                &IDENTITY_UNKNOWN,
                format!(
                    "the identity of {source} is unknown for {} requests: policies that check callers were not checked for them; {advice}",
                    count_value(count)
                ),
            )
            .with("source", source.as_str())
            .with("count", count_value(count))
            .with("trace_ids", json!(trace_ids))
        })
        .collect()
}
