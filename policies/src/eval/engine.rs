//! The order Istio's proxy applies policies in, for one request: the proxy may refuse the
//! request before any filter; CUSTOM policies send it to their provider (outside meshlens:
//! reported, not decided); any matching DENY denies; with no ALLOW policy it is allowed; a
//! matching ALLOW allows; otherwise it is denied. AUDIT only logs. Dry-run policies are evaluated
//! on the side and never change the decision.

use std::collections::BTreeSet;

use crate::model::{Action, AuthorizationPolicy};

use super::compile::{CompiledPolicy, CompiledRule, RuleOutcome};
use super::decision::{Decision, DryRun, PolicyMatch, Verdict};
use super::explain::{PolicyExplanation, RuleExplanation, RuleStatus};
use super::facts::Facts;
use super::request::Request;

/// What decided, before it is put into words.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Envoy answers 400 before authorization.
    Rejected(String),
    /// CUSTOM policies on the workload name several providers (or none): Istio cannot build the
    /// ext_authz filter and installs a deny-all instead.
    CustomConflict(Vec<String>),
    Denied {
        policy: usize,
        rule: usize,
    },
    NoAllowPolicy,
    Allowed {
        policy: usize,
        rule: usize,
    },
    NoAllowMatched,
}

impl Outcome {
    fn verdict(&self) -> Verdict {
        match self {
            Self::NoAllowPolicy | Self::Allowed { .. } => Verdict::Allow,
            _ => Verdict::Deny,
        }
    }
}

pub(crate) struct Engine<'s> {
    pub policies: &'s [AuthorizationPolicy],
    pub compiled: &'s [CompiledPolicy],
}

/// One applicable policy and its first matching rule.
#[derive(Debug, Clone, Copy)]
struct Match {
    policy: usize,
    rule: Option<usize>,
}

