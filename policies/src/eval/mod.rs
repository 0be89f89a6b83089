//! Evaluating a request against policies with Istio's exact semantics, and explaining the decision.
//!
//! [`PolicySet::new`] compiles every policy once (patterns, CIDRs, templates, `when` keys) and
//! indexes them by namespace and selector; [`PolicySet::evaluate`] then answers one [`Request`]
//! with a [`Decision`], and [`PolicySet::explain`] adds, for `--format text`, every applicable
//! policy and rule with what matched or failed.
//!
//! Semantics (istio.io AuthorizationPolicy reference, istio/istio `pilot/pkg/security/authz`):
//! - scope: root-namespace policies apply mesh-wide, others in their namespace; a selector must
//!   be a subset of the workload's labels; `targetRef` policies attach to Gateway API gateways and
//!   waypoints only, which a request names through their pod labels
//!   (`gateway.networking.k8s.io/gateway-name`, as Istio reads them); sidecars ignore them;
//! - order: CUSTOM is reported (its provider decides outside meshlens) → a matching DENY denies →
//!   no ALLOW policy allows → a matching ALLOW allows → deny. AUDIT never decides; dry-run
//!   policies are reported in `dry_run`, never enforced;
//! - a policy without rules never matches (an ALLOW one still "applies", so `spec: {}` denies
//!   everything); `rules: [{}]` always matches;
//! - on TCP, an ALLOW rule using HTTP-only fields never matches, while DENY/AUDIT/CUSTOM rules
//!   ignore their HTTP-only conditions, as Istio's builder does.

mod compile;
mod condition;
mod decision;
mod engine;
mod explain;
mod facts;
mod index;
mod matcher;
pub(crate) mod path;
mod request;

use std::collections::BTreeMap;

use crate::model::AuthorizationPolicy;

pub use decision::{Decision, DryRun, PolicyMatch, Verdict};
pub use explain::{Explanation, PolicyExplanation, RuleExplanation, RuleStatus};
pub use request::{Auth, Destination, HttpRequest, Protocol, Request, RequestError, Source};

use compile::CompiledPolicy;
use engine::Engine;
use index::Index;

/// Mesh settings the policies are read with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Policies here apply to every namespace (`meshConfig.rootNamespace`).
    pub root_namespace: String,
    /// The mesh's trust domain: principals written with `cluster.local` mean this one.
    pub trust_domain: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            root_namespace: "istio-system".to_owned(),
            trust_domain: "cluster.local".to_owned(),
        }
    }
}

/// Policies ready to answer requests.
#[derive(Debug)]
pub struct PolicySet {
    options: Options,
    /// Sorted by namespace, then name (then input order): the order Envoy's RBAC filter, whose
    /// policies are a map keyed by `ns[..]-policy[..]-rule[..]`, reports the first match in.
    policies: Vec<AuthorizationPolicy>,
    compiled: Vec<CompiledPolicy>,
    index: Index,
}

impl PolicySet {
    pub fn new(policies: Vec<AuthorizationPolicy>, options: Options) -> Self {
        let mut policies = policies;
        // Stable: documents with the same namespace and name keep their input order.
        policies.sort_by_cached_key(|p| {
            let namespace = p.namespace.clone().unwrap_or_else(|| "default".to_owned());
            (namespace, p.name.clone())
        });
        let compiled: Vec<CompiledPolicy> = policies
            .iter()
            .map(|p| compile::compile(p, &options.trust_domain))
            .collect();
        let namespaces: Vec<String> = compiled.iter().map(|c| c.namespace.clone()).collect();
        let index = Index::new(&policies, &namespaces, &options.root_namespace);
        Self {
            options,
            policies,
            compiled,
            index,
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Every policy, in evaluation order.
    pub fn policies(&self) -> &[AuthorizationPolicy] {
        &self.policies
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The policies that apply to a workload (every action, dry-run included), in evaluation
    /// order. A Gateway API gateway or waypoint is recognised by its labels, as in [`Request`].
    pub fn policies_for<'a>(
        &'a self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a AuthorizationPolicy> + 'a {
        let mut applicable = Vec::new();
        self.index
            .applicable(&self.policies, namespace, labels, &mut applicable);
        applicable.into_iter().map(move |i| &self.policies[i])
    }

    /// The decision for one request.
    pub fn evaluate(&self, request: &Request) -> Decision {
        self.run(request, false).0
    }

    /// The decision with every applicable policy and rule explained.
    pub fn explain(&self, request: &Request) -> Explanation {
        let (decision, policies) = self.run(request, true);
        Explanation {
            decision,
            destination: request.destination_name(),
            protocol: request.protocol,
            policies,
        }
    }

    fn run(&self, request: &Request, explain: bool) -> (Decision, Vec<PolicyExplanation>) {
        let mut applicable = Vec::new();
        self.index.applicable(
            &self.policies,
            request.destination_namespace(),
            &request.destination.labels,
            &mut applicable,
        );
        let engine = Engine {
            policies: &self.policies,
            compiled: &self.compiled,
        };
        engine.run(request, &applicable, explain)
    }
}
