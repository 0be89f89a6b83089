//! Classified requests into policies: per destination a selector, per caller its operations,
//! callers with the same operations sharing a rule, and a unique policy name.
//!
//! Operations are exact: a caller's (port, method, path) triples are grouped so that every
//! operation's ports × methods × paths was observed (paths up to generalisation), e.g. GET of
//! `/a` and POST of `/b` become two operations, never one allowing POST of `/a`.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Inventory;

use super::coverage::Reason;
use super::input::{PathOptions, SuggestOptions};
use super::output::{SuggestedOperation, SuggestedPolicy, SuggestedRule};
use super::paths;
use super::shape::{self, Access, DestinationKey, Shape};

/// How a destination's policy selects it.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub selector: BTreeMap<String, String>,
    pub workload: Option<String>,
    pub notes: Vec<String>,
}

/// Selectors for every destination, from the labels of all requests to it. Requests to a
/// destination without usable labels are marked [`Reason::NoDestinationLabels`].
pub(super) fn targets(
    shapes: &mut [Shape],
    inventory: Option<&Inventory>,
    options: &SuggestOptions,
) -> BTreeMap<DestinationKey, Target> {
    let mut labels: BTreeMap<&DestinationKey, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    let mut workloads: BTreeMap<&DestinationKey, Option<String>> = BTreeMap::new();
    for shape in shapes.iter() {
        labels
            .entry(&shape.destination)
            .or_default()
            .push(&shape.request.destination.labels);
        workloads
            .entry(&shape.destination)
            .or_insert_with(|| shape.request.destination.workload.clone());
    }
    let mut targets = BTreeMap::new();
    for (key, sets) in labels {
        let (selector, mut notes) = shape::selector(sets);
        let workload = workloads.get(key).cloned().flatten();
        if !selector.is_empty() {
            notes.extend(overlap_note(key, &selector, inventory, options));
        }
        if key.namespace == options.root_namespace && !selector.is_empty() {
            notes.push(format!(
                "the policy is in the root namespace {}: it applies to workloads with these labels in every namespace",
                options.root_namespace
            ));
        }
        targets.insert(
            key.clone(),
            Target {
                selector,
                workload,
                notes,
            },
        );
    }
    for shape in shapes.iter_mut() {
        let unlabelled = targets
            .get(&shape.destination)
            .is_none_or(|t| t.selector.is_empty());
        if unlabelled && shape.outcome.is_ok() {
            shape.outcome = Err(Reason::NoDestinationLabels);
        }
    }
    targets
}

/// Other inventory workloads the selector picks: their callers get in too.
fn overlap_note(
    key: &DestinationKey,
    selector: &BTreeMap<String, String>,
    inventory: Option<&Inventory>,
    options: &SuggestOptions,
) -> Option<String> {
    let inventory = inventory?;
    let selected = if key.namespace == options.root_namespace {
        inventory.workloads_with_labels(selector)
    } else {
        inventory.workloads_selected_by(&key.namespace, selector)
    };
    let is_self = |w: &&crate::model::Workload| w.name == key.name && w.namespace == key.namespace;
    let knows_self = selected.iter().any(is_self);
    let others: Vec<String> = selected
        .iter()
        .filter(|w| !is_self(w))
        .map(|w| format!("{}/{}", w.namespace, w.name))
        .collect();
    if others.is_empty() || (!knows_self && others.len() == 1) {
        return None;
    }
    Some(format!(
        "the selector also selects {} in the inventory: the callers allowed here may call {} too",
        others.join(", "),
        if others.len() == 1 { "it" } else { "them" }
    ))
}

/// The policies for the requests that can be allowed, and the notes made on the way.
#[derive(Debug, Clone, Default)]
pub(super) struct Plan {
    pub policies: Vec<SuggestedPolicy>,
    /// The policy (`namespace/name`) suggested for each destination that got one.
    pub policy_of: BTreeMap<DestinationKey, String>,
    /// Notes per destination (paths generalised).
    pub notes: BTreeMap<DestinationKey, Vec<String>>,
    /// Notes about the whole suggestion.
    pub general: Vec<String>,
}

pub(super) fn plan(
    shapes: &[Shape],
    targets: &BTreeMap<DestinationKey, Target>,
    options: &SuggestOptions,
) -> Plan {
    let mut accesses: BTreeMap<&DestinationKey, BTreeMap<&str, BTreeSet<&Access>>> =
        BTreeMap::new();
    for shape in shapes {
        if let Ok((principal, access)) = &shape.outcome {
            accesses
                .entry(&shape.destination)
                .or_default()
                .entry(principal.as_str())
                .or_default()
                .insert(access);
        }
    }
    let mut plan = Plan::default();
    let mut names: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    if options.allow_nothing {
        let namespaces: BTreeSet<&str> = shapes
            .iter()
            .map(|s| s.destination.namespace.as_str())
            .filter(|ns| shape::is_dns_label(ns))
            .collect();
        for namespace in namespaces {
            if namespace == options.root_namespace {
                plan.general.push(format!(
                    "no allow-nothing policy for the root namespace {namespace}: it would deny every request in the mesh"
                ));
                continue;
            }
            names
                .entry(namespace)
                .or_default()
                .insert(ALLOW_NOTHING.to_owned());
            plan.policies.push(SuggestedPolicy {
                name: ALLOW_NOTHING.to_owned(),
                namespace: namespace.to_owned(),
                selector: None,
                rules: Vec::new(),
            });
        }
    }
    for (key, callers) in accesses {
        let Some(target) = targets.get(key) else {
            continue;
        };
        let mut notes = Vec::new();
        let rules = rules(&callers, options.paths, &mut notes);
        let taken = names.entry(key.namespace.as_str()).or_default();
        let name = unique_name(target, taken);
        taken.insert(name.clone());
        let policy = SuggestedPolicy {
            name,
            namespace: key.namespace.clone(),
            selector: Some(target.selector.clone()),
            rules,
        };
        plan.policy_of.insert(key.clone(), policy.id());
        plan.notes.insert(key.clone(), notes);
        plan.policies.push(policy);
    }
    plan.policies.sort_by(|a, b| {
        (&a.namespace, !a.is_allow_nothing(), &a.name).cmp(&(
            &b.namespace,
            !b.is_allow_nothing(),
            &b.name,
        ))
    });
    plan
}

