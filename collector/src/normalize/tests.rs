//! Whole-span tests: OTLP requests built in code, normalised through the owned-request path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

use super::*;
use crate::intern::OVERFLOW;
use crate::span::{
    AuthzDenial, Destination, Failure, PeerAddress, PrincipalSource, Protocol, ProxyKind,
};

type OtlpSpan = opentelemetry_proto::tonic::trace::v1::Span;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const TRACE: [u8; 16] = [
    0x3b, 0xa5, 0x56, 9, 0xc3, 0xcd, 0xe4, 0x96, 0x49, 0xcd, 0x77, 0xd1, 0xf9, 0xdc, 0xd9, 0x36,
];

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_owned()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

fn span(kind: i32, name: &str, attributes: Vec<KeyValue>) -> OtlpSpan {
    OtlpSpan {
        trace_id: TRACE.to_vec(),
        span_id: vec![0x84, 0x75, 0x6b, 0x1d, 0xab, 0x08, 0x56, 0xfa],
        parent_span_id: vec![0x49, 0xcd, 0x77, 0xd1, 0xf9, 0xdc, 0xd9, 0x36],
        name: name.to_owned(),
        kind,
        start_time_unix_nano: 1_701_779_876_571_116_000,
        end_time_unix_nano: 1_701_779_876_582_555_000,
        attributes,
        ..OtlpSpan::default()
    }
}

fn request(resource: Vec<KeyValue>, spans: Vec<OtlpSpan>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn normalize(req: &ExportTraceServiceRequest) -> (Normalizer, Vec<Span>) {
    let n = Normalizer::new(Interner::new());
    let mut out = Vec::new();
    let rejected = n.normalize_request(req, &mut out);
    assert_eq!(rejected, Rejected::default());
    (n, out)
}

fn one(resource: Vec<KeyValue>, s: OtlpSpan) -> (Normalizer, Span) {
    let (n, mut spans) = normalize(&request(resource, vec![s]));
    assert_eq!(spans.len(), 1);
    (n, spans.remove(0))
}

/// Resolves symbols for readable assertions.
struct View<'n>(&'n Normalizer);

impl View<'_> {
    fn s(&self, sym: Sym) -> &str {
        self.0.interner().resolve(sym)
    }
    fn o(&self, sym: Option<Sym>) -> Option<&str> {
        sym.map(|s| self.s(s))
    }
    /// node, service, namespace, version, pod, proxy
    fn workload(
        &self,
        w: &Workload,
    ) -> (
        &str,
        &str,
        Option<&str>,
        Option<&str>,
        Option<&str>,
        ProxyKind,
    ) {
        (
            self.s(w.node),
            self.s(w.service),
            self.o(w.namespace),
            self.o(w.version),
            self.o(w.pod),
            w.proxy,
        )
    }
    /// host, port, service, namespace, inbound
    fn dest(
        &self,
        d: &Destination,
    ) -> (Option<&str>, Option<u16>, Option<&str>, Option<&str>, bool) {
        (
            self.o(d.host),
            d.port,
            self.o(d.service),
            self.o(d.namespace),
            d.inbound,
        )
    }
}

fn productpage_sidecar_tags() -> Vec<KeyValue> {
    vec![
        s(
            "node_id",
            "sidecar~10.244.0.25~productpage-v1-6f89b6c557-sg2bc.bookinfo~bookinfo.svc.cluster.local",
        ),
        s("istio.canonical_service", "productpage"),
        s("istio.canonical_revision", "v1"),
        s("istio.namespace", "bookinfo"),
        s("istio.mesh_id", "cluster.local"),
        s("component", "proxy"),
        s("peer.address", "10.244.0.25"),
        s("response_flags", "-"),
        s("http.protocol", "HTTP/1.1"),
        s("downstream_cluster", "-"),
        s("user_agent", "Go-http-client/1.1"),
        s("guid:x-request-id", "e4e8c177-3962-9359-945e-61e7175cd867"),
        s("request_size", "0"),
    ]
}

