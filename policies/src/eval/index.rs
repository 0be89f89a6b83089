//! Which policies apply to a workload, without scanning them all: per namespace, the policies
//! without selector, a map from one of each selector's labels to its policies (the full
//! selector is confirmed on lookup), and the few `targetRef` policies.
//!
//! Attachment follows Istio's `WorkloadPolicyMatcher.ShouldAttachPolicy`: policies in the root
//! namespace apply mesh-wide and others in their namespace; sidecars use selectors and ignore
//! `targetRef` policies; a Kubernetes Gateway API gateway (pods labelled
//! `gateway.networking.k8s.io/gateway-name`) takes policies targeting its Gateway and, unless it
//! is a waypoint, selector policies too; a waypoint also takes root-namespace policies targeting
//! the `istio-waypoint` GatewayClass. Policies targeting Services or classic
//! `networking.istio.io` Gateways need facts a request does not carry and never attach here.

use std::collections::{BTreeMap, HashMap};

use crate::model::{AuthorizationPolicy, TargetRef};

const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
const GATEWAY_CLASS_LABEL: &str = "gateway.networking.k8s.io/gateway-class-name";
const MANAGED_LABEL: &str = "gateway.istio.io/managed";
const GATEWAY_API_GROUP: &str = "gateway.networking.k8s.io";
const WAYPOINT_CLASS: &str = "istio-waypoint";

#[derive(Debug, Default)]
struct NamespaceIndex {
    unselected: Vec<usize>,
    /// label key → label value → policies whose selector holds that pair (each policy is filed
    /// under one pair only, so lookups never see it twice).
    by_label: HashMap<String, HashMap<String, Vec<usize>>>,
    targeted: Vec<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    root_namespace: String,
    namespaces: HashMap<String, NamespaceIndex>,
}

/// What kind of proxy serves the destination, read from its labels as Istio does.
struct Proxy<'a> {
    gateway: Option<&'a str>,
    waypoint: bool,
}

impl<'a> Proxy<'a> {
    fn from_labels(labels: &'a BTreeMap<String, String>) -> Self {
        let gateway = labels.get(GATEWAY_NAME_LABEL).map(String::as_str);
        let waypoint = gateway.is_some()
            && (labels.get(GATEWAY_CLASS_LABEL).map(String::as_str) == Some(WAYPOINT_CLASS)
                || labels.get(MANAGED_LABEL).map(String::as_str)
                    == Some("istio.io-mesh-controller"));
        Self { gateway, waypoint }
    }
}

impl Index {
    /// `policies[i]`'s namespace is `namespaces[i]` (defaulted already).
    pub fn new(
        policies: &[AuthorizationPolicy],
        namespaces: &[String],
        root_namespace: &str,
    ) -> Self {
        let mut index = Self {
            root_namespace: root_namespace.to_owned(),
            namespaces: HashMap::new(),
        };
        for (i, (policy, namespace)) in policies.iter().zip(namespaces).enumerate() {
            let ns = index.namespaces.entry(namespace.clone()).or_default();
            if !policy.target_refs.is_empty() {
                ns.targeted.push(i);
                continue;
            }
            // A selector with no labels selects every workload, like no selector.
            match policy.selector.as_ref().and_then(|s| s.iter().next()) {
                None => ns.unselected.push(i),
                Some((key, value)) => ns
                    .by_label
                    .entry(key.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default()
                    .push(i),
            }
        }
        index
    }

    /// Appends the indices of the policies that apply to the workload, in policy order.
    pub fn applicable(
        &self,
        policies: &[AuthorizationPolicy],
        namespace: &str,
        labels: &BTreeMap<String, String>,
        out: &mut Vec<usize>,
    ) {
        let proxy = Proxy::from_labels(labels);
        let scopes = [
            Some(self.root_namespace.as_str()),
            (namespace != self.root_namespace).then_some(namespace),
        ];
        for scope in scopes.into_iter().flatten() {
            let Some(ns) = self.namespaces.get(scope) else {
                continue;
            };
            // Waypoints never use selectors; sidecars and gateways do.
            if !proxy.waypoint {
                out.extend_from_slice(&ns.unselected);
                for (key, value) in labels {
                    let Some(candidates) = ns.by_label.get(key).and_then(|m| m.get(value)) else {
                        continue;
                    };
                    out.extend(candidates.iter().copied().filter(|&i| {
                        policies[i]
                            .selector
                            .as_ref()
                            .is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
                    }));
                }
            }
            if proxy.gateway.is_some() {
                out.extend(
                    ns.targeted
                        .iter()
                        .copied()
                        .filter(|&i| self.attaches(&policies[i], scope, namespace, &proxy)),
                );
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// A `targetRef` policy in `policy_namespace` on a gateway/waypoint in `namespace`.
    fn attaches(
        &self,
        policy: &AuthorizationPolicy,
        policy_namespace: &str,
        namespace: &str,
        proxy: &Proxy<'_>,
    ) -> bool {
        policy.target_refs.iter().any(|r: &TargetRef| {
            let gateway_api = r.group == GATEWAY_API_GROUP;
            if proxy.waypoint
                && policy_namespace == self.root_namespace
                && gateway_api
                && r.kind == "GatewayClass"
                && r.name == WAYPOINT_CLASS
            {
                return true;
            }
            policy_namespace == namespace
                && r.namespace
                    .as_deref()
                    .is_none_or(|n| n.is_empty() || n == namespace)
                && gateway_api
                && r.kind == "Gateway"
                && Some(r.name.as_str()) == proxy.gateway
        })
    }
}
