//! OTLP spans as Zipkin v2 JSON (the body of `POST /api/v2/spans`), as the OpenTelemetry
//! Collector's zipkin exporter writes them, so what [`super::zipkin`] decodes comes back the
//! same: the resource's `service.name` becomes `localEndpoint.serviceName`, ids are lower-case
//! hex, times microseconds, attributes string tags (other values as their JSON text), and an
//! ERROR status `otel.status_code` / `otel.status_description` tags.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json, json};

/// Encodes every span of the request as one Zipkin v2 JSON array, appended to `out`.
pub fn encode_spans(request: &ExportTraceServiceRequest, out: &mut Vec<u8>) {
    let mut spans = Vec::new();
    for resource_spans in &request.resource_spans {
        let service = resource_spans.resource.as_ref().and_then(|r| {
            r.attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()))
        });
        for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
            let mut object = Map::new();
            object.insert("traceId".into(), Json::String(hex::encode(&span.trace_id)));
            object.insert("id".into(), Json::String(hex::encode(&span.span_id)));
            if !span.parent_span_id.is_empty() {
                object.insert(
                    "parentId".into(),
                    Json::String(hex::encode(&span.parent_span_id)),
                );
            }
            let kind = match SpanKind::try_from(span.kind) {
                Ok(SpanKind::Client) => Some("CLIENT"),
                Ok(SpanKind::Server) => Some("SERVER"),
                Ok(SpanKind::Producer) => Some("PRODUCER"),
                Ok(SpanKind::Consumer) => Some("CONSUMER"),
                _ => None,
            };
            if let Some(kind) = kind {
                object.insert("kind".into(), Json::String(kind.into()));
            }
            object.insert("name".into(), Json::String(span.name.clone()));
            object.insert("timestamp".into(), json!(span.start_time_unix_nano / 1000));
            object.insert(
                "duration".into(),
                json!(
                    span.end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano)
                        / 1000
                ),
            );
            if let Some(service) = &service {
                object.insert("localEndpoint".into(), json!({ "serviceName": service }));
            }
            let mut tags: Vec<(String, String)> = span
                .attributes
                .iter()
                .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref())?)))
                .collect();
            if let Some(status) = &span.status
                && status.code == StatusCode::Error as i32
                && !tags.iter().any(|(k, _)| k == "error")
            {
                tags.push(("otel.status_code".into(), "ERROR".into()));
                if !status.message.is_empty() {
                    tags.push(("otel.status_description".into(), status.message.clone()));
                }
            }
            spans.push(ZipkinSpan { object, tags });
        }
    }
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, &spans);
}

/// A span's fields, and its tags in attribute order (a JSON `Map` would sort them).
struct ZipkinSpan {
    object: Map<String, Json>,
    tags: Vec<(String, String)>,
}

impl Serialize for ZipkinSpan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.object.len() + 1))?;
        for (key, value) in &self.object {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("tags", &Tags(&self.tags))?;
        map.end()
    }
}

struct Tags<'a>(&'a [(String, String)]);