#[test]
fn istio_sidecar_client_span() {
    let mut tags = productpage_sidecar_tags();
    tags.extend([
        s(
            "upstream_cluster",
            "outbound|9080||reviews.bookinfo.svc.cluster.local",
        ),
        s(
            "upstream_cluster.name",
            "outbound|9080||reviews.bookinfo.svc.cluster.local",
        ),
        s("http.status_code", "200"),
        s("http.method", "GET"),
        s("http.url", "http://reviews:9080/reviews/0?user=jason#top"),
    ]);
    let (n, sp) = one(
        vec![s("service.name", "productpage.bookinfo")],
        span(CLIENT, "reviews.bookinfo.svc.cluster.local:9080/*", tags),
    );
    let v = View(&n);
    assert_eq!(
        v.workload(&sp.workload),
        (
            "productpage.bookinfo",
            "productpage",
            Some("bookinfo"),
            Some("v1"),
            Some("productpage-v1-6f89b6c557-sg2bc"),
            ProxyKind::Sidecar
        )
    );
    assert_eq!(
        v.dest(&sp.destination),
        (
            Some("reviews.bookinfo.svc.cluster.local"),
            Some(9080),
            Some("reviews"),
            Some("bookinfo"),
            false
        )
    );
    assert_eq!(sp.kind, SpanKind::Client);
    assert_eq!(sp.trace_id, TRACE);
    assert_eq!(
        sp.parent_span_id,
        Some([0x49, 0xcd, 0x77, 0xd1, 0xf9, 0xdc, 0xd9, 0x36])
    );
    assert_eq!(sp.duration_nanos, 11_439_000);
    assert_eq!(v.s(sp.name), "reviews.bookinfo.svc.cluster.local:9080/*");
    assert_eq!(sp.protocol, Protocol::Http);
    assert_eq!(v.o(sp.method), Some("GET"));
    assert_eq!(sp.path.as_deref(), Some("/reviews/0"));
    assert_eq!(v.o(sp.host), Some("reviews:9080"));
    assert_eq!(sp.status_code, Some(200));
    assert_eq!(sp.grpc_status, None);
    assert_eq!(sp.response_flags, None);
    assert_eq!(sp.failure, None);
    assert_eq!(sp.authz_denial, AuthzDenial::None);
    assert_eq!(
        sp.peer,
        Some(PeerAddress {
            ip: IpAddr::V4(Ipv4Addr::new(10, 244, 0, 25)),
            port: None
        })
    );
    assert_eq!(sp.principal, None);
    assert!(sp.dry_run.is_empty());
    assert!(!sp.shared);
}

#[test]
fn istio_sidecar_inbound_server_span() {
    let mut tags = productpage_sidecar_tags();
    tags.extend([
        s("upstream_cluster", "inbound|9080||"),
        s("http.status_code", "200"),
        s("http.method", "GET"),
        s("http.url", "http://192.168.49.2:31653/productpage"),
    ]);
    let (n, sp) = one(
        vec![s("service.name", "productpage.bookinfo")],
        span(
            SERVER,
            "productpage.bookinfo.svc.cluster.local:9080/productpage",
            tags,
        ),
    );
    let v = View(&n);
    assert_eq!(v.s(sp.workload.node), "productpage.bookinfo");
    assert_eq!(
        v.dest(&sp.destination),
        (
            Some("productpage.bookinfo.svc.cluster.local"),
            Some(9080),
            Some("productpage"),
            Some("bookinfo"),
            true
        )
    );
    assert_eq!(sp.path.as_deref(), Some("/productpage"));
    assert_eq!(v.o(sp.host), Some("192.168.49.2:31653"));
}

#[test]
fn istio_gateway_span() {
    let tags = vec![
        s("peer.address", "10.244.0.1"),
        s("http.protocol", "HTTP/1.1"),
        s(
            "upstream_cluster.name",
            "outbound|9080||productpage.bookinfo.svc.cluster.local",
        ),
        s(
            "node_id",
            "router~10.244.0.14~istio-ingressgateway-79788cd94-wgmsp.istio-system~istio-system.svc.cluster.local",
        ),
        s("http.status_code", "200"),
        s("istio.canonical_service", "istio-ingressgateway"),
        s("component", "proxy"),
        s("istio.canonical_revision", "latest"),
        s("response_flags", "-"),
        s("istio.namespace", "istio-system"),
        s(
            "upstream_cluster",
            "outbound|9080||productpage.bookinfo.svc.cluster.local",
        ),
        s("http.method", "GET"),
        s("http.url", "http://192.168.49.2:31653/productpage"),
    ];
    let (n, sp) = one(
        vec![s("service.name", "istio-ingressgateway.istio-system")],
        span(
            CLIENT,
            "productpage.bookinfo.svc.cluster.local:9080/productpage",
            tags,
        ),
    );
    let v = View(&n);
    assert_eq!(
        v.workload(&sp.workload),
        (
            "istio-ingressgateway.istio-system",
            "istio-ingressgateway",
            Some("istio-system"),
            Some("latest"),
            Some("istio-ingressgateway-79788cd94-wgmsp"),
            ProxyKind::Gateway
        )
    );
    assert_eq!(
        v.dest(&sp.destination),
        (
            Some("productpage.bookinfo.svc.cluster.local"),
            Some(9080),
            Some("productpage"),
            Some("bookinfo"),
            false
        )
    );
    assert_eq!(sp.path.as_deref(), Some("/productpage"));
    assert_eq!(
        sp.peer.map(|p| p.ip),
        Some(IpAddr::V4(Ipv4Addr::new(10, 244, 0, 1)))
    );
}

