//! Zipkin v2 JSON (`[span, …]`) into OTLP, mapped as the OpenTelemetry Collector's zipkin
//! receiver does, so a trace reads the same whichever way a proxy sent it.
//!
//! Spans are grouped into one `ResourceSpans` per `localEndpoint.serviceName` (first-seen order;
//! no service name → no `service.name`). Ids are hex, left-padded as Zipkin and zipkin-go do (a
//! 64-bit trace id becomes 16 bytes). Tags stay string attributes as they are; the endpoints,
//! `shared`, annotations and the `error` tag are translated (see `into_span`). A malformed id
//! keeps only a short prefix, so the receiver rejects that span by its id length, not the batch.

use std::collections::HashMap;
use std::fmt;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

pub use crate::formats::json::JsonError;
use crate::formats::json::{FromJson, Object, int, opt, opt_int, seq, string};

/// Decodes a Zipkin v2 JSON span array (the body of `POST /api/v2/spans`).
pub fn decode_spans(bytes: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    let Batch(request) = serde_json::from_slice(bytes)?;
    Ok(request)
}

/// Decodes a span array that was already parsed, e.g. while sniffing a file's format. Errors
/// carry no position (line and column 0).
pub fn request_from_value(
    value: serde_json::Value,
) -> Result<ExportTraceServiceRequest, JsonError> {
    let Batch(request) = Batch::deserialize(value)?;
    Ok(request)
}

/// Decodes the spans of a JSON array being streamed, without buffering it as a `Value`.
pub(crate) fn request_from_seq<'de, A: SeqAccess<'de>>(
    mut seq: A,
) -> Result<ExportTraceServiceRequest, A::Error> {
    let mut groups = Groups::default();
    while let Some(span) = seq.next_element_seed(Object::<ZSpan>::new())? {
        groups.push(span);
    }
    Ok(groups.into_request())
}

struct Batch(ExportTraceServiceRequest);

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BatchVisitor;

        impl<'de> Visitor<'de> for BatchVisitor {
            type Value = Batch;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Zipkin v2 span array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Batch, A::Error> {
                request_from_seq(seq).map(Batch)
            }
        }

        d.deserialize_seq(BatchVisitor)
    }
}

/// Spans grouped by local service name, in first-seen order.
#[derive(Default)]
struct Groups {
    index: HashMap<Option<String>, usize>,
    groups: Vec<(Option<String>, Vec<Span>)>,
}

impl Groups {
    fn push(&mut self, z: ZSpan) {
        let (service, span) = into_span(z);
        let i = match self.index.get(&service) {
            Some(&i) => i,
            None => {
                self.index.insert(service.clone(), self.groups.len());
                self.groups.push((service, Vec::new()));
                self.groups.len() - 1
            }
        };
        if let Some((_, spans)) = self.groups.get_mut(i) {
            spans.push(span);
        }
    }

