//! Which policies and rules the observed traffic exercises, per destination workload: the
//! dashboard's Policies view and `GET /api/v1/policies`.

use std::collections::BTreeMap;

use meshlens_policies::eval::{RuleStatus, Verdict};
use serde::{Deserialize, Serialize};

use super::checks::Inputs;
use super::shapes::{Shape, ShapeLog};

/// One workload that received traffic, and the policies that apply to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkloadPolicies {
    /// The graph node (`reviews.bookinfo`).
    pub workload: String,
    pub requests: f64,
    /// Requests that went through although the policies deny them.
    pub violations: f64,
    /// Requests the proxies denied (403 RBAC).
    pub denials: f64,
    pub policies: Vec<PolicyUse>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyUse {
    pub policy: String,
    pub action: String,
    pub dry_run: bool,
    /// Requests matched per rule, in rule order (0 = never matched).
    pub rule_hits: Vec<f64>,
}

/// Per destination workload (sorted), over the shapes `keep` selects.
pub fn policy_usage(
    log: &ShapeLog,
    inputs: Inputs<'_>,
    keep: impl Fn(&Shape) -> bool,
) -> Vec<WorkloadPolicies> {
    let mut by_workload: BTreeMap<String, WorkloadPolicies> = BTreeMap::new();
    let interner = inputs.resolver.analyzer.interner();
    for shape in log.shapes().filter(|s| keep(s)) {
        let resolved = inputs.resolver.resolve(shape);
        let explanation = inputs.policies.explain(&resolved.request);
        let name = interner.resolve(shape.target.id);
        let entry = by_workload
            .entry(name.to_owned())
            .or_insert_with(|| WorkloadPolicies {
                workload: name.to_owned(),
                ..WorkloadPolicies::default()
            });
        entry.requests += shape.requests;
        entry.denials += shape.denied;
        if explanation.decision.decision == Verdict::Deny {
            entry.violations += shape.allowed;
        }
        for policy in &explanation.policies {
            let index = match entry
                .policies
                .iter()
                .position(|p| p.policy == policy.policy)
            {
                Some(index) => index,
                None => {
                    entry.policies.push(PolicyUse {
                        policy: policy.policy.clone(),
                        action: policy.action.clone(),
                        dry_run: policy.dry_run,
                        rule_hits: vec![0.0; policy.rules.len()],
                    });
                    entry.policies.len() - 1
                }
            };
            let Some(used) = entry.policies.get_mut(index) else {
                continue;
            };
            for rule in &policy.rules {
                if rule.status == RuleStatus::Matched
                    && let Some(hits) = used.rule_hits.get_mut(rule.rule)
                {
                    *hits += shape.requests;
                }
            }
        }
    }
    by_workload.into_values().collect()
}
