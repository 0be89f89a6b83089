//! Attribute values and the per-span record of borrowed candidate facts.
//!
//! [`record`] is called once per attribute, in arrival order, on the hot path: it only
//! dispatches on the key and keeps borrowed `&str`s or small parsed numbers. Interning and
//! allocation happen later, in `SpanBuilder::finish`, for the facts that are kept.

use super::identity::Identity;
use crate::intern::OVERFLOW;

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
            Self::Str(s) => super::envoy::trim(s).parse().ok(),
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
    /// A sampling multiplier attribute's value.
    pub multiplier: Option<f64>,
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

/// The longest attribute value normalisation reads as itself, the interner's cap: a longer
/// one reads as [`OVERFLOW`], as it would have been interned ([`AttrValue::capped`]).
///
/// Every string a [`crate::span::Span`] keeps comes from such a value (its path is a slice
/// of one, the other strings are interned), so no span holds more than this many bytes of
/// outside text. It also bounds per-span CPU: resource attributes apply to every span of
/// their resource, and the strings parsed for each span (URLs, XFCC, peer addresses) or
/// hashed (interned names) are at most this long, so a span costs time linear in its own
/// size plus a bounded amount, however large its resource's values. Span names are per-span
/// data (the interner caps what is kept). How many attributes a span has is bounded by the
/// request size limit only; each costs time linear in its size, once.
///
/// Decoders apply the cap where they decode a value: the owned path in
/// [`super::SpanBuilder::attr`] (and the resource's), the wire walker when it decodes the
/// value of a key [`AttrKey::classify`] knows, before passing it to `attr_known`.
pub const MAX_VALUE_LEN: usize = crate::intern::MAX_STRING_LEN;

/// XFCC headers carry certificates when Envoy forwards them (`Cert=`, `Chain=`): longer than
/// other values, and only searched for the `URI=` of the last element.
pub const MAX_XFCC_LEN: usize = 16 * 1024;

impl<'a> AttrValue<'a> {
    /// The value, or [`OVERFLOW`] for a string longer than `max` bytes.
    #[inline]
    pub fn capped(self, max: usize) -> Self {
        match self {
            Self::Str(s) if s.len() > max => Self::Str(OVERFLOW),
            value => value,
        }
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

/// The attributes normalisation reads, so a decoder can tell from the key alone whether a
/// value is worth decoding (most Envoy tags are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKey {
    CanonicalService,
    CanonicalRevision,
    IstioNamespace,
    NodeId,
    ServiceName,
    ServiceNamespace,
    ServiceVersion,
    K8sNamespace,
    K8sPod,
    K8sDeployment,
    LinkerdDeployment,
    HostName,
    App,
    VersionLabel,
    LinkerdWorkloadNs,
    Direction,
    LinkerdLabel,
    Method,
    Url,
    UrlPath,
    HttpTarget,
    GrpcPath,
    HttpHost,
    HttpProtocol,
    HttpStatus,
    GrpcStatus,
    RpcSystem,
    GrpcContentType,
    ContentType,
    HttpSign,
    NetworkProtocolName,
    NetworkTransport,
    ServerAddress,
    ServerPort,
    NetPeerName,
    NetPeerPort,
    PeerService,
    DbSystem,
    DbName,
    MessagingSystem,
    UpstreamCluster,
    ResponseFlags,
    ResponseCodeDetails,
    Error,
    Component,
    PeerAddress,
    NetworkPeerAddress,
    NetworkPeerPort,
    NetPeerIp,
    NetSockPeerAddr,
    NetSockPeerPort,
    ClientAddress,
    ClientPort,
    PeerUriSan,
    Xfcc,
    DryRunAllowPolicy,
    DryRunAllowResult,
    DryRunDenyPolicy,
    DryRunDenyResult,
    ZipkinShared,
    /// The attribute named by `--span-multiplier-key` (never returned by [`AttrKey::classify`]).
    /// Keep it last: it sizes [`AttrKey::COUNT`].
    SamplingMultiplier,
}

impl AttrKey {
    /// How many keys there are: `key as usize` indexes an array of this length.
    pub const COUNT: usize = AttrKey::SamplingMultiplier as usize + 1;

