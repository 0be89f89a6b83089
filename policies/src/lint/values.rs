//! `ML11x`: values that never match as written (methods, principals, paths) and targetRefs
//! that apply nowhere or that sidecars do not enforce. (Unknown `when` keys and unsupported
//! targetRef kinds are refused by the parser, as the API server refuses them.)

use crate::model::{self, Rule};

use super::{
    Analysed, Cx, FOREIGN_TRUST_DOMAIN, INVALID_HTTP_METHOD, PATH_WITHOUT_LEADING_SLASH,
    PRINCIPAL_SPIFFE_PREFIX, PRINCIPAL_WITHOUT_TRUST_DOMAIN, TARGET_REF_GATEWAY_CLASS_OUTSIDE_ROOT,
    TARGET_REF_IGNORED_BY_SIDECARS,
};

/// The methods Istio's examples and Envoy's `:method` use; gRPC is POST.
pub(crate) const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

pub(super) fn check(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    target_refs(cx, policy);
    for (i, rule) in policy.policy.rules.iter().flatten().enumerate() {
        let rule_location = rule
            .location
            .as_ref()
            .unwrap_or(&policy.policy.spec_location);
        methods(cx, policy, i, rule, rule_location);
        paths(cx, policy, i, rule, rule_location);
        principals(cx, policy, i, rule, rule_location);
    }
}

/// What a never-matching value of a `not*` field means.
fn excludes(negative: bool) -> &'static str {
    if negative {
        " (so it excludes nothing)"
    } else {
        ""
    }
}

fn methods(cx: &mut Cx<'_>, policy: &Analysed<'_>, i: usize, rule: &Rule, at: &model::Location) {
    for (j, op) in rule.to.iter().enumerate() {
        let location = op.location.as_ref().unwrap_or(at);
        for (field, values, negative) in [
            ("methods", &op.methods, false),
            ("notMethods", &op.not_methods, true),
        ] {
            for value in values {
                if value.contains('*') || HTTP_METHODS.contains(&value.as_str()) {
                    continue;
                }
                let upper = value.to_ascii_uppercase();
                let (never, advice) = if HTTP_METHODS.contains(&upper.as_str()) {
                    (
                        "never matches a request",
                        format!("Istio compares methods case-sensitively; write \"{upper}\""),
                    )
                } else if value.contains('/') {
                    (
                        "never matches a request",
                        "it is not an HTTP method; gRPC calls are POST, and the gRPC method goes in paths (\"/package.Service/Method\")".to_owned(),
                    )
                } else {
                    (
                        "matches only clients that send this non-standard method",
                        format!(
                            "HTTP methods are {} (gRPC uses POST)",
                            HTTP_METHODS.join(", ")
                        ),
                    )
                };
                cx.emit(
                    &INVALID_HTTP_METHOD,
                    policy,
                    location,
                    format!(
                        "{} rules[{i}].to[{j}]: {field} value \"{value}\" {never}{}: {advice}",
                        policy.describe(),
                        excludes(negative)
                    ),
                );
            }
        }
    }
}

fn paths(cx: &mut Cx<'_>, policy: &Analysed<'_>, i: usize, rule: &Rule, at: &model::Location) {
    for (j, op) in rule.to.iter().enumerate() {
        let location = op.location.as_ref().unwrap_or(at);
        for (field, values, negative) in [
            ("paths", &op.paths, false),
            ("notPaths", &op.not_paths, true),
        ] {
            for value in values {
                if value.is_empty() || value.starts_with(['/', '*', '{']) {
                    continue;
                }
                cx.emit(
                    &PATH_WITHOUT_LEADING_SLASH,
                    policy,
                    location,
                    format!(
                        "{} rules[{i}].to[{j}]: {field} value \"{value}\" never matches{}: request paths always start with \"/\"; write \"/{value}\"",
                        policy.describe(),
                        excludes(negative)
                    ),
                );
            }
        }
    }
}

