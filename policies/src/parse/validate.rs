//! Istio's value rules for AuthorizationPolicy fields, as the API server (CRD schema) and the
//! istiod webhook (`pkg/config/security`, `pkg/config/validation`) apply them. Each check
//! returns the message for one offending value; the caller adds the position.
//!
//! Deliberately *not* rules: wildcards elsewhere than at the start or end (`a*b`) and HTTP
//! method names. Istio accepts both — `a*b` then only matches the literal text — so rejecting
//! them here would refuse policies the cluster runs; they are lint findings instead.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::suggest;

/// `when` keys taking exactly the listed name.
pub(crate) const EXACT_KEYS: &[&str] = &[
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "source.serviceAccount",
    "source.trustDomain",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "destination.ip",
    "destination.port",
    "connection.sni",
];

/// `when` keys followed by a bracketed name (`request.headers[x-token]`).
pub(crate) const MAP_KEYS: &[&str] = &[
    "request.headers",
    "request.experimental.inline.headers",
    "request.auth.claims",
];

/// Envoy dynamic metadata: `experimental.envoy.filters.<filter>[<key>]`.
const ENVOY_FILTERS: &str = "experimental.envoy.filters.";

/// A `when` key Istio knows, or why not.
pub(crate) fn when_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("`key` must not be empty".into());
    }
    if EXACT_KEYS.contains(&key) {
        return Ok(());
    }
    // Prefix match, as Istio does: `request.headers[...]`, `request.auth.claims[a][b]`.
    if let Some(prefix) = MAP_KEYS
        .iter()
        .chain(std::iter::once(&ENVOY_FILTERS))
        .find(|p| key.starts_with(**p))
    {
        return map_key(key).map_err(|e| format!("bad key \"{key}\": {e} (e.g. {prefix}[name])"));
    }
    match key {
        "destination.namespace" => {
            return Err(format!(
                "attribute \"{key}\" is replaced by the policy's metadata.namespace"
            ));
        }
        "destination.name" | "destination.user" => {
            return Err(format!(
                "deprecated attribute \"{key}\": only supported in v1alpha1"
            ));
        }
        _ if key.starts_with("destination.labels") => {
            return Err(format!(
                "attribute \"{key}\" is replaced by the workload selector"
            ));
        }
        _ => {}
    }
    Err(format!("unknown attribute \"{key}\"{}", suggest_key(key)))
}

/// Istio's `validateMapKey`: `name[inner]`, with something inside the brackets.
fn map_key(key: &str) -> Result<(), &'static str> {
    match key.find('[') {
        Some(open) if key.ends_with(']') && open > 0 && open + 2 < key.len() => Ok(()),
        _ => Err("should have the format a[b]"),
    }
}

fn suggest_key(key: &str) -> String {
    // Compare what comes before any `[`, then put the bracketed part back.
    let (head, tail) = key.find('[').map_or((key, ""), |i| key.split_at(i));
    if tail.is_empty()
        && let Some(exact) = suggest::closest(head, EXACT_KEYS)
    {
        return format!(" (did you mean \"{exact}\"?)");
    }
    let tail = if tail.is_empty() { "[…]" } else { tail };
    suggest::closest(head, MAP_KEYS)
        .map(|prefix| format!(" (did you mean \"{prefix}{tail}\"?)"))
        .unwrap_or_default()
}

/// A value of `values`/`notValues`, by key (the key itself is already valid).
pub(crate) fn when_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "source.ip" | "remote.ip" | "destination.ip" => ip_or_cidr(value),
        "destination.port" => port(value),
        "source.serviceAccount" => service_account(value),
        _ => Ok(()),
    }
}

/// `ipBlocks` and IP `when` values: an address or a CIDR range (IPv4 or IPv6).
pub(crate) fn ip_or_cidr(value: &str) -> Result<(), String> {
    if value.contains('/') {
        IpNet::from_str(value)
            .map(|_| ())
            .map_err(|_| format!("bad CIDR range \"{value}\""))
    } else {
        IpAddr::from_str(value)
            .map(|_| ())
            .map_err(|_| format!("bad IP address \"{value}\""))
    }
}