fn reviews_server_span(extra: Vec<KeyValue>) -> (Normalizer, Span) {
    let mut tags = vec![
        s(
            "node_id",
            "sidecar~10.244.0.23~reviews-v2-6f76498fc8-58wpn.bookinfo~bookinfo.svc.cluster.local",
        ),
        s("istio.canonical_service", "reviews"),
        s("istio.namespace", "bookinfo"),
        s("upstream_cluster", "inbound|9080||"),
        s("http.method", "GET"),
        s("http.url", "http://reviews:9080/reviews/0"),
    ];
    tags.extend(extra);
    one(
        vec![s("service.name", "reviews.bookinfo")],
        span(SERVER, "reviews.bookinfo.svc.cluster.local:9080/*", tags),
    )
}

#[test]
fn rbac_denied_server_span_with_details() {
    let (_, sp) = reviews_server_span(vec![
        s("http.status_code", "403"),
        s(
            "response_code_details",
            "rbac_access_denied_matched_policy[ns[bookinfo]-policy[deny-get]-rule[0]]",
        ),
    ]);
    assert_eq!(sp.failure, Some(Failure::AuthzDenied));
    assert_eq!(sp.authz_denial, AuthzDenial::Confirmed);
    assert_eq!(sp.status_code, Some(403));

    // The details in a custom tag with another name.
    let (_, sp) = reviews_server_span(vec![
        s("http.status_code", "403"),
        s("my.details", "rbac_access_denied_matched_policy[none]"),
    ]);
    assert_eq!(sp.authz_denial, AuthzDenial::Confirmed);
}

#[test]
fn rbac_denied_server_span_without_details() {
    let (_, sp) = reviews_server_span(vec![s("http.status_code", "403")]);
    assert_eq!(sp.failure, Some(Failure::AuthzDenied));
    assert_eq!(sp.authz_denial, AuthzDenial::Likely);

    let (_, sp) = reviews_server_span(vec![
        s("http.status_code", "403"),
        s("envoy.response_code_details", "via_upstream"),
    ]);
    assert_eq!(sp.failure, Some(Failure::ClientError));
    assert_eq!(sp.authz_denial, AuthzDenial::None);
}

#[test]
fn upstream_failure_503_uf() {
    let (n, sp) = reviews_server_span(vec![
        s("http.status_code", "503"),
        s("response_flags", "UF,URX"),
        s("error", "true"),
    ]);
    assert_eq!(sp.failure, Some(Failure::ServerError));
    assert_eq!(View(&n).o(sp.response_flags), Some("UF,URX"));

    // Flags alone (no status: the connection never produced a response).
    let (_, sp) = reviews_server_span(vec![s("response_flags", "UF")]);
    assert_eq!(sp.failure, Some(Failure::ResponseFlags));
}

#[test]
fn grpc_error_span() {
    let (n, sp) = one(
        vec![s("service.name", "frontend.shop")],
        span(
            CLIENT,
            "checkout.shop.svc.cluster.local:5050/*",
            vec![
                s(
                    "node_id",
                    "sidecar~10.0.0.9~frontend-7f9c6b5d44-k8zqp.shop~shop.svc.cluster.local",
                ),
                s(
                    "upstream_cluster",
                    "outbound|5050||checkout.shop.svc.cluster.local",
                ),
                s("http.protocol", "HTTP/2"),
                s("http.status_code", "200"),
                s("grpc.status_code", "14"),
                s("grpc.path", "/hipstershop.CheckoutService/PlaceOrder"),
                s("http.method", "POST"),
                s(
                    "http.url",
                    "http://checkout:5050/hipstershop.CheckoutService/PlaceOrder",
                ),
            ],
        ),
    );
    let v = View(&n);
    assert_eq!(sp.protocol, Protocol::Grpc);
    assert_eq!(sp.grpc_status, Some(14));
    assert_eq!(sp.failure, Some(Failure::GrpcStatus));
    assert_eq!(
        sp.path.as_deref(),
        Some("/hipstershop.CheckoutService/PlaceOrder")
    );
    // No canonical service: service.name `<app>.<ns>` stripped.
    assert_eq!(v.s(sp.workload.node), "frontend.shop");
    assert_eq!(v.s(sp.workload.service), "frontend");
    assert_eq!(v.dest(&sp.destination).2, Some("checkout"));

    // OTel semconv names, int status.
    let (_, sp) = one(
        vec![s("service.name", "frontend")],
        span(
            CLIENT,
            "hipstershop.CheckoutService/PlaceOrder",
            vec![s("rpc.system", "grpc"), int("rpc.grpc.status_code", 4)],
        ),
    );
    assert_eq!(sp.protocol, Protocol::Grpc);
    assert_eq!(sp.failure, Some(Failure::GrpcStatus));
    assert_eq!(sp.grpc_status, Some(4));
}

