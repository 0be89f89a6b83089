//! Policies compiled once, in `PolicySet::new`: every value parsed into its matcher, every
//! `when` key resolved, so evaluating a request never parses a pattern.
//!
//! What Istio's builder (`pilot/pkg/security/authz/model`) does with a value it cannot turn
//! into an Envoy matcher depends on the action, and so does this: in an ALLOW policy the whole
//! rule is dropped (allowing less), in DENY/AUDIT/CUSTOM just that value is dropped (matching
//! more). The same holds for HTTP-only fields on TCP traffic, decided per request in
//! [`CompiledRule::matches`]. An unknown `when` key makes the rule invalid whatever the action.

use crate::model::{Action, AuthorizationPolicy, Condition as When, Operation, Rule, Source};

use super::condition::{Condition, PathPat, Test};
use super::facts::Facts;
use super::matcher::{
    Glob, RequestPrincipalPat, ServiceAccountPat, StrPat, parse_cidr, parse_port,
};
use super::path::Template;

#[derive(Debug, Clone)]
pub(crate) struct CompiledPolicy {
    /// `namespace/name`.
    pub id: String,
    /// `metadata.namespace`, `default` when the document has none.
    pub namespace: String,
    pub action: Action,
    pub dry_run: bool,
    pub provider: Option<String>,
    /// Empty when `rules` is missing or `[]`: the policy never matches.
    pub rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    /// Any of them (each: all conditions); empty means any source.
    pub sources: Vec<Vec<Condition>>,
    /// Any of them; empty means any operation.
    pub operations: Vec<Vec<Condition>>,
    /// All of them.
    pub when: Vec<Condition>,
    /// Why the rule can never match (unknown `when` key, a value refused in an ALLOW rule).
    pub invalid: Option<String>,
    /// Labels of the HTTP-only conditions: on TCP an ALLOW rule with any is dropped, other
    /// actions ignore these conditions.
    pub http_only: Vec<String>,
}

/// How a rule fared against a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleOutcome {
    Matched,
    Failed,
    Invalid,
    /// An ALLOW rule using HTTP-only fields, on TCP traffic.
    DroppedOnTcp,
}

impl CompiledRule {
    /// Whether the condition takes part for this request: on TCP, DENY/AUDIT/CUSTOM rules ignore
    /// their HTTP-only conditions.
    fn counts(c: &Condition, f: &Facts<'_>) -> bool {
        f.http || !c.http_only()
    }

    pub fn outcome(&self, action: Action, f: &Facts<'_>) -> RuleOutcome {
        if self.invalid.is_some() {
            return RuleOutcome::Invalid;
        }
        if !f.http && action == Action::Allow && !self.http_only.is_empty() {
            return RuleOutcome::DroppedOnTcp;
        }
        let ok = |c: &Condition| !Self::counts(c, f) || c.holds(f);
        let any = |groups: &[Vec<Condition>]| {
            groups.is_empty() || groups.iter().any(|g| g.iter().all(ok))
        };
        if any(&self.sources) && any(&self.operations) && self.when.iter().all(ok) {
            RuleOutcome::Matched
        } else {
            RuleOutcome::Failed
        }
    }

    pub fn matches(&self, action: Action, f: &Facts<'_>) -> bool {
        self.outcome(action, f) == RuleOutcome::Matched
    }

    /// The conditions that made a matching rule match: the first matching source and
    /// operation, and the `when` conditions.
    pub fn matched_conditions<'r>(&'r self, f: &Facts<'_>) -> Vec<&'r Condition> {
        let ok = |c: &Condition| !Self::counts(c, f) || c.holds(f);
        let first = |groups: &'r [Vec<Condition>]| {
            groups
                .iter()
                .find(|g| g.iter().all(ok))
                .map(|g| g.iter().filter(|c| Self::counts(c, f)).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut out = first(&self.sources);
        out.extend(first(&self.operations));
        out.extend(self.when.iter().filter(|c| Self::counts(c, f)));
        out
    }

    /// For a failed rule: per part, the first condition that failed.
    pub fn failures(&self, f: &Facts<'_>) -> Vec<String> {
        let failed = |c: &&Condition| Self::counts(c, f) && !c.holds(f);
        let mut out = Vec::new();
        for groups in [&self.sources, &self.operations] {
            if groups.is_empty() || groups.iter().any(|g| !g.iter().any(|c| failed(&c))) {
                continue;
            }
            for group in groups.iter() {
                if let Some(c) = group.iter().find(failed) {
                    out.push(c.describe_failure(f));
                }
            }
        }
        out.extend(
            self.when
                .iter()
                .filter(failed)
                .map(|c| c.describe_failure(f)),
        );
        out
    }

    /// The HTTP-only conditions a TCP request ignored.
    pub fn ignored_on_tcp(&self, f: &Facts<'_>) -> Vec<String> {
        if f.http {
            Vec::new()
        } else {
            self.http_only.clone()
        }
    }
}

/// Compiles a policy; `trust_domain` rewrites `cluster.local` principals as Istio does.
pub(crate) fn compile(policy: &AuthorizationPolicy, trust_domain: &str) -> CompiledPolicy {
    let namespace = policy
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let rules = policy
        .rules
        .iter()
        .flatten()
        .map(|rule| {
            RuleBuilder {
                action: policy.action,
                namespace: &namespace,
                trust_domain,
                invalid: None,
            }
            .build(rule)
        })
        .collect();
    CompiledPolicy {
        id: policy.id(),
        namespace,
        action: policy.action,
        dry_run: policy.dry_run,
        provider: policy.provider.clone(),
        rules,
    }
}

struct RuleBuilder<'a> {
    action: Action,
    namespace: &'a str,
    trust_domain: &'a str,
    invalid: Option<String>,
}

