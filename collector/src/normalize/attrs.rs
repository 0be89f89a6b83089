//! Attribute values and the per-span record of borrowed candidate facts.
//!
//! [`record`] is called once per attribute, in arrival order, on the hot path: it only
//! dispatches on the key and keeps borrowed `&str`s or small parsed numbers. Interning and
//! allocation happen later, in `SpanBuilder::finish`, for the facts that are kept.

use super::identity::Identity;

/// One attribute value, borrowed from the decoded buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrValue<'a> {
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps, bytes: ignored by normalisation.
    Other,
}

impl<'a> AttrValue<'a> {
    /// The string, if this is a non-empty string value.
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Self::Str(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// An integer from an int, an integral double, or a decimal string (`"200"`).
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(i),
            Self::Str(s) => s.trim().parse().ok(),
            Self::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(d as i64),
            _ => None,
        }
    }

    /// A boolean from a bool or the strings `true`/`false` (any case).
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(b),
            Self::Str(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Self::Str(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    fn as_port(self) -> Option<u16> {
        self.as_i64().and_then(|p| u16::try_from(p).ok())
    }
}

/// Request-level candidate facts of one span (resource-level ones are copied in first, so a
/// span's own attributes override them).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestAttrs<'a> {
    pub method: Option<&'a str>,
    /// `http.url` / `url.full`.
    pub url: Option<&'a str>,
    /// `url.path` / Zipkin `http.path`: an explicit path.
    pub url_path: Option<&'a str>,
    pub http_target: Option<&'a str>,
    pub grpc_path: Option<&'a str>,
    pub http_host: Option<&'a str>,
    pub http_protocol: Option<&'a str>,
    pub server_address: Option<&'a str>,
    pub server_port: Option<u16>,
    pub net_peer_name: Option<&'a str>,
    pub net_peer_port: Option<u16>,
    pub status: Option<u16>,
    pub grpc_status: Option<u8>,
    /// Any gRPC sign: `rpc.system=grpc`, a gRPC status or path tag, a gRPC content type.
    pub grpc: bool,
    /// HTTP signs other than the fields above (`http.route`, `http.scheme`, …).
    pub http: bool,
    /// `network.transport=tcp` (or old `net.transport=ip_tcp`).
    pub tcp: bool,
    pub peer_service: Option<&'a str>,
    pub db_system: Option<&'a str>,
    pub db_name: Option<&'a str>,
    pub messaging_system: Option<&'a str>,
    pub upstream_cluster: Option<&'a str>,
    /// Raw `response_flags`, including Envoy's `-`.
    pub response_flags: Option<&'a str>,
    pub response_code_details: Option<&'a str>,
    /// Some string attribute value starts with `rbac_access_denied`.
    pub rbac_value: bool,
    pub error: bool,
    pub component_proxy: bool,
    pub peer_address: Option<&'a str>,
    pub network_peer_address: Option<&'a str>,
    pub network_peer_port: Option<u16>,
    pub net_peer_ip: Option<&'a str>,
    pub net_sock_peer_addr: Option<&'a str>,
    pub net_sock_peer_port: Option<u16>,
    pub client_address: Option<&'a str>,
    pub client_port: Option<u16>,
    pub peer_uri_san: Option<&'a str>,
    pub xfcc: Option<&'a str>,
    pub dry_allow_policy: Option<&'a str>,
    pub dry_allow_result: Option<&'a str>,
    pub dry_deny_policy: Option<&'a str>,
    pub dry_deny_result: Option<&'a str>,
    pub shared: bool,
}

impl RequestAttrs<'_> {
    /// Envoy-only signs, for telling a plain Envoy from an SDK when there is no `node_id`.
    pub fn envoy_signs(&self) -> bool {
        self.upstream_cluster.is_some() || self.response_flags.is_some() || self.component_proxy
    }

    pub fn has_http_facts(&self) -> bool {
        self.http
            || self.method.is_some()
            || self.status.is_some()
            || self.url.is_some()
            || self.url_path.is_some()
            || self.http_target.is_some()
            || self.http_protocol.is_some()
            || self.http_host.is_some()
    }
}

/// Overwrites `slot` when `value` is a non-empty string.
#[inline]
fn put<'a>(slot: &mut Option<&'a str>, value: AttrValue<'a>) {
    if let Some(s) = value.as_str() {
        *slot = Some(s);
    }
}