fn linkerd_resource(extra: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut attrs = vec![
        s("service.name", "linkerd-proxy"),
        s("host.name", "web-6d7b9f8c9d-x2kq4"),
        s("linkerd.io/workload-ns", "emojivoto"),
        s("linkerd.io/proxy-deployment", "web"),
        s("pod-template-hash", "6d7b9f8c9d"),
    ];
    attrs.extend(extra);
    attrs
}

fn linkerd_spans() -> Vec<OtlpSpan> {
    vec![
        span(
            CLIENT,
            "GET",
            vec![
                s("direction", "outbound"),
                s("http.request.method", "GET"),
                s("url.path", "/api/vote"),
                s("server.address", "voting.emojivoto.svc.cluster.local"),
                int("server.port", 8080),
                int("http.response.status_code", 200),
            ],
        ),
        span(
            SERVER,
            "GET",
            vec![
                s("direction", "inbound"),
                s("http.request.method", "GET"),
                s("url.path", "/api/list"),
                s("server.address", "web-svc.emojivoto"),
                int("http.response.status_code", 503),
            ],
        ),
    ]
}

#[test]
fn linkerd_proxy_spans() {
    let (n, spans) = normalize(&request(
        linkerd_resource(vec![s("app", "web-app"), s("version", "v11")]),
        linkerd_spans(),
    ));
    let v = View(&n);
    for sp in &spans {
        assert_eq!(
            v.workload(&sp.workload),
            (
                "web-app.emojivoto",
                "web-app",
                Some("emojivoto"),
                Some("v11"),
                Some("web-6d7b9f8c9d-x2kq4"),
                ProxyKind::Linkerd
            )
        );
        assert_eq!(sp.protocol, Protocol::Http);
        assert_eq!(v.o(sp.method), Some("GET"));
    }
    let (out, inb) = (&spans[0], &spans[1]);
    assert_eq!(
        v.dest(&out.destination),
        (
            Some("voting.emojivoto.svc.cluster.local"),
            Some(8080),
            Some("voting"),
            Some("emojivoto"),
            false
        )
    );
    assert_eq!(out.path.as_deref(), Some("/api/vote"));
    assert_eq!(out.status_code, Some(200));
    assert_eq!(out.failure, None);
    assert_eq!(v.o(inb.host), Some("web-svc.emojivoto"));
    assert_eq!(inb.status_code, Some(503));
    assert_eq!(inb.failure, Some(Failure::ServerError));
}

#[test]
fn linkerd_workload_from_pod_name() {
    // No app label and no deployment label: the pod name gives the workload.
    let attrs = vec![
        s("service.name", "linkerd-proxy"),
        s("host.name", "web-6d7b9f8c9d-x2kq4"),
        s("linkerd.io/workload-ns", "emojivoto"),
    ];
    let (n, spans) = normalize(&request(attrs, linkerd_spans()));
    let v = View(&n);
    assert_eq!(v.s(spans[0].workload.node), "web.emojivoto");
    assert_eq!(v.o(spans[0].workload.pod), Some("web-6d7b9f8c9d-x2kq4"));

    // Deployment label: preferred over the pod name.
    let (n, spans) = normalize(&request(linkerd_resource(vec![]), linkerd_spans()));
    assert_eq!(View(&n).s(spans[1].workload.node), "web.emojivoto");

    // Recognised by `direction` + linkerd labels even without service.name.
    let attrs = vec![
        s("host.name", "api-5f7d8c9b6d-bcdfg"),
        s("linkerd.io/workload-ns", "shop"),
    ];
    let (n, spans) = normalize(&request(attrs, linkerd_spans()));
    let v = View(&n);
    assert_eq!(v.s(spans[0].workload.node), "api.shop");
    assert_eq!(spans[0].workload.proxy, ProxyKind::Linkerd);
}

