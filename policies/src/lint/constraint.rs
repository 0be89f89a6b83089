//! Rules as sets of requests, for the checks that compare rules: a rule is an OR of *cubes*
//! (one per `from` × `to` combination), a cube an AND of [`Constraint`]s, a constraint one
//! attribute's values (any may match) and not-values (none may match).
//!
//! Everything here is conservative: [`Pattern::contains`], [`Pattern::disjoint`],
//! [`cube_covers`] and [`contradiction`] answer `true`/`Some` only when it is certain on the
//! exact values written (prefix/suffix/presence patterns and CIDRs included, path templates
//! only by equality), so the checks built on them do not raise false positives.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{self, Condition, Operation, Rule, Source};

/// A request attribute a rule can constrain. Fields and `when` keys that read the same
/// attribute map to the same variant (`principals` and `source.principal`, `ports` and
/// `destination.port`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Attr {
    Principal,
    Namespace,
    ServiceAccount,
    TrustDomain,
    SourceIp,
    RemoteIp,
    RequestPrincipal,
    Host,
    Port,
    Method,
    Path,
    Header(String),
    Claim(String),
    Audiences,
    Presenter,
    DestinationIp,
    Sni,
    Other(String),
}

impl Attr {
    /// HTTP-only: an ALLOW rule using it is dropped on TCP, a DENY rule ignores it there.
    pub(crate) fn is_http(&self) -> bool {
        matches!(
            self,
            Self::RequestPrincipal
                | Self::Host
                | Self::Method
                | Self::Path
                | Self::Header(_)
                | Self::Claim(_)
                | Self::Audiences
                | Self::Presenter
        )
    }

    /// Attributes that may hold several values at once (list claims, repeated headers): two
    /// positive constraints on them may both hold with different values.
    fn multi_valued(&self) -> bool {
        matches!(
            self,
            Self::Header(_) | Self::Claim(_) | Self::Audiences | Self::Other(_)
        )
    }

    fn is_ip(&self) -> bool {
        matches!(self, Self::SourceIp | Self::RemoteIp | Self::DestinationIp)
    }

    /// The attribute a `when` key reads.
    pub(crate) fn from_when_key(key: &str) -> Self {
        if let Some(name) = bracketed(key, "request.headers[") {
            return Self::Header(name.to_ascii_lowercase());
        }
        if let Some(name) = bracketed(key, "request.auth.claims[") {
            return Self::Claim(name.to_owned());
        }
        match key {
            "source.ip" => Self::SourceIp,
            "remote.ip" => Self::RemoteIp,
            "source.namespace" => Self::Namespace,
            "source.principal" => Self::Principal,
            "source.serviceAccount" => Self::ServiceAccount,
            "source.trustDomain" => Self::TrustDomain,
            "request.auth.principal" => Self::RequestPrincipal,
            "request.auth.audiences" => Self::Audiences,
            "request.auth.presenter" => Self::Presenter,
            "destination.ip" => Self::DestinationIp,
            "destination.port" => Self::Port,
            "connection.sni" => Self::Sni,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// `prefix<name>]` → `name` (non-empty).
pub(crate) fn bracketed<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_suffix(']')
        .filter(|name| !name.is_empty())
}

/// One value as Istio matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    Exact(String),
    /// `abc*`
    Prefix(String),
    /// `*abc`
    Suffix(String),
    /// `*`: present and non-empty.
    Present,
    /// An IP or CIDR.
    Net(IpNet),
    /// Something only equality can reason about (path templates, unparsable IPs).
    Opaque(String),
}

impl Pattern {
    pub(crate) fn parse(attr: &Attr, raw: &str) -> Self {
        if attr.is_ip() {
            if let Ok(net) = raw.parse::<IpNet>() {
                return Self::Net(net);
            }
            if let Ok(ip) = raw.parse::<IpAddr>() {
                return Self::Net(IpNet::from(ip));
            }
            return Self::Opaque(raw.to_owned());
        }
        if *attr == Attr::Path && raw.contains('{') {
            return Self::Opaque(raw.to_owned());
        }
        let value = if *attr == Attr::Host {
            raw.to_ascii_lowercase()
        } else {
            raw.to_owned()
        };
        if value == "*" {
            Self::Present
        } else if let Some(rest) = value.strip_prefix('*') {
            Self::Suffix(rest.to_owned())
        } else if let Some(rest) = value.strip_suffix('*') {
            Self::Prefix(rest.to_owned())
        } else {
            Self::Exact(value)
        }
    }