impl Serialize for Tags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A tag's text: strings as they are, other scalars as JSON text, arrays and maps as JSON.
fn text(value: Option<&AnyValue>) -> Option<String> {
    Some(match value?.value.as_ref()? {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => Json::from(*d).to_string(),
        Value::BytesValue(b) => hex::encode(b),
        Value::ArrayValue(a) => Json::Array(
            a.values
                .iter()
                .filter_map(|v| text(Some(v)).map(Json::String))
                .collect(),
        )
        .to_string(),
        Value::KvlistValue(l) => Json::Object(
            l.values
                .iter()
                .filter_map(|kv| Some((kv.key.clone(), Json::String(text(kv.value.as_ref())?))))
                .collect(),
        )
        .to_string(),
        // An index into a dictionary this request does not carry: nothing to show.
        Value::StringValueStrindex(_) => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;
    use crate::formats::zipkin::decode_spans;
    use crate::simulate::{Scenario, Simulator, Timeline, Topology};

    fn by_id(request: &ExportTraceServiceRequest) -> Vec<(Option<String>, Span)> {
        let mut out: Vec<(Option<String>, Span)> = request
            .resource_spans
            .iter()
            .flat_map(|rs| {
                let service = rs.resource.as_ref().and_then(|r| {
                    r.attributes
                        .iter()
                        .find(|kv| kv.key == "service.name")
                        .and_then(|kv| text(kv.value.as_ref()))
                });
                rs.scope_spans
                    .iter()
                    .flat_map(|s| s.spans.clone())
                    .map(move |s| (service.clone(), s))
            })
            .collect();
        out.sort_by(|a, b| a.1.span_id.cmp(&b.1.span_id));
        out
    }

    #[test]
    fn simulated_spans_round_trip_through_the_zipkin_decoder() {
        let topology = Arc::new(Topology::new(Scenario::Bookinfo));
        let timeline = Arc::new(Timeline::demo(&topology));
        let mut sim = Simulator::new(topology, timeline, 9);
        // During the error burst and the RBAC denials: error statuses and 403s too.
        let batch = sim.batch(60.0, 1_800_000_000_123_456_789, 400);
        let mut body = Vec::new();
        encode_spans(&batch.request, &mut body);
        let decoded = decode_spans(&body).unwrap();
        let (before, after) = (by_id(&batch.request), by_id(&decoded));
        assert_eq!(before.len(), batch.spans);
        assert_eq!(before.len(), after.len());
        let mut errors = 0;
        for ((service_a, a), (service_b, b)) in before.iter().zip(&after) {
            assert_eq!(service_a, service_b);
            assert_eq!(a.trace_id, b.trace_id);
            assert_eq!(a.span_id, b.span_id);
            assert_eq!(a.parent_span_id, b.parent_span_id);
            assert_eq!(a.name, b.name);
            assert_eq!(a.kind, b.kind);
            assert_eq!(a.start_time_unix_nano / 1000, b.start_time_unix_nano / 1000);
            let duration = |s: &Span| (s.end_time_unix_nano - s.start_time_unix_nano) / 1000;
            assert_eq!(duration(a) / 1000, duration(b) / 1000);
            assert_eq!(
                a.attributes, b.attributes,
                "tags keep their order and values"
            );
            let failed = |s: &Span| {
                s.status
                    .as_ref()
                    .is_some_and(|st| st.code == StatusCode::Error as i32)
            };
            assert_eq!(failed(a), failed(b));
            errors += usize::from(failed(a));
        }
        assert!(errors > 0, "the batch had failures to carry");
    }

    #[test]
    fn status_without_error_tag_and_non_string_values_are_kept() {
        use opentelemetry_proto::tonic::common::v1::KeyValue;
        use opentelemetry_proto::tonic::trace::v1::Status;
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: 5_000,
            end_time_unix_nano: 9_000,
            attributes: vec![KeyValue {
                key: "http.status_code".into(),
                value: Some(AnyValue {
                    value: Some(Value::IntValue(500)),
                }),
                ..Default::default()
            }],
            status: Some(Status {
                code: StatusCode::Error as i32,
                message: "boom".into(),
            }),
            ..Default::default()
        };
        let request = crate::sample::request_by_service([("shop".to_owned(), span)]);
        let mut body = Vec::new();
        encode_spans(&request, &mut body);
        let json: Json = serde_json::from_slice(&body).unwrap();
        assert_eq!(json[0]["tags"]["http.status_code"], "500");
        assert_eq!(json[0]["localEndpoint"]["serviceName"], "shop");
        assert!(json[0].get("parentId").is_none());
        let back = decode_spans(&body).unwrap();
        let status = back.resource_spans[0].scope_spans[0].spans[0]
            .status
            .clone()
            .unwrap();
        assert_eq!(status.code, StatusCode::Error as i32);
        assert_eq!(status.message, "boom");
    }
}