    fn into_request(self) -> ExportTraceServiceRequest {
        let resource_spans = self
            .groups
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: service
                        .map(|s| vec![string_kv("service.name", s)])
                        .unwrap_or_default(),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect();
        ExportTraceServiceRequest { resource_spans }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ZSpan {
    #[serde(alias = "trace_id", deserialize_with = "trace_id")]
    trace_id: Vec<u8>,
    #[serde(alias = "parent_id", deserialize_with = "span_id")]
    parent_id: Vec<u8>,
    #[serde(deserialize_with = "span_id")]
    id: Vec<u8>,
    #[serde(deserialize_with = "kind")]
    kind: Option<i32>,
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "opt_int")]
    timestamp: Option<u64>,
    #[serde(deserialize_with = "int")]
    duration: u64,
    shared: Option<bool>,
    #[serde(alias = "local_endpoint", deserialize_with = "opt")]
    local_endpoint: Option<Endpoint>,
    #[serde(alias = "remote_endpoint", deserialize_with = "opt")]
    remote_endpoint: Option<Endpoint>,
    #[serde(deserialize_with = "seq")]
    annotations: Vec<Annotation>,
    #[serde(deserialize_with = "tags")]
    tags: Vec<KeyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Endpoint {
    #[serde(alias = "service_name")]
    service_name: Option<String>,
    ipv4: Option<String>,
    ipv6: Option<String>,
    #[serde(deserialize_with = "opt_int")]
    port: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Annotation {
    #[serde(deserialize_with = "int")]
    timestamp: u64,
    #[serde(deserialize_with = "string")]
    value: String,
}

impl FromJson for ZSpan {
    type Json = Self;
    const NAME: &str = "Zipkin v2 span";
}

impl FromJson for Endpoint {
    type Json = Self;
    const NAME: &str = "Zipkin v2 endpoint";
}

impl FromJson for Annotation {
    type Json = Self;
    const NAME: &str = "Zipkin v2 annotation";
}

/// One Zipkin span as OTLP, with its local service name.
///
/// Beyond the field renames: `shared: true` → `zipkin.shared` = true (the client and server
/// halves share one span id); local endpoint → `net.host.ip` / `net.host.port`; remote endpoint
/// → `peer.service`, `network.peer.address`, `network.peer.port`; tag `error` → status ERROR with
/// the tag value as message (else `otel.status_code` / `otel.status_description`); no kind →
/// UNSPECIFIED, or INTERNAL with tag `span.kind=internal`, as the collector does; a parent id
/// equal to the span id, or all zeros, means no parent.
fn into_span(z: ZSpan) -> (Option<String>, Span) {
    let mut attributes = z.tags;
    let status = status(&attributes);
    let kind = z.kind.unwrap_or(
        if string_tag(&attributes, "span.kind") == Some("internal") {
            SpanKind::Internal as i32
        } else {
            SpanKind::Unspecified as i32
        },
    );
    if z.shared == Some(true) {
        attributes.push(kv("zipkin.shared", Value::BoolValue(true)));
    }
    let mut service = None;
    if let Some(local) = z.local_endpoint {
        if let Some(ip) = endpoint_ip(&local) {
            attributes.push(string_kv("net.host.ip", ip));
        }
        if let Some(port) = local.port.filter(|&p| p > 0) {
            attributes.push(kv("net.host.port", Value::IntValue(port)));
        }
        service = local.service_name.filter(|s| !s.is_empty());
    }
    if let Some(remote) = z.remote_endpoint {
        if let Some(ip) = endpoint_ip(&remote) {
            attributes.push(string_kv("network.peer.address", ip));
        }
        if let Some(port) = remote.port.filter(|&p| p > 0) {
            attributes.push(kv("network.peer.port", Value::IntValue(port)));
        }
        if let Some(name) = remote.service_name.filter(|s| !s.is_empty()) {
            attributes.push(string_kv("peer.service", name));
        }
    }
    let parent_span_id = if z.parent_id == z.id || z.parent_id.iter().all(|&b| b == 0) {
        Vec::new()
    } else {
        z.parent_id
    };
    let start = z.timestamp.unwrap_or(0).saturating_mul(1000);
    let events = z
        .annotations
        .into_iter()
        .map(|a| Event {
            time_unix_nano: a.timestamp.saturating_mul(1000),
            name: a.value,
            ..Default::default()
        })
        .collect();
    let span = Span {
        trace_id: z.trace_id,
        span_id: z.id,
        parent_span_id,
        name: z.name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(z.duration.saturating_mul(1000)),
        attributes,
        events,
        status,
        ..Default::default()
    };
    (service, span)
}

fn endpoint_ip(e: &Endpoint) -> Option<String> {
    let non_empty = |ip: &Option<String>| ip.as_ref().filter(|s| !s.is_empty()).cloned();
    non_empty(&e.ipv4).or_else(|| non_empty(&e.ipv6))
}

fn status(tags: &[KeyValue]) -> Option<Status> {
    if let Some(message) = string_tag(tags, "error") {
        return Some(Status {
            message: message.to_owned(),
            code: StatusCode::Error as i32,
        });
    }
    let name = string_tag(tags, "otel.status_code")?;
    let code = [StatusCode::Unset, StatusCode::Ok, StatusCode::Error]
        .into_iter()
        .find(|c| {
            let full = c.as_str_name();
            full.eq_ignore_ascii_case(name)
                || full
                    .strip_prefix("STATUS_CODE_")
                    .is_some_and(|short| short.eq_ignore_ascii_case(name))
        })?;
    Some(Status {
        message: string_tag(tags, "otel.status_description")
            .unwrap_or_default()
            .to_owned(),
        code: code as i32,
    })
}

fn string_tag<'a>(tags: &'a [KeyValue], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key == key)
        .and_then(|t| match &t.value {
            Some(AnyValue {
                value: Some(Value::StringValue(s)),
            }) => Some(s.as_str()),
            _ => None,
        })
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn string_kv(key: &str, value: String) -> KeyValue {
    kv(key, Value::StringValue(value))
}

// ---- field readers ---------------------------------------------------------------------------

/// Tags are a JSON object of strings; numbers and booleans (which some tracers send) are kept
/// as their JSON text, `null` values are dropped. Document order is kept.
fn tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<KeyValue>, D::Error> {
    struct TagsVisitor;

    impl<'de> Visitor<'de> for TagsVisitor {
        type Value = Vec<KeyValue>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of string tags")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
            while let Some(key) = map.next_key::<String>()? {
                if let TagValue(Some(value)) = map.next_value()? {
                    out.push(KeyValue {
                        key,
                        value: Some(AnyValue {
                            value: Some(Value::StringValue(value)),
                        }),
                        key_strindex: 0,
                    });
                }
            }
            Ok(out)
        }
    }