#[inline]
fn put_parsed<T>(slot: &mut Option<T>, parsed: Option<T>) {
    if parsed.is_some() {
        *slot = parsed;
    }
}

fn is_grpc_content_type(value: AttrValue<'_>) -> bool {
    value.as_str().is_some_and(|s| {
        s.get(..16)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/grpc"))
    })
}

/// Records one attribute. Returns whether it is an identity (workload) attribute.
pub(crate) fn record<'a>(
    ident: &mut Identity<'a>,
    req: &mut RequestAttrs<'a>,
    key: &'a str,
    value: AttrValue<'a>,
) -> bool {
    match key {
        // Workload identity.
        "istio.canonical_service" => put(&mut ident.canonical_service, value),
        "istio.canonical_revision" => put(&mut ident.canonical_revision, value),
        "istio.namespace" => put(&mut ident.istio_namespace, value),
        "node_id" => put(&mut ident.node_id, value),
        "service.name" => put(&mut ident.service_name, value),
        "service.namespace" => put(&mut ident.service_namespace, value),
        "service.version" => put(&mut ident.service_version, value),
        "k8s.namespace.name" => put(&mut ident.k8s_namespace, value),
        "k8s.pod.name" => put(&mut ident.k8s_pod, value),
        "k8s.deployment.name" | "linkerd.io/proxy-deployment" => {
            ident.linkerd_label |= key == "linkerd.io/proxy-deployment";
            put(&mut ident.k8s_deployment, value);
        }
        "host.name" => put(&mut ident.host_name, value),
        "app" | "app.kubernetes.io/name" => put(&mut ident.app, value),
        "version" => put(&mut ident.version_label, value),
        "linkerd.io/workload-ns" => {
            ident.linkerd_label = true;
            put(&mut ident.linkerd_ns, value);
        }
        "direction" => ident.direction = value.as_str().is_some(),
        _ if key.starts_with("linkerd.io/") => ident.linkerd_label = true,
        _ => {
            record_request(req, key, value);
            return false;
        }
    }
    true
}