impl Engine<'_> {
    /// Decides `request` against the policies at `applicable` (indices, in policy order), with
    /// the per-policy explanation when `explain` is set.
    pub fn run(
        &self,
        request: &Request,
        applicable: &[usize],
        explain: bool,
    ) -> (Decision, Vec<PolicyExplanation>) {
        let facts = Facts::new(request);
        let matches: Vec<Match> = if facts.rejected.is_some() {
            Vec::new()
        } else {
            applicable
                .iter()
                .map(|&policy| Match {
                    policy,
                    rule: self.compiled[policy]
                        .rules
                        .iter()
                        .position(|r| r.matches(self.compiled[policy].action, &facts)),
                })
                .collect()
        };
        let outcome = match &facts.rejected {
            Some(why) => Outcome::Rejected(why.clone()),
            None => self.outcome(applicable, &matches),
        };
        let enforced_matches = |action: Action| {
            matches
                .iter()
                .filter_map(move |m| {
                    let p = &self.compiled[m.policy];
                    (p.action == action && !p.dry_run).then_some((p, m.rule?))
                })
                .map(|(p, rule)| PolicyMatch {
                    policy: p.id.clone(),
                    rule,
                    provider: if action == Action::Custom {
                        p.provider.clone()
                    } else {
                        None
                    },
                })
                .collect::<Vec<_>>()
        };
        let custom = enforced_matches(Action::Custom);
        let audit = enforced_matches(Action::Audit);
        let dry_run = matches
            .iter()
            .filter(|m| {
                let p = &self.compiled[m.policy];
                p.dry_run && matches!(p.action, Action::Allow | Action::Deny)
            })
            .map(|m| self.dry_run(m, &outcome))
            .collect();
        let mut reason = self.reason(&outcome, request, &facts);
        if outcome.verdict() == Verdict::Allow {
            for m in &custom {
                let provider = m.provider.as_deref().unwrap_or("?");
                reason.push_str(&format!(
                    ", provided CUSTOM policy {} (provider {provider}) allows it too",
                    m.policy
                ));
            }
        }
        let (policy, action, rule) = match outcome {
            Outcome::Denied { policy, rule } => (
                Some(self.compiled[policy].id.clone()),
                Some(Verdict::Deny),
                Some(rule),
            ),
            Outcome::Allowed { policy, rule } => (
                Some(self.compiled[policy].id.clone()),
                Some(Verdict::Allow),
                Some(rule),
            ),
            _ => (None, None, None),
        };
        let decision = Decision {
            decision: outcome.verdict(),
            policy,
            action,
            rule,
            dry_run,
            reason,
            custom,
            audit,
        };
        let explanations = if explain {
            applicable
                .iter()
                .enumerate()
                .map(|(k, &i)| self.explain_policy(i, matches.get(k).and_then(|m| m.rule), &facts))
                .collect()
        } else {
            Vec::new()
        };
        (decision, explanations)
    }

    fn outcome(&self, applicable: &[usize], matches: &[Match]) -> Outcome {
        let enforced = |action: Action| {
            matches.iter().filter(move |m| {
                let p = &self.compiled[m.policy];
                p.action == action && !p.dry_run
            })
        };
        // Istio collects the provider of every CUSTOM policy on the workload, dry-run included.
        let providers: BTreeSet<&str> = applicable
            .iter()
            .map(|&i| &self.compiled[i])
            .filter(|p| p.action == Action::Custom)
            .map(|p| p.provider.as_deref().unwrap_or(""))
            .collect();
        if providers.len() > 1 || providers.contains("") {
            return Outcome::CustomConflict(providers.into_iter().map(str::to_owned).collect());
        }
        let first_match = |m: &Match| m.rule.map(|rule| (m.policy, rule));
        if let Some((policy, rule)) = enforced(Action::Deny).find_map(first_match) {
            return Outcome::Denied { policy, rule };
        }
        let mut allows = enforced(Action::Allow).peekable();
        if allows.peek().is_none() {
            return Outcome::NoAllowPolicy;
        }
        match allows.find_map(first_match) {
            Some((policy, rule)) => Outcome::Allowed { policy, rule },
            None => Outcome::NoAllowMatched,
        }
    }

    /// The decision the request would get if the dry-run policy were enforced too.
    fn dry_run(&self, m: &Match, outcome: &Outcome) -> DryRun {
        let p = &self.compiled[m.policy];
        let (action, decision) = match p.action {
            Action::Deny => (
                Verdict::Deny,
                if m.rule.is_some() {
                    Verdict::Deny
                } else {
                    outcome.verdict()
                },
            ),
            _ => (
                Verdict::Allow,
                match outcome {
                    Outcome::Allowed { .. } => Verdict::Allow,
                    Outcome::NoAllowPolicy | Outcome::NoAllowMatched if m.rule.is_some() => {
                        Verdict::Allow
                    }
                    // With this ALLOW policy enforced, ALLOW policies apply and none matched.
                    _ => Verdict::Deny,
                },
            ),
        };
        DryRun {
            policy: p.id.clone(),
            decision,
            action,
            rule: m.rule,
        }
    }

    fn reason(&self, outcome: &Outcome, request: &Request, facts: &Facts<'_>) -> String {
        match outcome {
            Outcome::Rejected(why) => {
                format!("denied before authorization: the proxy answers HTTP 400 because {why}")
            }
            Outcome::CustomConflict(providers) => {
                let named: Vec<String> = providers
                    .iter()
                    .map(|p| {
                        if p.is_empty() {
                            "(none)".to_owned()
                        } else {
                            p.clone()
                        }
                    })
                    .collect();
                format!(
                    "denied: the CUSTOM policies on {} name providers {}, but Istio takes exactly one provider per workload and denies every request otherwise",
                    request.destination_name(),
                    named.join(", ")
                )
            }
            Outcome::Denied { policy, rule } => format!(
                "denied by DENY policy {} rule {rule}: {}",
                self.compiled[*policy].id,
                self.describe_match(*policy, *rule, facts)
            ),
            Outcome::Allowed { policy, rule } => format!(
                "allowed by ALLOW policy {} rule {rule}: {}",
                self.compiled[*policy].id,
                self.describe_match(*policy, *rule, facts)
            ),
            Outcome::NoAllowPolicy => {
                format!(
                    "allowed: no ALLOW policy applies to {}",
                    request.destination_name()
                )
            }
            Outcome::NoAllowMatched => format!(
                "denied: ALLOW policies apply to {} but none matched",
                request.destination_name()
            ),
        }
    }

    fn describe_match(&self, policy: usize, rule: usize, facts: &Facts<'_>) -> String {
        let Some(r) = self.compiled[policy].rules.get(rule) else {
            return String::new();
        };
        let held: Vec<String> = r
            .matched_conditions(facts)
            .iter()
            .map(|c| c.describe_hold(facts))
            .collect();
        let ignored = r.ignored_on_tcp(facts);
        match (held.is_empty(), ignored.is_empty()) {
            (true, true) => "the rule has no conditions, so it matches every request".to_owned(),
            (true, false) => format!(
                "on TCP its only conditions, HTTP-only {}, are ignored, so it matches every request",
                ignored.join(", ")
            ),
            (false, true) => held.join("; "),
            (false, false) => format!(
                "{} (HTTP-only {} ignored on TCP)",
                held.join("; "),
                ignored.join(", ")
            ),
        }
    }

    fn explain_policy(
        &self,
        i: usize,
        matched: Option<usize>,
        facts: &Facts<'_>,
    ) -> PolicyExplanation {
        let p = &self.compiled[i];
        let source = &self.policies[i];
        let rules: Vec<RuleExplanation> = p
            .rules
            .iter()
            .enumerate()
            .map(|(index, r)| explain_rule(index, r, source, p.action, facts))
            .collect();
        let summary = if facts.rejected.is_some() {
            "not evaluated: the request never reaches the authorization filters".to_owned()
        } else if p.rules.is_empty() {
            match p.action {
                Action::Allow => {
                    "has no rules, so it allows nothing (and denies what no other ALLOW policy allows)"
                        .to_owned()
                }
                _ => "has no rules, so it never matches".to_owned(),
            }
        } else {
            match matched {
                Some(r) => format!("rule {r} matched"),
                None => "no rule matched".to_owned(),
            }
        };
        PolicyExplanation {
            policy: p.id.clone(),
            action: p.action.as_str().to_owned(),
            dry_run: p.dry_run,
            provider: p.provider.clone(),
            location: source.location.to_string(),
            matched_rule: matched,
            summary,
            rules,
        }
    }
}

