//! Static checks of policies (and the inventory): findings with stable codes.
//!
//! [`lint`] runs every check over the parsed policies (and, when given, the `--inventory`
//! manifests) and returns [`Finding`]s of kind `policy-lint`. Each check is a small function
//! with a code from [`CHECKS`] (code, name, default severity, one-line description: the SARIF
//! rules and the docs). The checks are conservative: they reason on the exact values written
//! and say nothing when unsure, so correct policies (Istio's reference examples) get at most
//! info findings.
//!
//! - `ML10x` need the inventory: selectors, namespaces, service accounts, targetRefs that
//!   name nothing.
//! - `ML11x` values that can never match as written: HTTP methods, principals, paths;
//!   targetRefs that apply nowhere or only at waypoints. (Unknown `when` keys and unsupported
//!   targetRef kinds never get here: the parser refuses them, as the API server does.)
//! - `ML12x` the rules of one policy: OR-split `from`/`to`, redundant rules, rules that can
//!   never match, policies without rules, DENY rules widened on TCP.
//! - `ML13x` policies against each other: ALLOW rules a DENY makes dead, dry-run policies that
//!   would deny what is allowed today.

mod conflicts;
pub(crate) mod constraint;
mod inventory;
mod rules;
mod values;

use std::collections::BTreeSet;

use crate::model::{self, Action, AuthorizationPolicy, Inventory};
use crate::report::{CheckInfo, Finding, Location, Severity};

use constraint::{Contradiction, Cube};

/// The `kind` of every static lint finding.
pub const KIND: &str = "policy-lint";

const fn check(
    code: &'static str,
    name: &'static str,
    severity: Severity,
    description: &'static str,
) -> CheckInfo {
    CheckInfo {
        code,
        name,
        kind: KIND,
        severity,
        description,
    }
}

