//! What a suggestion is made from: observed request shapes with how often each was seen, and
//! the options that shape the policies.

use crate::eval::Request;

/// One request shape seen in traffic, and how many times.
///
/// Only these fields of [`Request`] are read: `source.principal` (absent or empty = unknown
/// identity), `destination.namespace`/`workload`/`labels`/`port`, `protocol`, and for HTTP
/// `request.method` and `request.path` (or the `:method`/`:path` pseudo-headers), plus what makes
/// Envoy refuse a request before authorization. The whole request is what the suggestion is
/// checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub request: Request,
    pub count: u64,
}

impl Observed {
    pub fn new(request: Request, count: u64) -> Self {
        Self { request, count }
    }
}

/// How policies are suggested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestOptions {
    /// The mesh's trust domain, as the suggested policies will be read with it (Istio rewrites
    /// `cluster.local/...` principals to it).
    pub trust_domain: String,
    /// `meshConfig.rootNamespace`: policies there apply to every namespace, so no allow-nothing
    /// policy is suggested for it.
    pub root_namespace: String,
    /// Also suggest an allow-nothing policy (`spec: {}`) per destination namespace, so that
    /// workloads without observed traffic deny everything too.
    pub allow_nothing: bool,
    pub paths: PathOptions,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self {
            trust_domain: "cluster.local".to_owned(),
            root_namespace: "istio-system".to_owned(),
            allow_nothing: false,
            paths: PathOptions::default(),
        }
    }
}

/// How observed paths become `paths` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathOptions {
    /// Replace identifier-like segments (numbers, UUIDs, long hex strings, `{name}` route
    /// templates) with Istio's one-segment template `{*}`: `/reviews/0` → `/reviews/{*}`.
    pub templates: bool,
    /// At most this many `paths` per operation; above it the paths' longest common segment
    /// prefix is used instead (`/api/v1/*`, `/*` at worst). `usize::MAX` keeps every path.
    pub max_per_rule: usize,
}

impl Default for PathOptions {
    fn default() -> Self {
        Self {
            templates: true,
            max_per_rule: 16,
        }
    }
}
