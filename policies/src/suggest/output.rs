//! The suggestion: the policies, their coverage of the observed traffic, and the YAML to apply.

use std::collections::BTreeMap;

use serde::Serialize;

use super::coverage::Coverage;
use super::yaml;

/// Suggested policies and what they cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// Sorted by namespace, the namespace's allow-nothing policy first, then by name.
    pub policies: Vec<SuggestedPolicy>,
    pub coverage: Coverage,
}

/// One ALLOW `AuthorizationPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuggestedPolicy {
    pub name: String,
    pub namespace: String,
    /// `selector.matchLabels`; `None` for the namespace's allow-nothing policy (`spec: {}`).
    pub selector: Option<BTreeMap<String, String>>,
    /// Empty only for the allow-nothing policy.
    pub rules: Vec<SuggestedRule>,
}

/// `from: [{source: {principals}}]` and `to: [{operation}, …]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SuggestedRule {
    /// Callers with exactly the same operations, sorted.
    pub principals: Vec<String>,
    /// Any of them; each one allows every combination of its ports, methods and paths, all of
    /// which were observed (up to path generalisation).
    pub operations: Vec<SuggestedOperation>,
}

/// One `to[].operation`; an empty list is left out (does not constrain).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SuggestedOperation {
    pub ports: Vec<u16>,
    pub methods: Vec<String>,
    pub paths: Vec<String>,
}

impl SuggestedPolicy {
    /// The namespace-wide `spec: {}` policy.
    pub fn is_allow_nothing(&self) -> bool {
        self.selector.is_none() && self.rules.is_empty()
    }

    /// `namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl Suggestion {
    /// The policies as Kubernetes YAML (documents separated by `---`), with a header saying
    /// where they come from and a comment per policy on what it covers.
    pub fn to_yaml(&self) -> String {
        yaml::render(&self.policies, |policy| self.comment(policy))
    }

    fn comment(&self, policy: &SuggestedPolicy) -> Option<String> {
        if policy.is_allow_nothing() {
            return Some(
                "Denies every request to workloads of this namespace that no other ALLOW policy allows."
                    .to_owned(),
            );
        }
        let id = policy.id();
        let d = self
            .coverage
            .destinations
            .iter()
            .find(|d| d.policy.as_deref() == Some(id.as_str()))?;
        let callers = d.callers.len();
        let mut text = format!(
            "Allows {} observed request{} from {} caller{}.",
            d.covered,
            if d.covered == 1 { "" } else { "s" },
            callers,
            if callers == 1 { "" } else { "s" },
        );
        let not_covered = d.not_covered();
        if not_covered > 0 {
            text.push_str(&format!(
                "\n{not_covered} other observed request{} to this workload {} not allowed: see the coverage report.",
                if not_covered == 1 { "" } else { "s" },
                if not_covered == 1 { "is" } else { "are" },
            ));
        }
        Some(text)
    }
}
