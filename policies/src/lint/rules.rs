//! `ML12x`: the rules of one policy — the OR-split pitfall, redundant rules, rules that can
//! never match, policies without rules, DENY rules widened on TCP.

use crate::model::{Action, Rule};
use crate::report::Severity;

use super::constraint::rule_covers;
use super::{
    ALLOW_NOTHING, Analysed, Cx, DENY_HTTP_FIELDS_ON_TCP, NO_RULES_NO_EFFECT, RULE_NEVER_MATCHES,
    RULE_REDUNDANT, RULES_SPLIT_OR,
};

pub(super) fn check(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    no_rules(cx, policy);
    if let Some(rules) = &policy.policy.rules {
        split_or(cx, policy, rules);
    }
    never_matches(cx, policy);
    redundant(cx, policy);
    deny_http_fields(cx, policy);
}

fn no_rules(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let p = policy.policy;
    let how = match &p.rules {
        None => "has no rules",
        Some(rules) if rules.is_empty() => "has an empty rules list",
        Some(_) => return,
    };
    if p.action == Action::Allow {
        let message = format!(
            "{} {how}: it allows nothing, so every request to its workloads is denied unless another ALLOW policy allows it (the allow-nothing pattern; add rules if that is not the intent)",
            policy.describe()
        );
        cx.emit(&ALLOW_NOTHING, policy, &p.spec_location, message);
    } else {
        let fix = match p.action {
            Action::Deny => {
                "to deny every request write rules: [{}]; to allow nothing use an ALLOW policy without rules"
            }
            _ => "add rules, or rules: [{}] to match every request",
        };
        let message = format!(
            "{} {how}, so it never matches and has no effect: {fix}",
            policy.describe()
        );
        cx.emit(&NO_RULES_NO_EFFECT, policy, &p.spec_location, message);
    }
}

/// The parts of a rule that are set.
fn parts(rule: &Rule) -> Vec<&'static str> {
    let mut parts = Vec::new();
    if !rule.from.is_empty() {
        parts.push("from");
    }
    if !rule.to.is_empty() {
        parts.push("to");
    }
    if !rule.when.is_empty() {
        parts.push("when");
    }
    parts
}

fn split_or(cx: &mut Cx<'_>, policy: &Analysed<'_>, rules: &[Rule]) {
    for (i, pair) in rules.windows(2).enumerate() {
        let (a, b) = (parts(&pair[0]), parts(&pair[1]));
        let ([first], [second]) = (a.as_slice(), b.as_slice()) else {
            continue;
        };
        if first == second {
            continue;
        }
        let j = i + 1;
        let widened = match policy.policy.action {
            Action::Allow => "allows",
            Action::Deny => "denies",
            _ => "matches",
        };
        let location = pair[1]
            .location
            .as_ref()
            .unwrap_or(&policy.policy.spec_location);
        let message = format!(
            "{}: rules[{i}] has only {first} and rules[{j}] has only {second}, so they are OR'ed: the policy {widened} requests matching either one alone. If both must hold, make them one rule (remove the '-' before '{second}:'); if the OR is intended, suppress this finding",
            policy.describe()
        );
        cx.emit(&RULES_SPLIT_OR, policy, location, message);
    }
}

fn never_matches(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let p = policy.policy;
    let all_never = !policy.rules.is_empty() && policy.rules.iter().all(|r| r.never.is_some());
    for rule in &policy.rules {
        let Some(contradiction) = &rule.never else {
            continue;
        };
        let i = rule.index;
        let several = if rule.cubes.len() > 1 {
            " (and so does every other from/to combination of the rule)"
        } else {
            ""
        };
        let location = contradiction.location.as_ref().unwrap_or(&rule.location);
        let (consequence, severity) = match p.action {
            Action::Allow if all_never && !p.dry_run => (
                "; no rule of the policy can match, so it allows nothing and every request to its workloads is denied unless another ALLOW policy allows it",
                Severity::Error,
            ),
            Action::Allow => ("; it allows nothing", Severity::Warning),
            Action::Deny if rule.never_http_only => (
                "; it never denies an HTTP request, while on TCP Istio ignores its HTTP-only conditions and it denies more",
                Severity::Warning,
            ),
            Action::Deny => ("; it denies nothing", Severity::Warning),
            _ => ("", Severity::Warning),
        };
        let message = format!(
            "{} rules[{i}] can never match: {}{several}{consequence}. Remove the contradiction",
            policy.describe(),
            contradiction.reason
        );
        cx.emit_with(&RULE_NEVER_MATCHES, severity, policy, location, message);
    }
}

fn redundant(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    let rules = &policy.rules;
    for b in rules {
        if b.never.is_some() {
            continue;
        }
        let cover = rules.iter().find(|a| {
            a.index != b.index
                && a.never.is_none()
                && rule_covers(&a.cubes, &b.cubes)
                // Identical rules: report only the later one.
                && !(a.index > b.index && rule_covers(&b.cubes, &a.cubes))
        });
        let Some(a) = cover else {
            continue;
        };
        let message = format!(
            "{} rules[{}] is redundant: rules[{}] already matches every request it matches, so it never changes the outcome; remove it or narrow rules[{}]",
            policy.describe(),
            b.index,
            a.index,
            a.index
        );
        cx.emit(&RULE_REDUNDANT, policy, &b.location, message);
    }
}

/// Info: whether the workload's ports carry TCP is not known statically. (A warning for ports
/// the inventory's Services declare as TCP, `appProtocol: tcp` or a `tcp` port-name prefix,
/// needs those fields in `model::Service`, which has only port numbers so far.)
fn deny_http_fields(cx: &mut Cx<'_>, policy: &Analysed<'_>) {
    if policy.policy.action != Action::Deny {
        return;
    }
    for rule in &policy.rules {
        if rule.never.is_some() || !rule.uses_http_fields() {
            continue;
        }
        let mut http = Vec::new();
        let mut others = Vec::new();
        let mut ports = false;
        for cube in &rule.cubes {
            for c in cube {
                let description = c.describe();
                let bucket = if c.attr.is_http() {
                    &mut http
                } else {
                    &mut others
                };
                if !bucket.contains(&description) {
                    bucket.push(description);
                }
                ports |= c.attr == super::constraint::Attr::Port && !c.values.is_empty();
            }
        }
        let remaining = if others.is_empty() {
            "every TCP connection to its workloads".to_owned()
        } else {
            format!("every TCP connection with {}", others.join(" and "))
        };
        let advice = if ports {
            "make sure those ports carry HTTP"
        } else {
            "restrict the rule with ports: to the workload's HTTP ports"
        };
        let denies = if policy.policy.dry_run {
            "would deny"
        } else {
            "denies"
        };
        let message = format!(
            "{} rules[{}] uses HTTP-only fields ({}); on TCP traffic Istio ignores them, so this rule {denies} {remaining}: {advice}",
            policy.describe(),
            rule.index,
            http.join(", "),
        );
        cx.emit(&DENY_HTTP_FIELDS_ON_TCP, policy, &rule.location, message);
    }
}