    /// The attribute a key names, `None` for keys normalisation ignores. Takes bytes so a
    /// decoder need not validate the UTF-8 of keys it will ignore; every known key is ASCII.
    pub fn classify(key: &[u8]) -> Option<Self> {
        use AttrKey::*;
        // Switch on the length first: most keys on the wire are not ours, and a length
        // mismatch rules a candidate out without comparing bytes.
        let known = match key.len() {
            3 => match key {
                b"app" => App,
                _ => return Self::linkerd_label(key),
            },
            4 => match key {
                b"xfcc" => Xfcc,
                _ => return Self::linkerd_label(key),
            },
            5 => match key {
                b"error" => Error,
                _ => return Self::linkerd_label(key),
            },
            7 => match key {
                b"node_id" => NodeId,
                b"version" => VersionLabel,
                b"db.name" => DbName,
                _ => return Self::linkerd_label(key),
            },
            8 => match key {
                b"http.url" => Url,
                b"url.full" => Url,
                b"url.path" => UrlPath,
                _ => return Self::linkerd_label(key),
            },
            9 => match key {
                b"host.name" => HostName,
                b"direction" => Direction,
                b"http.path" => UrlPath,
                b"grpc.path" => GrpcPath,
                b"http.host" => HttpHost,
                b"db.system" => DbSystem,
                b"component" => Component,
                _ => return Self::linkerd_label(key),
            },
            10 => match key {
                b"rpc.system" => RpcSystem,
                b"http.route" => HttpSign,
                b"url.scheme" => HttpSign,
                b"user_agent" => HttpSign,
                _ => return Self::linkerd_label(key),
            },
            11 => match key {
                b"http.method" => Method,
                b"http.target" => HttpTarget,
                b"http.scheme" => HttpSign,
                b"server.port" => ServerPort,
                b"net.peer.ip" => NetPeerIp,
                b"client.port" => ClientPort,
                _ => return Self::linkerd_label(key),
            },
            12 => match key {
                b"service.name" => ServiceName,
                b"k8s.pod.name" => K8sPod,
                b"content-type" => ContentType,
                b"content_type" => ContentType,
                b"peer.service" => PeerService,
                b"db.namespace" => DbName,
                b"peer.address" => PeerAddress,
                b"peer.uri_san" => PeerUriSan,
                _ => return Self::linkerd_label(key),
            },
            13 => match key {
                b"http.protocol" => HttpProtocol,
                b"net.transport" => NetworkTransport,
                b"net.peer.name" => NetPeerName,
                b"net.peer.port" => NetPeerPort,
                b"zipkin.shared" => ZipkinShared,
                _ => return Self::linkerd_label(key),
            },
            14 => match key {
                b"server.address" => ServerAddress,
                b"db.system.name" => DbSystem,
                b"response_flags" => ResponseFlags,
                b"client.address" => ClientAddress,
                _ => return Self::linkerd_label(key),
            },
            15 => match key {
                b"istio.namespace" => IstioNamespace,
                b"service.version" => ServiceVersion,
                b"http.user_agent" => HttpSign,
                _ => return Self::linkerd_label(key),
            },
            16 => match key {
                b"http.status_code" => HttpStatus,
                b"grpc.status_code" => GrpcStatus,
                b"messaging.system" => MessagingSystem,
                b"upstream_cluster" => UpstreamCluster,
                b"source.principal" => PeerUriSan,
                _ => return Self::linkerd_label(key),
            },
            17 => match key {
                b"service.namespace" => ServiceNamespace,
                b"grpc.content_type" => GrpcContentType,
                b"network.transport" => NetworkTransport,
                b"network.peer.port" => NetworkPeerPort,
                _ => return Self::linkerd_label(key),
            },
            18 => match key {
                b"k8s.namespace.name" => K8sNamespace,
                b"net.sock.peer.addr" => NetSockPeerAddr,
                b"net.sock.peer.port" => NetSockPeerPort,
                _ => return Self::linkerd_label(key),
            },
            19 => match key {
                b"k8s.deployment.name" => K8sDeployment,
                b"http.request.method" => Method,
                _ => return Self::linkerd_label(key),
            },
            20 => match key {
                b"rpc.grpc.status_code" => GrpcStatus,
                b"network.peer.address" => NetworkPeerAddress,
                _ => return Self::linkerd_label(key),
            },
            21 => match key {
                b"network.protocol.name" => NetworkProtocolName,
                b"upstream_cluster.name" => UpstreamCluster,
                b"response_code_details" => ResponseCodeDetails,
                b"response.code_details" => ResponseCodeDetails,
                _ => return Self::linkerd_label(key),
            },
            22 => match key {
                b"app.kubernetes.io/name" => App,
                b"linkerd.io/workload-ns" => LinkerdWorkloadNs,
                b"istio.source_principal" => PeerUriSan,
                _ => return Self::linkerd_label(key),
            },
            23 => match key {
                b"istio.canonical_service" => CanonicalService,
                b"downstream_peer_uri_san" => PeerUriSan,
                b"downstream.peer.uri_san" => PeerUriSan,
                b"x-forwarded-client-cert" => Xfcc,
                _ => return Self::linkerd_label(key),
            },
            24 => match key {
                b"istio.canonical_revision" => CanonicalRevision,
                _ => return Self::linkerd_label(key),
            },
            25 => match key {
                b"http.response.status_code" => HttpStatus,
                _ => return Self::linkerd_label(key),
            },
            26 => match key {
                b"http.response_code_details" => ResponseCodeDetails,
                _ => return Self::linkerd_label(key),
            },
            27 => match key {
                b"linkerd.io/proxy-deployment" => LinkerdDeployment,
                b"envoy.response_code_details" => ResponseCodeDetails,
                _ => return Self::linkerd_label(key),
            },
            28 => match key {
                b"request.headers.content-type" => ContentType,
                _ => return Self::linkerd_label(key),
            },
            32 => match key {
                b"http.request.header.content-type" => ContentType,
                _ => return Self::linkerd_label(key),
            },
            33 => match key {
                b"http.response.header.content-type" => ContentType,
                _ => return Self::linkerd_label(key),
            },
            39 => match key {
                b"request.headers.x-forwarded-client-cert" => Xfcc,
                _ => return Self::linkerd_label(key),
            },
            43 => match key {
                b"http.request.header.x-forwarded-client-cert" => Xfcc,
                _ => return Self::linkerd_label(key),
            },
            44 => match key {
                b"istio.authorization.dry_run.deny_policy.name" => DryRunDenyPolicy,
                _ => return Self::linkerd_label(key),
            },
            45 => match key {
                b"istio.authorization.dry_run.allow_policy.name" => DryRunAllowPolicy,
                _ => return Self::linkerd_label(key),
            },
            46 => match key {
                b"istio.authorization.dry_run.deny_policy.result" => DryRunDenyResult,
                _ => return Self::linkerd_label(key),
            },
            47 => match key {
                b"istio.authorization.dry_run.allow_policy.result" => DryRunAllowResult,
                _ => return Self::linkerd_label(key),
            },
            _ => return Self::linkerd_label(key),
        };
        Some(known)
    }