pub const INVALID_POLICY: CheckInfo = check(
    "ML100",
    "invalid-policy",
    Severity::Error,
    "The document is not a valid AuthorizationPolicy: the API server would reject it, so it is not in force.",
);
pub const SELECTOR_MATCHES_NO_WORKLOAD: CheckInfo = check(
    "ML101",
    "selector-matches-no-workload",
    Severity::Warning,
    "The policy's selector matches no workload of the inventory in its scope, so it applies to nothing.",
);
pub const UNKNOWN_NAMESPACE: CheckInfo = check(
    "ML102",
    "unknown-namespace",
    Severity::Warning,
    "The policy's namespace, or a namespace a rule names, is not in the inventory.",
);
pub const UNKNOWN_SERVICE_ACCOUNT: CheckInfo = check(
    "ML103",
    "unknown-service-account",
    Severity::Warning,
    "A principal or service account a rule names is not declared in the inventory nor used by any workload.",
);
pub const TARGET_REF_NOT_FOUND: CheckInfo = check(
    "ML104",
    "target-ref-not-found",
    Severity::Warning,
    "A targetRef names a Service the inventory does not have, so the policy applies to nothing.",
);
pub const INVALID_HTTP_METHOD: CheckInfo = check(
    "ML110",
    "invalid-http-method",
    Severity::Warning,
    "A methods/notMethods value is not an HTTP method as Istio matches it (case-sensitive; gRPC uses POST), so it never (or hardly ever) matches.",
);
pub const PRINCIPAL_SPIFFE_PREFIX: CheckInfo = check(
    "ML111",
    "principal-spiffe-prefix",
    Severity::Error,
    "A principal is written with the spiffe:// prefix; Istio matches principals without it, so the value never matches.",
);
pub const PRINCIPAL_WITHOUT_TRUST_DOMAIN: CheckInfo = check(
    "ML112",
    "principal-without-trust-domain",
    Severity::Warning,
    "A principal lacks the trust domain (<trust-domain>/ns/<namespace>/sa/<account>), so it never matches.",
);
pub const FOREIGN_TRUST_DOMAIN: CheckInfo = check(
    "ML113",
    "foreign-trust-domain",
    Severity::Info,
    "A principal's trust domain is neither the mesh trust domain nor an alias: only peers of that trust domain match.",
);
pub const PATH_WITHOUT_LEADING_SLASH: CheckInfo = check(
    "ML115",
    "path-without-leading-slash",
    Severity::Warning,
    "A paths/notPaths value does not start with /; request paths always do, so it never matches.",
);
pub const TARGET_REF_GATEWAY_CLASS_OUTSIDE_ROOT: CheckInfo = check(
    "ML116",
    "target-ref-gateway-class-outside-root",
    Severity::Error,
    "A GatewayClass targetRef outside the root namespace: Istio applies such policies only from the root namespace, so it applies nowhere.",
);
pub const TARGET_REF_IGNORED_BY_SIDECARS: CheckInfo = check(
    "ML117",
    "target-ref-ignored-by-sidecars",
    Severity::Info,
    "A policy with a Service or ServiceEntry targetRef is enforced only by a waypoint; sidecars ignore targetRefs.",
);
pub const RULES_SPLIT_OR: CheckInfo = check(
    "ML120",
    "rules-split-or",
    Severity::Warning,
    "Consecutive rules have only from and only to (or when): they are OR'ed, not AND'ed (the '- from: / - to:' pitfall).",
);
pub const RULE_REDUNDANT: CheckInfo = check(
    "ML121",
    "rule-redundant",
    Severity::Warning,
    "A rule only matches requests another rule of the same policy already matches, so it never changes the outcome.",
);
pub const RULE_NEVER_MATCHES: CheckInfo = check(
    "ML122",
    "rule-never-matches",
    Severity::Warning,
    "A rule's conditions contradict each other (e.g. methods all in notMethods), so it never matches; error when an ALLOW policy thereby allows nothing.",
);
pub const ALLOW_NOTHING: CheckInfo = check(
    "ML123",
    "allow-nothing",
    Severity::Info,
    "An ALLOW policy without rules allows nothing: the deliberate allow-nothing pattern, denying every request its workloads get unless another ALLOW allows it.",
);
pub const NO_RULES_NO_EFFECT: CheckInfo = check(
    "ML124",
    "no-rules-no-effect",
    Severity::Warning,
    "An AUDIT (or DENY, CUSTOM) policy without rules never matches and has no effect.",
);
pub const DENY_HTTP_FIELDS_ON_TCP: CheckInfo = check(
    "ML125",
    "deny-http-fields-on-tcp",
    Severity::Info,
    "A DENY rule uses HTTP-only fields; on TCP traffic Istio ignores them, so the rule denies more than written.",
);
pub const ALLOW_DEAD_UNDER_DENY: CheckInfo = check(
    "ML130",
    "allow-dead-under-deny",
    Severity::Warning,
    "Every request an ALLOW rule matches is denied by a DENY rule on the same workloads, so the ALLOW rule never allows anything.",
);
pub const DRY_RUN_DENY_BLOCKS_ALLOWED: CheckInfo = check(
    "ML131",
    "dry-run-deny-blocks-allowed",
    Severity::Info,
    "A dry-run DENY rule would deny requests an enforced ALLOW rule allows today; warning when it covers the whole ALLOW rule.",
);
pub const DRY_RUN_ALLOW_NARROWER: CheckInfo = check(
    "ML132",
    "dry-run-allow-narrower",
    Severity::Info,
    "Enforcing a dry-run ALLOW policy would deny requests that are allowed today (its dry-run verdict says denied for them).",
);

/// Every static check, by code.
pub const CHECKS: &[CheckInfo] = &[
    INVALID_POLICY,
    SELECTOR_MATCHES_NO_WORKLOAD,
    UNKNOWN_NAMESPACE,
    UNKNOWN_SERVICE_ACCOUNT,
    TARGET_REF_NOT_FOUND,
    INVALID_HTTP_METHOD,
    PRINCIPAL_SPIFFE_PREFIX,
    PRINCIPAL_WITHOUT_TRUST_DOMAIN,
    FOREIGN_TRUST_DOMAIN,
    PATH_WITHOUT_LEADING_SLASH,
    TARGET_REF_GATEWAY_CLASS_OUTSIDE_ROOT,
    TARGET_REF_IGNORED_BY_SIDECARS,
    RULES_SPLIT_OR,
    RULE_REDUNDANT,
    RULE_NEVER_MATCHES,
    ALLOW_NOTHING,
    NO_RULES_NO_EFFECT,
    DENY_HTTP_FIELDS_ON_TCP,
    ALLOW_DEAD_UNDER_DENY,
    DRY_RUN_DENY_BLOCKS_ALLOWED,
    DRY_RUN_ALLOW_NARROWER,
];

/// A policy document the parser rejected, as a finding: in a repository under review an
/// invalid policy is a defect to report with the others, not a reason to stop linting.
pub fn invalid_policy(error: &crate::parse::ParseError) -> Finding {
    let finding = Finding::of(&INVALID_POLICY, error.message().to_owned());
    match error.location() {
        Some(location) => finding.at(location),
        None => finding.at(Location::new(error.path().display().to_string(), 1, 1)),
    }
}

