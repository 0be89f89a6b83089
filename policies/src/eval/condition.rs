//! One condition of a rule: an attribute of the request, the compiled values it is compared
//! with, and whether it is a `values` (any must match) or a `notValues` (none may match) test.
//! `principals: [a, b]` and `notPrincipals: [c]` are two conditions, as in Istio's builder.

use std::fmt;

use ipnet::IpNet;

use super::facts::Facts;
use super::matcher::{Glob, RequestPrincipalPat, ServiceAccountPat, StrPat};
use super::path::Template;

/// A compiled `paths` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathPat {
    Str(StrPat),
    Template(Template),
}

impl PathPat {
    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Str(p) => p.matches(path),
            Self::Template(t) => t.matches(path),
        }
    }
}

/// The request attribute and the compiled values of one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    Host(Vec<StrPat>),
    Method(Vec<StrPat>),
    Path(Vec<PathPat>),
    DestinationPort(Vec<u16>),
    SourceIp(Vec<IpNet>),
    RemoteIp(Vec<IpNet>),
    DestinationIp(Vec<IpNet>),
    Principal(Vec<StrPat>),
    Namespace(Vec<Glob>),
    ServiceAccount(Vec<ServiceAccountPat>),
    /// `trustDomains`: the certificate URI's authority, `spiffe://<td>/...` (Istio generates
    /// `spiffe://<td>/` prefixes and `spiffe://<p>[^/]*/.*` regexes).
    TrustDomain(Vec<StrPat>),
    RequestPrincipal(Vec<RequestPrincipalPat>),
    Audiences(Vec<StrPat>),
    Presenter(Vec<StrPat>),
    Claim(Vec<String>, Vec<StrPat>),
    Header(String, Vec<StrPat>),
    Sni(Vec<StrPat>),
    /// `experimental.envoy.filters.*`: Envoy filter metadata, which a meshlens request does not
    /// carry, so the attribute is always absent.
    FilterMetadata,
}

impl Test {
    /// Whether any value matches the request's attribute (false when it is absent).
    fn any_matches(&self, f: &Facts<'_>) -> bool {
        match self {
            Self::Host(ps) => f
                .host
                .is_some_and(|h| ps.iter().any(|p| p.matches_ignore_case(h))),
            Self::Method(ps) => f.method.is_some_and(|m| ps.iter().any(|p| p.matches(m))),
            Self::Path(ps) => f
                .path
                .as_deref()
                .is_some_and(|x| ps.iter().any(|p| p.matches(x))),
            Self::DestinationPort(ps) => f.destination_port.is_some_and(|x| ps.contains(&x)),
            Self::SourceIp(ns) => f
                .source_ip
                .is_some_and(|ip| ns.iter().any(|n| n.contains(&ip))),
            Self::RemoteIp(ns) => f
                .remote_ip
                .is_some_and(|ip| ns.iter().any(|n| n.contains(&ip))),
            Self::DestinationIp(ns) => f
                .destination_ip
                .is_some_and(|ip| ns.iter().any(|n| n.contains(&ip))),
            Self::Principal(ps) => f
                .peer
                .as_deref()
                .is_some_and(|u| ps.iter().any(|p| p.matches(u))),
            Self::Namespace(gs) => f
                .peer
                .as_deref()
                .is_some_and(|u| gs.iter().any(|g| g.matches(u))),
            Self::ServiceAccount(ss) => f
                .peer
                .as_deref()
                .is_some_and(|u| ss.iter().any(|s| s.matches(u))),
            Self::TrustDomain(ps) => f
                .peer
                .as_deref()
                .and_then(trust_domain)
                .is_some_and(|td| ps.iter().any(|p| p.matches(td))),
            Self::RequestPrincipal(rs) => rs.iter().any(|r| r.matches(f.iss, f.sub)),
            Self::Audiences(ps) => f.audiences.iter().any(|a| ps.iter().any(|p| p.matches(a))),
            Self::Presenter(ps) => f.presenter.is_some_and(|x| ps.iter().any(|p| p.matches(x))),
            Self::Claim(path, ps) => f
                .claim(path)
                .iter()
                .any(|c| ps.iter().any(|p| p.matches(c))),
            Self::Header(name, ps) => f
                .header(name)
                .is_some_and(|h| ps.iter().any(|p| p.matches(h))),
            Self::Sni(ps) => f.sni.is_some_and(|x| ps.iter().any(|p| p.matches(x))),
            Self::FilterMetadata => false,
        }
    }

    /// Fields Envoy's network (TCP) RBAC filter cannot see; Istio's generators refuse them
    /// "for TCP".
    pub fn http_only(&self) -> bool {
        matches!(
            self,
            Self::Host(_)
                | Self::Method(_)
                | Self::Path(_)
                | Self::RequestPrincipal(_)
                | Self::Audiences(_)
                | Self::Presenter(_)
                | Self::Claim(..)
                | Self::Header(..)
        )
    }