    d.deserialize_any(TagsVisitor)
}

struct TagValue(Option<String>);

impl<'de> Deserialize<'de> for TagValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TagValueVisitor;

        impl Visitor<'_> for TagValueVisitor {
            type Value = TagValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string tag value")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<TagValue, E> {
                Ok(TagValue(Some(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<TagValue, E> {
                Ok(TagValue(Some(v)))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TagValue, E> {
                Ok(TagValue(Some(v.to_string())))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TagValue, E> {
                Ok(TagValue(Some(v.to_string())))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TagValue, E> {
                Ok(TagValue(Some(v.to_string())))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TagValue, E> {
                Ok(TagValue(Some(v.to_string())))
            }

            fn visit_unit<E: de::Error>(self) -> Result<TagValue, E> {
                Ok(TagValue(None))
            }
        }

        d.deserialize_any(TagValueVisitor)
    }
}

fn kind<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    let name: Option<std::borrow::Cow<'de, str>> = Deserialize::deserialize(d)?;
    // An unknown kind maps like an absent one, which is where the collector ends up too.
    Ok(name.and_then(|n| {
        [
            ("CLIENT", SpanKind::Client),
            ("SERVER", SpanKind::Server),
            ("PRODUCER", SpanKind::Producer),
            ("CONSUMER", SpanKind::Consumer),
        ]
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&n))
        .map(|(_, kind)| kind as i32)
    }))
}

fn trace_id<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_any(IdVisitor { bytes: 16 })
}

fn span_id<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_any(IdVisitor { bytes: 8 })
}

/// A hex id of up to `bytes` bytes, left-padded with zeros to exactly `bytes`.
struct IdVisitor {
    bytes: usize,
}

impl Visitor<'_> for IdVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a hex id of up to {} characters", self.bytes * 2)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<u8>, E> {
        Ok(decode_hex_id(s.as_bytes(), self.bytes))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