/// The catalogue entry of a code.
pub fn check_info(code: &str) -> Option<&'static CheckInfo> {
    CHECKS.iter().find(|c| c.code == code)
}

/// What the checks need to know about the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintOptions {
    /// Policies here apply mesh-wide (`--root-namespace`, default `istio-system`).
    pub root_namespace: String,
    /// The mesh trust domain (`--trust-domain`, default `cluster.local`).
    pub trust_domain: String,
    /// Other trust domains the mesh accepts as its own.
    pub trust_domain_aliases: Vec<String>,
}

impl Default for LintOptions {
    fn default() -> Self {
        Self {
            root_namespace: "istio-system".to_owned(),
            trust_domain: "cluster.local".to_owned(),
            trust_domain_aliases: Vec::new(),
        }
    }
}

/// Runs every check. `inventory` enables the `ML10x` checks (an inventory without workloads
/// and namespaces counts as none). Findings come sorted as in [`crate::report::Report::new`].
pub fn lint(
    policies: &[AuthorizationPolicy],
    inventory: Option<&Inventory>,
    options: &LintOptions,
) -> Vec<Finding> {
    let analysed: Vec<Analysed<'_>> = policies.iter().map(Analysed::new).collect();
    let inventory = inventory
        .filter(|inv| !(inv.workloads.is_empty() && inv.namespaces.is_empty()))
        .map(Known::new);
    let mut cx = Cx {
        options,
        inventory,
        findings: Vec::new(),
    };
    for policy in &analysed {
        values::check(&mut cx, policy);
        rules::check(&mut cx, policy);
        if cx.inventory.is_some() {
            inventory::check(&mut cx, policy);
        }
    }
    conflicts::check(&mut cx, &analysed);
    crate::report::Report::new(cx.findings).findings
}

/// A policy with its rules turned into cubes once.
#[derive(Debug)]
pub(crate) struct Analysed<'a> {
    pub(crate) policy: &'a AuthorizationPolicy,
    pub(crate) id: String,
    pub(crate) rules: Vec<AnalysedRule>,
}

#[derive(Debug)]
pub(crate) struct AnalysedRule {
    pub(crate) index: usize,
    pub(crate) cubes: Vec<Cube>,
    /// Why the rule can never match, when every cube contradicts itself (the first reason).
    pub(crate) never: Option<Contradiction>,
    /// Whether every contradiction is on HTTP-only attributes (a DENY rule still matches TCP).
    pub(crate) never_http_only: bool,
    pub(crate) location: model::Location,
}

impl AnalysedRule {
    pub(crate) fn uses_http_fields(&self) -> bool {
        self.cubes
            .iter()
            .any(|cube| cube.iter().any(|c| c.attr.is_http()))
    }
}

impl<'a> Analysed<'a> {
    fn new(policy: &'a AuthorizationPolicy) -> Self {
        let rules = policy
            .rules
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, rule)| {
                let cubes = constraint::rule_cubes(rule, index);
                let contradictions: Vec<Option<Contradiction>> =
                    cubes.iter().map(|c| constraint::contradiction(c)).collect();
                let all = contradictions.iter().all(Option::is_some);
                let never_http_only = all
                    && contradictions
                        .iter()
                        .flatten()
                        .all(Contradiction::http_only);
                let never = if all {
                    contradictions.into_iter().flatten().next()
                } else {
                    None
                };
                AnalysedRule {
                    index,
                    cubes,
                    never,
                    never_http_only,
                    location: rule
                        .location
                        .clone()
                        .unwrap_or_else(|| policy.spec_location.clone()),
                }
            })
            .collect();
        Self {
            policy,
            id: policy.id(),
            rules,
        }
    }

    /// `ALLOW policy foo/httpbin`, `dry-run DENY policy foo/x`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}{} policy {}",
            if self.policy.dry_run { "dry-run " } else { "" },
            self.policy.action.as_str(),
            self.id
        )
    }

    pub(crate) fn namespace(&self) -> &str {
        self.policy.namespace.as_deref().unwrap_or("default")
    }

    pub(crate) fn is(&self, action: Action, dry_run: bool) -> bool {
        self.policy.action == action && self.policy.dry_run == dry_run
    }
}

/// The inventory, indexed for the checks.
#[derive(Debug)]
pub(crate) struct Known<'a> {
    pub(crate) inventory: &'a Inventory,
    pub(crate) namespaces: BTreeSet<&'a str>,
    /// `namespace/name`: declared, used by a workload, or `default` of a known namespace.
    pub(crate) accounts: BTreeSet<String>,
}