#[test]
fn plain_otel_sdk_span() {
    let mut sdk_span = span(
        SERVER,
        "POST /cart",
        vec![
            s("http.request.method", "POST"),
            s("url.path", "/cart"),
            s("url.query", "id=1"),
            s("server.address", "cart.example.com"),
            int("http.response.status_code", 500),
            s("client.address", "10.1.2.3"),
            int("client.port", 51234),
            s("network.peer.address", "10.9.9.9"),
        ],
    );
    sdk_span.status = Some(Status {
        code: 2,
        ..Status::default()
    });
    let (n, sp) = one(
        vec![
            s("service.name", "cart"),
            s("service.version", "1.4.2"),
            s("k8s.namespace.name", "shop"),
            s("k8s.pod.name", "cart-7b8d9f6c5d-q2w4e"),
            s("telemetry.sdk.language", "go"),
        ],
        sdk_span,
    );
    let v = View(&n);
    assert_eq!(
        v.workload(&sp.workload),
        (
            "cart.shop",
            "cart",
            Some("shop"),
            Some("1.4.2"),
            Some("cart-7b8d9f6c5d-q2w4e"),
            ProxyKind::None
        )
    );
    assert_eq!(sp.failure, Some(Failure::ServerError));
    assert_eq!(sp.protocol, Protocol::Http);
    assert_eq!(v.o(sp.host), Some("cart.example.com"));
    assert_eq!(sp.destination, Destination::default());
    // network.peer.address comes before client.address.
    assert_eq!(
        sp.peer.map(|p| p.ip),
        Some(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)))
    );
}

#[test]
fn otel_client_span_to_database() {
    let (n, sp) = one(
        vec![s("service.name", "cart"), s("service.namespace", "shop")],
        span(
            CLIENT,
            "SELECT orders",
            vec![
                s("db.system.name", "postgresql"),
                s("db.namespace", "orders"),
                s("server.address", "pg.db.svc.cluster.local"),
                int("server.port", 5432),
                s("peer.service", "orders-db"),
            ],
        ),
    );
    let v = View(&n);
    assert_eq!(sp.protocol, Protocol::Db);
    assert_eq!(v.o(sp.destination.db_system), Some("postgresql"));
    assert_eq!(v.o(sp.destination.db_name), Some("orders"));
    assert_eq!(v.o(sp.destination.peer_service), Some("orders-db"));
    assert_eq!(v.dest(&sp.destination).2, Some("pg"));
    assert_eq!(v.s(sp.workload.node), "cart.shop");
}

#[test]
fn missing_service_name_is_unknown_service() {
    let (n, sp) = one(vec![], span(SERVER, "op", vec![]));
    let v = View(&n);
    assert_eq!(
        v.workload(&sp.workload),
        (
            "unknown_service",
            "unknown_service",
            None,
            None,
            None,
            ProxyKind::None
        )
    );
    assert_eq!(sp.protocol, Protocol::Unknown);
    assert_eq!(sp.failure, None);

    // A namespace without a service still names the node `<service>.<namespace>`.
    let (n, sp) = one(
        vec![s("k8s.namespace.name", "ns1")],
        span(SERVER, "op", vec![]),
    );
    assert_eq!(View(&n).s(sp.workload.node), "unknown_service.ns1");

    // Envoy node_id without any service tag: the pod's workload.
    let (n, sp) = one(
        vec![],
        span(
            SERVER,
            "op",
            vec![s(
                "node_id",
                "sidecar~10.0.0.1~ratings-v1-77bdbf89bb-qd48j.bookinfo~bookinfo.svc.cluster.local",
            )],
        ),
    );
    assert_eq!(View(&n).s(sp.workload.node), "ratings-v1.bookinfo");
}

