//! Reading Kubernetes manifests (`--inventory`) into workloads, services, service accounts and namespaces.
//!
//! Manifests are read leniently: only the fields meshlens needs are looked at, and only their
//! types are checked. An object with a wrong type in one of those fields is reported and left
//! out, like an invalid policy. Loading, positions and errors are the same as for policies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{Inventory, Service, Workload};
use crate::parse::ParseError;
use crate::parse::document::Object;
use crate::parse::yaml::{self, Diagnostics, Field, Fields, Node};

/// The workloads and services of manifest files and directories (recursively
/// `*.yaml`/`*.yml`, sorted), with the errors of objects that could not be read.
///
/// # Errors
/// The first path or file that cannot be read, or is not YAML.
pub fn read_inventory(paths: &[PathBuf]) -> Result<(Inventory, Vec<ParseError>), ParseError> {
    let mut inventory = Inventory::default();
    let mut errors = Vec::new();
    crate::parse::for_each_file(paths, |file, text| {
        let (more, more_errors) = parse_inventory(file, text)?;
        inventory.extend(more);
        errors.extend(more_errors);
        Ok(())
    })?;
    Ok((inventory, errors))
}

/// The inventory of one file's text; `file` is only used in locations and errors.
///
/// # Errors
/// [`ParseError::Syntax`] when `text` is not YAML.
pub fn parse_inventory(
    file: &Path,
    text: &str,
) -> Result<(Inventory, Vec<ParseError>), ParseError> {
    let (objects, errors) = crate::parse::load_objects(file, text, read_object)?;
    let mut inventory = Inventory::default();
    for object in objects.into_iter().flatten() {
        match object {
            Manifest::Workload(workload) => {
                inventory.namespaces.push(workload.namespace.clone());
                inventory.workloads.push(workload);
            }
            Manifest::Service(service) => {
                inventory.namespaces.push(service.namespace.clone());
                inventory.services.push(service);
            }
            Manifest::ServiceAccount { namespace, name } => {
                inventory
                    .service_accounts
                    .push(format!("{namespace}/{name}"));
                inventory.namespaces.push(namespace);
            }
            Manifest::Namespace(name) => inventory.namespaces.push(name),
        }
    }
    inventory.tidy();
    Ok((inventory, errors))
}

impl Inventory {
    /// The workload called `name` in `namespace`.
    pub fn workload(&self, namespace: &str, name: &str) -> Option<&Workload> {
        self.workloads
            .iter()
            .find(|w| w.namespace == namespace && w.name == name)
    }