/// `ports`/`notPorts` and `destination.port`: a decimal number 1..=65535 written as a string.
/// (Istio itself lets "0" through; no request arrives on port 0, so meshlens refuses it.)
pub(crate) fn port(value: &str) -> Result<(), String> {
    let number = if value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<u32>().ok()
    } else {
        None
    };
    match number {
        Some(1..=65535) => Ok(()),
        _ => Err(format!(
            "bad port \"{value}\": must be a number from 1 to 65535"
        )),
    }
}

/// `serviceAccounts` (Istio 1.24+): `name` (the policy's namespace) or `namespace/name`, no
/// wildcards, at most 320 characters.
pub(crate) fn service_account(value: &str) -> Result<(), String> {
    if value.contains('*') {
        return Err(format!(
            "wildcard not allowed in service account \"{value}\""
        ));
    }
    if value.chars().count() > 320 {
        return Err(format!(
            "service account \"{value}\" is longer than 320 characters"
        ));
    }
    let format = "expected format 'serviceAccount' or 'namespace/serviceAccount'";
    match value.split_once('/') {
        Some((_, rest)) if rest.contains('/') => Err(format!("{format}, found \"{value}\"")),
        Some(("", _)) => Err(format!("{format}, found empty namespace in \"{value}\"")),
        Some((_, "")) => Err(format!(
            "{format}, found empty service account in \"{value}\""
        )),
        _ => Ok(()),
    }
}

/// `paths`/`notPaths` with `{*}` (one segment) and `{**}` (any segments) templates, checked as
/// Istio's `CheckValidPathTemplate` does: nothing may follow `{**}` but literal segments,
/// braces only in these two operators, and in a template path every other segment must be a
/// plain RFC 3986 `pchar` literal (so no `*` globs mixed with templates).
pub(crate) fn path(value: &str) -> Result<(), String> {
    let is_template = value.contains("{*}") || value.contains("{**}");
    let mut seen_any = false;
    for segment in value.trim_matches('/').split('/') {
        if segment == "{*}" || segment == "{**}" {
            if seen_any {
                return Err(format!(
                    "invalid path template \"{value}\": {{**}} must be the last operator"
                ));
            }
            seen_any = segment == "{**}";
            continue;
        }
        if segment.contains(['{', '}']) {
            return Err(format!(
                "invalid path template \"{value}\": '{{' or '}}' outside a {{*}} or {{**}} operator"
            ));
        }
        if is_template && !is_pchar_literal(segment) {
            return Err(format!(
                "invalid path template \"{value}\": segment \"{segment}\" is not a valid literal"
            ));
        }
    }
    Ok(())
}

fn is_pchar_literal(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()+,;:@=".contains(&b))
}

/// `metadata.name` of a custom resource: a DNS-1123 subdomain.
pub(crate) fn object_name(value: &str) -> Result<(), String> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| is_dns_label(label, 253));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid name \"{value}\": must be lower case letters, digits, '-' and '.', \
             starting and ending with a letter or digit (DNS-1123 subdomain)"
        ))
    }
}

/// `metadata.namespace`: a DNS-1123 label.
pub(crate) fn namespace(value: &str) -> Result<(), String> {
    if is_dns_label(value, 63) {
        Ok(())
    } else {
        Err(format!(
            "invalid namespace \"{value}\": must be at most 63 lower case letters, digits and '-', \
             starting and ending with a letter or digit (DNS-1123 label)"
        ))
    }
}

fn is_dns_label(label: &str, max: usize) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
}

/// `targetRef(s)`: what Istio allows a policy to attach to.
pub(crate) const TARGET_KINDS: &[(&str, &str)] = &[
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
];