#[test]
fn bad_ids_are_rejected() {
    let n = Normalizer::new(Interner::new());
    let facts = n.resource().finish();
    let good = SpanFields {
        trace_id: &TRACE,
        span_id: &[1; 8],
        ..SpanFields::default()
    };
    let cases: [(SpanFields<'_>, Rejection); 5] = [
        (
            SpanFields {
                trace_id: &TRACE[..15],
                ..good
            },
            Rejection::InvalidTraceId { len: 15 },
        ),
        (
            SpanFields {
                trace_id: &[0; 16],
                ..good
            },
            Rejection::InvalidTraceId { len: 16 },
        ),
        (
            SpanFields {
                span_id: &[],
                ..good
            },
            Rejection::InvalidSpanId { len: 0 },
        ),
        (
            SpanFields {
                span_id: &[0; 8],
                ..good
            },
            Rejection::InvalidSpanId { len: 8 },
        ),
        (
            SpanFields {
                parent_span_id: &[1; 4],
                ..good
            },
            Rejection::InvalidParentSpanId { len: 4 },
        ),
    ];
    for (fields, want) in cases {
        assert!(!ids_are_valid(
            fields.trace_id,
            fields.span_id,
            fields.parent_span_id
        ));
        assert_eq!(n.span(&facts).finish(fields), Err(want));
    }
    assert!(ids_are_valid(&TRACE, &[1; 8], &[]));
    assert!(ids_are_valid(&TRACE, &[1; 8], &[0; 8]));
    assert!(ids_are_valid(&TRACE, &[1; 8], &[2; 8]));
    assert_eq!(
        Rejection::InvalidTraceId { len: 15 }.to_string(),
        "trace id must be 16 bytes and not all zero, got 15 bytes"
    );
    assert_eq!(
        Rejection::InvalidSpanId { len: 8 }.to_string(),
        "span id must be 8 bytes and not all zero, got 8 zero bytes"
    );
    // Zero parent: a root span; end before start: zero duration.
    let sp = n
        .span(&facts)
        .finish(SpanFields {
            parent_span_id: &[0; 8],
            start_unix_nanos: 10,
            end_unix_nanos: 5,
            ..good
        })
        .unwrap();
    assert_eq!((sp.parent_span_id, sp.duration_nanos), (None, 0));

    // Through the request path: counted, the first one located.
    let mut bad = span(SERVER, "x", vec![]);
    bad.trace_id.pop();
    let mut req = request(vec![], vec![span(SERVER, "ok", vec![]), bad.clone()]);
    req.resource_spans.push(req.resource_spans[0].clone());
    let mut out = Vec::new();
    let rejected = n.normalize_request(&req, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(rejected.count, 2);
    assert_eq!(
        rejected.first_error.as_deref(),
        Some("span 1 of resource 0: trace id must be 16 bytes and not all zero, got 15 bytes")
    );
}

#[test]
fn xfcc_principal() {
    let xfcc = "By=spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews;Hash=1a2b;Subject=\"CN=a,OU=b;c\";URI=spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account,\
                By=spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings;Hash=3c4d;Subject=\"\";URI=\"spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews\"";
    let (n, sp) = reviews_server_span(vec![s("http.request.header.x-forwarded-client-cert", xfcc)]);
    let p = sp.principal.unwrap();
    assert_eq!(p.source, PrincipalSource::Xfcc);
    assert_eq!(
        View(&n).s(p.name),
        "cluster.local/ns/bookinfo/sa/bookinfo-reviews"
    );

    // As an OTel header attribute: an array of strings.
    let header = kv(
        "http.request.header.x-forwarded-client-cert",
        Value::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(Value::StringValue("URI=spiffe://td/ns/a/sa/b".into())),
            }],
        }),
    );
    let (n, sp) = reviews_server_span(vec![header]);
    assert_eq!(View(&n).s(sp.principal.unwrap().name), "td/ns/a/sa/b");

    // A peer URI SAN tag wins.
    let (n, sp) = reviews_server_span(vec![
        s("xfcc", xfcc),
        s(
            "downstream_peer_uri_san",
            "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage",
        ),
    ]);
    let p = sp.principal.unwrap();
    assert_eq!(p.source, PrincipalSource::PeerUriSan);
    assert_eq!(
        View(&n).s(p.name),
        "cluster.local/ns/bookinfo/sa/bookinfo-productpage"
    );
}

#[test]
fn dry_run_tags() {
    let (n, sp) = reviews_server_span(vec![
        s("http.status_code", "200"),
        s(
            "istio.authorization.dry_run.allow_policy.name",
            "ns[bookinfo]-policy[allow-get]-rule[0]",
        ),
        s("istio.authorization.dry_run.allow_policy.result", "allowed"),
        s(
            "istio.authorization.dry_run.deny_policy.name",
            "ns[bookinfo]-policy[deny-post]-rule[0]",
        ),
        s("istio.authorization.dry_run.deny_policy.result", "denied"),
    ]);
    let v = View(&n);
    assert_eq!(
        v.o(sp.dry_run.allow_policy),
        Some("ns[bookinfo]-policy[allow-get]-rule[0]")
    );
    assert_eq!(v.o(sp.dry_run.allow_result), Some("allowed"));
    assert_eq!(
        v.o(sp.dry_run.deny_policy),
        Some("ns[bookinfo]-policy[deny-post]-rule[0]")
    );
    assert_eq!(v.o(sp.dry_run.deny_result), Some("denied"));
    assert_eq!(sp.failure, None);
}

