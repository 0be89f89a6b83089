//! The validated policy model: what a parsed `AuthorizationPolicy` means, with where in which
//! file each part was written. Values here have passed the API server's validation, so the
//! evaluator never meets a policy Istio would have refused.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Located<T> {
    pub value: T,
    pub location: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Allow,
    Deny,
    Audit,
    Custom,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Deny => "DENY",
            Self::Audit => "AUDIT",
            Self::Custom => "CUSTOM",
        }
    }
}

/// `targetRef` / `targetRefs`: gateways and waypoints only; sidecars ignore them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetRef {
    pub group: String,
    pub kind: String,
    pub name: String,
    /// Defaults to the policy's namespace.
    pub namespace: Option<String>,
}

/// One `AuthorizationPolicy` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationPolicy {
    pub name: String,
    /// `metadata.namespace`; `None` when the document gave none (the namespace it is applied
    /// to then decides; tools default it to `default`).
    pub namespace: Option<String>,
    /// `spec.selector.matchLabels`; `None` means every workload in scope.
    pub selector: Option<BTreeMap<String, String>>,
    pub target_refs: Vec<TargetRef>,
    pub action: Action,
    /// `spec.provider.name`, for CUSTOM.
    pub provider: Option<String>,
    /// `None` when `rules` is absent (never matches), `Some(vec![])` when it is an empty
    /// list (also never matches), `Some([Rule::default()])` for `rules: [{}]` (always matches).
    pub rules: Option<Vec<Rule>>,
    /// `metadata.annotations["istio.io/dry-run"] == "true"`: evaluated and reported, never
    /// enforced.
    pub dry_run: bool,
    /// Where the document starts.
    pub location: Location,
    /// Where `spec` starts, or the document's location when there is none.
    pub spec_location: Location,
}

impl AuthorizationPolicy {
    /// `namespace/name`, as meshlens names policies in its output.
    pub fn id(&self) -> String {
        format!(
            "{}/{}",
            self.namespace.as_deref().unwrap_or("default"),
            self.name
        )
    }
}

/// One rule: (any `from`) AND (any `to`) AND (all `when`); an empty list does not constrain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    pub from: Vec<Source>,
    pub to: Vec<Operation>,
    pub when: Vec<Condition>,
    pub location: Option<Location>,
}

/// `from[].source`: every set field must hold; inside a field any value may match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    pub principals: Vec<String>,
    pub not_principals: Vec<String>,
    pub request_principals: Vec<String>,
    pub not_request_principals: Vec<String>,
    pub namespaces: Vec<String>,
    pub not_namespaces: Vec<String>,
    /// `namespace/name` service accounts (Istio 1.24+).
    pub service_accounts: Vec<String>,
    pub not_service_accounts: Vec<String>,
    /// IPs or CIDRs, validated.
    pub ip_blocks: Vec<String>,
    pub not_ip_blocks: Vec<String>,
    pub remote_ip_blocks: Vec<String>,
    pub not_remote_ip_blocks: Vec<String>,
    /// Trust domains of the peer certificate (`trustDomains`, newer Istio): the part of the
    /// principal before `/ns/`, with the same exact/prefix/suffix/presence matching.
    pub trust_domains: Vec<String>,
    pub not_trust_domains: Vec<String>,
    pub location: Option<Location>,
}

/// `to[].operation`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operation {
    pub hosts: Vec<String>,
    pub not_hosts: Vec<String>,
    /// Port numbers as written (validated as numbers 1..=65535).
    pub ports: Vec<String>,
    pub not_ports: Vec<String>,
    pub methods: Vec<String>,
    pub not_methods: Vec<String>,
    pub paths: Vec<String>,
    pub not_paths: Vec<String>,
    pub location: Option<Location>,
}

/// `when[]`: the key's value must match one of `values` and none of `not_values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub key: String,
    pub values: Vec<String>,
    pub not_values: Vec<String>,
    pub location: Option<Location>,
}

/// A Kubernetes workload as the inventory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Workload {
    /// Deployment/StatefulSet/DaemonSet/Pod name.
    pub name: String,
    pub kind: String,
    pub namespace: String,
    /// The pod template's labels.
    pub labels: BTreeMap<String, String>,
    /// `serviceAccountName`, `default` when unset.
    pub service_account: String,
    /// Container ports.
    pub ports: Vec<u16>,
    pub location: Option<Location>,
}

/// A Kubernetes Service as the inventory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    pub selector: BTreeMap<String, String>,
    /// (port, targetPort when numeric).
    pub ports: Vec<(u16, Option<u16>)>,
    pub location: Option<Location>,
}

/// What `--inventory` manifests say about the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    pub workloads: Vec<Workload>,
    pub services: Vec<Service>,
    /// `namespace/name` of every ServiceAccount declared.
    pub service_accounts: Vec<String>,
    /// Namespaces declared or used by any manifest.
    pub namespaces: Vec<String>,
}
