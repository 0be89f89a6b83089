//! One `AuthorizationPolicy` object into [`crate::model::AuthorizationPolicy`]: the document,
//! metadata and spec field by field (unknown fields, wrong types, values via [`validate`]), then
//! the cross-field rules of the CRD and of istiod's webhook (`ValidateAuthorizationPolicy`);
//! the rules themselves are read by [`rule`]. Every problem is recorded; a document with any
//! problem yields no policy, as the API server would store none.

use std::collections::BTreeMap;

use super::document::Object;
use super::rule::{self, CONDITION, FROM, OPERATION, RULE, SOURCE, TO};
use super::suggest;
use super::validate;
use super::yaml::{self, Diagnostics, Field, Fields, Node};
use crate::model::{Action, AuthorizationPolicy, Located, Location, Rule, TargetRef};

// `_err` is not Kubernetes: Istio's validation test data keeps the expected error there, and the
// API server drops unknown top-level fields anyway.
const DOCUMENT: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status", "_err"];
const SPEC: &[&str] = &[
    "selector",
    "targetRef",
    "targetRefs",
    "action",
    "provider",
    "rules",
];
const SELECTOR: &[&str] = &["matchLabels"];
const PROVIDER: &[&str] = &["name"];
const TARGET_REF: &[&str] = &["group", "kind", "name", "namespace"];

/// Where each field belongs, to say so when one is written a level off.
pub(super) const SCHEMA: &[(&str, &[&str])] = &[
    ("spec", SPEC),
    ("spec.rules[]", RULE),
    ("rules[].from[]", FROM),
    ("rules[].to[]", TO),
    ("from[].source", SOURCE),
    ("to[].operation", OPERATION),
    ("rules[].when[]", CONDITION),
    ("spec.selector", SELECTOR),
];

const ACTIONS: &[&str] = &["ALLOW", "DENY", "AUDIT", "CUSTOM"];
/// CRD limits.
const MAX_TARGET_REFS: usize = 16;
const MAX_LABEL_VALUE: usize = 63;

/// The `apiVersion`s of AuthorizationPolicy; other versions of the group do not exist.
pub(crate) const API_VERSIONS: &[&str] = &["security.istio.io/v1", "security.istio.io/v1beta1"];
pub(crate) const GROUP: &str = "security.istio.io";
pub(crate) const KIND: &str = "AuthorizationPolicy";

/// Converts one object of kind AuthorizationPolicy; `None` when it has any error.
pub(crate) fn convert(d: &mut Diagnostics, object: &Object<'_, '_>) -> Option<AuthorizationPolicy> {
    let before = d.count();
    if !API_VERSIONS.contains(&object.api_version) {
        d.error(
            object.location.clone(),
            format!(
                "unsupported apiVersion \"{}\" for {KIND}: use {}",
                object.api_version,
                API_VERSIONS.join(" or ")
            ),
        );
        return None;
    }
    let document = Fields::strict(d, object.node, "the document", DOCUMENT, SCHEMA)?;
    let metadata = metadata(d, &document, &object.location);
    let (spec, spec_location) = match document.get("spec") {
        Some(field) => (spec(d, field), d.at(field.key)),
        None => (Spec::empty(), object.location.clone()),
    };
    let metadata = metadata?;
    if d.count() > before {
        return None;
    }
    Some(AuthorizationPolicy {
        name: metadata.name,
        namespace: metadata.namespace,
        selector: spec.selector,
        target_refs: spec.target_refs,
        action: spec.action,
        provider: spec.provider,
        rules: spec.rules,
        dry_run: metadata.dry_run,
        location: object.location.clone(),
        spec_location,
    })
}

struct Metadata {
    name: String,
    namespace: Option<String>,
    dry_run: bool,
}