#[test]
fn plain_envoy_zipkin_span() {
    // envoy.zipkin.json after the Zipkin converter: no node_id, `shared` flag.
    let (n, sp) = one(
        vec![],
        span(
            SERVER,
            "localhost:10000",
            vec![
                s("component", "proxy"),
                s("http.method", "GET"),
                s("http.protocol", "HTTP/1.1"),
                s("http.status_code", "200"),
                s("http.url", "http://www.google.com/"),
                s("response_flags", "-"),
                s("upstream_cluster", "service_google"),
                kv("zipkin.shared", Value::BoolValue(true)),
            ],
        ),
    );
    let v = View(&n);
    assert_eq!(sp.workload.proxy, ProxyKind::Envoy);
    assert_eq!(v.s(sp.workload.node), "unknown_service");
    assert!(sp.shared);
    assert_eq!(sp.path.as_deref(), Some("/"));
    assert_eq!(v.o(sp.host), Some("www.google.com"));
    assert_eq!(v.dest(&sp.destination), (None, None, None, None, false));
}

#[test]
fn span_attributes_override_resource_attributes() {
    let (n, sp) = one(
        vec![
            s("service.name", "a"),
            s("k8s.namespace.name", "ns-a"),
            s("http.method", "PUT"),
        ],
        span(
            SERVER,
            "x",
            vec![s("k8s.namespace.name", "ns-b"), s("http.method", "GET")],
        ),
    );
    let v = View(&n);
    assert_eq!(v.s(sp.workload.node), "a.ns-b");
    assert_eq!(v.o(sp.method), Some("GET"));
}

#[test]
fn many_proxies_in_one_resource() {
    // Identity tags differ span by span: the memo must never return a stale workload.
    let pods = [
        ("productpage", "productpage-v1-6f89b6c557-sg2bc"),
        ("reviews", "reviews-v2-6f76498fc8-58wpn"),
        ("reviews", "reviews-v2-6f76498fc8-58wpn"),
        ("productpage", "productpage-v1-6f89b6c557-sg2bc"),
        ("ratings", "ratings-v1-77bdbf89bb-qd48j"),
    ];
    let spans = pods
        .iter()
        .map(|(svc, pod)| {
            span(
                SERVER,
                "x",
                vec![
                    s(
                        "node_id",
                        &format!("sidecar~10.0.0.1~{pod}.bookinfo~bookinfo.svc.cluster.local"),
                    ),
                    s("istio.canonical_service", svc),
                ],
            )
        })
        .collect();
    let (n, out) = normalize(&request(vec![s("service.name", "whatever")], spans));
    let v = View(&n);
    for ((svc, pod), sp) in pods.iter().zip(&out) {
        assert_eq!(v.s(sp.workload.service), *svc);
        assert_eq!(v.o(sp.workload.pod), Some(*pod));
        assert_eq!(v.s(sp.workload.node), format!("{svc}.bookinfo"));
    }
}

