//! The one span record every source is normalised into, right after decoding.
//!
//! It keeps what the analyzer and the policy checks reason about — ids, kind, timing, the
//! workload that emitted the span, where the call went, protocol facts and outcome — and drops
//! everything else. Low-cardinality strings are interned ([`Sym`]); the path, which carries ids
//! until the analyzer templates it, is the only owned string.

use std::net::IpAddr;

use crate::intern::Sym;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// From the OTLP enum value; unknown values are treated as unspecified.
    pub fn from_otlp(value: i32) -> Self {
        match value {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

/// What kind of proxy (if any) emitted the span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ProxyKind {
    /// An application's own SDK, not a proxy.
    #[default]
    None,
    /// An Istio/Envoy sidecar (`node_id` prefix `sidecar`).
    Sidecar,
    /// An Envoy gateway (`node_id` prefix `router`).
    Gateway,
    /// An Istio ambient waypoint (`node_id` prefix `waypoint`).
    Waypoint,
    /// linkerd2-proxy.
    Linkerd,
    /// Envoy without Istio identity (plain Envoy, e.g. via Zipkin).
    Envoy,
}

impl ProxyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Sidecar => "sidecar",
            Self::Gateway => "gateway",
            Self::Waypoint => "waypoint",
            Self::Linkerd => "linkerd",
            Self::Envoy => "envoy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Protocol {
    #[default]
    Unknown,
    Http,
    Grpc,
    Tcp,
    Db,
    Messaging,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Http => "http",
            Self::Grpc => "grpc",
            Self::Tcp => "tcp",
            Self::Db => "db",
            Self::Messaging => "messaging",
        }
    }
}

/// The workload that emitted a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Workload {
    /// Graph node identity: `<service>.<namespace>` when the namespace is known, else the service.
    pub node: Sym,
    /// Service name without namespace (`productpage`), `unknown_service` when none was given.
    pub service: Sym,
    pub namespace: Option<Sym>,
    pub version: Option<Sym>,
    pub pod: Option<Sym>,
    pub proxy: ProxyKind,
}

/// Where a call went, as far as the emitting side knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Destination {
    /// Host as addressed: `reviews.bookinfo.svc.cluster.local`, `server.address`, …
    pub host: Option<Sym>,
    pub port: Option<u16>,
    /// Short service name derived from a cluster-local host (`reviews`).
    pub service: Option<Sym>,
    /// Namespace derived from a cluster-local host (`bookinfo`).
    pub namespace: Option<Sym>,
    /// `peer.service` as set by the caller.
    pub peer_service: Option<Sym>,
    pub db_system: Option<Sym>,
    pub db_name: Option<Sym>,
    pub messaging_system: Option<Sym>,
    /// Envoy `upstream_cluster` was `inbound|…`: the span is a sidecar's inbound leg.
    pub inbound: bool,
}

/// A peer address as proxies report it: an IP, sometimes with a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddress {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

/// Why a span counts as failed; `None` in [`Span::failure`] means it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// HTTP 5xx.
    ServerError,
    /// HTTP 4xx other than an authorization denial (counted apart from errors).
    ClientError,
    /// Denied by an authorization policy (403 RBAC).
    AuthzDenied,
    /// gRPC status other than OK.
    GrpcStatus,
    /// Envoy `response_flags` reports a transport or upstream failure.
    ResponseFlags,
    /// Span status ERROR or `error=true` without a more precise cause.
    Error,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "http_5xx",
            Self::ClientError => "http_4xx",
            Self::AuthzDenied => "authz_denied",
            Self::GrpcStatus => "grpc_status",
            Self::ResponseFlags => "response_flags",
            Self::Error => "error",
        }
    }
}

/// How sure we are that a 403 came from an authorization policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthzDenial {
    #[default]
    None,
    /// A SERVER span answered 403 with no response-code details to tell RBAC from the app.
    Likely,
    /// `%RESPONSE_CODE_DETAILS%` says `rbac_access_denied_matched_policy[…]`.
    Confirmed,
}

/// How the caller's identity was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalSource {
    /// A tag carrying `%DOWNSTREAM_PEER_URI_SAN%` (or the OTel `tls.client.subject`-style SAN).
    PeerUriSan,
    /// The `URI=spiffe://…` element of an `x-forwarded-client-cert` header tag.
    Xfcc,
}

/// A mTLS peer principal, without the `spiffe://` scheme (`cluster.local/ns/foo/sa/bar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Principal {
    pub name: Sym,
    pub source: PrincipalSource,
}

/// Istio's dry-run verdict tags (`istio.authorization.dry_run.{allow,deny}_policy.{name,result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DryRunVerdicts {
    pub allow_policy: Option<Sym>,
    pub allow_result: Option<Sym>,
    pub deny_policy: Option<Sym>,
    pub deny_result: Option<Sym>,
}

impl DryRunVerdicts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A normalised span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub kind: SpanKind,
    pub name: Sym,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub workload: Workload,
    pub destination: Destination,
    pub protocol: Protocol,
    pub method: Option<Sym>,
    /// Request path with the query string stripped.
    pub path: Option<Box<str>>,
    /// HTTP `Host`/authority when a span carries it.
    pub host: Option<Sym>,
    pub status_code: Option<u16>,
    pub grpc_status: Option<u8>,
    /// Envoy `response_flags`, `None` when absent or `-`.
    pub response_flags: Option<Sym>,
    pub failure: Option<Failure>,
    pub authz_denial: AuthzDenial,
    pub peer: Option<PeerAddress>,
    pub principal: Option<Principal>,
    pub dry_run: DryRunVerdicts,
    /// Zipkin `shared`: this SERVER span reuses its client's span id.
    pub shared: bool,
    /// How many requests this span stands for: 1 unless it says it was sampled (a
    /// `tracestate` `ot=th:` threshold, or the configured multiplier attribute).
    pub adjusted_count: f64,
    /// `adjusted_count` came from sampling information, so counts built on it are estimates.
    pub estimated: bool,
}