fn metadata(
    d: &mut Diagnostics,
    document: &Fields<'_, '_>,
    location: &Location,
) -> Option<Metadata> {
    let Some(field) = document.get("metadata") else {
        d.error(location.clone(), "metadata.name is required");
        return None;
    };
    // ObjectMeta has many fields (labels, uid, managedFields…) that do not concern policies.
    let fields = Fields::lenient(d, field.value, "metadata")?;
    let name = match fields.get("name") {
        Some(name) => {
            let name = yaml::string(d, name);
            checked(d, name, validate::object_name)
        }
        None => {
            d.error(d.at(field.key), "metadata.name is required");
            None
        }
    };
    let namespace = fields.get("namespace").and_then(|f| {
        let namespace = yaml::string(d, f);
        checked(d, namespace, validate::namespace)
    });
    let annotations = fields
        .get("annotations")
        .and_then(|f| yaml::string_map(d, f))
        .unwrap_or_default();
    // Istio reads the annotation with Go's strconv.ParseBool; anything else means "not dry run".
    let dry_run = annotations.iter().any(|(key, value)| {
        key.value == "istio.io/dry-run"
            && matches!(
                value.value.as_str(),
                "1" | "t" | "T" | "true" | "TRUE" | "True"
            )
    });
    Some(Metadata {
        name: name?.value,
        namespace: namespace.map(|n| n.value),
        dry_run,
    })
}

/// The value if `check` accepts it, else the check's message at the value.
fn checked(
    d: &mut Diagnostics,
    value: Option<Located<String>>,
    check: fn(&str) -> Result<(), String>,
) -> Option<Located<String>> {
    let value = value?;
    match check(&value.value) {
        Ok(()) => Some(value),
        Err(message) => {
            d.error(value.location, message);
            None
        }
    }
}

struct Spec {
    selector: Option<BTreeMap<String, String>>,
    target_refs: Vec<TargetRef>,
    action: Action,
    provider: Option<String>,
    rules: Option<Vec<Rule>>,
}

impl Spec {
    /// No spec (or `spec: {}`): an ALLOW policy without rules, which allows nothing.
    fn empty() -> Self {
        Self {
            selector: None,
            target_refs: Vec::new(),
            action: Action::Allow,
            provider: None,
            rules: None,
        }
    }
}

fn spec(d: &mut Diagnostics, field: Field<'_, '_>) -> Spec {
    let Some(fields) = Fields::strict(d, field.value, "spec", SPEC, SCHEMA) else {
        return Spec::empty();
    };
    let action_field = fields.get("action");
    let written_action = action_field.map(|f| action(d, f));
    // An unreadable action has been reported; checks that depend on it would only add noise.
    let action_known = !matches!(written_action, Some(None));
    let action = written_action.flatten().unwrap_or(Action::Allow);
    let selector = fields.get("selector").map(|f| selector(d, f));
    let target_ref = fields.get("targetRef");
    let target_refs_field = fields.get("targetRefs");
    let mut target_refs: Vec<TargetRef> = target_ref
        .and_then(|f| target(d, f.value))
        .into_iter()
        .collect();
    if let Some(field) = target_refs_field {
        let items = yaml::list(d, field).unwrap_or_default();
        if items.len() > MAX_TARGET_REFS {
            d.error_at(
                field.value,
                format!("targetRefs may not have more than {MAX_TARGET_REFS} items"),
            );
        }
        target_refs.extend(items.iter().filter_map(|item| target(d, item)));
    }
    // The CRD and the webhook both allow at most one way of choosing workloads.
    let chosen: Vec<Field<'_, '_>> = [fields.get("selector"), target_ref, target_refs_field]
        .into_iter()
        .flatten()
        .collect();
    if let Some(second) = chosen.get(1) {
        d.error_at(
            second.key,
            "only one of selector, targetRef or targetRefs can be set",
        );
    }

    let provider_field = fields.get("provider");
    let provider = provider_field.and_then(|f| provider(d, f));
    let rules_field = fields.get("rules");
    let rules = rules_field.and_then(|f| rule::rules(d, f, action));

    // Istio's rules between action, provider and rules. A `rules` that is not a list has been
    // reported and counts as written, so as not to add "without rules" to it.
    let rules_written =
        rules_field.is_some_and(|f| yaml::as_list(f.value).is_none_or(|l| !l.is_empty()));
    // Errors about the action point at it, or at `spec` when the action is the default.
    let action_location = |d: &Diagnostics| match action_field {
        Some(f) => d.at(f.value),
        None => d.at(field.key),
    };
    if let Some(provider_field) = provider_field
        && action_known
        && action != Action::Custom
    {
        d.error_at(
            provider_field.key,
            format!(
                "`provider` is only allowed with action CUSTOM, found {}",
                action.as_str()
            ),
        );
    }
    if matches!(action, Action::Deny | Action::Custom) && !rules_written {
        let location = action_location(d);
        d.error(
            location,
            format!(
                "{} action without `rules` is meaningless as it will never be triggered; \
                 add an empty rule `{{}}` to trigger it for every request",
                action.as_str()
            ),
        );
    }
    if action == Action::Custom && rules_written && provider.is_none() {
        let location = match provider_field {
            Some(f) => d.at(f.key),
            None => action_location(d),
        };
        d.error(
            location,
            "CUSTOM action needs `provider.name`: it must not be empty",
        );
    }
    Spec {
        selector,
        target_refs,
        action,
        provider,
        rules,
    }
}