fn explain_rule(
    index: usize,
    r: &CompiledRule,
    source: &AuthorizationPolicy,
    action: Action,
    facts: &Facts<'_>,
) -> RuleExplanation {
    let location = source
        .rules
        .as_ref()
        .and_then(|rules| rules.get(index))
        .and_then(|rule| rule.location.as_ref())
        .map(ToString::to_string);
    let ignored = r.ignored_on_tcp(facts);
    let ignored_note = (!ignored.is_empty()).then(|| {
        format!(
            "on TCP, HTTP-only {} ignored (Istio widens DENY/AUDIT/CUSTOM rules)",
            ignored.join(", ")
        )
    });
    let (status, mut details) = if facts.rejected.is_some() {
        (RuleStatus::NotEvaluated, Vec::new())
    } else {
        match r.outcome(action, facts) {
            RuleOutcome::Matched => {
                let held: Vec<String> = r
                    .matched_conditions(facts)
                    .iter()
                    .map(|c| c.describe_hold(facts))
                    .collect();
                let details = match (held.is_empty(), ignored.is_empty()) {
                    (true, true) => vec!["no conditions: matches every request".to_owned()],
                    (true, false) => {
                        vec!["no condition left on TCP: matches every request".to_owned()]
                    }
                    (false, _) => held,
                };
                (RuleStatus::Matched, details)
            }
            RuleOutcome::Failed => (RuleStatus::Failed, r.failures(facts)),
            RuleOutcome::Invalid => (RuleStatus::Invalid, r.invalid.iter().cloned().collect()),
            RuleOutcome::DroppedOnTcp => (
                RuleStatus::DroppedOnTcp,
                vec![format!(
                    "an ALLOW rule using HTTP-only {} is left out of the TCP filter, so it allows nothing on TCP",
                    r.http_only.join(", ")
                )],
            ),
        }
    };
    if matches!(status, RuleStatus::Matched | RuleStatus::Failed) {
        details.extend(ignored_note);
    }
    RuleExplanation {
        rule: index,
        location,
        status,
        details,
    }
}