    /// The longest value of this key read as itself ([`MAX_VALUE_LEN`], [`MAX_XFCC_LEN`]).
    #[inline]
    pub fn max_value_len(self) -> usize {
        match self {
            Self::Xfcc => MAX_XFCC_LEN,
            _ => MAX_VALUE_LEN,
        }
    }

    fn linkerd_label(key: &[u8]) -> Option<Self> {
        key.starts_with(b"linkerd.io/")
            .then_some(Self::LinkerdLabel)
    }

    /// Whether the attribute names the emitting workload (rather than the request).
    fn is_identity(self) -> bool {
        use AttrKey::*;
        matches!(
            self,
            CanonicalService
                | CanonicalRevision
                | IstioNamespace
                | NodeId
                | ServiceName
                | ServiceNamespace
                | ServiceVersion
                | K8sNamespace
                | K8sPod
                | K8sDeployment
                | LinkerdDeployment
                | HostName
                | App
                | VersionLabel
                | LinkerdWorkloadNs
                | Direction
                | LinkerdLabel
        )
    }
}

/// The value prefix by which an attribute of any name marks an RBAC denial (a custom tag
/// carrying Envoy's `%RESPONSE_CODE_DETAILS%`).
pub const RBAC_DENIED_PREFIX: &str = "rbac_access_denied";

/// Records one attribute by name. Returns whether it is an identity (workload) attribute.
pub(crate) fn record<'a>(
    ident: &mut Identity<'a>,
    req: &mut RequestAttrs<'a>,
    key: &'a str,
    value: AttrValue<'a>,
) -> bool {
    match AttrKey::classify(key.as_bytes()) {
        Some(key) => record_known(ident, req, key, value.capped(key.max_value_len())),
        None => {
            if let AttrValue::Str(s) = value
                && s.starts_with(RBAC_DENIED_PREFIX)
            {
                req.rbac_value = true;
            }
            false
        }
    }
}

