//! `ML13x`: policies against each other on the same workloads — ALLOW rules a DENY makes dead,
//! dry-run policies that would deny what is allowed today.
//!
//! Scopes are compared without guessing: policy A covers policy B's workloads when A is in
//! the root namespace or B's namespace and A's selector is a subset of B's (no selector: every
//! workload); policies with targetRefs only compare with the same targetRefs.

use crate::model::Action;
use crate::report::Severity;

use super::constraint::rule_covers;
use super::{
    ALLOW_DEAD_UNDER_DENY, Analysed, AnalysedRule, Cx, DRY_RUN_ALLOW_NARROWER,
    DRY_RUN_DENY_BLOCKS_ALLOWED,
};

pub(super) fn check(cx: &mut Cx<'_>, policies: &[Analysed<'_>]) {
    allow_dead_under_deny(cx, policies);
    dry_run_deny(cx, policies);
    dry_run_allow(cx, policies);
}

/// Every workload `inner` applies to, `outer` applies to.
fn covers_scope(cx: &Cx<'_>, outer: &Analysed<'_>, inner: &Analysed<'_>) -> bool {
    let (o, i) = (outer.policy, inner.policy);
    if !o.target_refs.is_empty() || !i.target_refs.is_empty() {
        return outer.namespace() == inner.namespace()
            && o.target_refs.len() == i.target_refs.len()
            && o.target_refs.iter().all(|t| i.target_refs.contains(t));
    }
    if outer.namespace() != cx.options.root_namespace && outer.namespace() != inner.namespace() {
        return false;
    }
    let subset = match (&o.selector, &i.selector) {
        (None, _) => true,
        (Some(os), Some(is)) => os.iter().all(|(k, v)| is.get(k) == Some(v)),
        (Some(os), None) => os.is_empty(),
    };
    subset && has_workloads(cx, inner)
}

/// Whether the policy applies to some workload: unknown without an inventory (assumed yes).
fn has_workloads(cx: &Cx<'_>, policy: &Analysed<'_>) -> bool {
    let Some(known) = &cx.inventory else {
        return true;
    };
    let p = policy.policy;
    if !p.target_refs.is_empty() {
        return true;
    }
    let namespace = policy.namespace();
    let mesh_wide = namespace == cx.options.root_namespace;
    known.inventory.workloads.iter().any(|w| {
        (mesh_wide || w.namespace == namespace)
            && p.selector
                .iter()
                .flatten()
                .all(|(k, v)| w.labels.get(k) == Some(v))
    })
}

fn same_scope(a: &Analysed<'_>, b: &Analysed<'_>) -> bool {
    a.namespace() == b.namespace()
        && a.policy.target_refs.is_empty()
        && b.policy.target_refs.is_empty()
        && a.policy.selector.as_ref().filter(|s| !s.is_empty())
            == b.policy.selector.as_ref().filter(|s| !s.is_empty())
}

fn live(rules: &[AnalysedRule]) -> impl Iterator<Item = &AnalysedRule> {
    rules.iter().filter(|r| r.never.is_none())
}

fn cite(policy: &Analysed<'_>, rule: &AnalysedRule) -> String {
    format!(
        "{} rules[{}] ({})",
        policy.describe(),
        rule.index,
        rule.location
    )
}