impl<'a> Known<'a> {
    fn new(inventory: &'a Inventory) -> Self {
        let mut namespaces: BTreeSet<&str> =
            inventory.namespaces.iter().map(String::as_str).collect();
        namespaces.extend(inventory.workloads.iter().map(|w| w.namespace.as_str()));
        namespaces.extend(inventory.services.iter().map(|s| s.namespace.as_str()));
        namespaces.extend(
            inventory
                .service_accounts
                .iter()
                .filter_map(|sa| sa.split_once('/').map(|(ns, _)| ns)),
        );
        let mut accounts: BTreeSet<String> = inventory.service_accounts.iter().cloned().collect();
        accounts.extend(
            inventory
                .workloads
                .iter()
                .map(|w| format!("{}/{}", w.namespace, w.service_account)),
        );
        accounts.extend(namespaces.iter().map(|ns| format!("{ns}/default")));
        Self {
            inventory,
            namespaces,
            accounts,
        }
    }

    /// A namespace the inventory is not expected to declare: Kubernetes' own and the mesh root.
    pub(crate) fn exempt(&self, namespace: &str, options: &LintOptions) -> bool {
        !self.namespaces.contains(namespace)
            && (matches!(
                namespace,
                "default" | "kube-system" | "kube-public" | "kube-node-lease"
            ) || namespace == options.root_namespace)
    }
}

/// The state the checks share.
pub(crate) struct Cx<'a> {
    pub(crate) options: &'a LintOptions,
    pub(crate) inventory: Option<Known<'a>>,
    pub(crate) findings: Vec<Finding>,
}

impl Cx<'_> {
    /// Records a finding of `check` about `policy` at `location`.
    pub(crate) fn emit(
        &mut self,
        check: &CheckInfo,
        policy: &Analysed<'_>,
        location: &model::Location,
        message: String,
    ) {
        self.emit_with(check, check.severity, policy, location, message);
    }

    pub(crate) fn emit_with(
        &mut self,
        check: &CheckInfo,
        severity: Severity,
        policy: &Analysed<'_>,
        location: &model::Location,
        message: String,
    ) {
        self.findings.push(
            Finding::of(check, message)
                .with_severity(severity)
                .at(location)
                .for_policy(policy.id.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::model::{Operation, Rule};

    fn at(line: usize) -> model::Location {
        model::Location {
            file: Arc::new(PathBuf::from("p.yaml")),
            line,
            column: 1,
        }
    }

    fn policy(action: Action, rules: Option<Vec<Rule>>) -> AuthorizationPolicy {
        AuthorizationPolicy {
            name: "p".into(),
            namespace: Some("foo".into()),
            selector: None,
            target_refs: Vec::new(),
            action,
            provider: None,
            rules,
            dry_run: false,
            location: at(1),
            spec_location: at(5),
        }
    }

    #[test]
    fn models_built_in_code_are_linted_with_fallback_locations() {
        let allow_nothing = policy(Action::Allow, None);
        let findings = lint(&[allow_nothing], None, &LintOptions::default());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, ALLOW_NOTHING.code);
        assert_eq!(findings[0].location.as_ref().unwrap().line, 5);
        assert_eq!(findings[0].policy.as_deref(), Some("foo/p"));

        // No location on the rule or operation: the finding points at `spec`.
        let rule = Rule {
            to: vec![Operation {
                methods: vec!["get".into()],
                ..Operation::default()
            }],
            ..Rule::default()
        };
        let findings = lint(
            &[policy(Action::Allow, Some(vec![rule]))],
            None,
            &LintOptions::default(),
        );
        let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, [INVALID_HTTP_METHOD.code]);
        assert_eq!(findings[0].location.as_ref().unwrap().line, 5);
        assert_eq!(findings[0].kind, KIND);
    }

    #[test]
    fn an_empty_inventory_counts_as_none() {
        let mut p = policy(Action::Allow, Some(vec![Rule::default()]));
        p.namespace = Some("nowhere".into());
        let empty = Inventory::default();
        assert!(lint(&[p], Some(&empty), &LintOptions::default()).is_empty());
    }

    #[test]
    fn codes_are_unique_and_described() {
        let mut codes = BTreeSet::new();
        for check in CHECKS {
            assert!(codes.insert(check.code), "duplicate {}", check.code);
            assert!(check.code.starts_with("ML1") && check.code.len() == 5);
            assert!(!check.description.is_empty() && !check.description.contains('\n'));
            assert_eq!(check.kind, KIND);
            assert_eq!(check_info(check.code), Some(check));
        }
    }
}