    /// Every value `other` matches, `self` matches too.
    pub(crate) fn contains(&self, other: &Self) -> bool {
        use Pattern::*;
        if self == other {
            return true;
        }
        match (self, other) {
            (Present, Exact(s)) => !s.is_empty(),
            (Present, Prefix(_) | Suffix(_) | Net(_)) => true,
            (Present, Opaque(s)) => !s.is_empty(),
            (Prefix(p), Exact(s)) => s.starts_with(p.as_str()),
            (Prefix(p), Prefix(q)) => q.starts_with(p.as_str()),
            (Suffix(p), Exact(s)) => s.ends_with(p.as_str()),
            (Suffix(p), Suffix(q)) => q.ends_with(p.as_str()),
            (Net(a), Net(b)) => a.contains(b),
            _ => false,
        }
    }

    /// No value matches both.
    pub(crate) fn disjoint(&self, other: &Self) -> bool {
        use Pattern::*;
        match (self, other) {
            (Exact(a), Exact(b)) => a != b,
            (Exact(s), Prefix(p)) | (Prefix(p), Exact(s)) => !s.starts_with(p.as_str()),
            (Exact(s), Suffix(p)) | (Suffix(p), Exact(s)) => !s.ends_with(p.as_str()),
            (Prefix(a), Prefix(b)) => !a.starts_with(b.as_str()) && !b.starts_with(a.as_str()),
            (Suffix(a), Suffix(b)) => !a.ends_with(b.as_str()) && !b.ends_with(a.as_str()),
            (Net(a), Net(b)) => !a.contains(b) && !b.contains(a),
            (Present, Exact(s)) | (Exact(s), Present) => s.is_empty(),
            _ => false,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(s) | Self::Opaque(s) => f.write_str(s),
            Self::Prefix(s) => write!(f, "{s}*"),
            Self::Suffix(s) => write!(f, "*{s}"),
            Self::Present => f.write_str("*"),
            Self::Net(net) => write!(f, "{net}"),
        }
    }
}

/// Where a constraint was written, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `rules[0].from[1]`, `rules[0].when[2]`.
    pub(crate) path: String,
    /// The positive field's name as written (`methods`, `when source.ip`).
    pub(crate) field: String,
    /// The negative field's name (`notMethods`, `when source.ip notValues`).
    pub(crate) not_field: String,
    pub(crate) location: Option<model::Location>,
    /// Derived from another field (a principal's namespace part), not written as such.
    pub(crate) derived: bool,
}

/// One attribute: some value must match (when `values` is non-empty) and no not-value may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Constraint {
    pub(crate) attr: Attr,
    pub(crate) values: Vec<Pattern>,
    pub(crate) not_values: Vec<Pattern>,
    pub(crate) origin: Origin,
}

pub(crate) fn list(patterns: &[Pattern]) -> String {
    let items: Vec<String> = patterns.iter().map(|p| format!("\"{p}\"")).collect();
    format!("[{}]", items.join(", "))
}

impl Constraint {
    /// `methods ["GET"] and notMethods ["HEAD"]` (only the non-empty parts).
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.values.is_empty() {
            parts.push(format!("{} {}", self.origin.field, list(&self.values)));
        }
        if !self.not_values.is_empty() {
            parts.push(format!(
                "{} {}",
                self.origin.not_field,
                list(&self.not_values)
            ));
        }
        parts.join(" and ")
    }
}

/// An AND of constraints.
pub(crate) type Cube = Vec<Constraint>;

struct Builder<'a> {
    path: String,
    location: Option<&'a model::Location>,
    out: Cube,
}

impl Builder<'_> {
    fn field(&mut self, attr: Attr, name: &str, values: &[String], not_values: &[String]) {
        if values.is_empty() && not_values.is_empty() {
            return;
        }
        let not_name = format!("not{}{}", name[..1].to_ascii_uppercase(), &name[1..]);
        self.out.push(Constraint {
            values: values.iter().map(|v| Pattern::parse(&attr, v)).collect(),
            not_values: not_values
                .iter()
                .map(|v| Pattern::parse(&attr, v))
                .collect(),
            attr,
            origin: Origin {
                path: self.path.clone(),
                field: name.to_owned(),
                not_field: not_name,
                location: self.location.cloned(),
                derived: false,
            },
        });
    }
}

