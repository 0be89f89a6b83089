//! Serde mirrors of the OTLP trace messages, lenient about what real exporters write.
//!
//! Each mirror accepts the proto3 JSON names plus the proto (snake_case) names, the pre-1.0
//! `instrumentationLibrary*` names and Tempo's `batches`; ids in hex or base64; enums as numbers
//! or names; 64-bit integers as strings or numbers. Unknown fields are ignored.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;
use serde::de::{self, Deserializer, Unexpected, Visitor};

use crate::formats::json::{FromJson, int, opt, opt_int, seq, string, strings};

/// The request; `resource_spans` stays `None` when no key for it is present, which is how file
/// detection tells an OTLP document from any other JSON object.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JRequest {
    #[serde(
        alias = "resource_spans",
        alias = "batches",
        deserialize_with = "some_seq"
    )]
    pub(super) resource_spans: Option<Vec<ResourceSpans>>,
}

fn some_seq<'de, D: Deserializer<'de>, T: FromJson>(d: D) -> Result<Option<Vec<T>>, D::Error> {
    seq(d).map(Some)
}

impl FromJson for ExportTraceServiceRequest {
    type Json = JRequest;
    const NAME: &str = "OTLP/JSON ExportTraceServiceRequest";
}

impl From<JRequest> for ExportTraceServiceRequest {
    fn from(j: JRequest) -> Self {
        Self {
            resource_spans: j.resource_spans.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JResourceSpans {
    #[serde(deserialize_with = "opt")]
    resource: Option<Resource>,
    #[serde(alias = "scope_spans", deserialize_with = "seq")]
    scope_spans: Vec<ScopeSpans>,
    #[serde(alias = "instrumentation_library_spans", deserialize_with = "seq")]
    instrumentation_library_spans: Vec<ScopeSpans>,
    #[serde(alias = "schema_url", deserialize_with = "string")]
    schema_url: String,
}

impl FromJson for ResourceSpans {
    type Json = JResourceSpans;
    const NAME: &str = "ResourceSpans";
}

impl From<JResourceSpans> for ResourceSpans {
    fn from(j: JResourceSpans) -> Self {
        let mut scope_spans = j.scope_spans;
        scope_spans.extend(j.instrumentation_library_spans);
        Self {
            resource: j.resource,
            scope_spans,
            schema_url: j.schema_url,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JResource {
    #[serde(deserialize_with = "seq")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
    #[serde(alias = "entity_refs", deserialize_with = "seq")]
    entity_refs: Vec<EntityRef>,
}

impl FromJson for Resource {
    type Json = JResource;
    const NAME: &str = "Resource";
}

impl From<JResource> for Resource {
    fn from(j: JResource) -> Self {
        Self {
            attributes: j.attributes,
            dropped_attributes_count: j.dropped_attributes_count,
            entity_refs: j.entity_refs,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JEntityRef {
    #[serde(alias = "schema_url", deserialize_with = "string")]
    schema_url: String,
    #[serde(rename = "type", deserialize_with = "string")]
    r#type: String,
    #[serde(alias = "id_keys", deserialize_with = "strings")]
    id_keys: Vec<String>,
    #[serde(alias = "description_keys", deserialize_with = "strings")]
    description_keys: Vec<String>,
}

impl FromJson for EntityRef {
    type Json = JEntityRef;
    const NAME: &str = "EntityRef";
}

impl From<JEntityRef> for EntityRef {
    fn from(j: JEntityRef) -> Self {
        Self {
            schema_url: j.schema_url,
            r#type: j.r#type,
            id_keys: j.id_keys,
            description_keys: j.description_keys,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JScopeSpans {
    #[serde(
        alias = "instrumentationLibrary",
        alias = "instrumentation_library",
        deserialize_with = "opt"
    )]
    scope: Option<InstrumentationScope>,
    #[serde(deserialize_with = "seq")]
    spans: Vec<Span>,
    #[serde(alias = "schema_url", deserialize_with = "string")]
    schema_url: String,
}

impl FromJson for ScopeSpans {
    type Json = JScopeSpans;
    const NAME: &str = "ScopeSpans";
}

impl From<JScopeSpans> for ScopeSpans {
    fn from(j: JScopeSpans) -> Self {
        Self {
            scope: j.scope,
            spans: j.spans,
            schema_url: j.schema_url,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JScope {
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "string")]
    version: String,
    #[serde(deserialize_with = "seq")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
}

impl FromJson for InstrumentationScope {
    type Json = JScope;
    const NAME: &str = "InstrumentationScope";
}

impl From<JScope> for InstrumentationScope {
    fn from(j: JScope) -> Self {
        Self {
            name: j.name,
            version: j.version,
            attributes: j.attributes,
            dropped_attributes_count: j.dropped_attributes_count,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JSpan {
    #[serde(alias = "trace_id", deserialize_with = "id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "string")]
    trace_state: String,
    #[serde(alias = "parent_span_id", deserialize_with = "id")]
    parent_span_id: Vec<u8>,
    #[serde(deserialize_with = "int")]
    flags: u32,
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "span_kind")]
    kind: i32,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "int")]
    start_time_unix_nano: u64,
    #[serde(alias = "end_time_unix_nano", deserialize_with = "int")]
    end_time_unix_nano: u64,
    #[serde(deserialize_with = "seq")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "seq")]
    events: Vec<Event>,
    #[serde(alias = "dropped_events_count", deserialize_with = "int")]
    dropped_events_count: u32,
    #[serde(deserialize_with = "seq")]
    links: Vec<Link>,
    #[serde(alias = "dropped_links_count", deserialize_with = "int")]
    dropped_links_count: u32,
    #[serde(deserialize_with = "opt")]
    status: Option<Status>,
}

impl FromJson for Span {
    type Json = JSpan;
    const NAME: &str = "Span";
}

impl From<JSpan> for Span {
    fn from(j: JSpan) -> Self {
        Self {
            trace_id: j.trace_id,
            span_id: j.span_id,
            trace_state: j.trace_state,
            parent_span_id: j.parent_span_id,
            flags: j.flags,
            name: j.name,
            kind: j.kind,
            start_time_unix_nano: j.start_time_unix_nano,
            end_time_unix_nano: j.end_time_unix_nano,
            attributes: j.attributes,
            dropped_attributes_count: j.dropped_attributes_count,
            events: j.events,
            dropped_events_count: j.dropped_events_count,
            links: j.links,
            dropped_links_count: j.dropped_links_count,
            status: j.status,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JEvent {
    #[serde(alias = "time_unix_nano", deserialize_with = "int")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "string")]
    name: String,
    #[serde(deserialize_with = "seq")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
}

impl FromJson for Event {
    type Json = JEvent;
    const NAME: &str = "Span.Event";
}

impl From<JEvent> for Event {
    fn from(j: JEvent) -> Self {
        Self {
            time_unix_nano: j.time_unix_nano,
            name: j.name,
            attributes: j.attributes,
            dropped_attributes_count: j.dropped_attributes_count,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JLink {
    #[serde(alias = "trace_id", deserialize_with = "id")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "id")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "string")]
    trace_state: String,
    #[serde(deserialize_with = "seq")]
    attributes: Vec<KeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "int")]
    flags: u32,
}

impl FromJson for Link {
    type Json = JLink;
    const NAME: &str = "Span.Link";
}

impl From<JLink> for Link {
    fn from(j: JLink) -> Self {
        Self {
            trace_id: j.trace_id,
            span_id: j.span_id,
            trace_state: j.trace_state,
            attributes: j.attributes,
            dropped_attributes_count: j.dropped_attributes_count,
            flags: j.flags,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct JStatus {
    #[serde(deserialize_with = "string")]
    message: String,
    #[serde(deserialize_with = "status_code")]
    code: i32,
}

impl FromJson for Status {
    type Json = JStatus;
    const NAME: &str = "Status";
}

impl From<JStatus> for Status {
    fn from(j: JStatus) -> Self {
        Self {
            message: j.message,
            code: j.code,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JKeyValue {
    #[serde(deserialize_with = "string")]
    key: String,
    #[serde(deserialize_with = "opt")]
    value: Option<AnyValue>,
    #[serde(alias = "key_strindex", deserialize_with = "int")]
    key_strindex: i32,
}

impl FromJson for KeyValue {
    type Json = JKeyValue;
    const NAME: &str = "KeyValue";
}

impl From<JKeyValue> for KeyValue {
    fn from(j: JKeyValue) -> Self {
        Self {
            key: j.key,
            value: j.value,
            key_strindex: j.key_strindex,
        }
    }
}

/// The `oneof` as optional fields: if a document sets several, the first in proto order wins.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct JAnyValue {
    #[serde(alias = "string_value")]
    string_value: Option<String>,
    #[serde(alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(alias = "int_value", deserialize_with = "opt_int")]
    int_value: Option<i64>,
    #[serde(alias = "double_value", deserialize_with = "double")]
    double_value: Option<f64>,
    #[serde(alias = "array_value", deserialize_with = "opt")]
    array_value: Option<ArrayValue>,
    #[serde(alias = "kvlist_value", deserialize_with = "opt")]
    kvlist_value: Option<KeyValueList>,
    #[serde(alias = "bytes_value", deserialize_with = "bytes")]
    bytes_value: Option<Vec<u8>>,
    #[serde(alias = "string_value_strindex", deserialize_with = "opt_int")]
    string_value_strindex: Option<i32>,
}

impl FromJson for AnyValue {
    type Json = JAnyValue;
    const NAME: &str = "AnyValue";
}

impl From<JAnyValue> for AnyValue {
    fn from(j: JAnyValue) -> Self {
        use any_value::Value;
        // The first field set wins; nearly every value is a string, so it is tried first and
        // the rest are only looked at when it is absent.
        let value = match j.string_value {
            Some(s) => Some(Value::StringValue(s)),
            None => j
                .bool_value
                .map(Value::BoolValue)
                .or_else(|| j.int_value.map(Value::IntValue))
                .or_else(|| j.double_value.map(Value::DoubleValue))
                .or_else(|| j.array_value.map(Value::ArrayValue))
                .or_else(|| j.kvlist_value.map(Value::KvlistValue))
                .or_else(|| j.bytes_value.map(Value::BytesValue))
                .or_else(|| j.string_value_strindex.map(Value::StringValueStrindex)),
        };
        Self { value }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct JArrayValue {
    #[serde(deserialize_with = "seq")]
    values: Vec<AnyValue>,
}

impl FromJson for ArrayValue {
    type Json = JArrayValue;
    const NAME: &str = "ArrayValue";
}

impl From<JArrayValue> for ArrayValue {
    fn from(j: JArrayValue) -> Self {
        Self { values: j.values }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct JKeyValueList {
    #[serde(deserialize_with = "seq")]
    values: Vec<KeyValue>,
}

impl FromJson for KeyValueList {
    type Json = JKeyValueList;
    const NAME: &str = "KeyValueList";
}

impl From<JKeyValueList> for KeyValueList {
    fn from(j: JKeyValueList) -> Self {
        Self { values: j.values }
    }
}

// ---- ids -------------------------------------------------------------------------------------

/// Base64 as Go's and Java's encoders write it, tolerant of missing padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A trace or span id. Canonical OTLP JSON writes hex; Tempo, Kiali and protojson-based tools
/// write base64. A 32- or 16-character all-hex string is hex, anything else base64.
///
/// Never fails on the encoding: a bad id keeps whatever bytes decode (often none), so the
/// receiver can reject that one span by its id length instead of the whole document.
pub(crate) fn decode_id(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    if (b.len() == 32 || b.len() == 16) && b.iter().all(u8::is_ascii_hexdigit) {
        return hex::decode(b).unwrap_or_default();
    }
    decode_base64_prefix(b)
}

/// Base64, or if that fails the bytes of the longest prefix that decodes.
fn decode_base64_prefix(b: &[u8]) -> Vec<u8> {
    let url = b.iter().any(|&c| c == b'-' || c == b'_');
    let engine = if url { &BASE64_URL } else { &BASE64 };
    if let Ok(bytes) = engine.decode(b) {
        return bytes;
    }
    let in_alphabet =
        |c: &u8| c.is_ascii_alphanumeric() || if url { b"-_" } else { b"+/" }.contains(c);
    let mut end = b.iter().take_while(|c| in_alphabet(c)).count();
    if end % 4 == 1 {
        end -= 1; // a lone trailing character carries no whole byte
    }
    b.get(..end)
        .and_then(|prefix| engine.decode(prefix).ok())
        .unwrap_or_default()
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct IdVisitor;

    impl Visitor<'_> for IdVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a hex or base64 id string")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(decode_id(s))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }

    d.deserialize_any(IdVisitor)
}

/// `bytesValue`: base64 (proto3 JSON); unlike ids, an attribute with bad base64 is an error,
/// since there is no span-level rejection that could carry it.
fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    let Some(s) = Option::<std::borrow::Cow<'de, str>>::deserialize(d)? else {
        return Ok(None);
    };
    let engine = if s.contains(['-', '_']) {
        &BASE64_URL
    } else {
        &BASE64
    };
    engine
        .decode(s.as_bytes())
        .map(Some)
        .map_err(|_| de::Error::invalid_value(Unexpected::Str(&s), &"a base64 string"))
}

/// `doubleValue`: a number, a numeric string, or proto3's "NaN" / "Infinity" / "-Infinity".
fn double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct DoubleVisitor;

    impl Visitor<'_> for DoubleVisitor {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number")
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            match s.trim() {
                "NaN" => Ok(Some(f64::NAN)),
                "Infinity" => Ok(Some(f64::INFINITY)),
                "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
                t => t
                    .parse()
                    .map(Some)
                    .map_err(|_| E::invalid_value(Unexpected::Str(s), &self)),
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    d.deserialize_any(DoubleVisitor)
}

// ---- enums -----------------------------------------------------------------------------------

fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    d.deserialize_any(EnumVisitor {
        what: "a span kind (number or name such as SPAN_KIND_CLIENT)",
        parse: |s| {
            (0..=5).find(|&v| {
                SpanKind::try_from(v).is_ok_and(|k| names_match(k.as_str_name(), "SPAN_KIND_", s))
            })
        },
    })
}

fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    d.deserialize_any(EnumVisitor {
        what: "a status code (number or name such as STATUS_CODE_ERROR)",
        parse: |s| {
            (0..=2).find(|&v| {
                StatusCode::try_from(v)
                    .is_ok_and(|c| names_match(c.as_str_name(), "STATUS_CODE_", s))
            })
        },
    })
}

/// Enum names as protojson writes them, without the prefix, in any case ("CLIENT", "Error").
fn names_match(full: &str, prefix: &str, s: &str) -> bool {
    full.eq_ignore_ascii_case(s)
        || full
            .strip_prefix(prefix)
            .is_some_and(|short| short.eq_ignore_ascii_case(s))
}

struct EnumVisitor {
    what: &'static str,
    parse: fn(&str) -> Option<i32>,
}

impl Visitor<'_> for EnumVisitor {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    // Proto3 enums are open: an unknown number is kept, not rejected.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<i32, E> {
        let t = s.trim();
        (self.parse)(t)
            .or_else(|| t.parse().ok())
            .ok_or_else(|| E::invalid_value(Unexpected::Str(s), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }
}
