//! The long answer: every policy that applies to the destination, every rule, and for each rule
//! what matched or which condition failed. `meshlens authz check --format text` prints it
//! ([`Explanation`]'s `Display`); it also serialises to JSON.

use std::fmt;

use serde::Serialize;

use super::decision::Decision;
use super::request::Protocol;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub decision: Decision,
    /// `namespace/workload` (or namespace and labels).
    pub destination: String,
    pub protocol: Protocol,
    /// In evaluation order: the policies that apply to the destination.
    pub policies: Vec<PolicyExplanation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyExplanation {
    pub policy: String,
    /// ALLOW, DENY, AUDIT or CUSTOM.
    pub action: String,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `file:line:column` of the document.
    pub location: String,
    pub matched_rule: Option<usize>,
    pub summary: String,
    pub rules: Vec<RuleExplanation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleExplanation {
    pub rule: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub status: RuleStatus,
    /// What matched, or which conditions failed, one line each.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    Matched,
    Failed,
    /// Can never match (unknown `when` key, a value Istio refuses in an ALLOW rule).
    Invalid,
    /// An ALLOW rule with HTTP-only fields, on TCP traffic.
    DroppedOnTcp,
    /// The request never reached the authorization filters.
    NotEvaluated,
}

impl RuleStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::Failed => "did not match",
            Self::Invalid => "invalid, never matches",
            Self::DroppedOnTcp => "dropped on TCP",
            Self::NotEvaluated => "not evaluated",
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.decision;
        writeln!(
            f,
            "{} {} request to {}: {}",
            d.decision,
            self.protocol.as_str(),
            self.destination,
            d.reason
        )?;
        if self.policies.is_empty() {
            writeln!(f, "  no policy applies to {}", self.destination)?;
        }
        for p in &self.policies {
            let mode = if p.dry_run { " (dry run)" } else { "" };
            let provider = p
                .provider
                .as_deref()
                .map(|n| format!(" provider {n}"))
                .unwrap_or_default();
            writeln!(
                f,
                "  {} {}{provider}{mode} at {}: {}",
                p.action, p.policy, p.location, p.summary
            )?;
            for r in &p.rules {
                let at = r
                    .location
                    .as_deref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default();
                writeln!(f, "    rule {}{at}: {}", r.rule, r.status.as_str())?;
                for line in &r.details {
                    writeln!(f, "      {line}")?;
                }
            }
        }
        for run in &d.dry_run {
            let rule = run
                .rule
                .map(|r| format!(" (rule {r} matched)"))
                .unwrap_or_default();
            writeln!(
                f,
                "  dry run: enforcing {} {}{rule} would make this request {}",
                run.action, run.policy, run.decision
            )?;
        }
        for m in &d.custom {
            let provider = m.provider.as_deref().unwrap_or("?");
            writeln!(
                f,
                "  custom: {} rule {} sends this request to provider {provider} first",
                m.policy, m.rule
            )?;
        }
        for m in &d.audit {
            writeln!(f, "  audit: {} rule {} logs this request", m.policy, m.rule)?;
        }
        Ok(())
    }
}