fn source_cube(source: &Source, path: String, rule_location: Option<&model::Location>) -> Cube {
    let mut b = Builder {
        path,
        location: source.location.as_ref().or(rule_location),
        out: Vec::new(),
    };
    let s = source;
    b.field(
        Attr::Principal,
        "principals",
        &s.principals,
        &s.not_principals,
    );
    b.field(
        Attr::RequestPrincipal,
        "requestPrincipals",
        &s.request_principals,
        &s.not_request_principals,
    );
    b.field(
        Attr::Namespace,
        "namespaces",
        &s.namespaces,
        &s.not_namespaces,
    );
    b.field(
        Attr::ServiceAccount,
        "serviceAccounts",
        &s.service_accounts,
        &s.not_service_accounts,
    );
    b.field(
        Attr::TrustDomain,
        "trustDomains",
        &s.trust_domains,
        &s.not_trust_domains,
    );
    b.field(Attr::SourceIp, "ipBlocks", &s.ip_blocks, &s.not_ip_blocks);
    b.field(
        Attr::RemoteIp,
        "remoteIpBlocks",
        &s.remote_ip_blocks,
        &s.not_remote_ip_blocks,
    );
    b.out
}

fn operation_cube(op: &Operation, path: String, rule_location: Option<&model::Location>) -> Cube {
    let mut b = Builder {
        path,
        location: op.location.as_ref().or(rule_location),
        out: Vec::new(),
    };
    b.field(Attr::Host, "hosts", &op.hosts, &op.not_hosts);
    b.field(Attr::Port, "ports", &op.ports, &op.not_ports);
    b.field(Attr::Method, "methods", &op.methods, &op.not_methods);
    b.field(Attr::Path, "paths", &op.paths, &op.not_paths);
    b.out
}

fn condition_constraint(
    condition: &Condition,
    path: String,
    rule_location: Option<&model::Location>,
) -> Constraint {
    let attr = Attr::from_when_key(&condition.key);
    Constraint {
        values: condition
            .values
            .iter()
            .map(|v| Pattern::parse(&attr, v))
            .collect(),
        not_values: condition
            .not_values
            .iter()
            .map(|v| Pattern::parse(&attr, v))
            .collect(),
        attr,
        origin: Origin {
            path,
            field: format!("when {} values", condition.key),
            not_field: format!("when {} notValues", condition.key),
            location: condition
                .location
                .clone()
                .or_else(|| rule_location.cloned()),
            derived: false,
        },
    }
}

/// The rule as an OR of cubes: one per (`from` source, `to` operation) pair, each with every
/// `when` condition. A rule without `from`, `to` and `when` is one empty cube (matches all).
pub(crate) fn rule_cubes(rule: &Rule, index: usize) -> Vec<Cube> {
    let location = rule.location.as_ref();
    let sources: Vec<Cube> = if rule.from.is_empty() {
        vec![Vec::new()]
    } else {
        rule.from
            .iter()
            .enumerate()
            .map(|(i, s)| source_cube(s, format!("rules[{index}].from[{i}]"), location))
            .collect()
    };
    let operations: Vec<Cube> = if rule.to.is_empty() {
        vec![Vec::new()]
    } else {
        rule.to
            .iter()
            .enumerate()
            .map(|(i, o)| operation_cube(o, format!("rules[{index}].to[{i}]"), location))
            .collect()
    };
    let conditions: Cube = rule
        .when
        .iter()
        .enumerate()
        .map(|(i, c)| condition_constraint(c, format!("rules[{index}].when[{i}]"), location))
        .collect();
    let mut cubes = Vec::with_capacity(sources.len() * operations.len());
    for source in &sources {
        for operation in &operations {
            let mut cube = source.clone();
            cube.extend(operation.iter().cloned());
            cube.extend(conditions.iter().cloned());
            cubes.push(cube);
        }
    }
    cubes
}

/// `(namespace, service account)` of a principal pattern written as
/// `<td>/ns/<ns>/sa/<sa>` or `*/ns/<ns>/sa/<sa>`.
pub(crate) fn principal_parts(pattern: &Pattern) -> Option<(&str, &str)> {
    let rest = match pattern {
        Pattern::Exact(s) => {
            let (trust_domain, rest) = s.split_once('/')?;
            if trust_domain.is_empty() || trust_domain.contains('*') {
                return None;
            }
            rest
        }
        Pattern::Suffix(s) => s.strip_prefix('/')?,
        _ => return None,
    };
    let rest = rest.strip_prefix("ns/")?;
    let (namespace, rest) = rest.split_once('/')?;
    let account = rest.strip_prefix("sa/")?;
    if namespace.is_empty() || account.is_empty() || account.contains(['/', '*']) {
        return None;
    }
    Some((namespace, account))
}