/// The principal values of a rule: (where, field, value, negative, location).
fn principal_values<'r>(
    rule: &'r Rule,
    i: usize,
    at: &'r model::Location,
) -> Vec<(String, String, &'r str, bool, &'r model::Location)> {
    let mut out = Vec::new();
    for (j, source) in rule.from.iter().enumerate() {
        let location = source.location.as_ref().unwrap_or(at);
        for (field, values, negative) in [
            ("principals", &source.principals, false),
            ("notPrincipals", &source.not_principals, true),
        ] {
            for value in values {
                out.push((
                    format!("rules[{i}].from[{j}]"),
                    field.to_owned(),
                    value.as_str(),
                    negative,
                    location,
                ));
            }
        }
    }
    for (j, condition) in rule.when.iter().enumerate() {
        if condition.key != "source.principal" {
            continue;
        }
        let location = condition.location.as_ref().unwrap_or(at);
        for (field, values, negative) in [
            ("values", &condition.values, false),
            ("notValues", &condition.not_values, true),
        ] {
            for value in values {
                out.push((
                    format!("rules[{i}].when[{j}]"),
                    format!("source.principal {field}"),
                    value.as_str(),
                    negative,
                    location,
                ));
            }
        }
    }
    out
}

fn principals(cx: &mut Cx<'_>, policy: &Analysed<'_>, i: usize, rule: &Rule, at: &model::Location) {
    for (path, field, value, negative, location) in principal_values(rule, i, at) {
        let head = format!("{} {path}: {field} value \"{value}\"", policy.describe());
        if let Some(rest) = value.strip_prefix("spiffe://") {
            cx.emit(
                &PRINCIPAL_SPIFFE_PREFIX,
                policy,
                location,
                format!(
                    "{head} never matches{}: Istio matches principals without the spiffe:// prefix; write \"{rest}\"",
                    excludes(negative)
                ),
            );
            continue;
        }
        let fixed = value.trim_end_matches('*');
        if value.starts_with('*') || fixed.is_empty() {
            continue;
        }
        let segments: Vec<&str> = fixed.split('/').collect();
        let td = &cx.options.trust_domain;
        let missing_trust_domain = if fixed.starts_with("ns/") {
            Some(format!("{td}/{value}"))
        } else if !value.contains('*')
            && segments.len() == 2
            && segments.iter().all(|s| !s.is_empty())
        {
            Some(format!("{td}/ns/{}/sa/{}", segments[0], segments[1]))
        } else {
            None
        };
        if let Some(fix) = missing_trust_domain {
            cx.emit(
                &PRINCIPAL_WITHOUT_TRUST_DOMAIN,
                policy,
                location,
                format!(
                    "{head} has no trust domain and never matches{}: principals read <trust-domain>/ns/<namespace>/sa/<service-account>; write \"{fix}\" (or use namespaces/serviceAccounts)",
                    excludes(negative)
                ),
            );
            continue;
        }
        if segments.len() >= 2 && segments[1] == "ns" {
            let trust_domain = segments[0];
            if trust_domain != td.as_str()
                && !cx
                    .options
                    .trust_domain_aliases
                    .iter()
                    .any(|alias| alias == trust_domain)
            {
                cx.emit(
                    &FOREIGN_TRUST_DOMAIN,
                    policy,
                    location,
                    format!(
                        "{head} is in trust domain \"{trust_domain}\", not the mesh's \"{td}\" nor an alias: only peers of that trust domain match (set --trust-domain if the mesh uses it)"
                    ),
                );
            }
        }
    }
}

fn target_refs(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let p = policy.policy;
    for target in &p.target_refs {
        let group = target.group.as_str();
        let kind = target.kind.as_str();
        let name = format!("{} {}", target.kind, target.name);
        if kind == "GatewayClass"
            && group == "gateway.networking.k8s.io"
            && policy.namespace() != cx.options.root_namespace
        {
            cx.emit(
                &TARGET_REF_GATEWAY_CLASS_OUTSIDE_ROOT,
                policy,
                &p.spec_location,
                format!(
                    "{}: targetRef {name} only applies from the root namespace \"{}\", so this policy applies nowhere: move it there or target a Gateway",
                    policy.describe(),
                    cx.options.root_namespace
                ),
            );
        } else if matches!(kind, "Service" | "ServiceEntry") {
            cx.emit(
                &TARGET_REF_IGNORED_BY_SIDECARS,
                policy,
                &p.spec_location,
                format!(
                    "{}: targetRef {name} is enforced only by the waypoint the {kind} uses (istio.io/use-waypoint); sidecars ignore targetRefs, so for sidecar workloads use a selector",
                    policy.describe()
                ),
            );
        }
    }
}