    /// The request's value of the attribute for messages, or what is missing.
    fn actual(&self, f: &Facts<'_>) -> Result<String, &'static str> {
        let quoted =
            |v: Option<&str>, absent: &'static str| v.map(|s| format!("{s:?}")).ok_or(absent);
        let shown = |v: Option<String>, absent: &'static str| v.ok_or(absent);
        match self {
            Self::Host(_) => quoted(f.host, "no host"),
            Self::Method(_) => quoted(f.method, "no method"),
            Self::Path(_) => quoted(f.path.as_deref(), "no path"),
            Self::DestinationPort(_) => shown(
                f.destination_port.map(|p| p.to_string()),
                "no destination port",
            ),
            Self::SourceIp(_) => shown(f.source_ip.map(|i| i.to_string()), "no source IP"),
            Self::RemoteIp(_) => shown(f.remote_ip.map(|i| i.to_string()), "no remote IP"),
            Self::DestinationIp(_) => {
                shown(f.destination_ip.map(|i| i.to_string()), "no destination IP")
            }
            Self::Principal(_)
            | Self::Namespace(_)
            | Self::ServiceAccount(_)
            | Self::TrustDomain(_) => quoted(
                f.peer
                    .as_deref()
                    .map(|p| p.strip_prefix("spiffe://").unwrap_or(p)),
                "no mTLS principal",
            ),
            Self::RequestPrincipal(_) => match (f.iss, f.sub) {
                (None, None) => Err("no JWT"),
                (iss, sub) => Ok(format!(
                    "iss {:?} sub {:?}",
                    iss.unwrap_or(""),
                    sub.unwrap_or("")
                )),
            },
            Self::Audiences(_) if f.audiences.is_empty() => Err("no audiences"),
            Self::Audiences(_) => Ok(format!("{:?}", f.audiences)),
            Self::Presenter(_) => quoted(f.presenter, "no presenter"),
            Self::Claim(path, _) => {
                let values = f.claim(path);
                match values.as_slice() {
                    [] => Err("no such string claim"),
                    [one] => Ok(format!("{one:?}")),
                    _ => Ok(format!("{values:?}")),
                }
            }
            Self::Header(name, _) if name == "host" => {
                Err("no `host` header (Envoy holds the Host header as :authority)")
            }
            Self::Header(name, _) => quoted(f.header(name), "header absent"),
            Self::Sni(_) => quoted(f.sni, "no SNI"),
            Self::FilterMetadata => Err("no Envoy filter metadata in a meshlens request"),
        }
    }
}

/// `values` or `notValues` of one field, with the text as written for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    /// Where and what: `from[0].principals`, `to[1].notPaths`, `when[2] request.headers[x]`.
    pub label: String,
    pub test: Test,
    /// `notX` / `notValues`: holds when no value matches (including when the attribute is absent).
    pub negated: bool,
    /// The values as written (compiled ones only), for messages.
    pub written: Vec<String>,
}

impl Condition {
    pub fn holds(&self, f: &Facts<'_>) -> bool {
        self.test.any_matches(f) != self.negated
    }

    pub fn http_only(&self) -> bool {
        self.test.http_only()
    }

    /// Why a condition that holds held: `to[0].methods: "GET" matched ["GET"]`.
    pub fn describe_hold(&self, f: &Facts<'_>) -> String {
        let values = self.values();
        match (self.test.actual(f), self.negated) {
            (Ok(v), false) => format!("{}: {v} matched {values}", self.label),
            (Ok(v), true) => format!("{}: {v} matched none of {values}", self.label),
            (Err(absent), _) => format!("{}: {absent}, so none of {values} matches", self.label),
        }
    }

    /// Why a condition failed: `to[0].methods: "GET" matched none of ["POST"]`.
    pub fn describe_failure(&self, f: &Facts<'_>) -> String {
        let values = self.values();
        let mut text = match (self.test.actual(f), self.negated) {
            (Ok(v), false) => format!("{}: {v} matched none of {values}", self.label),
            (Ok(v), true) => format!("{}: {v} matched {values}", self.label),
            (Err(absent), _) => format!("{}: {absent}, so none of {values} can match", self.label),
        };
        if let Some(hint) = self.hint(f) {
            text.push_str(" (");
            text.push_str(&hint);
            text.push(')');
        }
        text
    }

    fn values(&self) -> ValueList<'_> {
        ValueList(&self.written)
    }

    /// The usual surprises, said where they happen.
    fn hint(&self, f: &Facts<'_>) -> Option<String> {
        if self.negated {
            return None;
        }
        match &self.test {
            Test::Host(ps) => {
                let (bare, _) = f.host?.rsplit_once(':')?;
                ps.iter().any(|p| p.matches_ignore_case(bare)).then(|| {
                    "Istio compares the whole Host header, port included: list `host:*` too"
                        .to_owned()
                })
            }
            Test::Principal(_)
            | Test::Namespace(_)
            | Test::ServiceAccount(_)
            | Test::TrustDomain(_)
                if f.peer.is_none() =>
            {
                Some("identities come from the mTLS certificate only".to_owned())
            }
            _ => None,
        }
    }
}

/// The trust domain of a `spiffe://<td>/<path>` URI; `None` without a path after it.
fn trust_domain(uri: &str) -> Option<&str> {
    let (td, _) = uri.strip_prefix("spiffe://")?.split_once('/')?;
    Some(td)
}

/// `["a", "b"]` as written in the policy.
struct ValueList<'a>(&'a [String]);

impl fmt::Display for ValueList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v:?}")?;
        }
        f.write_str("]")
    }
}
