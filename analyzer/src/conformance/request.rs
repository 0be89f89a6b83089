//! A shape as the authorization engine's request: the caller's identity resolved in the order
//! DESIGN.md gives (a span attribute, then the caller's workload joined with the inventory,
//! else unknown — never guessed), the destination workload's labels from the inventory.

use std::collections::BTreeMap;

use meshlens_collector::span::{PrincipalSource, Protocol};
use meshlens_policies::eval::{
    Destination, HttpRequest, Protocol as PolicyProtocol, Request, Source,
};
use meshlens_policies::model::{Inventory, Workload};

use super::shapes::Shape;
use crate::engine::Analyzer;
use crate::graph::NodeRef;

/// Where the caller's identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// A span attribute: Envoy's `%DOWNSTREAM_PEER_URI_SAN%` or an XFCC header tag.
    Span(PrincipalSource),
    /// The caller's workload found in the inventory: its service account.
    Inventory,
    /// Neither: policies that need the caller's identity cannot be checked for this request.
    Unknown,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Span(PrincipalSource::PeerUriSan) => "span:peer-uri-san",
            Self::Span(PrincipalSource::Xfcc) => "span:xfcc",
            Self::Inventory => "inventory",
            Self::Unknown => "unknown",
        }
    }
}

/// The engine's request for a shape, and how its parts were learned.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub request: Request,
    pub identity: Identity,
    /// The destination workload was found in the inventory (labels are real, not inferred).
    pub destination_known: bool,
}

/// How names resolve: the analyzer's interner and path table, the inventory, the trust domain.
#[derive(Debug, Clone, Copy)]
pub struct Resolver<'a> {
    pub analyzer: &'a Analyzer,
    pub inventory: Option<&'a Inventory>,
    pub trust_domain: &'a str,
}

impl Resolver<'_> {
    fn name(&self, sym: meshlens_collector::Sym) -> &str {
        self.analyzer.interner().resolve(sym)
    }

    /// The inventory workload a graph node stands for: in its namespace, named like its
    /// service or labelled with it (`app`, `app.kubernetes.io/name`,
    /// `service.istio.io/canonical-name`); a matching `version` label wins when the node has a
    /// version. `None` when there is no inventory, no namespace or no such workload.
    pub fn workload(&self, node: &NodeRef) -> Option<&Workload> {
        let inventory = self.inventory?;
        let namespace = self.name(node.namespace?);
        let service = self.name(node.service);
        let version = node.version.map(|v| self.name(v));
        let names_it = |w: &&Workload| {
            w.namespace == namespace
                && (w.name == service
                    || [
                        "app",
                        "app.kubernetes.io/name",
                        "service.istio.io/canonical-name",
                    ]
                    .iter()
                    .any(|label| w.labels.get(*label).is_some_and(|v| v == service)))
        };
        let candidates: Vec<&Workload> = inventory.workloads.iter().filter(names_it).collect();
        let versioned = version.and_then(|version| {
            candidates.iter().copied().find(|w| {
                [
                    "version",
                    "app.kubernetes.io/version",
                    "service.istio.io/canonical-revision",
                ]
                .iter()
                .any(|label| w.labels.get(*label).is_some_and(|v| v == version))
            })
        });
        versioned.or_else(|| candidates.first().copied())
    }

    pub fn resolve(&self, shape: &Shape) -> Resolved {
        let key = &shape.key;
        let (principal, identity) = match (key.principal, shape.principal_source) {
            (Some(principal), Some(source)) => {
                let principal = self.name(principal);
                let principal = principal.strip_prefix("spiffe://").unwrap_or(principal);
                (Some(principal.to_owned()), Identity::Span(source))
            }
            _ => match (self.workload(&shape.source), self.inventory) {
                (Some(workload), Some(inventory)) => (
                    Some(inventory.principal_of(workload, self.trust_domain)),
                    Identity::Inventory,
                ),
                _ => (None, Identity::Unknown),
            },
        };
        let target = self.workload(&shape.target);
        let labels = match target {
            Some(workload) => workload.labels.clone(),
            // Istio's canonical service is the `app` label by convention: the best stand-in
            // for a selector when the inventory does not know the workload.
            None => {
                let mut labels = BTreeMap::new();
                labels.insert("app".to_owned(), self.name(shape.target.service).to_owned());
                if let Some(version) = shape.target.version {
                    labels.insert("version".to_owned(), self.name(version).to_owned());
                }
                labels
            }
        };
        let request = Request {
            source: Source {
                principal,
                namespace: shape.source.namespace.map(|n| self.name(n).to_owned()),
                ip: key.source_ip,
                remote_ip: None,
            },
            destination: Destination {
                namespace: shape.target.namespace.map(|n| self.name(n).to_owned()),
                workload: Some(match target {
                    Some(workload) => workload.name.clone(),
                    None => self.name(shape.target.service).to_owned(),
                }),
                labels,
                ip: None,
                port: key.port,
            },
            protocol: match key.protocol {
                Protocol::Tcp => PolicyProtocol::Tcp,
                _ => PolicyProtocol::Http,
            },
            request: HttpRequest {
                method: key.method.map(|m| self.name(m).to_owned()),
                path: key.path.map(|p| self.analyzer.path_example(p).to_owned()),
                host: key.host.map(|h| self.name(h).to_owned()),
                ..HttpRequest::default()
            },
            sni: None,
        };
        Resolved {
            request,
            identity,
            destination_known: target.is_some(),
        }
    }
}