/// Constraints implied by others: a principal's namespace and service account, a service
/// account's namespace and principal suffix. Only positive values, and only when every value
/// of the source constraint has the parts.
fn derived(cube: &[Constraint]) -> Vec<Constraint> {
    let mut out = Vec::new();
    let derive = |from: &Constraint, attr: Attr, values: Vec<Pattern>, part: &str| Constraint {
        attr,
        values,
        not_values: Vec::new(),
        origin: Origin {
            field: format!("{} ({part})", from.origin.field),
            not_field: String::new(),
            derived: true,
            ..from.origin.clone()
        },
    };
    for c in cube {
        if c.values.is_empty() {
            continue;
        }
        match c.attr {
            Attr::Principal => {
                let parts: Option<Vec<(&str, &str)>> =
                    c.values.iter().map(principal_parts).collect();
                if let Some(parts) = parts {
                    let namespaces = parts
                        .iter()
                        .map(|(ns, _)| Pattern::Exact((*ns).to_owned()))
                        .collect();
                    let accounts = parts
                        .iter()
                        .map(|(ns, sa)| Pattern::Exact(format!("{ns}/{sa}")))
                        .collect();
                    out.push(derive(c, Attr::Namespace, namespaces, "their namespaces"));
                    out.push(derive(
                        c,
                        Attr::ServiceAccount,
                        accounts,
                        "their service accounts",
                    ));
                }
                let domains: Option<Vec<Pattern>> = c
                    .values
                    .iter()
                    .map(|v| match v {
                        Pattern::Exact(s) => principal_parts(v)
                            .and(s.split_once('/'))
                            .map(|(td, _)| Pattern::Exact(td.to_owned())),
                        _ => None,
                    })
                    .collect();
                if let Some(domains) = domains {
                    out.push(derive(c, Attr::TrustDomain, domains, "their trust domains"));
                }
            }
            Attr::ServiceAccount => {
                let parts: Option<Vec<(&str, &str)>> = c
                    .values
                    .iter()
                    .map(|v| match v {
                        Pattern::Exact(s) => s.split_once('/').filter(|(ns, sa)| {
                            !ns.is_empty() && !sa.is_empty() && !sa.contains('/')
                        }),
                        _ => None,
                    })
                    .collect();
                if let Some(parts) = parts {
                    let namespaces = parts
                        .iter()
                        .map(|(ns, _)| Pattern::Exact((*ns).to_owned()))
                        .collect();
                    let principals = parts
                        .iter()
                        .map(|(ns, sa)| Pattern::Suffix(format!("/ns/{ns}/sa/{sa}")))
                        .collect();
                    out.push(derive(c, Attr::Namespace, namespaces, "their namespaces"));
                    out.push(derive(c, Attr::Principal, principals, "their principals"));
                }
            }
            _ => {}
        }
    }
    out
}

fn with_derived(cube: &[Constraint]) -> Cube {
    let mut all = cube.to_vec();
    all.extend(derived(cube));
    all
}

/// Why a cube can never hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contradiction {
    pub(crate) attr: Attr,
    pub(crate) reason: String,
    pub(crate) location: Option<model::Location>,
}

impl Contradiction {
    pub(crate) fn http_only(&self) -> bool {
        self.attr.is_http()
    }
}

fn at(origin: &Origin) -> String {
    format!("({})", origin.path)
}