pub(crate) fn target_kind(group: &str, kind: &str) -> Result<(), String> {
    // The core group may be written empty or as "core".
    let group = if group == "core" { "" } else { group };
    if TARGET_KINDS.contains(&(group, kind)) {
        return Ok(());
    }
    let allowed: Vec<String> = TARGET_KINDS
        .iter()
        .map(|(g, k)| {
            if g.is_empty() {
                (*k).to_string()
            } else {
                format!("{g}/{k}")
            }
        })
        .collect();
    let written = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{group}/{kind}")
    };
    Err(format!(
        "targetRef must be one of {} but was {written}",
        allowed.join(", ")
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn when_keys_follow_istio() {
        for ok in [
            "request.headers[X-header]",
            "request.auth.claims[iss]",
            "request.auth.claims[nested1][nested2]",
            "experimental.envoy.filters.a.b[c]",
            "source.trustDomain",
            "source.serviceAccount",
            "connection.sni",
        ] {
            assert_eq!(when_key(ok), Ok(()), "{ok}");
        }
        assert!(when_key("request.headers[]").is_err());
        assert!(when_key("request.headers").is_err());
        assert!(when_key("").is_err());
        assert!(
            when_key("destination.namespace")
                .unwrap_err()
                .contains("metadata.namespace")
        );
        assert!(
            when_key("destination.labels[app]")
                .unwrap_err()
                .contains("workload selector")
        );
        assert!(
            when_key("destination.user")
                .unwrap_err()
                .contains("v1alpha1")
        );
        assert_eq!(
            when_key("request.header[x]").unwrap_err(),
            "unknown attribute \"request.header[x]\" (did you mean \"request.headers[x]\"?)"
        );
        assert_eq!(
            when_key("source.principals").unwrap_err(),
            "unknown attribute \"source.principals\" (did you mean \"source.principal\"?)"
        );
    }

    #[test]
    fn ips_ports_and_service_accounts() {
        assert!(ip_or_cidr("10.0.0.1").is_ok());
        assert!(ip_or_cidr("192.168.10.0/24").is_ok());
        assert!(ip_or_cidr("2001:db8::/32").is_ok());
        assert!(ip_or_cidr("10.0.0.256").is_err());
        assert!(ip_or_cidr("10.0.0.0/33").is_err());
        assert!(ip_or_cidr("not-an-ip").is_err());
        assert!(port("80").is_ok() && port("65535").is_ok());
        for bad in ["0", "65536", "-1", "+80", "http", "", "8080a"] {
            assert!(port(bad).is_err(), "{bad}");
        }
        assert!(service_account("ns/sa").is_ok() && service_account("sa").is_ok());
        for bad in ["a/b/c", "/sa", "ns/", "ns/*", &"x".repeat(321)] {
            assert!(service_account(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn path_templates_follow_istio() {
        for ok in [
            "/exact",
            "/prefix/*",
            "*/suffix",
            "*",
            "/path/template/{*}",
            "/{**}/path/template",
            "/{*}/a/{**}",
        ] {
            assert_eq!(path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/{**}/{*}",
            "/{**}/a/{**}",
            "/a/{b}",
            "/{*}/foo*",
            "/a{*}",
            "/{*}//b",
            "/{name=*}",
        ] {
            assert!(path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_target_kinds() {
        assert!(object_name("httpbin-1").is_ok() && object_name("a.b").is_ok());
        for bad in ["", "Httpbin", "-a", "a_b", "a..b"] {
            assert!(object_name(bad).is_err(), "{bad}");
        }
        assert!(namespace("foo").is_ok() && namespace("a.b").is_err());
        assert!(target_kind("gateway.networking.k8s.io", "Gateway").is_ok());
        assert!(target_kind("", "Service").is_ok() && target_kind("core", "Service").is_ok());
        assert!(target_kind("apps", "Deployment").is_err());
    }
}
