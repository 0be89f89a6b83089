//! One observed request into what a policy can say about it: its destination, its caller's
//! principal and the operation (port, method, normalised path), or why no rule can allow it
//! without allowing more.

use std::collections::BTreeMap;

use crate::eval::{Protocol, Request};
use crate::model::Inventory;

use super::coverage::Reason;
use super::input::{Observed, SuggestOptions};
use super::normalize::normalize;

/// The workload a request went to: its namespace and a name (the workload's, or its labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct DestinationKey {
    pub namespace: String,
    pub name: String,
}

/// What a rule's `to.operation` must allow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Access {
    /// `path` is normalised; `port` `None` when the request did not say (the operation then has
    /// no `ports`).
    Http {
        port: Option<u16>,
        method: String,
        path: String,
    },
    Tcp {
        port: u16,
    },
}

/// An observed request, classified.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    pub destination: DestinationKey,
    /// The request with its destination completed from the inventory: what is evaluated.
    pub request: Request,
    pub count: u64,
    /// The caller's principal as policies write it (no `spiffe://`) and the access, or why the
    /// request cannot be allowed on its own.
    pub outcome: Result<(String, Access), Reason>,
}

pub(super) fn classify(
    observed: &Observed,
    inventory: Option<&Inventory>,
    options: &SuggestOptions,
) -> Shape {
    let mut request = observed.request.clone();
    if let Some(inventory) = inventory {
        request.complete_from(inventory);
    }
    let namespace = request.destination_namespace().to_owned();
    let name = match &request.destination.workload {
        Some(workload) => workload.clone(),
        None => {
            let labels: Vec<String> = request
                .destination
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{{{}}}", labels.join(","))
        }
    };
    let outcome = outcome(&request, &options.trust_domain);
    Shape {
        destination: DestinationKey { namespace, name },
        request,
        count: observed.count,
        outcome,
    }
}

fn outcome(request: &Request, trust_domain: &str) -> Result<(String, Access), Reason> {
    let namespace = request.destination_namespace();
    if !is_dns_label(namespace) {
        return Err(Reason::Unexpressible(format!(
            "the namespace {namespace:?} is not a Kubernetes namespace name"
        )));
    }
    let principal = principal(request, trust_domain)?;
    let access = match request.protocol {
        Protocol::Tcp => Access::Tcp {
            port: request.destination.port.ok_or(Reason::NoPort)?,
        },
        Protocol::Http => http(request)?,
    };
    Ok((principal, access))
}

/// A DNS-1123 label, as `metadata.namespace` must be.
pub(super) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.len() <= 63
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// The principal as a `principals` value matches it exactly: `spiffe://` left out (Istio adds
/// it), and no `*` at either end (which would make it a prefix or suffix pattern).
fn principal(request: &Request, trust_domain: &str) -> Result<String, Reason> {
    let written = request
        .source
        .principal
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or(Reason::UnknownIdentity)?;
    let principal = written.strip_prefix("spiffe://").unwrap_or(written);
    if principal.is_empty() {
        return Err(Reason::UnknownIdentity);
    }
    if principal.starts_with('*') || principal.ends_with('*') {
        return Err(Reason::Unexpressible(format!(
            "the principal {principal:?} starts or ends with `*`, which Istio reads as a wildcard"
        )));
    }
    // Istio reads `cluster.local` in a policy's principals as the mesh's own trust domain.
    if principal.starts_with("cluster.local/")
        && principal.split('/').count() == 5
        && trust_domain != "cluster.local"
    {
        return Err(Reason::Unexpressible(format!(
            "the principal {principal:?} is in trust domain cluster.local, which Istio reads in policies as the mesh's trust domain {trust_domain:?}"
        )));
    }
    Ok(principal.to_owned())
}

fn http(request: &Request) -> Result<Access, Reason> {
    let http = &request.request;
    let header = |name: &str| {
        http.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if let Some(name) = http
        .headers
        .keys()
        .find(|k| k.chars().any(char::is_whitespace))
    {
        return Err(Reason::RejectedByProxy(format!(
            "the header name {name:?} contains white space"
        )));
    }
    let method = http
        .method
        .as_deref()
        .or_else(|| header(":method"))
        .filter(|m| !m.is_empty())
        .ok_or(Reason::NoMethod)?;
    if method.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(Reason::RejectedByProxy(format!(
            "the method {method:?} is not upper case"
        )));
    }
    if method.starts_with('*') || method.ends_with('*') {
        return Err(Reason::Unexpressible(format!(
            "the method {method:?} starts or ends with `*`, which Istio reads as a wildcard"
        )));
    }
    let raw = http
        .path
        .as_deref()
        .or_else(|| header(":path"))
        .ok_or(Reason::NoPath)?;
    let path = normalize(raw).map_err(|why| Reason::RejectedByProxy(why.to_owned()))?;
    if path.ends_with('*') {
        return Err(Reason::Unexpressible(format!(
            "the path {path:?} ends with `*`, which Istio reads as a prefix"
        )));
    }
    Ok(Access::Http {
        port: request.destination.port,
        method: method.to_owned(),
        path,
    })
}

/// Labels that change with every rollout or pod, so a selector must not name them.
const VOLATILE_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
];

/// The selector for a destination: the labels every observed request to it carried, without
/// volatile labels and without what `matchLabels` cannot hold; and what was left out, for notes.
pub(super) fn selector<'a>(
    label_sets: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut sets = label_sets.into_iter();
    let mut common = sets.next().cloned().unwrap_or_default();
    for labels in sets {
        common.retain(|k, v| labels.get(k) == Some(v));
    }
    let mut left_out = Vec::new();
    common.retain(|k, v| {
        let why = if VOLATILE_LABELS.contains(&k.as_str()) {
            Some("it changes with every rollout")
        } else if k.is_empty() || k.contains('*') || v.contains('*') || v.chars().count() > 63 {
            Some("matchLabels cannot hold it")
        } else {
            None
        };
        if let Some(why) = why {
            left_out.push(format!("label {k:?} left out of the selector: {why}"));
        }
        why.is_none()
    });
    (common, left_out)
}
