//! `ML10x`: what the policies name that the inventory does not have. Run only with an
//! inventory; namespaces Kubernetes and the mesh bring (`default`, `kube-*`, the root
//! namespace) are not expected in it unless it declares them, and selectors are only checked
//! in namespaces the inventory has.

use std::collections::BTreeMap;

use crate::model;

use super::constraint::{Attr, Pattern, principal_parts};
use super::{
    Analysed, Cx, SELECTOR_MATCHES_NO_WORKLOAD, TARGET_REF_NOT_FOUND, UNKNOWN_NAMESPACE,
    UNKNOWN_SERVICE_ACCOUNT,
};

pub(super) fn check(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let Some(known) = &cx.inventory else {
        return;
    };
    let namespace = policy.namespace();
    let namespace_known = known.namespaces.contains(namespace);
    if !namespace_known && !known.exempt(namespace, cx.options) {
        let message = format!(
            "{} is in namespace \"{namespace}\", which no manifest of the inventory declares or uses: check the namespace (or add its manifests to --inventory)",
            policy.describe()
        );
        cx.emit(&UNKNOWN_NAMESPACE, policy, &policy.policy.location, message);
    } else if namespace_known {
        // Only where the inventory speaks for the namespace: an app inventory without the
        // mesh's own namespace says nothing about the gateways a root policy selects.
        selector(cx, policy);
        target_refs(cx, policy);
    }
    references(cx, policy);
}

fn labels(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

fn selector(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let Some(known) = &cx.inventory else {
        return;
    };
    let p = policy.policy;
    let Some(selector) = &p.selector else {
        return;
    };
    if !p.target_refs.is_empty() {
        return;
    }
    let namespace = policy.namespace();
    let mesh_wide = namespace == cx.options.root_namespace;
    let in_scope: Vec<&model::Workload> = known
        .inventory
        .workloads
        .iter()
        .filter(|w| mesh_wide || w.namespace == namespace)
        .collect();
    let matches = in_scope.iter().any(|w| {
        selector
            .iter()
            .all(|(k, v)| w.labels.get(k).is_some_and(|l| l == v))
    });
    if matches {
        return;
    }
    let scope = if mesh_wide {
        "in any namespace (root-namespace policy)".to_owned()
    } else {
        format!("in namespace \"{namespace}\"")
    };
    let mut seen: Vec<String> = in_scope
        .iter()
        .map(|w| format!("{} ({})", w.name, labels(&w.labels)))
        .collect();
    seen.sort();
    seen.dedup();
    let hint = if seen.is_empty() {
        "the inventory has no workload there".to_owned()
    } else {
        let more = seen.len().saturating_sub(5);
        let mut list = seen.into_iter().take(5).collect::<Vec<_>>().join(", ");
        if more > 0 {
            list.push_str(&format!(" and {more} more"));
        }
        format!("workloads there: {list}")
    };
    let message = format!(
        "{}: selector {} matches no workload {scope} of the inventory, so the policy applies to nothing; check the labels ({hint})",
        policy.describe(),
        labels(selector)
    );
    cx.emit(
        &SELECTOR_MATCHES_NO_WORKLOAD,
        policy,
        &p.spec_location,
        message,
    );
}

fn target_refs(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let Some(known) = &cx.inventory else {
        return;
    };
    let p = policy.policy;
    let mut missing = Vec::new();
    for target in &p.target_refs {
        if target.kind != "Service" || !matches!(target.group.as_str(), "" | "core") {
            continue;
        }
        let namespace = target.namespace.as_deref().unwrap_or(policy.namespace());
        if !known.namespaces.contains(namespace) {
            continue;
        }
        let found = known
            .inventory
            .services
            .iter()
            .any(|s| s.namespace == namespace && s.name == target.name);
        if !found {
            missing.push(format!("{namespace}/{}", target.name));
        }
    }
    for service in missing {
        let message = format!(
            "{}: targetRef Service {service} is not in the inventory, so the policy applies to nothing: check the name",
            policy.describe()
        );
        cx.emit(&TARGET_REF_NOT_FOUND, policy, &p.spec_location, message);
    }
}

/// Namespaces and service accounts the rules name.
fn references(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let Some(known) = &cx.inventory else {
        return;
    };
    let mut found: Vec<(&'static super::CheckInfo, model::Location, String)> = Vec::new();
    let mut reported = std::collections::BTreeSet::new();
    for rule in &policy.rules {
        for cube in &rule.cubes {
            for c in cube {
                let location = c
                    .origin
                    .location
                    .clone()
                    .unwrap_or_else(|| rule.location.clone());
                for (value, negative) in c
                    .values
                    .iter()
                    .map(|v| (v, false))
                    .chain(c.not_values.iter().map(|v| (v, true)))
                {
                    let field = if negative {
                        &c.origin.not_field
                    } else {
                        &c.origin.field
                    };
                    let head = format!(
                        "{} {}: {field} value \"{value}\"",
                        policy.describe(),
                        c.origin.path
                    );
                    let effect = if negative {
                        "excludes no one"
                    } else {
                        "matches no one"
                    };
                    let problem = match (&c.attr, value) {
                        (Attr::Namespace, Pattern::Exact(ns))
                            if !known.namespaces.contains(ns.as_str())
                                && !known.exempt(ns, cx.options) =>
                        {
                            Some((
                                &UNKNOWN_NAMESPACE,
                                format!(
                                    "{head} names a namespace the inventory does not have, so it {effect} (a typo?)"
                                ),
                            ))
                        }
                        (Attr::Principal, _) => principal_parts(value)
                            .and_then(|(ns, sa)| account(known, cx.options, ns, sa))
                            .map(|m| {
                                (
                                    &UNKNOWN_SERVICE_ACCOUNT,
                                    format!("{head} {m}, so it {effect}"),
                                )
                            }),
                        (Attr::ServiceAccount, Pattern::Exact(s)) => s
                            .split_once('/')
                            .and_then(|(ns, sa)| account(known, cx.options, ns, sa))
                            .map(|m| {
                                (
                                    &UNKNOWN_SERVICE_ACCOUNT,
                                    format!("{head} {m}, so it {effect}"),
                                )
                            }),
                        _ => None,
                    };
                    if let Some((check, message)) = problem {
                        found.push((check, location.clone(), message));
                    }
                }
            }
        }
    }
    // A source or condition appears in several cubes: report it once.
    for (check, location, message) in found {
        if reported.insert((location.clone(), message.clone())) {
            cx.emit(check, policy, &location, message);
        }
    }
}

/// Why service account `ns/sa` cannot exist according to the inventory, if it cannot.
fn account(
    known: &super::Known<'_>,
    options: &super::LintOptions,
    ns: &str,
    sa: &str,
) -> Option<String> {
    if known.exempt(ns, options) {
        return None;
    }
    if !known.namespaces.contains(ns) {
        return Some(format!(
            "names service account {ns}/{sa} in namespace \"{ns}\", which the inventory does not have"
        ));
    }
    if known.accounts.contains(&format!("{ns}/{sa}")) {
        return None;
    }
    Some(format!(
        "names service account {ns}/{sa}, which the inventory does not declare and no workload uses"
    ))
}