    /// The workloads of `namespace` whose labels include every `labels` pair (the semantics of
    /// `selector.matchLabels`; empty `labels` select every workload of the namespace).
    pub fn workloads_selected_by(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<&Workload> {
        self.workloads
            .iter()
            .filter(|w| w.namespace == namespace && selects(labels, &w.labels))
            .collect()
    }

    /// Like [`Self::workloads_selected_by`] across all namespaces, for policies in the root
    /// namespace, which apply mesh-wide.
    pub fn workloads_with_labels(&self, labels: &BTreeMap<String, String>) -> Vec<&Workload> {
        self.workloads
            .iter()
            .filter(|w| selects(labels, &w.labels))
            .collect()
    }

    /// The mTLS identity of the workload's pods: `<trust domain>/ns/<namespace>/sa/<account>`.
    pub fn principal_of(&self, workload: &Workload, trust_domain: &str) -> String {
        format!(
            "{trust_domain}/ns/{}/sa/{}",
            workload.namespace, workload.service_account
        )
    }

    /// The Service called `name` in `namespace`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    /// Whether any manifest declares or uses `namespace`.
    pub fn has_namespace(&self, namespace: &str) -> bool {
        self.namespaces.iter().any(|n| n == namespace)
    }

    /// Whether the service account exists as far as the manifests tell: declared, used by a
    /// workload, or `default` of a known namespace (Kubernetes creates it in every namespace).
    pub fn has_service_account(&self, namespace: &str, name: &str) -> bool {
        (name == "default" && self.has_namespace(namespace))
            || self
                .service_accounts
                .iter()
                .any(|sa| sa.split_once('/') == Some((namespace, name)))
            || self
                .workloads
                .iter()
                .any(|w| w.namespace == namespace && w.service_account == name)
    }

    /// Adds another inventory (another file) to this one.
    pub fn extend(&mut self, other: Inventory) {
        self.workloads.extend(other.workloads);
        self.services.extend(other.services);
        self.service_accounts.extend(other.service_accounts);
        self.namespaces.extend(other.namespaces);
        self.tidy();
    }

    /// Namespaces sorted, names listed once.
    fn tidy(&mut self) {
        self.namespaces.sort();
        self.namespaces.dedup();
        let mut seen = std::collections::HashSet::new();
        self.service_accounts.retain(|sa| seen.insert(sa.clone()));
    }
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// What one manifest contributes.
enum Manifest {
    Workload(Workload),
    Service(Service),
    ServiceAccount { namespace: String, name: String },
    Namespace(String),
}

/// Where each workload kind keeps its pod template, below `spec`.
fn pod_template_path(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("", "Pod") => Some(&[]),
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => Some(&["template"]),
        ("batch", "CronJob") => Some(&["jobTemplate", "spec", "template"]),
        _ => None,
    }
}

fn read_object(d: &mut Diagnostics, object: &Object<'_, '_>) -> Option<Manifest> {
    let group = object.group();
    let template_path = pod_template_path(group, object.kind);
    let core = group.is_empty();
    let interesting = template_path.is_some()
        || (core && matches!(object.kind, "Service" | "ServiceAccount" | "Namespace"));
    if !interesting {
        return None;
    }
    let before = d.count();
    let fields = Fields::lenient(d, object.node, object.kind)?;
    let metadata = fields
        .get("metadata")
        .and_then(|f| Fields::lenient(d, f.value, "metadata"));
    let text = |d: &mut Diagnostics, name: &str| {
        metadata
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(|f| yaml::string(d, f))
            .map(|s| s.value)
    };
    let Some(name) = text(d, "name") else {
        d.error(
            object.location.clone(),
            format!("{} without metadata.name", object.kind),
        );
        return None;
    };
    let namespace = text(d, "namespace").unwrap_or_else(|| "default".to_string());
    let spec = fields.get("spec");
    let manifest = match (object.kind, template_path) {
        (_, Some(path)) => {
            let pod = match path {
                // A Pod is its own template: labels in its metadata, spec at the top.
                [] => Some(object.node),
                _ => spec.and_then(|s| descend(d, s.value, path)),
            };
            Manifest::Workload(workload(d, pod, name, namespace, object))
        }
        ("Service", None) => Manifest::Service(service(d, spec, name, namespace, object)),
        ("ServiceAccount", None) => Manifest::ServiceAccount { namespace, name },
        _ => Manifest::Namespace(name),
    };
    (d.count() == before).then_some(manifest)
}

/// The node at `path` below `node`, each step a mapping field; `None` when a step is missing.
fn descend<'n, 'input>(
    d: &mut Diagnostics,
    node: &'n Node<'input>,
    path: &[&str],
) -> Option<&'n Node<'input>> {
    let mut node = node;
    for step in path {
        let fields = Fields::lenient(d, node, step)?;
        node = fields.get(step)?.value;
    }
    Some(node)
}

fn workload(
    d: &mut Diagnostics,
    pod: Option<&Node<'_>>,
    name: String,
    namespace: String,
    object: &Object<'_, '_>,
) -> Workload {
    let mut workload = Workload {
        name,
        kind: object.kind.to_string(),
        namespace,
        labels: BTreeMap::new(),
        service_account: "default".to_string(),
        ports: Vec::new(),
        location: Some(object.location.clone()),
    };
    let Some(pod) = pod.and_then(|p| Fields::lenient(d, p, "pod template")) else {
        return workload;
    };
    if let Some(labels) = pod
        .get("metadata")
        .and_then(|m| Fields::lenient(d, m.value, "metadata"))
        .and_then(|m| m.get("labels"))
        .and_then(|f| yaml::string_map(d, f))
    {
        workload.labels = labels
            .into_iter()
            .map(|(k, v)| (k.value, v.value))
            .collect();
    }
    let Some(spec) = pod
        .get("spec")
        .and_then(|s| Fields::lenient(d, s.value, "pod spec"))
    else {
        return workload;
    };
    // `serviceAccount` is the deprecated spelling, still honoured by Kubernetes.
    if let Some(account) = ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|n| spec.get(n))
        .and_then(|f| yaml::string(d, f))
        .filter(|a| !a.value.is_empty())
    {
        workload.service_account = account.value;
    }
    for container in items(d, spec.get("containers")) {
        let Some(container) = Fields::lenient(d, container, "container") else {
            continue;
        };
        for port in items(d, container.get("ports")) {
            let number = Fields::lenient(d, port, "port")
                .and_then(|p| p.get("containerPort"))
                .and_then(|f| port_number(d, f));
            if let Some(number) = number.filter(|n| !workload.ports.contains(n)) {
                workload.ports.push(number);
            }
        }
    }
    workload
}

fn service(
    d: &mut Diagnostics,
    spec: Option<Field<'_, '_>>,
    name: String,
    namespace: String,
    object: &Object<'_, '_>,
) -> Service {
    let mut service = Service {
        name,
        namespace,
        selector: BTreeMap::new(),
        ports: Vec::new(),
        location: Some(object.location.clone()),
    };
    let Some(spec) = spec.and_then(|s| Fields::lenient(d, s.value, "spec")) else {
        return service;
    };
    if let Some(selector) = spec.get("selector").and_then(|f| yaml::string_map(d, f)) {
        service.selector = selector
            .into_iter()
            .map(|(k, v)| (k.value, v.value))
            .collect();
    }
    for port in items(d, spec.get("ports")) {
        let Some(port) = Fields::lenient(d, port, "port") else {
            continue;
        };
        let Some(number) = port.get("port").and_then(|f| port_number(d, f)) else {
            continue;
        };
        // A named targetPort (a string) refers to a container port name: not resolved here.
        let target = port
            .get("targetPort")
            .filter(|f| yaml::as_str(f.value).is_none())
            .and_then(|f| port_number(d, f));
        service.ports.push((number, target));
    }
    service
}