fn record_request<'a>(req: &mut RequestAttrs<'a>, key: &'a str, value: AttrValue<'a>) {
    match key {
        "http.method" | "http.request.method" => put(&mut req.method, value),
        "http.url" | "url.full" => put(&mut req.url, value),
        "url.path" | "http.path" => put(&mut req.url_path, value),
        "http.target" => put(&mut req.http_target, value),
        "grpc.path" => {
            req.grpc = true;
            put(&mut req.grpc_path, value);
        }
        "http.host" => put(&mut req.http_host, value),
        "http.protocol" => {
            put(&mut req.http_protocol, value);
            req.grpc |= value.as_str().is_some_and(|p| {
                p.as_bytes()
                    .windows(4)
                    .any(|w| w.eq_ignore_ascii_case(b"grpc"))
            });
        }
        "http.status_code" | "http.response.status_code" => {
            put_parsed(&mut req.status, super::outcome::http_status(value));
        }
        "grpc.status_code" | "rpc.grpc.status_code" => {
            req.grpc = true;
            put_parsed(&mut req.grpc_status, super::outcome::grpc_status(value));
        }
        "rpc.system" => req.grpc |= value.as_str() == Some("grpc"),
        "grpc.content_type" => req.grpc = true,
        "content-type"
        | "content_type"
        | "http.request.header.content-type"
        | "http.response.header.content-type"
        | "request.headers.content-type" => req.grpc |= is_grpc_content_type(value),
        "http.route" | "http.scheme" | "url.scheme" | "http.user_agent" | "user_agent" => {
            req.http = true;
        }
        "network.protocol.name" => {
            req.http |= value
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case("http"));
        }
        "network.transport" | "net.transport" => {
            req.tcp = matches!(value.as_str(), Some("tcp" | "ip_tcp"));
        }
        "server.address" => put(&mut req.server_address, value),
        "server.port" => put_parsed(&mut req.server_port, value.as_port()),
        "net.peer.name" => put(&mut req.net_peer_name, value),
        "net.peer.port" => put_parsed(&mut req.net_peer_port, value.as_port()),
        "peer.service" => put(&mut req.peer_service, value),
        "db.system" | "db.system.name" => put(&mut req.db_system, value),
        "db.name" | "db.namespace" => put(&mut req.db_name, value),
        "messaging.system" => put(&mut req.messaging_system, value),
        "upstream_cluster" | "upstream_cluster.name" => put(&mut req.upstream_cluster, value),
        "response_flags" => put(&mut req.response_flags, value),
        "response_code_details"
        | "envoy.response_code_details"
        | "http.response_code_details"
        | "response.code_details" => put(&mut req.response_code_details, value),
        "error" => req.error = value.as_bool() == Some(true),
        "component" => req.component_proxy = value.as_str() == Some("proxy"),
        "peer.address" => put(&mut req.peer_address, value),
        "network.peer.address" => put(&mut req.network_peer_address, value),
        "network.peer.port" => put_parsed(&mut req.network_peer_port, value.as_port()),
        "net.peer.ip" => put(&mut req.net_peer_ip, value),
        "net.sock.peer.addr" => put(&mut req.net_sock_peer_addr, value),
        "net.sock.peer.port" => put_parsed(&mut req.net_sock_peer_port, value.as_port()),
        "client.address" => put(&mut req.client_address, value),
        "client.port" => put_parsed(&mut req.client_port, value.as_port()),
        "downstream_peer_uri_san"
        | "downstream.peer.uri_san"
        | "peer.uri_san"
        | "source.principal"
        | "istio.source_principal" => put(&mut req.peer_uri_san, value),
        "x-forwarded-client-cert"
        | "http.request.header.x-forwarded-client-cert"
        | "request.headers.x-forwarded-client-cert"
        | "xfcc" => put(&mut req.xfcc, value),
        "istio.authorization.dry_run.allow_policy.name" => put(&mut req.dry_allow_policy, value),
        "istio.authorization.dry_run.allow_policy.result" => {
            put(&mut req.dry_allow_result, value);
        }
        "istio.authorization.dry_run.deny_policy.name" => put(&mut req.dry_deny_policy, value),
        "istio.authorization.dry_run.deny_policy.result" => put(&mut req.dry_deny_result, value),
        "zipkin.shared" => req.shared = value.as_bool() == Some(true),
        _ => {
            if let AttrValue::Str(s) = value
                && s.starts_with("rbac_access_denied")
            {
                req.rbac_value = true;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn value_conversions() {
        assert_eq!(AttrValue::Str("200").as_i64(), Some(200));
        assert_eq!(AttrValue::Str(" 7 ").as_i64(), Some(7));
        assert_eq!(AttrValue::Int(-3).as_i64(), Some(-3));
        assert_eq!(AttrValue::Double(404.0).as_i64(), Some(404));
        assert_eq!(AttrValue::Double(404.5).as_i64(), None);
        assert_eq!(AttrValue::Double(f64::NAN).as_i64(), None);
        assert_eq!(AttrValue::Double(f64::INFINITY).as_i64(), None);
        assert_eq!(AttrValue::Str("x").as_i64(), None);
        assert_eq!(AttrValue::Bool(true).as_i64(), None);
        assert_eq!(AttrValue::Str("TRUE").as_bool(), Some(true));
        assert_eq!(AttrValue::Str("false").as_bool(), Some(false));
        assert_eq!(AttrValue::Str("yes").as_bool(), None);
        assert_eq!(AttrValue::Str("").as_str(), None);
        assert_eq!(AttrValue::Int(70000).as_port(), None);
        assert_eq!(AttrValue::Str("9080").as_port(), Some(9080));
        assert!(is_grpc_content_type(AttrValue::Str(
            "application/grpc+proto"
        )));
        assert!(!is_grpc_content_type(AttrValue::Str("application/json")));
        assert!(!is_grpc_content_type(AttrValue::Str("applicátion/grpc")));
    }

    #[test]
    fn later_values_override_and_empty_is_ignored() {
        let mut ident = Identity::default();
        let mut req = RequestAttrs::default();
        assert!(!record(
            &mut ident,
            &mut req,
            "http.method",
            AttrValue::Str("GET")
        ));
        record(
            &mut ident,
            &mut req,
            "http.request.method",
            AttrValue::Str("POST"),
        );
        record(&mut ident, &mut req, "http.method", AttrValue::Str(""));
        assert_eq!(req.method, Some("POST"));
        assert!(record(
            &mut ident,
            &mut req,
            "linkerd.io/control-plane-ns",
            AttrValue::Str("linkerd")
        ));
        assert!(ident.linkerd_label);
        record(
            &mut ident,
            &mut req,
            "custom",
            AttrValue::Str("rbac_access_denied_matched_policy[x]"),
        );
        assert!(req.rbac_value);
    }
}
