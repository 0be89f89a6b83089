//! Istio's own dry-run verdicts (span tags) held against meshlens' evaluation of the same
//! dry-run policies.
//!
//! Envoy's shadow engines tag a span with `istio.authorization.dry_run.{allow,deny}_policy.result`
//! (`allowed` / `denied`) and `….name` (`ns[foo]-policy[deny-path-headers]-rule[0]`, the
//! shadow rule that matched). The DENY engine says `denied` when a dry-run DENY rule
//! matched; the ALLOW engine says `allowed` when a dry-run ALLOW rule matched.

use meshlens_collector::Sym;
use meshlens_collector::span::DryRunVerdicts;
use meshlens_policies::eval::{Explanation, Verdict};

use super::request::Resolver;

/// `ns[foo]-policy[bar]-rule[0]` → `foo/bar`; a name without that shape is kept as given.
pub fn policy_id(tag: &str) -> String {
    let inner = |prefix: &str, s: &str| -> Option<(String, usize)> {
        let start = s.find(prefix)? + prefix.len();
        let end = start + s[start..].find(']')?;
        Some((s[start..end].to_owned(), end))
    };
    match (inner("ns[", tag), inner("policy[", tag)) {
        (Some((ns, _)), Some((name, _))) => format!("{ns}/{name}"),
        _ => tag.to_owned(),
    }
}

/// (policy id, message) for each verdict tag the evaluation disagrees with.
pub fn disagreements(
    verdicts: &DryRunVerdicts,
    explanation: &Explanation,
    resolver: &Resolver<'_>,
) -> Vec<(String, String)> {
    let name = |sym: Option<Sym>| sym.map(|s| resolver.analyzer.interner().resolve(s));
    let mut out = Vec::new();
    for (action, policy, result, matched_means) in [
        (
            Verdict::Allow,
            name(verdicts.allow_policy),
            name(verdicts.allow_result),
            "allowed",
        ),
        (
            Verdict::Deny,
            name(verdicts.deny_policy),
            name(verdicts.deny_result),
            "denied",
        ),
    ] {
        let Some(result) = result else { continue };
        let dry_runs = explanation
            .decision
            .dry_run
            .iter()
            .filter(|d| d.action == action);
        let tagged = policy.map(policy_id);
        // With a policy named, only its own verdict counts; otherwise any shadow rule of the
        // action.
        let ours_matched = match &tagged {
            Some(id) => dry_runs
                .clone()
                .any(|d| &d.policy == id && d.rule.is_some()),
            None => dry_runs.clone().any(|d| d.rule.is_some()),
        };
        let theirs_matched = result.eq_ignore_ascii_case(matched_means);
        if ours_matched == theirs_matched {
            continue;
        }
        let subject = tagged.clone().unwrap_or_else(|| {
            dry_runs
                .map(|d| d.policy.clone())
                .next()
                .unwrap_or_else(|| format!("dry-run {action} policies"))
        });
        let ours = if ours_matched {
            format!("meshlens finds a matching rule of {subject}")
        } else {
            format!("meshlens finds no matching rule of {subject}")
        };
        out.push((
            subject.clone(),
            format!(
                "Istio's dry-run {} engine said `{result}` but {ours}: the policy in the repository differs from the one the proxy runs, or the request's facts differ",
                action.as_str()
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_rule_names_become_policy_ids() {
        assert_eq!(
            policy_id("ns[foo]-policy[deny-path-headers]-rule[0]"),
            "foo/deny-path-headers"
        );
        assert_eq!(policy_id("foo/bar"), "foo/bar");
        assert_eq!(policy_id("ns[foo"), "ns[foo");
    }
}