fn action(d: &mut Diagnostics, field: Field<'_, '_>) -> Option<Action> {
    let text = yaml::string(d, field)?;
    match text.value.as_str() {
        "ALLOW" => Some(Action::Allow),
        "DENY" => Some(Action::Deny),
        "AUDIT" => Some(Action::Audit),
        "CUSTOM" => Some(Action::Custom),
        other => {
            d.error(
                text.location,
                format!(
                    "action must be one of ALLOW, DENY, AUDIT, CUSTOM, found \"{other}\"{}",
                    suggest::did_you_mean(other, ACTIONS)
                ),
            );
            None
        }
    }
}

fn provider(d: &mut Diagnostics, field: Field<'_, '_>) -> Option<String> {
    let fields = Fields::strict(d, field.value, "provider", PROVIDER, &[])?;
    let name = yaml::string(d, fields.get("name")?)?;
    (!name.value.is_empty()).then_some(name.value)
}

fn selector(d: &mut Diagnostics, field: Field<'_, '_>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let Some(fields) = Fields::strict(d, field.value, "selector", SELECTOR, SCHEMA) else {
        return labels;
    };
    let pairs = fields
        .get("matchLabels")
        .and_then(|f| yaml::string_map(d, f))
        .unwrap_or_default();
    for (key, value) in pairs {
        if key.value.is_empty() {
            d.error(key.location, "matchLabels key must not be empty");
        } else if key.value.contains('*') {
            d.error(key.location, "wildcard not allowed in label key match");
        } else if value.value.contains('*') {
            d.error(value.location, "wildcard not allowed in label value match");
        } else if value.value.chars().count() > MAX_LABEL_VALUE {
            d.error(
                value.location,
                format!("label value must be at most {MAX_LABEL_VALUE} characters"),
            );
        } else {
            labels.insert(key.value, value.value);
        }
    }
    labels
}

fn target(d: &mut Diagnostics, node: &Node<'_>) -> Option<TargetRef> {
    let before = d.count();
    let fields = Fields::strict(d, node, "targetRef", TARGET_REF, &[])?;
    let text = |d: &mut Diagnostics, name| fields.get(name).and_then(|f| yaml::string(d, f));
    let group = text(d, "group");
    let kind = text(d, "kind");
    let name = text(d, "name");
    let namespace = text(d, "namespace");
    let group = group.map(|g| g.value).unwrap_or_default();
    let group_ok = group.len() <= 253 && group.split('.').all(is_lower_dns_label);
    if !group.is_empty() && !group_ok {
        d.error_at(node, format!("invalid targetRef group \"{group}\""));
    }
    let kind = match kind.filter(|k| !k.value.is_empty()) {
        Some(kind) => {
            if let Err(message) = validate::target_kind(&group, &kind.value) {
                d.error(kind.location.clone(), message);
            }
            kind.value
        }
        None => {
            d.error_at(node, "targetRef kind must be set");
            String::new()
        }
    };
    let name = match name.filter(|n| !n.value.is_empty()) {
        Some(name) if name.value.len() > 253 => {
            d.error(
                name.location,
                "targetRef name must be at most 253 characters",
            );
            String::new()
        }
        Some(name) => name.value,
        None => {
            d.error_at(node, "targetRef name must be set");
            String::new()
        }
    };
    if let Some(namespace) = namespace.filter(|n| !n.value.is_empty()) {
        d.error(
            namespace.location,
            "targetRef namespace must not be set: cross namespace referencing is not supported",
        );
    }
    (d.count() == before).then_some(TargetRef {
        group,
        kind,
        name,
        namespace: None,
    })
}

fn is_lower_dns_label(label: &str) -> bool {
    let b = label.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}
