//! Compiled value patterns, built once per policy in `PolicySet::new`. Each mirrors the Envoy
//! matcher Istio's builder generates for the field (`pilot/pkg/security/authz/matcher`,
//! `model/generator.go`), so the corner cases are Istio's, not a re-invention.

use std::net::IpAddr;

use ipnet::IpNet;

/// Istio's `exact`, `prefix*`, `*suffix`, `*` string forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrPat {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// Both, without overlap: Istio's `spiffe://.*suffix` regex for `*suffix` principals.
    PrefixSuffix(String, String),
    /// `*` compiled to the regex `.+`: present and not empty.
    NonEmpty,
    /// `*` compiled to Envoy's header `present_match`: present, even when empty.
    Present,
}

impl StrPat {
    /// `matcher.StringMatcher`: `*` is `.+`.
    pub fn string(v: &str) -> Self {
        if v == "*" {
            Self::NonEmpty
        } else if let Some(suffix) = v.strip_prefix('*') {
            Self::Suffix(suffix.to_owned())
        } else if let Some(prefix) = v.strip_suffix('*') {
            Self::Prefix(prefix.to_owned())
        } else {
            Self::Exact(v.to_owned())
        }
    }

    /// `matcher.HeaderMatcher` / `HostMatcher`: `*` only asks for the header to be present.
    pub fn header(v: &str) -> Self {
        if v == "*" {
            Self::Present
        } else {
            Self::string(v)
        }
    }

    /// `matcher.StringMatcherWithPrefix(v, "spiffe://")`, used for principals.
    pub fn principal(v: &str) -> Self {
        const SPIFFE: &str = "spiffe://";
        if v == "*" {
            Self::NonEmpty
        } else if let Some(suffix) = v.strip_prefix('*') {
            Self::PrefixSuffix(SPIFFE.to_owned(), suffix.to_owned())
        } else if let Some(prefix) = v.strip_suffix('*') {
            Self::Prefix(format!("{SPIFFE}{prefix}"))
        } else {
            Self::Exact(format!("{SPIFFE}{v}"))
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        match self {
            Self::Exact(e) => s == e,
            Self::Prefix(p) => s.starts_with(p.as_str()),
            Self::Suffix(x) => s.ends_with(x.as_str()),
            Self::PrefixSuffix(p, x) => {
                s.len() >= p.len() + x.len() && s.starts_with(p.as_str()) && s.ends_with(x.as_str())
            }
            Self::NonEmpty => !s.is_empty(),
            Self::Present => true,
        }
    }

    /// ASCII case-insensitive, as Envoy's `ignore_case` (used for hosts).
    pub fn matches_ignore_case(&self, s: &str) -> bool {
        let s = s.as_bytes();
        let starts =
            |p: &str| s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p.as_bytes());
        let ends = |x: &str| {
            s.len() >= x.len() && s[s.len() - x.len()..].eq_ignore_ascii_case(x.as_bytes())
        };
        match self {
            Self::Exact(e) => s.eq_ignore_ascii_case(e.as_bytes()),
            Self::Prefix(p) => starts(p),
            Self::Suffix(x) => ends(x),
            Self::PrefixSuffix(p, x) => s.len() >= p.len() + x.len() && starts(p) && ends(x),
            Self::NonEmpty => !s.is_empty(),
            Self::Present => true,
        }
    }
}