fn decode_hex_id(s: &[u8], width: usize) -> Vec<u8> {
    let valid = !s.is_empty() && s.len() <= width * 2 && s.iter().all(u8::is_ascii_hexdigit);
    if !valid {
        // Keep the leading whole bytes, always fewer than a valid id has.
        let pairs = s.iter().take_while(|c| c.is_ascii_hexdigit()).count() / 2;
        let keep = pairs.min(width.saturating_sub(1));
        return s
            .get(..keep * 2)
            .and_then(|prefix| hex::decode(prefix).ok())
            .unwrap_or_default();
    }
    let mut out = vec![0u8; width];
    for (i, &c) in s.iter().rev().enumerate() {
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => c - b'A' + 10,
        };
        if let Some(byte) = out.get_mut(width - 1 - i / 2) {
            *byte |= if i % 2 == 0 { nibble } else { nibble << 4 };
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TRACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/traces");

    fn read(name: &str) -> ExportTraceServiceRequest {
        decode_spans(&std::fs::read(format!("{TRACES}/{name}")).unwrap()).unwrap()
    }

    fn spans(req: &ExportTraceServiceRequest) -> impl Iterator<Item = &Span> {
        req.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
    }

    fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
    }

    fn service(rs: &ResourceSpans) -> Option<&str> {
        string_tag(&rs.resource.as_ref()?.attributes, "service.name")
    }

    #[test]
    fn groups_yelp_trace_by_service() {
        let req = read("yelp.zipkin.json");
        assert_eq!(spans(&req).count(), 16);
        let services: Vec<_> = req.resource_spans.iter().map(service).collect();
        assert_eq!(
            services,
            [
                Some("mobile_api"),
                Some("spectre"),
                Some("yelp-main"),
                Some("yelp_main/api_proxy"),
                Some("unknown"),
                Some("routing")
            ]
        );
        let first = spans(&req).next().unwrap();
        assert_eq!(first.kind, SpanKind::Client as i32);
        assert_eq!(
            first.trace_id,
            hex::decode("0000000000000000a03ee8fff1dcd9b9").unwrap()
        );
        assert_eq!(first.span_id, hex::decode("15fc03927f0f68df").unwrap());
        assert_eq!(
            first.parent_span_id,
            hex::decode("f5f268651b2a2b34").unwrap()
        );
        assert_eq!(first.start_time_unix_nano, 1_571_896_375_322_000_000);
        assert_eq!(first.end_time_unix_nano, 1_571_896_375_336_000_000);
        assert_eq!(
            attr(first, "peer.service"),
            Some(&Value::StringValue("blt".into()))
        );
        assert_eq!(
            attr(first, "network.peer.port"),
            Some(&Value::IntValue(31882))
        );
        assert_eq!(
            attr(first, "http.uri.client"),
            Some(&Value::StringValue("/visits".into()))
        );
        assert_eq!(attr(first, "zipkin.shared"), None);

        let shared: Vec<_> = spans(&req)
            .filter(|s| attr(s, "zipkin.shared") == Some(&Value::BoolValue(true)))
            .collect();
        assert_eq!(shared.len(), 4);
        assert!(shared.iter().all(|s| s.kind == SpanKind::Server as i32));

        let proxy = spans(&req)
            .find(|s| s.span_id == hex::decode("668ed78ad94b35a1").unwrap() && !s.events.is_empty())
            .unwrap();
        assert_eq!(proxy.events[0].name, "py_zipkin.logging_end");
        assert_eq!(proxy.events[0].time_unix_nano, 1_571_896_375_355_436_000);
        assert_eq!(attr(proxy, "net.host.port"), Some(&Value::IntValue(31523)));
    }

    #[test]
    fn envoy_span_without_service_name() {
        let req = read("envoy.zipkin.json");
        assert_eq!(req.resource_spans.len(), 1);
        assert_eq!(service(&req.resource_spans[0]), None);
        let span = spans(&req).next().unwrap();
        assert_eq!(span.kind, SpanKind::Server as i32);
        assert_eq!(span.name, "localhost:10000");
        assert!(span.parent_span_id.is_empty(), "parent == id means root");
        assert_eq!(
            attr(span, "net.host.ip"),
            Some(&Value::StringValue("169.254.65.45".into()))
        );
        assert_eq!(
            attr(span, "http.status_code"),
            Some(&Value::StringValue("200".into()))
        );
        assert_eq!(attr(span, "zipkin.shared"), Some(&Value::BoolValue(true)));
        assert_eq!(span.status, None);
    }

    #[test]
    fn messaging_kinds() {
        let req = read("messaging-kafka.zipkin.json");
        assert_eq!(spans(&req).count(), 28);
        let kinds: std::collections::BTreeSet<i32> = spans(&req).map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SpanKind::Unspecified as i32,
                SpanKind::Producer as i32,
                SpanKind::Consumer as i32
            ]
            .into()
        );
    }

    #[test]
    fn translates_status_kind_and_endpoints() {
        let doc = br#"[
          {"traceId":"5b8efff798038103d269b633813fc60c","id":"1","parentId":"0000000000000000","kind":"client",
           "name":"get","timestamp":"10","duration":5,"tags":{"error":"connection reset","n":5,"b":true,"gone":null},
           "localEndpoint":{"serviceName":"","ipv6":"::1","port":0},
           "remoteEndpoint":{"serviceName":"db","ipv4":"10.0.0.1","port":5432}},
          {"traceId":"1","id":"2","tags":{"span.kind":"internal","otel.status_code":"STATUS_CODE_OK"}},
          {"traceId":"1","id":"3","kind":"WEIRD","tags":{"otel.status_code":"Error","otel.status_description":"d"}}
        ]"#;
        let req = decode_spans(doc).unwrap();
        assert_eq!(
            req.resource_spans.len(),
            1,
            "empty serviceName is no serviceName"
        );
        let s: Vec<&Span> = spans(&req).collect();
        assert_eq!(s[0].span_id, [0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(s[0].parent_span_id.is_empty(), "all-zero parent");
        assert_eq!(s[0].kind, SpanKind::Client as i32);
        assert_eq!(
            (s[0].start_time_unix_nano, s[0].end_time_unix_nano),
            (10_000, 15_000)
        );
        assert_eq!(
            s[0].status,
            Some(Status {
                message: "connection reset".into(),
                code: StatusCode::Error as i32
            })
        );
        assert_eq!(attr(s[0], "n"), Some(&Value::StringValue("5".into())));
        assert_eq!(attr(s[0], "b"), Some(&Value::StringValue("true".into())));
        assert_eq!(attr(s[0], "gone"), None);
        assert_eq!(
            attr(s[0], "net.host.ip"),
            Some(&Value::StringValue("::1".into()))
        );
        assert_eq!(attr(s[0], "net.host.port"), None);
        assert_eq!(
            attr(s[0], "peer.service"),
            Some(&Value::StringValue("db".into()))
        );
        assert_eq!(
            attr(s[0], "network.peer.address"),
            Some(&Value::StringValue("10.0.0.1".into()))
        );
        assert_eq!(
            attr(s[0], "network.peer.port"),
            Some(&Value::IntValue(5432))
        );

        assert_eq!(
            s[1].trace_id,
            hex::decode("00000000000000000000000000000001").unwrap()
        );
        assert_eq!(s[1].kind, SpanKind::Internal as i32);
        assert_eq!(s[1].status.as_ref().unwrap().code, StatusCode::Ok as i32);
        assert_eq!((s[1].start_time_unix_nano, s[1].end_time_unix_nano), (0, 0));

        assert_eq!(s[2].kind, SpanKind::Unspecified as i32);
        assert_eq!(
            s[2].status,
            Some(Status {
                message: "d".into(),
                code: StatusCode::Error as i32
            })
        );
    }

    #[test]
    fn malformed_ids_keep_a_short_prefix() {
        let doc = br#"[
          {"traceId":"5b8efff798038103d269b633813fc60c00","id":"0123456789abcdefff","parentId":"xyz"},
          {"traceId":"","id":"01234567zz"},
          {"traceId":null,"id":"0123456789abcdeg"}
        ]"#;
        let req = decode_spans(doc).unwrap();
        let s: Vec<&Span> = spans(&req).collect();
        assert_eq!(s[0].trace_id.len(), 15);
        assert_eq!(s[0].span_id, hex::decode("0123456789abcd").unwrap());
        assert!(s[0].parent_span_id.is_empty());
        assert!(s[1].trace_id.is_empty());
        assert_eq!(s[1].span_id, hex::decode("01234567").unwrap());
        assert!(s[2].trace_id.is_empty());
        assert_eq!(s[2].span_id.len(), 7);
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = decode_spans(b"{\"traceId\":\"1\"}").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("a Zipkin v2 span array"), "{err}");

        let err = decode_spans(b"[\n  {\"id\":\"1\"},\n  7\n]").unwrap_err();
        assert_eq!((err.line, err.column), (3, 3));
        assert!(
            err.message.contains("a JSON object (Zipkin v2 span)"),
            "{err}"
        );
        assert!(err.to_string().starts_with("line 3, column 3: "), "{err}");

        let err = decode_spans(b"[{\"timestamp\":-5}]").unwrap_err();
        assert!(err.message.contains("out of range"), "{err}");
        assert!(decode_spans(b"[{\"tags\":{\"a\":[1]}}]").is_err());

        assert_eq!(
            decode_spans(b"[]").unwrap(),
            ExportTraceServiceRequest::default()
        );
    }

    #[test]
    fn value_and_bytes_decode_alike() {
        let bytes = std::fs::read(format!("{TRACES}/yelp.zipkin.json")).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            request_from_value(value).unwrap(),
            decode_spans(&bytes).unwrap()
        );
        let err = request_from_value(serde_json::json!({"a": 1})).unwrap_err();
        assert_eq!((err.line, err.column), (0, 0));
    }
}