/// Why the cube can never hold, if it certainly cannot: every value of a field excluded by
/// not-values of the same attribute, two fields of a single-valued attribute with no common
/// value (including a principal's namespace against `namespaces`), or `notMethods`/`notPaths`/
/// `notHosts` `["*"]` (every HTTP request has them).
pub(crate) fn contradiction(cube: &[Constraint]) -> Option<Contradiction> {
    let all = with_derived(cube);
    for c in &all {
        if !c.values.is_empty() {
            let excluders: Vec<&Constraint> = all
                .iter()
                .filter(|x| x.attr == c.attr && !x.not_values.is_empty())
                .collect();
            let excluded = c.values.iter().all(|v| {
                excluders
                    .iter()
                    .any(|x| x.not_values.iter().any(|n| n.contains(v)))
            });
            if excluded && !excluders.is_empty() {
                let by: Vec<String> = excluders
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {} {}",
                            x.origin.not_field,
                            list(&x.not_values),
                            at(&x.origin)
                        )
                    })
                    .collect();
                return Some(Contradiction {
                    attr: c.attr.clone(),
                    reason: format!(
                        "{} {} {} {} excluded by {}",
                        c.origin.field,
                        list(&c.values),
                        at(&c.origin),
                        if c.values.len() == 1 { "is" } else { "are all" },
                        by.join(" and ")
                    ),
                    location: c.origin.location.clone(),
                });
            }
        }
        if matches!(c.attr, Attr::Method | Attr::Path | Attr::Host)
            && c.not_values.contains(&Pattern::Present)
        {
            return Some(Contradiction {
                attr: c.attr.clone(),
                reason: format!(
                    "{} [\"*\"] {} excludes every HTTP request (they all have one)",
                    c.origin.not_field,
                    at(&c.origin)
                ),
                location: c.origin.location.clone(),
            });
        }
    }
    for (i, a) in all.iter().enumerate() {
        if a.values.is_empty() || a.attr.multi_valued() {
            continue;
        }
        for b in &all[i + 1..] {
            if b.attr != a.attr || b.values.is_empty() || (a.origin.derived && b.origin.derived) {
                continue;
            }
            let disjoint = a
                .values
                .iter()
                .all(|x| b.values.iter().all(|y| x.disjoint(y)));
            if disjoint {
                let (written, other) = if a.origin.derived { (b, a) } else { (a, b) };
                return Some(Contradiction {
                    attr: a.attr.clone(),
                    reason: format!(
                        "{} {} {} and {} {} {} have no value in common",
                        other.origin.field,
                        list(&other.values),
                        at(&other.origin),
                        written.origin.field,
                        list(&written.values),
                        at(&written.origin)
                    ),
                    location: written.origin.location.clone(),
                });
            }
        }
    }
    None
}

/// Whatever satisfies cube `b` also satisfies constraint `c` (`b` already with derived ones).
fn implies(b: &[Constraint], c: &Constraint) -> bool {
    let same: Vec<&Constraint> = b.iter().filter(|x| x.attr == c.attr).collect();
    let positive = c.values.is_empty()
        || same.iter().any(|x| {
            !x.values.is_empty()
                && x.values
                    .iter()
                    .all(|v| c.values.iter().any(|p| p.contains(v)))
        });
    let negative = c.not_values.iter().all(|n| {
        same.iter()
            .any(|x| x.not_values.iter().any(|m| m.contains(n)))
            || (!c.attr.multi_valued()
                && same
                    .iter()
                    .any(|x| !x.values.is_empty() && x.values.iter().all(|v| v.disjoint(n))))
    });
    positive && negative
}

/// Every request cube `b` matches, cube `a` matches.
pub(crate) fn cube_covers(a: &[Constraint], b: &[Constraint]) -> bool {
    let b = with_derived(b);
    a.iter().all(|c| implies(&b, c))
}