/// A regex made of literals and `.*`, matched in full: Istio's namespace matcher
/// `.*/ns/<value with * as .*>/.*` against the peer's `spiffe://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    /// The literals between the `*`s; at least one element.
    pieces: Vec<String>,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self {
            pieces: pattern.split('*').map(str::to_owned).collect(),
        }
    }

    /// The namespace matcher for one `namespaces` / `source.namespace` value.
    pub fn namespace(value: &str) -> Self {
        Self::new(&format!("*/ns/{value}/*"))
    }

    pub fn matches(&self, s: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return s.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        // Leftmost matches are enough for `*`-only patterns: taking the earliest occurrence of
        // each literal never rules out a later one.
        if s.len() < first.len() + last.len()
            || !s.starts_with(first.as_str())
            || !s.ends_with(last.as_str())
        {
            return false;
        }
        let mut window = &s[first.len()..s.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// `serviceAccounts` / `source.serviceAccount`: Istio's regex
/// `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`, any trust domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceAccountPat {
    ns_marker: String,
    sa_marker: String,
}

impl ServiceAccountPat {
    /// `namespace/name`, or `name` in the policy's namespace.
    pub fn new(value: &str, policy_namespace: &str) -> Result<Self, String> {
        let (ns, sa) = value.split_once('/').unwrap_or((policy_namespace, value));
        if value.contains('*') || ns.is_empty() || sa.is_empty() || sa.contains('/') {
            return Err(format!(
                "service account {value:?} is not `name` or `namespace/name`"
            ));
        }
        Ok(Self {
            ns_marker: format!("/ns/{ns}/"),
            sa_marker: format!("sa/{sa}"),
        })
    }

    pub fn matches(&self, uri: &str) -> bool {
        let Some(id) = uri.strip_prefix("spiffe://") else {
            return false;
        };
        // The trust domain (`.+`) may not be empty, so the namespace marker starts after byte 0.
        id.match_indices(self.ns_marker.as_str())
            .filter(|(at, _)| *at > 0)
            .any(|(at, _)| self.after_namespace(&id[at + self.ns_marker.len()..]))
    }

    /// `(.+/|)sa/<sa>(/.+)?` in full.
    fn after_namespace(&self, rest: &str) -> bool {
        rest.match_indices(self.sa_marker.as_str()).any(|(at, _)| {
            let before_ok = at == 0 || (at >= 2 && rest.as_bytes()[at - 1] == b'/');
            let tail = &rest[at + self.sa_marker.len()..];
            before_ok && (tail.is_empty() || (tail.len() >= 2 && tail.starts_with('/')))
        })
    }
}

/// `requestPrincipals` / `request.auth.principal`: Istio splits the value at its last `/` into
/// issuer and subject and matches the JWT's `iss` and `sub` claims separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestPrincipalPat {
    iss: StrPat,
    sub: StrPat,
}

impl RequestPrincipalPat {
    pub fn new(value: &str) -> Self {
        let split = value.rsplit_once('/');
        let (iss, sub) = split.unwrap_or((value, ""));
        let exact = |s: &str| StrPat::Exact(s.to_owned());
        let (iss, sub) = if value == "*" {
            (StrPat::NonEmpty, StrPat::NonEmpty)
        } else if let Some(v) = value.strip_prefix('*') {
            match split {
                Some(_) if iss == "*" => (StrPat::NonEmpty, exact(sub)),
                Some(_) => (StrPat::Suffix(iss[1..].to_owned()), exact(sub)),
                None => (StrPat::NonEmpty, StrPat::Suffix(v.to_owned())),
            }
        } else if let Some(v) = value.strip_suffix('*') {
            match split {
                Some(_) if sub == "*" => (exact(iss), StrPat::NonEmpty),
                Some(_) => (exact(iss), StrPat::Prefix(sub[..sub.len() - 1].to_owned())),
                None => (StrPat::Prefix(v.to_owned()), StrPat::NonEmpty),
            }
        } else {
            (exact(iss), exact(sub))
        };
        Self { iss, sub }
    }

    pub fn matches(&self, iss: Option<&str>, sub: Option<&str>) -> bool {
        iss.is_some_and(|i| self.iss.matches(i)) && sub.is_some_and(|s| self.sub.matches(s))
    }
}

/// `ipBlocks` and the IP `when` keys: an address is a /32 or /128 (`AddrStrToCidrRange`).
pub(crate) fn parse_cidr(value: &str) -> Result<IpNet, String> {
    if value.contains('/') {
        value
            .parse::<IpNet>()
            .map_err(|_| format!("{value:?} is not a CIDR range"))
    } else {
        value
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| format!("{value:?} is not an IP address"))
    }
}