impl RuleBuilder<'_> {
    fn build(mut self, rule: &Rule) -> CompiledRule {
        let sources = rule
            .from
            .iter()
            .enumerate()
            .map(|(i, s)| self.source(&format!("from[{i}]"), s))
            .collect();
        let operations = rule
            .to
            .iter()
            .enumerate()
            .map(|(i, o)| self.operation(&format!("to[{i}]"), o))
            .collect();
        let mut when = Vec::new();
        for (i, w) in rule.when.iter().enumerate() {
            self.when(i, w, &mut when);
        }
        let mut compiled = CompiledRule {
            sources,
            operations,
            when,
            invalid: self.invalid,
            http_only: Vec::new(),
        };
        let http_only: Vec<String> = compiled
            .sources
            .iter()
            .chain(&compiled.operations)
            .flatten()
            .chain(&compiled.when)
            .filter(|c| c.http_only())
            .map(|c| c.label.clone())
            .collect();
        compiled.http_only = http_only;
        compiled
    }

    fn source(&mut self, at: &str, s: &Source) -> Vec<Condition> {
        let mut out = Vec::new();
        let td = self.trust_domain;
        let ns = self.namespace;
        let principal = |v: &str| -> Result<Vec<StrPat>, String> {
            Ok(migrate_trust_domain(v, td)
                .iter()
                .map(|p| StrPat::principal(p))
                .collect())
        };
        self.field(
            &mut out,
            at,
            "principals",
            &s.principals,
            &s.not_principals,
            principal,
            Test::Principal,
        );
        let rp = |v: &str| Ok(vec![RequestPrincipalPat::new(v)]);
        self.field(
            &mut out,
            at,
            "requestPrincipals",
            &s.request_principals,
            &s.not_request_principals,
            rp,
            Test::RequestPrincipal,
        );
        let glob = |v: &str| Ok(vec![Glob::namespace(v)]);
        self.field(
            &mut out,
            at,
            "namespaces",
            &s.namespaces,
            &s.not_namespaces,
            glob,
            Test::Namespace,
        );
        let sa = |v: &str| ServiceAccountPat::new(v, ns).map(|p| vec![p]);
        self.field(
            &mut out,
            at,
            "serviceAccounts",
            &s.service_accounts,
            &s.not_service_accounts,
            sa,
            Test::ServiceAccount,
        );
        let domain = |v: &str| Ok(vec![StrPat::string(v)]);
        self.field(
            &mut out,
            at,
            "trustDomains",
            &s.trust_domains,
            &s.not_trust_domains,
            domain,
            Test::TrustDomain,
        );
        let cidr = |v: &str| parse_cidr(v).map(|n| vec![n]);
        self.field(
            &mut out,
            at,
            "ipBlocks",
            &s.ip_blocks,
            &s.not_ip_blocks,
            cidr,
            Test::SourceIp,
        );
        self.field(
            &mut out,
            at,
            "remoteIpBlocks",
            &s.remote_ip_blocks,
            &s.not_remote_ip_blocks,
            cidr,
            Test::RemoteIp,
        );
        out
    }

    fn operation(&mut self, at: &str, o: &Operation) -> Vec<Condition> {
        let mut out = Vec::new();
        let host = |v: &str| Ok(vec![StrPat::header(v)]);
        self.field(
            &mut out,
            at,
            "hosts",
            &o.hosts,
            &o.not_hosts,
            host,
            Test::Host,
        );
        let port = |v: &str| parse_port(v).map(|p| vec![p]);
        self.field(
            &mut out,
            at,
            "ports",
            &o.ports,
            &o.not_ports,
            port,
            Test::DestinationPort,
        );
        let method = |v: &str| Ok(vec![StrPat::header(v)]);
        self.field(
            &mut out,
            at,
            "methods",
            &o.methods,
            &o.not_methods,
            method,
            Test::Method,
        );
        self.field(
            &mut out,
            at,
            "paths",
            &o.paths,
            &o.not_paths,
            path_pattern,
            Test::Path,
        );
        out
    }

    fn when(&mut self, i: usize, w: &When, out: &mut Vec<Condition>) {
        let at = format!("when[{i}]");
        let key = w.key.as_str();
        let (values, not) = (&w.values, &w.not_values);
        let string = |v: &str| Ok(vec![StrPat::string(v)]);
        let cidr = |v: &str| parse_cidr(v).map(|n| vec![n]);
        match key {
            "source.ip" => self.field(out, &at, key, values, not, cidr, Test::SourceIp),
            "remote.ip" => self.field(out, &at, key, values, not, cidr, Test::RemoteIp),
            "destination.ip" => self.field(out, &at, key, values, not, cidr, Test::DestinationIp),
            "destination.port" => {
                let port = |v: &str| parse_port(v).map(|p| vec![p]);
                self.field(out, &at, key, values, not, port, Test::DestinationPort);
            }
            "source.namespace" => {
                let glob = |v: &str| Ok(vec![Glob::namespace(v)]);
                self.field(out, &at, key, values, not, glob, Test::Namespace);
            }
            "source.serviceAccount" => {
                let ns = self.namespace;
                let sa = |v: &str| ServiceAccountPat::new(v, ns).map(|p| vec![p]);
                self.field(out, &at, key, values, not, sa, Test::ServiceAccount);
            }
            "source.principal" => {
                let td = self.trust_domain;
                let principal = |v: &str| -> Result<Vec<StrPat>, String> {
                    Ok(migrate_trust_domain(v, td)
                        .iter()
                        .map(|p| StrPat::principal(p))
                        .collect())
                };
                self.field(out, &at, key, values, not, principal, Test::Principal);
            }
            "request.auth.principal" => {
                let rp = |v: &str| Ok(vec![RequestPrincipalPat::new(v)]);
                self.field(out, &at, key, values, not, rp, Test::RequestPrincipal);
            }
            "request.auth.audiences" => {
                self.field(out, &at, key, values, not, string, Test::Audiences)
            }
            "request.auth.presenter" => {
                self.field(out, &at, key, values, not, string, Test::Presenter)
            }
            "connection.sni" => self.field(out, &at, key, values, not, string, Test::Sni),
            _ => {
                if let Some(rest) = key
                    .strip_prefix("request.headers")
                    .or_else(|| key.strip_prefix("request.experimental.inline.headers"))
                {
                    match bracketed(rest).as_deref() {
                        Some([name]) => {
                            let name = name.to_ascii_lowercase();
                            let header = |v: &str| Ok(vec![StrPat::header(v)]);
                            self.field(out, &at, key, values, not, header, |ps| {
                                Test::Header(name.clone(), ps)
                            });
                        }
                        _ => {
                            self.invalidate(format!("{at}: bad key {key:?}: expected {key}[name]"))
                        }
                    }
                } else if let Some(rest) = key.strip_prefix("request.auth.claims") {
                    match bracketed(rest) {
                        Some(path) => self.field(out, &at, key, values, not, string, |ps| {
                            Test::Claim(path.clone(), ps)
                        }),
                        None => self.invalidate(format!(
                            "{at}: bad key {key:?}: expected request.auth.claims[name]"
                        )),
                    }
                } else if key.starts_with("experimental.envoy.filters.") {
                    let any = |_: &str| Ok(vec![()]);
                    self.field(out, &at, key, values, not, any, |_| Test::FilterMetadata);
                } else {
                    self.invalidate(format!("{at}: unknown key {key:?}"));
                }
            }
        }
    }

    fn invalidate(&mut self, why: String) {
        self.invalid.get_or_insert(why);
    }

    /// Compiles `values` and `notValues` of one field into up to two conditions.
    #[allow(clippy::too_many_arguments)]
    fn field<P>(
        &mut self,
        out: &mut Vec<Condition>,
        at: &str,
        name: &str,
        values: &[String],
        not_values: &[String],
        compile: impl Fn(&str) -> Result<Vec<P>, String>,
        test: impl Fn(Vec<P>) -> Test,
    ) {
        let is_when = at.starts_with("when");
        for (negated, list) in [(false, values), (true, not_values)] {
            if list.is_empty() {
                continue;
            }
            let label = match (is_when, negated) {
                (true, false) => format!("{at} {name}"),
                (true, true) => format!("{at} {name} notValues"),
                (false, false) => format!("{at}.{name}"),
                (false, true) => {
                    format!("{at}.not{}{}", name[..1].to_ascii_uppercase(), &name[1..])
                }
            };
            let mut patterns = Vec::new();
            let mut written = Vec::new();
            for value in list {
                match compile(value) {
                    Ok(ps) => {
                        patterns.extend(ps);
                        written.push(value.clone());
                    }
                    Err(why) if self.action == Action::Allow => {
                        self.invalidate(format!("{label}: {why}"));
                    }
                    // DENY/AUDIT/CUSTOM: Istio drops just the value, widening the rule.
                    Err(_) => {}
                }
            }
            if !written.is_empty() {
                out.push(Condition {
                    label,
                    test: test(patterns),
                    negated,
                    written,
                });
            }
        }
    }
}

