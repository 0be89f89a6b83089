//! The owned-request path: prost `ExportTraceServiceRequest` → builders.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

use crate::span::Span;

use super::{AttrValue, Normalizer, Rejected, SpanFields};

/// Maps an OTLP value; an array passes its first string (header attributes are arrays).
pub(crate) fn attr_value(value: Option<&AnyValue>) -> AttrValue<'_> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => AttrValue::Str(s),
        Some(Value::IntValue(i)) => AttrValue::Int(*i),
        Some(Value::DoubleValue(d)) => AttrValue::Double(*d),
        Some(Value::BoolValue(b)) => AttrValue::Bool(*b),
        Some(Value::ArrayValue(array)) => array
            .values
            .iter()
            .find_map(|v| match &v.value {
                Some(Value::StringValue(s)) => Some(AttrValue::Str(s)),
                _ => None,
            })
            .unwrap_or(AttrValue::Other),
        _ => AttrValue::Other,
    }
}

fn key_value(kv: &KeyValue) -> (&str, AttrValue<'_>) {
    (kv.key.as_str(), attr_value(kv.value.as_ref()))
}

impl Normalizer {
    /// Convenience for owned prost requests: normalises every span, appends to `out`, returns
    /// what was rejected.
    pub fn normalize_request(
        &self,
        req: &ExportTraceServiceRequest,
        out: &mut Vec<Span>,
    ) -> Rejected {
        let mut rejected = Rejected::default();
        for (resource_index, resource_spans) in req.resource_spans.iter().enumerate() {
            let mut resource = self.resource();
            if let Some(res) = &resource_spans.resource {
                for kv in &res.attributes {
                    let (key, value) = key_value(kv);
                    resource.attr(key, value);
                }
            }
            let facts = resource.finish();
            let spans = resource_spans.scope_spans.iter().flat_map(|ss| &ss.spans);
            for (span_index, span) in spans.enumerate() {
                let mut builder = self.span(&facts);
                for kv in &span.attributes {
                    let (key, value) = key_value(kv);
                    builder.attr(key, value);
                }
                let fields = SpanFields {
                    trace_id: &span.trace_id,
                    span_id: &span.span_id,
                    parent_span_id: &span.parent_span_id,
                    name: &span.name,
                    kind: span.kind,
                    start_unix_nanos: span.start_time_unix_nano,
                    end_unix_nanos: span.end_time_unix_nano,
                    status_code: span.status.as_ref().map_or(0, |s| s.code),
                    trace_state: &span.trace_state,
                };
                match builder.finish(fields) {
                    Ok(span) => out.push(span),
                    Err(rejection) => rejected.record(resource_index, span_index, &rejection),
                }
            }
        }
        rejected
    }
}