/// `a and b and c and 2 more`.
fn join_some(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(" and ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

fn allow_dead_under_deny(cx: &mut Cx<'_>, policies: &[Analysed<'_>]) {
    let mut found = Vec::new();
    for allow in policies.iter().filter(|p| p.is(Action::Allow, false)) {
        for rule in live(&allow.rules) {
            let deny = policies
                .iter()
                .filter(|d| d.is(Action::Deny, false) && covers_scope(cx, d, allow))
                .find_map(|d| {
                    live(&d.rules)
                        .find(|dr| rule_covers(&dr.cubes, &rule.cubes))
                        .map(|dr| (d, dr))
                });
            if let Some((deny, deny_rule)) = deny {
                let message = format!(
                    "{} rules[{}] never allows anything: {} denies every request it matches on the same workloads, and DENY is evaluated first; remove the ALLOW rule or narrow the DENY",
                    allow.describe(),
                    rule.index,
                    cite(deny, deny_rule)
                );
                found.push((allow, rule.location.clone(), message));
            }
        }
    }
    for (policy, location, message) in found {
        cx.emit(&ALLOW_DEAD_UNDER_DENY, policy, &location, message);
    }
}

fn dry_run_deny(cx: &mut Cx<'_>, policies: &[Analysed<'_>]) {
    let mut found = Vec::new();
    for deny in policies.iter().filter(|p| p.is(Action::Deny, true)) {
        let allows: Vec<(&Analysed<'_>, bool)> = policies
            .iter()
            .filter(|a| a.is(Action::Allow, false))
            .filter_map(|a| {
                let whole = covers_scope(cx, deny, a);
                (whole || covers_scope(cx, a, deny)).then_some((a, whole))
            })
            .collect();
        for rule in live(&deny.rules) {
            let mut covered = Vec::new();
            let mut overlapping = Vec::new();
            for (allow, whole_scope) in &allows {
                for allow_rule in live(&allow.rules) {
                    if *whole_scope && rule_covers(&rule.cubes, &allow_rule.cubes) {
                        covered.push(cite(allow, allow_rule));
                    } else if rule_covers(&allow_rule.cubes, &rule.cubes) {
                        overlapping.push(cite(allow, allow_rule));
                    }
                }
            }
            let (severity, message) = if !covered.is_empty() {
                (
                    Severity::Warning,
                    format!(
                        "{} rules[{}] would deny every request that {} allows today: enforcing it makes that ALLOW rule dead; check its dry-run verdicts before removing the annotation",
                        deny.describe(),
                        rule.index,
                        join_some(&covered)
                    ),
                )
            } else if !overlapping.is_empty() {
                (
                    Severity::Info,
                    format!(
                        "{} rules[{}] would deny requests that {} allows today; check its dry-run verdicts before removing the annotation",
                        deny.describe(),
                        rule.index,
                        join_some(&overlapping)
                    ),
                )
            } else {
                continue;
            };
            found.push((deny, severity, rule.location.clone(), message));
        }
    }
    for (policy, severity, location, message) in found {
        cx.emit_with(
            &DRY_RUN_DENY_BLOCKS_ALLOWED,
            severity,
            policy,
            &location,
            message,
        );
    }
}

fn dry_run_allow(cx: &mut Cx<'_>, policies: &[Analysed<'_>]) {
    let mut found = Vec::new();
    for dry in policies.iter().filter(|p| p.is(Action::Allow, true)) {
        if !dry.policy.target_refs.is_empty() {
            continue;
        }
        let root = cx.options.root_namespace.as_str();
        let enforced_nearby = policies.iter().any(|a| {
            a.is(Action::Allow, false)
                && (a.namespace() == dry.namespace() || a.namespace() == root)
        });
        if !enforced_nearby {
            let message = format!(
                "{}: no enforced ALLOW policy applies to its workloads, so every request to them is allowed today; enforcing it would deny every request its rules do not match (its dry-run verdict says denied for those)",
                dry.describe()
            );
            found.push((dry, dry.policy.spec_location.clone(), message));
            continue;
        }
        let dry_rules: Vec<&AnalysedRule> = policies
            .iter()
            .filter(|d| d.is(Action::Allow, true) && same_scope(d, dry))
            .flat_map(|d| live(&d.rules))
            .collect();
        let mut uncovered = Vec::new();
        for allow in policies
            .iter()
            .filter(|a| a.is(Action::Allow, false) && same_scope(a, dry))
        {
            for rule in live(&allow.rules) {
                if !dry_rules.iter().any(|d| rule_covers(&d.cubes, &rule.cubes)) {
                    uncovered.push(cite(allow, rule));
                }
            }
        }
        if !uncovered.is_empty() {
            let message = format!(
                "{}: requests that {} allows on the same workloads are not all matched by the dry-run ALLOW policies there, so their dry-run verdict says denied; if it is meant to replace that policy, enforcing it would deny them",
                dry.describe(),
                join_some(&uncovered)
            );
            found.push((dry, dry.policy.spec_location.clone(), message));
        }
    }
    for (policy, location, message) in found {
        cx.emit(&DRY_RUN_ALLOW_NARROWER, policy, &location, message);
    }
}