/// Records one attribute normalisation reads. Returns whether it is an identity attribute.
pub(crate) fn record_known<'a>(
    ident: &mut Identity<'a>,
    req: &mut RequestAttrs<'a>,
    key: AttrKey,
    value: AttrValue<'a>,
) -> bool {
    use AttrKey::*;
    match key {
        CanonicalService => put(&mut ident.canonical_service, value),
        CanonicalRevision => put(&mut ident.canonical_revision, value),
        IstioNamespace => put(&mut ident.istio_namespace, value),
        NodeId => put(&mut ident.node_id, value),
        ServiceName => put(&mut ident.service_name, value),
        ServiceNamespace => put(&mut ident.service_namespace, value),
        ServiceVersion => put(&mut ident.service_version, value),
        K8sNamespace => put(&mut ident.k8s_namespace, value),
        K8sPod => put(&mut ident.k8s_pod, value),
        K8sDeployment => put(&mut ident.k8s_deployment, value),
        LinkerdDeployment => {
            ident.linkerd_label = true;
            put(&mut ident.k8s_deployment, value);
        }
        HostName => put(&mut ident.host_name, value),
        App => put(&mut ident.app, value),
        VersionLabel => put(&mut ident.version_label, value),
        LinkerdWorkloadNs => {
            ident.linkerd_label = true;
            put(&mut ident.linkerd_ns, value);
        }
        Direction => ident.direction = value.as_str().is_some(),
        LinkerdLabel => ident.linkerd_label = true,
        Method => put(&mut req.method, value),
        Url => put(&mut req.url, value),
        UrlPath => put(&mut req.url_path, value),
        HttpTarget => put(&mut req.http_target, value),
        GrpcPath => {
            req.grpc = true;
            put(&mut req.grpc_path, value);
        }
        HttpHost => put(&mut req.http_host, value),
        HttpProtocol => {
            put(&mut req.http_protocol, value);
            req.grpc |= value.as_str().is_some_and(|p| {
                p.as_bytes()
                    .windows(4)
                    .any(|w| w.eq_ignore_ascii_case(b"grpc"))
            });
        }
        HttpStatus => put_parsed(&mut req.status, super::outcome::http_status(value)),
        GrpcStatus => {
            req.grpc = true;
            put_parsed(&mut req.grpc_status, super::outcome::grpc_status(value));
        }
        RpcSystem => req.grpc |= value.as_str() == Some("grpc"),
        GrpcContentType => req.grpc = true,
        ContentType => req.grpc |= is_grpc_content_type(value),
        HttpSign => req.http = true,
        NetworkProtocolName => {
            req.http |= value
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case("http"));
        }
        NetworkTransport => req.tcp = matches!(value.as_str(), Some("tcp" | "ip_tcp")),
        ServerAddress => put(&mut req.server_address, value),
        ServerPort => put_parsed(&mut req.server_port, value.as_port()),
        NetPeerName => put(&mut req.net_peer_name, value),
        NetPeerPort => put_parsed(&mut req.net_peer_port, value.as_port()),
        PeerService => put(&mut req.peer_service, value),
        DbSystem => put(&mut req.db_system, value),
        DbName => put(&mut req.db_name, value),
        MessagingSystem => put(&mut req.messaging_system, value),
        UpstreamCluster => put(&mut req.upstream_cluster, value),
        ResponseFlags => put(&mut req.response_flags, value),
        ResponseCodeDetails => put(&mut req.response_code_details, value),
        Error => req.error = value.as_bool() == Some(true),
        Component => req.component_proxy = value.as_str() == Some("proxy"),
        PeerAddress => put(&mut req.peer_address, value),
        NetworkPeerAddress => put(&mut req.network_peer_address, value),
        NetworkPeerPort => put_parsed(&mut req.network_peer_port, value.as_port()),
        NetPeerIp => put(&mut req.net_peer_ip, value),
        NetSockPeerAddr => put(&mut req.net_sock_peer_addr, value),
        NetSockPeerPort => put_parsed(&mut req.net_sock_peer_port, value.as_port()),
        ClientAddress => put(&mut req.client_address, value),
        ClientPort => put_parsed(&mut req.client_port, value.as_port()),
        PeerUriSan => put(&mut req.peer_uri_san, value),
        Xfcc => put(&mut req.xfcc, value),
        DryRunAllowPolicy => put(&mut req.dry_allow_policy, value),
        DryRunAllowResult => put(&mut req.dry_allow_result, value),
        DryRunDenyPolicy => put(&mut req.dry_deny_policy, value),
        DryRunDenyResult => put(&mut req.dry_deny_result, value),
        ZipkinShared => req.shared = value.as_bool() == Some(true),
        SamplingMultiplier => {
            if let Some(m) = super::sampling::multiplier(value) {
                req.multiplier = Some(m);
            }
        }
    }
    key.is_identity()
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
