//! `spec.rules`: each rule's `from[].source`, `to[].operation` and `when[]` conditions, with the
//! checks Istio's webhook makes on them (empty objects and values, IPs, ports, service
//! accounts, path templates, `when` keys, what a CUSTOM rule cannot use).

use std::collections::BTreeMap;

use super::policy::SCHEMA;
use super::validate;
use super::yaml::{self, Diagnostics, Field, Fields, Node};
use crate::model::{Action, Condition, Located, Location, Operation, Rule, Source};

pub(super) const RULE: &[&str] = &["from", "to", "when"];
pub(super) const FROM: &[&str] = &["source"];
pub(super) const TO: &[&str] = &["operation"];
pub(super) const SOURCE: &[&str] = &[
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
    "trustDomains",
    "notTrustDomains",
];
pub(super) const OPERATION: &[&str] = &[
    "hosts",
    "notHosts",
    "ports",
    "notPorts",
    "methods",
    "notMethods",
    "paths",
    "notPaths",
];
pub(super) const CONDITION: &[&str] = &["key", "values", "notValues"];
/// CRD limits.
const MAX_RULES: usize = 512;
const MAX_FROM: usize = 512;
const MAX_SERVICE_ACCOUNTS: usize = 16;

/// Source fields that need the caller's identity, which a CUSTOM (ext_authz) rule cannot see.
const CUSTOM_UNSUPPORTED_SOURCE: &[&str] = &[
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
];

pub(super) fn rules(
    d: &mut Diagnostics,
    field: Field<'_, '_>,
    action: Action,
) -> Option<Vec<Rule>> {
    let items = yaml::list(d, field)?;
    if items.len() > MAX_RULES {
        d.error_at(
            field.value,
            format!("rules may not have more than {MAX_RULES} items"),
        );
    }
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if yaml::is_null(item) {
            d.error_at(
                item,
                format!("rules[{i}] must not be null (write {{}} for a rule that always matches)"),
            );
            continue;
        }
        rules.push(rule(d, item, action));
    }
    Some(rules)
}

fn rule(d: &mut Diagnostics, node: &Node<'_>, action: Action) -> Rule {
    let mut rule = Rule {
        location: Some(d.at(node)),
        ..Rule::default()
    };
    let Some(fields) = Fields::strict(d, node, "rule", RULE, SCHEMA) else {
        return rule;
    };
    if let Some(field) = fields.get("from") {
        let items = yaml::list(d, field).unwrap_or_default();
        if items.len() > MAX_FROM {
            d.error_at(
                field.value,
                format!("from may not have more than {MAX_FROM} items"),
            );
        }
        for (i, item) in items.iter().enumerate() {
            let entry = entry(d, item, "from", i, FROM);
            if let Some(source_field) = entry.as_ref().and_then(|f| f.get("source")) {
                rule.from.push(source(d, source_field, action));
            } else if entry.is_some() {
                d.error_at(item, "`from.source` must not be null");
            }
        }
    }
    if let Some(field) = fields.get("to") {
        for (i, item) in yaml::list(d, field).unwrap_or_default().iter().enumerate() {
            let entry = entry(d, item, "to", i, TO);
            if let Some(operation_field) = entry.as_ref().and_then(|f| f.get("operation")) {
                rule.to.push(operation(d, operation_field));
            } else if entry.is_some() {
                d.error_at(item, "`to.operation` must not be null");
            }
        }
    }
    if let Some(field) = fields.get("when") {
        for (i, item) in yaml::list(d, field).unwrap_or_default().iter().enumerate() {
            if yaml::is_null(item) {
                d.error_at(item, format!("when[{i}] must not be null"));
            } else if let Some(condition) = condition(d, item, action) {
                rule.when.push(condition);
            }
        }
    }
    rule
}