/// A `paths` value: a URI template when it has `{*}` or `{**}`, else Istio's string forms.
fn path_pattern(v: &str) -> Result<Vec<PathPat>, String> {
    if Template::is_template(v) {
        Template::compile(v).map(|t| vec![PathPat::Template(t)])
    } else {
        Ok(vec![PathPat::Str(StrPat::string(v))])
    }
}

/// `[a]` or `[a][b]...` into its names; `None` when malformed or a name is empty.
fn bracketed(s: &str) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let (name, after) = inner.split_once(']')?;
        if name.is_empty() || name.contains('[') {
            return None;
        }
        names.push(name.to_owned());
        rest = after;
    }
    (!names.is_empty()).then_some(names)
}

/// Istio's `trustdomain.Bundle.ReplaceTrustDomainAliases` with the mesh's trust domain and no
/// aliases: a `<td>/ns/<ns>/sa/<sa>` principal whose trust domain is `cluster.local` (the
/// placeholder for "this mesh") or matches the mesh's is rewritten to the mesh's trust domain.
pub(crate) fn migrate_trust_domain(principal: &str, trust_domain: &str) -> Vec<String> {
    let parts: Vec<&str> = principal.split('/').collect();
    if parts.len() != 5 || parts[0] == "*" {
        return vec![principal.to_owned()];
    }
    let from = parts[0];
    let prefix_match = |a: &str, p: &str| p.strip_suffix('*').is_some_and(|p| a.starts_with(p));
    let suffix_match = |a: &str, p: &str| p.strip_prefix('*').is_some_and(|p| a.ends_with(p));
    let matches_mesh = from == trust_domain
        || prefix_match(from, trust_domain)
        || prefix_match(trust_domain, from)
        || suffix_match(from, trust_domain)
        || suffix_match(trust_domain, from);
    if !(matches_mesh || from == "cluster.local") || suffix_match(trust_domain, from) {
        return vec![principal.to_owned()];
    }
    vec![format!("{trust_domain}/{}", parts[1..].join("/"))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets() {
        assert_eq!(bracketed("[x-token]"), Some(vec!["x-token".to_owned()]));
        assert_eq!(
            bracketed("[nested1][nested2]"),
            Some(vec!["nested1".to_owned(), "nested2".to_owned()])
        );
        assert_eq!(bracketed(""), None);
        assert_eq!(bracketed("[]"), None);
        assert_eq!(bracketed("[a"), None);
        assert_eq!(bracketed("x[a]"), None);
    }

    #[test]
    fn trust_domains() {
        let m = |p: &str, td: &str| migrate_trust_domain(p, td);
        assert_eq!(
            m("cluster.local/ns/foo/sa/a", "cluster.local"),
            ["cluster.local/ns/foo/sa/a"]
        );
        assert_eq!(
            m("cluster.local/ns/foo/sa/a", "example.com"),
            ["example.com/ns/foo/sa/a"]
        );
        assert_eq!(
            m("other.td/ns/foo/sa/a", "example.com"),
            ["other.td/ns/foo/sa/a"]
        );
        assert_eq!(m("*/ns/foo/sa/a", "example.com"), ["*/ns/foo/sa/a"]);
        assert_eq!(m("*-td/ns/foo/sa/a", "new-td"), ["*-td/ns/foo/sa/a"]);
        assert_eq!(m("principal", "example.com"), ["principal"]);
        assert_eq!(
            m("cluster.local/ns/foo/sa/*", "example.com"),
            ["example.com/ns/foo/sa/*"]
        );
    }
}