#[test]
fn builders_accept_a_shorter_lived_span_buffer() {
    // ResourceFacts is covariant: span strings may live shorter than the resource's.
    let n = Normalizer::new(Interner::new());
    let resource_name = String::from("svc");
    let mut rb = n.resource();
    rb.attr("service.name", AttrValue::Str(&resource_name));
    let facts = rb.finish();
    for i in 0..3 {
        let ns = format!("ns{i}");
        let mut sb = n.span(&facts);
        sb.attr("k8s.namespace.name", AttrValue::Str(&ns));
        let sp = sb
            .finish(SpanFields {
                trace_id: &TRACE,
                span_id: &[1; 8],
                ..SpanFields::default()
            })
            .unwrap();
        assert_eq!(n.interner().resolve(sp.workload.node), format!("svc.{ns}"));
    }
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn thread_safety() {
    assert_send_sync::<Normalizer>();
    assert_send::<ResourceFacts<'static>>();
}

/// The real bookinfo trace (canonical OTLP JSON), converted with a minimal test-only reader.
#[test]
fn real_istio_bookinfo_trace() {
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/traces/istio-bookinfo.otlp.json"
    ));
    let json: serde_json::Value = serde_json::from_str(text).unwrap();
    let attrs = |v: &serde_json::Value| -> Vec<KeyValue> {
        v["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                s(
                    a["key"].as_str().unwrap(),
                    a["value"]["stringValue"].as_str().unwrap(),
                )
            })
            .collect()
    };
    let id = |v: &serde_json::Value| hex::decode(v.as_str().unwrap_or("")).unwrap();
    let mut req = ExportTraceServiceRequest::default();
    for rs in json["resourceSpans"].as_array().unwrap() {
        let spans = rs["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sp| OtlpSpan {
                trace_id: id(&sp["traceId"]),
                span_id: id(&sp["spanId"]),
                parent_span_id: id(&sp["parentSpanId"]),
                name: sp["name"].as_str().unwrap().to_owned(),
                kind: i32::try_from(sp["kind"].as_i64().unwrap()).unwrap(),
                start_time_unix_nano: sp["startTimeUnixNano"].as_str().unwrap().parse().unwrap(),
                end_time_unix_nano: sp["endTimeUnixNano"].as_str().unwrap().parse().unwrap(),
                attributes: attrs(sp),
                ..OtlpSpan::default()
            })
            .collect();
        req.resource_spans
            .extend(request(attrs(&rs["resource"]), spans).resource_spans);
    }
    let (n, spans) = normalize(&req);
    let v = View(&n);
    let summary: Vec<String> = spans
        .iter()
        .map(|sp| {
            format!(
                "{} {} {:?} -> {}:{} {} {}",
                sp.kind.as_str(),
                v.s(sp.workload.node),
                sp.workload.proxy,
                v.o(sp.destination.service).unwrap_or("?"),
                sp.destination.port.unwrap_or(0),
                sp.path.as_deref().unwrap_or("?"),
                sp.status_code.unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "client istio-ingressgateway.istio-system Gateway -> productpage:9080 /productpage 200",
            "server productpage.bookinfo Sidecar -> productpage:9080 /productpage 200",
            "client productpage.bookinfo Sidecar -> reviews:9080 /reviews/0 200",
            "client productpage.bookinfo Sidecar -> details:9080 /details/0 200",
            "server details.bookinfo Sidecar -> details:9080 /details/0 200",
            "server reviews.bookinfo Sidecar -> reviews:9080 /reviews/0 200",
            "client reviews.bookinfo Sidecar -> ratings:9080 /ratings/0 200",
            "server ratings.bookinfo Sidecar -> ratings:9080 /ratings/0 200",
        ]
    );
    assert!(
        spans
            .iter()
            .all(|sp| sp.failure.is_none() && sp.protocol == Protocol::Http)
    );
}

#[test]
fn over_long_values_read_as_overflow_and_leave_no_long_strings() {
    let long = |prefix: &str| format!("{prefix}{}", "a".repeat(MAX_VALUE_LEN));
    // A resource-level URL, applied to every span of its resource: no path, no host.
    let (n, sp) = one(
        vec![
            s("service.name", &long("svc")),
            s("url.full", &long("http://h/")),
        ],
        span(
            CLIENT,
            &long("name"),
            vec![s("http.method", &long("GET")), s("http.target", &long("/"))],
        ),
    );
    let v = View(&n);
    assert_eq!(v.s(sp.workload.service), OVERFLOW);
    assert_eq!(v.s(sp.name), OVERFLOW);
    assert_eq!(v.o(sp.method), Some(OVERFLOW));
    assert_eq!(sp.path, None);
    assert_eq!(v.o(sp.host), None);

    // At the cap a value still reads as itself.
    let at_cap = format!("/{}", "p".repeat(MAX_VALUE_LEN - 1));
    let (_, sp) = one(vec![], span(CLIENT, "x", vec![s("url.path", &at_cap)]));
    assert_eq!(sp.path.as_deref(), Some(at_cap.as_str()));

    // XFCC may carry certificates: its cap is higher.
    let cert = "c".repeat(MAX_VALUE_LEN * 2);
    let xfcc = format!("By=spiffe://a;Cert=\"{cert}\";URI=spiffe://td/ns/a/sa/b");
    let (n, sp) = reviews_server_span(vec![s("xfcc", &xfcc)]);
    assert_eq!(View(&n).s(sp.principal.unwrap().name), "td/ns/a/sa/b");
    let huge = format!(
        "Cert=\"{}\";URI=spiffe://td/ns/a/sa/b",
        "c".repeat(MAX_XFCC_LEN)
    );
    let (_, sp) = reviews_server_span(vec![s("xfcc", &huge)]);
    assert_eq!(sp.principal, None);
}

#[test]
fn a_span_with_a_million_attributes_and_ten_megabyte_strings_normalises() {
    let mut attributes: Vec<KeyValue> = (0..1_000_000).map(|i| int("k", i)).collect();
    let ten_mb = "x".repeat(10 << 20);
    attributes.push(s("http.url", &ten_mb));
    attributes.push(s("custom", &ten_mb));
    attributes.push(s("http.method", "GET"));
    let (n, sp) = one(vec![], span(CLIENT, &ten_mb, attributes));
    let v = View(&n);
    assert_eq!(v.s(sp.name), OVERFLOW);
    assert_eq!(v.o(sp.method), Some("GET"));
    assert_eq!(sp.path, None);
}