/// A `from[i]`/`to[i]` entry: a mapping holding `source`/`operation`.
fn entry<'n, 'input>(
    d: &mut Diagnostics,
    item: &'n Node<'input>,
    list: &str,
    index: usize,
    known: &[&str],
) -> Option<Fields<'n, 'input>> {
    if yaml::is_null(item) {
        d.error_at(item, format!("{list}[{index}] must not be null"));
        return None;
    }
    Fields::strict(d, item, &format!("{list}[{index}]"), known, SCHEMA)
}

/// The string lists of an object by field name: the values with their positions, and where the
/// field is written.
type Lists = BTreeMap<&'static str, (Vec<Located<String>>, Location)>;

/// Reads the string lists `names` of an object; empty strings are errors in every one of them.
fn string_lists(d: &mut Diagnostics, fields: &Fields<'_, '_>, names: &[&'static str]) -> Lists {
    let mut lists = BTreeMap::new();
    for name in names {
        if let Some(field) = fields.get(name) {
            let values = yaml::string_list(d, field).unwrap_or_default();
            for value in &values {
                if value.value.is_empty() {
                    d.error(
                        value.location.clone(),
                        format!("empty value not allowed in {name}"),
                    );
                }
            }
            lists.insert(*name, (values, d.at(field.key)));
        }
    }
    lists
}

fn values(lists: &Lists, name: &str) -> Vec<String> {
    lists
        .get(name)
        .map(|(values, _)| values.iter().map(|v| v.value.clone()).collect())
        .unwrap_or_default()
}

fn source(d: &mut Diagnostics, field: Field<'_, '_>, action: Action) -> Source {
    let location = d.at(field.key);
    let before = d.count();
    let Some(fields) = Fields::strict(d, field.value, "source", SOURCE, SCHEMA) else {
        return Source {
            location: Some(location),
            ..Source::default()
        };
    };
    let lists = string_lists(d, &fields, SOURCE);
    // Only when nothing else is wrong: a misspelt or mistyped field also leaves it empty.
    if d.count() == before && lists.values().all(|(values, _)| values.is_empty()) {
        d.error(location.clone(), "`from.source` must not be empty");
    }
    for name in [
        "ipBlocks",
        "notIpBlocks",
        "remoteIpBlocks",
        "notRemoteIpBlocks",
    ] {
        check_each(d, &lists, name, validate::ip_or_cidr);
    }
    for name in ["serviceAccounts", "notServiceAccounts"] {
        check_each(d, &lists, name, validate::service_account);
        if let Some((values, at)) = lists.get(name)
            && values.len() > MAX_SERVICE_ACCOUNTS
        {
            d.error(
                at.clone(),
                format!("{name} may not have more than {MAX_SERVICE_ACCOUNTS} values"),
            );
        }
    }
    // The CRD's rule: service accounts name identities in a way principals and namespaces would
    // contradict. It tests presence, so even an empty list conflicts.
    let service_account_field = ["serviceAccounts", "notServiceAccounts"]
        .into_iter()
        .find_map(|name| fields.get(name));
    let identity_set = ["principals", "notPrincipals", "namespaces", "notNamespaces"]
        .iter()
        .any(|name| fields.get(name).is_some());
    if let (Some(service_accounts), true) = (service_account_field, identity_set) {
        d.error_at(
            service_accounts.key,
            "cannot set serviceAccounts with namespaces or principals",
        );
    }
    if action == Action::Custom {
        for name in CUSTOM_UNSUPPORTED_SOURCE {
            if let Some((values, at)) = lists.get(name)
                && !values.is_empty()
            {
                d.error(
                    at.clone(),
                    format!("\"{name}\" is not supported with action CUSTOM"),
                );
            }
        }
    }
    Source {
        principals: values(&lists, "principals"),
        not_principals: values(&lists, "notPrincipals"),
        request_principals: values(&lists, "requestPrincipals"),
        not_request_principals: values(&lists, "notRequestPrincipals"),
        namespaces: values(&lists, "namespaces"),
        not_namespaces: values(&lists, "notNamespaces"),
        service_accounts: values(&lists, "serviceAccounts"),
        not_service_accounts: values(&lists, "notServiceAccounts"),
        ip_blocks: values(&lists, "ipBlocks"),
        not_ip_blocks: values(&lists, "notIpBlocks"),
        remote_ip_blocks: values(&lists, "remoteIpBlocks"),
        not_remote_ip_blocks: values(&lists, "notRemoteIpBlocks"),
        trust_domains: values(&lists, "trustDomains"),
        not_trust_domains: values(&lists, "notTrustDomains"),
        location: Some(location),
    }
}

/// Applies a value check to every non-empty value of a list (empty ones are reported already).
fn check_each(
    d: &mut Diagnostics,
    lists: &Lists,
    name: &str,
    check: fn(&str) -> Result<(), String>,
) {
    for value in lists
        .get(name)
        .map(|(v, _)| v.as_slice())
        .unwrap_or_default()
    {
        if value.value.is_empty() {
            continue;
        }
        if let Err(message) = check(&value.value) {
            d.error(value.location.clone(), format!("{message} in {name}"));
        }
    }
}

fn operation(d: &mut Diagnostics, field: Field<'_, '_>) -> Operation {
    let location = d.at(field.key);
    let before = d.count();
    let Some(fields) = Fields::strict(d, field.value, "operation", OPERATION, SCHEMA) else {
        return Operation {
            location: Some(location),
            ..Operation::default()
        };
    };
    let lists = string_lists(d, &fields, OPERATION);
    if d.count() == before && lists.values().all(|(values, _)| values.is_empty()) {
        d.error(location.clone(), "`to.operation` must not be empty");
    }
    for name in ["ports", "notPorts"] {
        check_each(d, &lists, name, validate::port);
    }
    for name in ["paths", "notPaths"] {
        check_each(d, &lists, name, validate::path);
    }
    Operation {
        hosts: values(&lists, "hosts"),
        not_hosts: values(&lists, "notHosts"),
        ports: values(&lists, "ports"),
        not_ports: values(&lists, "notPorts"),
        methods: values(&lists, "methods"),
        not_methods: values(&lists, "notMethods"),
        paths: values(&lists, "paths"),
        not_paths: values(&lists, "notPaths"),
        location: Some(location),
    }
}

fn condition(d: &mut Diagnostics, node: &Node<'_>, action: Action) -> Option<Condition> {
    let location = d.at(node);
    let before = d.count();
    let fields = Fields::strict(d, node, "condition", CONDITION, SCHEMA)?;
    let lists = string_lists(d, &fields, &["values", "notValues"]);
    let lists_ok = d.count() == before;
    let Some(key_field) = fields.get("key") else {
        d.error(location, "condition needs a `key`");
        return None;
    };
    let key = yaml::string(d, key_field)?;
    let key_ok = match validate::when_key(&key.value) {
        Ok(()) => true,
        Err(message) => {
            d.error(key.location.clone(), message);
            false
        }
    };
    if lists.values().all(|(values, _)| values.is_empty()) {
        if lists_ok {
            d.error(
                location.clone(),
                format!(
                    "at least one of `values` or `notValues` must be set for key {}",
                    key.value
                ),
            );
        }
    } else if key_ok {
        for name in ["values", "notValues"] {
            for value in lists
                .get(name)
                .map(|(v, _)| v.as_slice())
                .unwrap_or_default()
            {
                if value.value.is_empty() {
                    continue;
                }
                if let Err(message) = validate::when_value(&key.value, &value.value) {
                    d.error(
                        value.location.clone(),
                        format!("{message} in {name} of {}", key.value),
                    );
                }
            }
        }
    }
    let identity_key = matches!(
        key.value.as_str(),
        "source.namespace" | "source.serviceAccount" | "source.principal"
    ) || key.value.starts_with("request.auth.");
    if action == Action::Custom && identity_key {
        d.error(
            key.location.clone(),
            format!("\"{}\" is not supported with action CUSTOM", key.value),
        );
    }
    Some(Condition {
        key: key.value,
        values: values(&lists, "values"),
        not_values: values(&lists, "notValues"),
        location: Some(location),
    })
}