/// Every request rule `b` (as cubes) matches, rule `a` matches: each satisfiable cube of `b` is
/// inside one cube of `a`.
pub(crate) fn rule_covers(a: &[Cube], b: &[Cube]) -> bool {
    b.iter()
        .all(|bc| contradiction(bc).is_some() || a.iter().any(|ac| cube_covers(ac, bc)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn p(raw: &str) -> Pattern {
        Pattern::parse(&Attr::Path, raw)
    }

    #[test]
    fn patterns_parse_as_istio_matches_them() {
        assert_eq!(p("*"), Pattern::Present);
        assert_eq!(p("/a*"), Pattern::Prefix("/a".into()));
        assert_eq!(p("*.js"), Pattern::Suffix(".js".into()));
        assert_eq!(p("/x/{*}"), Pattern::Opaque("/x/{*}".into()));
        assert_eq!(
            Pattern::parse(&Attr::Host, "Example.COM"),
            Pattern::Exact("example.com".into())
        );
        assert_eq!(
            Pattern::parse(&Attr::SourceIp, "10.0.0.1"),
            Pattern::Net("10.0.0.1/32".parse().unwrap())
        );
    }

    #[test]
    fn containment_and_disjointness() {
        assert!(p("/a*").contains(&p("/a/b")));
        assert!(p("/a*").contains(&p("/ab*")));
        assert!(!p("/ab*").contains(&p("/a*")));
        assert!(p("*").contains(&p("/x")));
        assert!(!p("/x").contains(&p("*")));
        assert!(p("*.js").contains(&p("*/a.js")));
        assert!(p("/a").disjoint(&p("/b")));
        assert!(p("/a*").disjoint(&p("/b*")));
        assert!(!p("/a*").disjoint(&p("*.js")));
        assert!(!p("/a*").disjoint(&p("/a/b")));
        assert!(!p("/x/{*}").disjoint(&p("/y")));
        let net = |s: &str| Pattern::parse(&Attr::SourceIp, s);
        assert!(net("10.0.0.0/8").contains(&net("10.1.2.3")));
        assert!(net("10.0.0.0/8").disjoint(&net("192.168.0.0/16")));
        assert!(!net("10.0.0.0/8").disjoint(&net("10.0.0.0/16")));
    }

    #[test]
    fn principal_parts_from_exact_and_suffix() {
        let attr = Attr::Principal;
        assert_eq!(
            principal_parts(&Pattern::parse(&attr, "cluster.local/ns/a/sa/b")),
            Some(("a", "b"))
        );
        assert_eq!(
            principal_parts(&Pattern::parse(&attr, "*/ns/a/sa/b")),
            Some(("a", "b"))
        );
        assert_eq!(
            principal_parts(&Pattern::parse(&attr, "cluster.local/ns/a/*")),
            None
        );
        assert_eq!(principal_parts(&Pattern::parse(&attr, "ns/a/sa/b")), None);
    }

    fn op(methods: &[&str], not_methods: &[&str]) -> Operation {
        Operation {
            methods: methods.iter().map(|s| s.to_string()).collect(),
            not_methods: not_methods.iter().map(|s| s.to_string()).collect(),
            ..Operation::default()
        }
    }

    #[test]
    fn contradictions_are_found_and_explained() {
        let rule = Rule {
            to: vec![op(&["GET"], &["GET"])],
            ..Rule::default()
        };
        let c = contradiction(&rule_cubes(&rule, 0)[0]).unwrap();
        assert_eq!(
            c.reason,
            "methods [\"GET\"] (rules[0].to[0]) is excluded by notMethods [\"GET\"] (rules[0].to[0])"
        );
        assert!(c.http_only());
        let rule = Rule {
            to: vec![op(&["GET", "POST"], &["G*"])],
            ..Rule::default()
        };
        assert_eq!(contradiction(&rule_cubes(&rule, 0)[0]), None);
        let rule = Rule {
            from: vec![Source {
                principals: vec!["cluster.local/ns/a/sa/x".into()],
                namespaces: vec!["b".into()],
                ..Source::default()
            }],
            ..Rule::default()
        };
        let c = contradiction(&rule_cubes(&rule, 0)[0]).unwrap();
        assert!(c.reason.contains("have no value in common"), "{}", c.reason);
        assert!(!c.http_only());
    }

    #[test]
    fn covering_is_by_exact_values() {
        let wide = rule_cubes(
            &Rule {
                from: vec![Source {
                    namespaces: vec!["foo".into()],
                    ..Source::default()
                }],
                ..Rule::default()
            },
            0,
        );
        let narrow = rule_cubes(
            &Rule {
                from: vec![Source {
                    principals: vec!["cluster.local/ns/foo/sa/x".into()],
                    ..Source::default()
                }],
                to: vec![op(&["GET"], &[])],
                ..Rule::default()
            },
            1,
        );
        assert!(rule_covers(&wide, &narrow));
        assert!(!rule_covers(&narrow, &wide));
        let everything = rule_cubes(&Rule::default(), 2);
        assert!(rule_covers(&everything, &wide));
        let not_post = rule_cubes(
            &Rule {
                to: vec![op(&[], &["POST"])],
                ..Rule::default()
            },
            3,
        );
        let get = rule_cubes(
            &Rule {
                to: vec![op(&["GET"], &[])],
                ..Rule::default()
            },
            4,
        );
        assert!(rule_covers(&not_post, &get));
        assert!(!rule_covers(&get, &not_post));
    }
}
