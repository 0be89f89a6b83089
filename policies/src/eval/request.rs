//! The request being checked, as `meshlens authz check --request` reads it and as trace-based
//! checks build it. Every field is optional: what is missing is absent in the evaluation (and
//! conditions on an absent attribute never match). Unknown fields are errors, so a typo in a
//! user's request is reported instead of silently checking a different request.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::Inventory;

/// One request to a workload.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub destination: Destination,
    /// `http` (default; `grpc` is HTTP too) or `tcp`.
    #[serde(default)]
    pub protocol: Protocol,
    /// The HTTP request; ignored for `tcp`, where Envoy's network RBAC filter sees no HTTP.
    #[serde(default)]
    pub request: HttpRequest,
    /// TLS server name the client asked for (`connection.sni`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

/// The peer: its mTLS identity and addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// mTLS principal, `<trust domain>/ns/<namespace>/sa/<service account>`, with or without
    /// `spiffe://`. Absent means plain text: no identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The peer's namespace as the caller knows it. Informational: Istio takes namespaces from
    /// the certificate only, so `namespaces` conditions read `principal`, never this field
    /// (see [`Request::validate`] for the consistency check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The downstream connection's address (`ipBlocks`, `source.ip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The original client address from X-Forwarded-For or PROXY protocol (`remoteIpBlocks`,
    /// `remote.ip`); Envoy uses the connection's address when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<IpAddr>,
}

/// The workload receiving the request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Kubernetes namespace; `default` when absent, as for a manifest without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Workload name, for messages (and for the CLI to find labels in the inventory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Pod labels: what `selector.matchLabels` is matched against. A Kubernetes Gateway API
    /// gateway or waypoint is recognised, as Istio does, by its
    /// `gateway.networking.k8s.io/gateway-name` label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    #[serde(alias = "HTTP", alias = "grpc", alias = "GRPC")]
    Http,
    #[serde(alias = "TCP")]
    Tcp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Tcp => "tcp",
        }
    }
}

/// The HTTP part, as the sidecar sees it before normalisation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path as sent, query included; normalised the way Istio's default (`BASE`) does before
    /// matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The Host / `:authority` header, port included when the client sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Header name to value; names are case-insensitive. Repeated headers are one value joined
    /// with commas, as Envoy merges them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The validated JWT, when `RequestAuthentication` accepted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
}

/// What Istio knows from a validated JWT.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// `iss/sub`; when absent, the `iss` and `sub` claims are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The `aud` claim; when empty, the `aud` claim in `claims` is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// The `azp` claim; when empty, the `azp` claim in `claims` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presenter: Option<String>,
    /// The JWT payload: nested objects, strings, lists of strings.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// A request that cannot describe real traffic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(
        "source.namespace is {namespace:?} but source.principal {principal:?} belongs to namespace {principal_namespace:?}"
    )]
    NamespaceMismatch {
        namespace: String,
        principal: String,
        principal_namespace: String,
    },
}

impl Request {
    /// Checks what deserialisation cannot: the fields that describe the same fact twice agree.
    pub fn validate(&self) -> Result<(), RequestError> {
        if let (Some(namespace), Some(principal)) = (&self.source.namespace, &self.source.principal)
            && let Some(principal_namespace) = principal_namespace(principal)
            && principal_namespace != namespace
        {
            return Err(RequestError::NamespaceMismatch {
                namespace: namespace.clone(),
                principal: principal.clone(),
                principal_namespace: principal_namespace.to_owned(),
            });
        }
        Ok(())
    }

    /// Fills what the request leaves out about its destination from the inventory: the labels
    /// (and, when the request names none, the namespace) of the workload named by
    /// `destination.workload`. What the request says wins; a name the inventory does not know,
    /// or knows in several namespaces when none is given, changes nothing.
    pub fn complete_from(&mut self, inventory: &Inventory) {
        let Some(name) = self.destination.workload.as_deref() else {
            return;
        };
        let namespace = self.destination.namespace.as_deref();
        let mut found = inventory
            .workloads
            .iter()
            .filter(|w| w.name == name && namespace.is_none_or(|ns| w.namespace == ns));
        let (Some(workload), None) = (found.next(), found.next()) else {
            return;
        };
        if self.destination.namespace.is_none() {
            self.destination.namespace = Some(workload.namespace.clone());
        }
        if self.destination.labels.is_empty() {
            self.destination.labels = workload.labels.clone();
        }
    }

    /// `destination.namespace`, `default` when absent.
    pub fn destination_namespace(&self) -> &str {
        self.destination.namespace.as_deref().unwrap_or("default")
    }

    /// How messages name the destination: `namespace/workload`, or the namespace and labels.
    pub fn destination_name(&self) -> String {
        let namespace = self.destination_namespace();
        match &self.destination.workload {
            Some(workload) => format!("{namespace}/{workload}"),
            None if self.destination.labels.is_empty() => format!("namespace {namespace}"),
            None => {
                let labels: Vec<String> = self
                    .destination
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!("{namespace}/{{{}}}", labels.join(","))
            }
        }
    }
}

/// The `<ns>` of a `<td>/ns/<ns>/sa/<sa>` principal, for messages and consistency checks.
pub(crate) fn principal_namespace(principal: &str) -> Option<&str> {
    let rest = principal.split_once("/ns/")?.1;
    Some(rest.split_once('/').map_or(rest, |(ns, _)| ns))
}
