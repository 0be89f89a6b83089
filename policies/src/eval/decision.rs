//! The answer to one request: the JSON `meshlens authz check` prints, one object per request.
//! Field names are a contract with the CLI's users: `decision`, `policy`, `action`, `rule`,
//! `dry_run`, `reason` never change; `custom` and `audit` were added alongside.

use std::fmt;

use serde::Serialize;

/// ALLOW or DENY, as Istio spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Deny => "DENY",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub decision: Verdict,
    /// `namespace/name` of the deciding policy; `null` when no policy decided (no ALLOW policy
    /// applies, none matched, or the proxy refused the request before authorization).
    pub policy: Option<String>,
    /// The deciding policy's action.
    pub action: Option<Verdict>,
    /// Index of the deciding rule in the deciding policy's `rules`.
    pub rule: Option<usize>,
    /// Each dry-run ALLOW/DENY policy on the workload and the decision the request would get
    /// if that policy were enforced as well.
    pub dry_run: Vec<DryRun>,
    /// One readable sentence.
    pub reason: String,
    /// CUSTOM policies whose rules match: the request goes to their provider first, and the
    /// decision above holds only if the provider allows it.
    pub custom: Vec<PolicyMatch>,
    /// AUDIT policies whose rules match: the request is logged, never decided.
    pub audit: Vec<PolicyMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRun {
    pub policy: String,
    /// The request's decision if this policy were enforced.
    pub decision: Verdict,
    /// The policy's own action.
    pub action: Verdict,
    /// The policy's matching rule, if any.
    pub rule: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyMatch {
    pub policy: String,
    pub rule: usize,
    /// CUSTOM only: the `provider.name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.decision == Verdict::Allow
    }
}
