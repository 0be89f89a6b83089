//! The suggestion checked the way a user would: its YAML parsed back with this crate's parser
//! and every request it claims to allow evaluated against the result. A request the parsed
//! policies do not allow (a principal the trust domain rewrites, a path normalised differently,
//! a document the parser refuses) is reported instead of claimed.

use std::collections::BTreeSet;
use std::path::Path;

use crate::eval::{Options, PolicySet};
use crate::parse::parse_policies;

use super::input::SuggestOptions;
use super::output::SuggestedPolicy;
use super::shape::Shape;
use super::yaml;

/// The parsed suggestion, and the requests claimed allowed that it does not allow, with why.
#[derive(Debug)]
pub(super) struct Checked {
    pub set: PolicySet,
    pub failures: Vec<(usize, String)>,
}

pub(super) fn check(
    policies: &[SuggestedPolicy],
    shapes: &[Shape],
    options: &SuggestOptions,
) -> Checked {
    let text = yaml::render(policies, |_| None);
    let eval_options = Options {
        root_namespace: options.root_namespace.clone(),
        trust_domain: options.trust_domain.clone(),
    };
    let parsed = match parse_policies(Path::new("suggested.yaml"), &text) {
        Ok(parsed) => parsed,
        Err(error) => {
            let why = format!("the suggested YAML does not parse: {error}");
            return Checked {
                set: PolicySet::new(Vec::new(), eval_options),
                failures: claimed(shapes).map(|i| (i, why.clone())).collect(),
            };
        }
    };
    let refused = match parsed.errors.first() {
        Some(error) => {
            let found: BTreeSet<String> = parsed.policies.iter().map(|p| p.id()).collect();
            let missing: BTreeSet<String> = policies
                .iter()
                .map(SuggestedPolicy::id)
                .filter(|id| !found.contains(id))
                .collect();
            Some((missing, format!("the suggested policy is refused: {error}")))
        }
        None => None,
    };
    let set = PolicySet::new(parsed.policies, eval_options);
    let mut failures = Vec::new();
    for i in claimed(shapes) {
        let shape = &shapes[i];
        let decision = set.evaluate(&shape.request);
        if decision.is_allowed() && decision.policy.is_some() {
            continue;
        }
        let why = match &refused {
            Some((missing, why)) if !missing.is_empty() => why.clone(),
            _ => format!(
                "the suggested policies do not allow it: {}",
                decision.reason
            ),
        };
        failures.push((i, why));
    }
    Checked { set, failures }
}

/// Indices of the requests a rule was made for.
fn claimed(shapes: &[Shape]) -> impl Iterator<Item = usize> + '_ {
    shapes
        .iter()
        .enumerate()
        .filter(|(_, s)| s.outcome.is_ok())
        .map(|(i, _)| i)
}