/// The items of an optional list field; a non-list is reported.
fn items<'n, 'input>(d: &mut Diagnostics, field: Option<Field<'n, 'input>>) -> &'n [Node<'input>] {
    field.and_then(|f| yaml::list(d, f)).unwrap_or_default()
}

fn port_number(d: &mut Diagnostics, field: Field<'_, '_>) -> Option<u16> {
    let number = yaml::integer(d, field)?;
    match u16::try_from(number) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            d.error_at(
                field.value,
                format!(
                    "\"{}\" must be a port number from 1 to 65535, found {number}",
                    field.name
                ),
            );
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin
  namespace: foo
spec:
  template:
    metadata:
      labels: {app: httpbin, version: v1}
    spec:
      serviceAccountName: httpbin
      containers:
      - name: httpbin
        ports: [{containerPort: 8000}, {containerPort: 8000}, {containerPort: 9000}]
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
  labels: {app: debug}
spec:
  containers: [{name: c}]
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {app: httpbin}
  ports: [{port: 8000, targetPort: 80}, {port: 443, targetPort: https}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: foo}
---
apiVersion: v1
kind: Namespace
metadata: {name: bar}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: not-a-core-service}
"#;

    #[test]
    fn reads_workloads_services_accounts_namespaces() {
        let (inventory, errors) = parse_inventory(Path::new("m.yaml"), MANIFESTS).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let httpbin = inventory.workload("foo", "httpbin").unwrap();
        assert_eq!(httpbin.kind, "Deployment");
        assert_eq!(httpbin.labels["version"], "v1");
        assert_eq!(httpbin.service_account, "httpbin");
        assert_eq!(httpbin.ports, [8000, 9000]);
        assert_eq!(httpbin.location.as_ref().unwrap().line, 2);
        let debug = inventory.workload("default", "debug").unwrap();
        assert_eq!(
            (debug.service_account.as_str(), debug.labels["app"].as_str()),
            ("default", "debug")
        );
        assert_eq!(inventory.services.len(), 1);
        assert_eq!(
            inventory.service("foo", "httpbin").unwrap().ports,
            [(8000, Some(80)), (443, None)]
        );
        assert_eq!(inventory.service_accounts, ["foo/httpbin"]);
        assert_eq!(inventory.namespaces, ["bar", "default", "foo"]);
        assert_eq!(
            inventory.principal_of(httpbin, "cluster.local"),
            "cluster.local/ns/foo/sa/httpbin"
        );
        assert!(inventory.has_service_account("bar", "default"));
        assert!(!inventory.has_service_account("foo", "sleep"));
    }

    #[test]
    fn selects_by_label_subset() {
        let (inventory, _) = parse_inventory(Path::new("m.yaml"), MANIFESTS).unwrap();
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            inventory
                .workloads_selected_by("foo", &labels(&[("app", "httpbin")]))
                .len(),
            1
        );
        assert_eq!(
            inventory.workloads_selected_by("foo", &labels(&[])).len(),
            1
        );
        assert!(
            inventory
                .workloads_selected_by("bar", &labels(&[("app", "httpbin")]))
                .is_empty()
        );
        assert!(
            inventory
                .workloads_selected_by("foo", &labels(&[("app", "httpbin"), ("version", "v2")]))
                .is_empty()
        );
        assert_eq!(inventory.workloads_with_labels(&labels(&[])).len(), 2);
    }

    #[test]
    fn wrong_types_are_reported_and_the_object_left_out() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      containers:\n      - ports: [{containerPort: \"80\"}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 70000}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\n";
        let (inventory, errors) = parse_inventory(Path::new("bad.yaml"), text).unwrap();
        assert!(inventory.workloads.is_empty() && inventory.services.is_empty());
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(
            messages[0].starts_with("bad.yaml:8:33: \"containerPort\" must be an integer"),
            "{messages:#?}"
        );
        assert!(messages[1].contains("from 1 to 65535, found 70000"));
        assert!(messages[2].contains("Pod without metadata.name"));
    }

    #[test]
    fn cron_jobs_and_lists() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: CronJob\n  metadata: {name: nightly, namespace: ops}\n  spec:\n    jobTemplate:\n      spec:\n        template:\n          metadata: {labels: {app: nightly}}\n          spec: {serviceAccountName: batch, containers: []}\n";
        let (inventory, errors) = parse_inventory(Path::new("l.yaml"), text).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let job = inventory.workload("ops", "nightly").unwrap();
        assert_eq!(
            (job.service_account.as_str(), job.labels["app"].as_str()),
            ("batch", "nightly")
        );
    }
}