const ALLOW_NOTHING: &str = "allow-nothing";
const SUFFIX: &str = "-allow-observed";

/// `<workload>-allow-observed` as a DNS-1123 name, numbered when the namespace has it already.
fn unique_name(target: &Target, taken: &BTreeSet<String>) -> String {
    let from_labels = ["app", "app.kubernetes.io/name"]
        .iter()
        .find_map(|k| target.selector.get(*k));
    let raw = target
        .workload
        .as_deref()
        .or(from_labels.map(String::as_str))
        .unwrap_or("workload");
    let mapped: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut collapsed = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    // Room for the suffix and a number within the 253 characters of a name.
    let limit = 253 - SUFFIX.len() - 8;
    let base = collapsed.trim_matches('-');
    let base = base[..base.len().min(limit)].trim_end_matches('-');
    let base = if base.is_empty() { "workload" } else { base };
    let mut name = format!("{base}{SUFFIX}");
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}{SUFFIX}");
        n += 1;
    }
    name
}

/// One rule per set of callers with the same operations, sorted by their principals. A caller's
/// HTTP and TCP operations go to separate rules: Istio drops an ALLOW rule that uses HTTP fields
/// for TCP traffic, operations without them included.
fn rules(
    callers: &BTreeMap<&str, BTreeSet<&Access>>,
    options: PathOptions,
    notes: &mut Vec<String>,
) -> Vec<SuggestedRule> {
    let mut by_operations: BTreeMap<Vec<SuggestedOperation>, Vec<String>> = BTreeMap::new();
    for (principal, accesses) in callers {
        let (http, tcp) = operations(principal, accesses, options, notes);
        for operations in [http, tcp] {
            if !operations.is_empty() {
                by_operations
                    .entry(operations)
                    .or_default()
                    .push((*principal).to_owned());
            }
        }
    }
    let mut rules: Vec<SuggestedRule> = by_operations
        .into_iter()
        .map(|(operations, principals)| SuggestedRule {
            principals,
            operations,
        })
        .collect();
    rules.sort();
    rules
}

/// One caller's accesses as few exact operations, found by grouping: per path set, the ports
/// with the same methods. The HTTP operations and the TCP one (ports only) come apart, for
/// separate rules.
fn operations(
    principal: &str,
    accesses: &BTreeSet<&Access>,
    options: PathOptions,
    notes: &mut Vec<String>,
) -> (Vec<SuggestedOperation>, Vec<SuggestedOperation>) {
    let mut tcp_ports = Vec::new();
    let mut http: BTreeMap<(Option<u16>, &str), BTreeSet<String>> = BTreeMap::new();
    for access in accesses {
        match access {
            Access::Tcp { port } => tcp_ports.push(*port),
            Access::Http { port, method, path } => {
                http.entry((*port, method.as_str()))
                    .or_default()
                    .insert(paths::generalize(path, options.templates));
            }
        }
    }
    // path set → port → methods
    let mut by_paths: BTreeMap<Vec<String>, BTreeMap<Option<u16>, Vec<String>>> = BTreeMap::new();
    for ((port, method), patterns) in http {
        let count = patterns.len();
        let (paths, prefix) = paths::reduce(patterns, options.max_per_rule);
        if let Some(prefix) = prefix {
            let port = port.map_or_else(|| "any port".to_owned(), |p| format!("port {p}"));
            notes.push(format!(
                "{count} paths of {principal:?} with {method} on {port} generalised to {prefix:?}"
            ));
        }
        by_paths
            .entry(paths)
            .or_default()
            .entry(port)
            .or_default()
            .push(method.to_owned());
    }
    let mut operations = Vec::new();
    for (paths, ports) in by_paths {
        // methods → ports; a request without a port gets an operation without `ports`.
        let mut by_methods: BTreeMap<Vec<String>, Vec<u16>> = BTreeMap::new();
        for (port, methods) in ports {
            match port {
                Some(port) => by_methods.entry(methods).or_default().push(port),
                None => operations.push(SuggestedOperation {
                    ports: Vec::new(),
                    methods,
                    paths: paths.clone(),
                }),
            }
        }
        for (methods, ports) in by_methods {
            operations.push(SuggestedOperation {
                ports,
                methods,
                paths: paths.clone(),
            });
        }
    }
    operations.sort();
    let tcp = if tcp_ports.is_empty() {
        Vec::new()
    } else {
        vec![SuggestedOperation {
            ports: tcp_ports,
            methods: Vec::new(),
            paths: Vec::new(),
        }]
    };
    (operations, tcp)
}
