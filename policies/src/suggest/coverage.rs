//! What the suggested policies cover of the observed traffic, per destination: requests and
//! callers allowed, and the requests no rule allows, with why and whether the suggestion, once
//! applied, denies them.

use std::fmt;

use serde::Serialize;

/// Why an observed request is not allowed by a suggested rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No mTLS principal: `principals` cannot name the caller, and a rule without `from` would
    /// let everyone in.
    UnknownIdentity,
    /// Neither the request nor the inventory gave the destination's labels, so no selector can
    /// aim a policy at it alone.
    NoDestinationLabels,
    /// A TCP request without a destination port: a rule could only allow the caller everything.
    NoPort,
    /// An HTTP request without a method.
    NoMethod,
    /// An HTTP request without a path.
    NoPath,
    /// Envoy answers 400 before any authorization filter, whatever the policies say.
    RejectedByProxy(String),
    /// A value no policy field can match exactly (a `*` at the end of a path, a principal the
    /// mesh's trust domain rewrites, …).
    Unexpressible(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIdentity => f.write_str("unknown caller identity (no mTLS principal)"),
            Self::NoDestinationLabels => f.write_str("no labels known for the destination"),
            Self::NoPort => f.write_str("TCP request without a destination port"),
            Self::NoMethod => f.write_str("HTTP request without a method"),
            Self::NoPath => f.write_str("HTTP request without a path"),
            Self::RejectedByProxy(why) => {
                write!(f, "refused by the proxy before authorization: {why}")
            }
            Self::Unexpressible(why) => write!(f, "cannot be allowed exactly: {why}"),
        }
    }
}

/// Coverage of every destination seen, sorted by namespace and name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub destinations: Vec<DestinationCoverage>,
    /// Notes about the suggestion as a whole (allow-nothing policies added or left out).
    pub notes: Vec<String>,
}

/// One destination workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationCoverage {
    pub namespace: String,
    /// The workload's name, or `{label=value,…}` when the requests named none.
    pub destination: String,
    /// `namespace/name` of the policy suggested for it; `None` when no request could be allowed.
    pub policy: Option<String>,
    /// Observed requests the suggested rules allow.
    pub covered: u64,
    /// The principals allowed, sorted.
    pub callers: Vec<String>,
    /// Requests not allowed by any suggested rule, by reason.
    pub not_covered: Vec<NotCovered>,
    /// Selector labels left out, other workloads the selector also picks, paths generalised.
    pub notes: Vec<String>,
}

/// Requests to one destination not allowed for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCovered {
    pub reason: Reason,
    pub requests: u64,
    /// How many of them the suggested policies deny once applied (all of them when a policy
    /// was suggested for the destination or its namespace gets an allow-nothing policy).
    pub denied: u64,
}

impl Coverage {
    /// Observed requests allowed by the suggested rules.
    pub fn covered(&self) -> u64 {
        self.destinations.iter().map(|d| d.covered).sum()
    }

    /// Observed requests no suggested rule allows.
    pub fn not_covered(&self) -> u64 {
        self.destinations
            .iter()
            .flat_map(|d| &d.not_covered)
            .map(|n| n.requests)
            .sum()
    }

    /// Observed requests the suggested policies would deny once applied.
    pub fn denied(&self) -> u64 {
        self.destinations
            .iter()
            .flat_map(|d| &d.not_covered)
            .map(|n| n.denied)
            .sum()
    }
}

impl DestinationCoverage {
    pub fn not_covered(&self) -> u64 {
        self.not_covered.iter().map(|n| n.requests).sum()
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Readable text; names from traffic are escaped, so a hostile one cannot forge lines.
impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.destinations {
            let policy = match &d.policy {
                Some(policy) => format!("policy {policy}"),
                None => "no policy".to_owned(),
            };
            writeln!(
                f,
                "{}/{}: {policy}",
                d.namespace.escape_debug(),
                d.destination.escape_debug()
            )?;
            let callers: Vec<String> = d.callers.iter().map(|c| format!("{c:?}")).collect();
            writeln!(
                f,
                "  covered: {} from {}{}{}",
                plural(d.covered, "request", "requests"),
                plural(callers.len() as u64, "caller", "callers"),
                if callers.is_empty() { "" } else { ": " },
                callers.join(", ")
            )?;
            for n in &d.not_covered {
                writeln!(
                    f,
                    "  not covered: {}, {} ({} once applied)",
                    plural(n.requests, "request", "requests"),
                    n.reason.to_string().escape_debug(),
                    if n.denied == n.requests {
                        "denied".to_owned()
                    } else {
                        format!("{} denied", n.denied)
                    }
                )?;
            }
            for note in &d.notes {
                writeln!(f, "  note: {}", note.escape_debug())?;
            }
        }
        for note in &self.notes {
            writeln!(f, "note: {}", note.escape_debug())?;
        }
        writeln!(
            f,
            "total: {} covered, {} not covered ({} denied once applied)",
            plural(self.covered(), "request", "requests"),
            self.not_covered(),
            self.denied()
        )
    }
}