/// `ports`, `destination.port`: a decimal number 0..=65535.
pub(crate) fn parse_port(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .map_err(|_| format!("{value:?} is not a port number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms() {
        assert!(StrPat::string("GET").matches("GET"));
        assert!(!StrPat::string("GET").matches("get"));
        assert!(StrPat::string("/api/*").matches("/api/x"));
        assert!(StrPat::string("/api/*").matches("/api/"));
        assert!(StrPat::string("*/info").matches("/x/info"));
        assert!(StrPat::string("*").matches("x"));
        assert!(!StrPat::string("*").matches(""));
        assert!(StrPat::header("*").matches(""));
        assert!(StrPat::header("*.Example.com").matches_ignore_case("www.example.COM"));
        assert!(!StrPat::header("example.com").matches_ignore_case("example.com:80"));
    }

    #[test]
    fn principals() {
        let uri = "spiffe://cluster.local/ns/foo/sa/sleep";
        assert!(StrPat::principal("cluster.local/ns/foo/sa/sleep").matches(uri));
        assert!(StrPat::principal("cluster.local/ns/foo/*").matches(uri));
        assert!(StrPat::principal("*/sa/sleep").matches(uri));
        assert!(StrPat::principal("*").matches(uri));
        assert!(!StrPat::principal("*/sa/other").matches(uri));
        assert!(!StrPat::principal("*sleep").matches("sleep"));
    }

    #[test]
    fn namespaces() {
        let uri = "spiffe://cluster.local/ns/foo/sa/sleep";
        assert!(Glob::namespace("foo").matches(uri));
        assert!(Glob::namespace("f*").matches(uri));
        assert!(Glob::namespace("*oo").matches(uri));
        assert!(Glob::namespace("*").matches(uri));
        assert!(!Glob::namespace("bar").matches(uri));
        assert!(!Glob::namespace("fo").matches(uri));
        // Istio's regex, not a segment split: `/ns/sa/` inside `ns/ns/sa/x` is found too.
        assert!(Glob::namespace("sa").matches("spiffe://td/ns/ns/sa/x"));
        assert!(Glob::new("a*b*c").matches("abc"));
        assert!(!Glob::new("ab*bc").matches("abc"));
    }

    #[test]
    fn service_accounts() {
        let sa = |v: &str| ServiceAccountPat::new(v, "foo").ok();
        let uri = "spiffe://cluster.local/ns/my-ns/sa/my-sa";
        assert!(sa("my-ns/my-sa").is_some_and(|p| p.matches(uri)));
        assert!(
            sa("my-ns/my-sa").is_some_and(|p| p.matches("spiffe://other.td/ns/my-ns/sa/my-sa"))
        );
        assert!(sa("my-ns/my-sa").is_some_and(|p| !p.matches("spiffe://td/ns/my-ns/sa/my-sa-2")));
        assert!(sa("my-ns/my-sa").is_some_and(|p| p.matches("spiffe://td/ns/my-ns/x/sa/my-sa/y")));
        assert!(sa("my-sa").is_some_and(|p| p.matches("spiffe://td/ns/foo/sa/my-sa")));
        assert!(sa("my-sa").is_some_and(|p| !p.matches(uri)));
        assert!(sa("a/b/c").is_none());
        assert!(sa("a/*").is_none());
    }

    #[test]
    fn request_principals() {
        let m = |v: &str, iss: &str, sub: &str| {
            RequestPrincipalPat::new(v).matches(Some(iss), Some(sub))
        };
        assert!(m("https://issuer/user", "https://issuer", "user"));
        assert!(m("https://issuer/*", "https://issuer", "anyone"));
        assert!(m("*/user", "any", "user"));
        assert!(m("*", "a", "b"));
        assert!(!m("*", "a", ""));
        assert!(m("*@example.com", "iss", "me@example.com"));
        assert!(m("iss-prefix*", "iss-prefix-1", "x"));
        assert!(!RequestPrincipalPat::new("*").matches(None, Some("x")));
    }

    #[test]
    fn cidrs_and_ports() {
        let net = parse_cidr("5.6.0.0/16");
        assert!(net.is_ok_and(|n| {
            n.contains(&"5.6.7.8".parse::<IpAddr>().unwrap_or(IpAddr::from([0; 4])))
        }));
        assert!(parse_cidr("1.2.3.4").is_ok_and(|n| n.prefix_len() == 32));
        assert!(parse_cidr("::1").is_ok_and(|n| n.prefix_len() == 128));
        assert!(parse_cidr("1.2.3").is_err());
        assert_eq!(parse_port("8080"), Ok(8080));
        assert!(parse_port("http").is_err());
    }
}
