//! Least-privilege policy suggestion: from observed request shapes, one ALLOW
//! `AuthorizationPolicy` per destination workload that allows exactly the callers and
//! operations seen, and a coverage report of what it does not allow and why.
//!
//! - each destination gets a policy selecting it by the labels every request to it carried (from
//!   the request or the inventory, volatile labels such as `pod-template-hash` left out), named
//!   `<workload>-allow-observed`;
//! - its rules name callers by mTLS principal; callers with the same operations share a rule;
//!   operations list the ports, methods and paths seen, grouped so that no combination is
//!   allowed that was not observed (paths up to generalisation: identifier-like segments become
//!   `{*}`, and past [`PathOptions::max_per_rule`] paths a common prefix). TCP gets ports only,
//!   in a rule of its own (Istio drops an ALLOW rule with HTTP fields for TCP traffic);
//! - a request whose caller has no known identity (or that no field can match exactly) gets no
//!   rule — a rule without `from` would let everyone in — and is reported in the [`Coverage`],
//!   with how many such requests the suggestion denies once applied;
//! - optionally an allow-nothing policy (`spec: {}`) per destination namespace.
//!
//! The result is checked before it is returned: its YAML is parsed back with [`crate::parse`]
//! and every request reported as covered is evaluated with [`crate::eval`]; one the parsed
//! policies do not allow is reported as not covered instead. What is checked is the suggestion
//! alone: other policies in the cluster (a DENY, a mesh-wide ALLOW) can still change decisions.
//!
//! Known widening, inherent to AuthorizationPolicy: a TCP rule (ports only) also allows HTTP on
//! those ports from the same callers; a selector may select other workloads with the same
//! labels (reported when the inventory shows it).

mod build;
mod coverage;
mod input;
mod normalize;
mod output;
mod paths;
mod shape;
mod verify;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Inventory;

pub use coverage::{Coverage, DestinationCoverage, NotCovered, Reason};
pub use input::{Observed, PathOptions, SuggestOptions};
pub use output::{SuggestedOperation, SuggestedPolicy, SuggestedRule, Suggestion};

use shape::{DestinationKey, Shape};

/// Suggests least-privilege ALLOW policies for the observed traffic. `inventory` supplies the
/// destinations' labels when the requests do not carry them, and shows which other workloads a
/// selector would also pick.
pub fn suggest(
    observed: &[Observed],
    inventory: Option<&Inventory>,
    options: &SuggestOptions,
) -> Suggestion {
    let mut shapes: Vec<Shape> = observed
        .iter()
        .map(|o| shape::classify(o, inventory, options))
        .collect();
    let targets = build::targets(&mut shapes, inventory, options);
    // Each round either passes the check or takes at least one request out of the rules, so it
    // ends after at most one round per request.
    loop {
        let plan = build::plan(&shapes, &targets, options);
        let checked = verify::check(&plan.policies, &shapes, options);
        if checked.failures.is_empty() {
            let coverage = coverage(&shapes, &targets, &plan, &checked.set);
            return Suggestion {
                policies: plan.policies,
                coverage,
            };
        }
        for (i, why) in checked.failures {
            if let Some(shape) = shapes.get_mut(i) {
                shape.outcome = Err(Reason::Unexpressible(why));
            }
        }
    }
}

fn coverage(
    shapes: &[Shape],
    targets: &BTreeMap<DestinationKey, build::Target>,
    plan: &build::Plan,
    set: &crate::eval::PolicySet,
) -> Coverage {
    #[derive(Default)]
    struct Tally {
        covered: u64,
        callers: BTreeSet<String>,
        not_covered: BTreeMap<Reason, (u64, u64)>,
    }
    let mut tallies: BTreeMap<&DestinationKey, Tally> = BTreeMap::new();
    for shape in shapes {
        let tally = tallies.entry(&shape.destination).or_default();
        match &shape.outcome {
            Ok((principal, _)) => {
                tally.covered += shape.count;
                tally.callers.insert(principal.clone());
            }
            Err(reason) => {
                let denied = if set.evaluate(&shape.request).is_allowed() {
                    0
                } else {
                    shape.count
                };
                let entry = tally.not_covered.entry(reason.clone()).or_default();
                entry.0 += shape.count;
                entry.1 += denied;
            }
        }
    }
    let destinations = tallies
        .into_iter()
        .map(|(key, tally)| {
            let mut notes = targets
                .get(key)
                .map(|t| t.notes.clone())
                .unwrap_or_default();
            notes.extend(plan.notes.get(key).cloned().unwrap_or_default());
            DestinationCoverage {
                namespace: key.namespace.clone(),
                destination: key.name.clone(),
                policy: plan.policy_of.get(key).cloned(),
                covered: tally.covered,
                callers: tally.callers.into_iter().collect(),
                not_covered: tally
                    .not_covered
                    .into_iter()
                    .map(|(reason, (requests, denied))| NotCovered {
                        reason,
                        requests,
                        denied,
                    })
                    .collect(),
                notes,
            }
        })
        .collect();
    let mut notes = plan.general.clone();
    for policy in plan.policies.iter().filter(|p| p.is_allow_nothing()) {
        notes.push(format!(
            "allow-nothing policy {}: workloads in namespace {} without a suggested policy deny every request",
            policy.id(),
            policy.namespace
        ));
    }
    Coverage {
        destinations,
        notes,
    }
}
