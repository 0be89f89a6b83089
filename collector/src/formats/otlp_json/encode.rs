//! Canonical OTLP JSON, written straight into the output buffer.
//!
//! Matches the OpenTelemetry Collector's file exporter: proto field order, lowerCamelCase keys,
//! lowercase hex ids, integer enums, 64-bit integers as decimal strings, default-valued fields
//! omitted. Optional messages are written when present even if empty (`"status":{}`), as protojson
//! does, so that decoding the output gives back the same request. Doubles use Rust's shortest
//! round-trip form, which can differ from Go's in exponent notation (`1e21`, not `1e+21`).

use std::fmt::{self, Write as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, EntityRef, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

pub(super) fn request(out: &mut Vec<u8>, req: &ExportTraceServiceRequest) {
    let mut o = Obj::begin(out);
    o.list("resourceSpans", &req.resource_spans, resource_spans);
    o.end();
}

fn resource_spans(out: &mut Vec<u8>, rs: &ResourceSpans) {
    let mut o = Obj::begin(out);
    o.message("resource", rs.resource.as_ref(), resource);
    o.list("scopeSpans", &rs.scope_spans, scope_spans);
    o.str("schemaUrl", &rs.schema_url);
    o.end();
}

fn resource(out: &mut Vec<u8>, r: &Resource) {
    let mut o = Obj::begin(out);
    o.list("attributes", &r.attributes, key_value);
    o.uint("droppedAttributesCount", r.dropped_attributes_count.into());
    o.list("entityRefs", &r.entity_refs, entity_ref);
    o.end();
}

fn entity_ref(out: &mut Vec<u8>, e: &EntityRef) {
    let mut o = Obj::begin(out);
    o.str("schemaUrl", &e.schema_url);
    o.str("type", &e.r#type);
    o.list("idKeys", &e.id_keys, |out, s| write_str(out, s));
    o.list("descriptionKeys", &e.description_keys, |out, s| {
        write_str(out, s)
    });
    o.end();
}

fn scope_spans(out: &mut Vec<u8>, ss: &ScopeSpans) {
    let mut o = Obj::begin(out);
    o.message("scope", ss.scope.as_ref(), scope);
    o.list("spans", &ss.spans, span);
    o.str("schemaUrl", &ss.schema_url);
    o.end();
}

fn scope(out: &mut Vec<u8>, s: &InstrumentationScope) {
    let mut o = Obj::begin(out);
    o.str("name", &s.name);
    o.str("version", &s.version);
    o.list("attributes", &s.attributes, key_value);
    o.uint("droppedAttributesCount", s.dropped_attributes_count.into());
    o.end();
}

fn span(out: &mut Vec<u8>, s: &Span) {
    let mut o = Obj::begin(out);
    o.hex("traceId", &s.trace_id);
    o.hex("spanId", &s.span_id);
    o.str("traceState", &s.trace_state);
    o.hex("parentSpanId", &s.parent_span_id);
    o.uint("flags", s.flags.into());
    o.str("name", &s.name);
    o.int("kind", s.kind.into());
    o.uint_str("startTimeUnixNano", s.start_time_unix_nano);
    o.uint_str("endTimeUnixNano", s.end_time_unix_nano);
    o.list("attributes", &s.attributes, key_value);
    o.uint("droppedAttributesCount", s.dropped_attributes_count.into());
    o.list("events", &s.events, event);
    o.uint("droppedEventsCount", s.dropped_events_count.into());
    o.list("links", &s.links, link);
    o.uint("droppedLinksCount", s.dropped_links_count.into());
    o.message("status", s.status.as_ref(), status);
    o.end();
}

fn event(out: &mut Vec<u8>, e: &Event) {
    let mut o = Obj::begin(out);
    o.uint_str("timeUnixNano", e.time_unix_nano);
    o.str("name", &e.name);
    o.list("attributes", &e.attributes, key_value);
    o.uint("droppedAttributesCount", e.dropped_attributes_count.into());
    o.end();
}

fn link(out: &mut Vec<u8>, l: &Link) {
    let mut o = Obj::begin(out);
    o.hex("traceId", &l.trace_id);
    o.hex("spanId", &l.span_id);
    o.str("traceState", &l.trace_state);
    o.list("attributes", &l.attributes, key_value);
    o.uint("droppedAttributesCount", l.dropped_attributes_count.into());
    o.uint("flags", l.flags.into());
    o.end();
}

fn status(out: &mut Vec<u8>, s: &Status) {
    let mut o = Obj::begin(out);
    o.str("message", &s.message);
    o.int("code", s.code.into());
    o.end();
}

fn key_value(out: &mut Vec<u8>, kv: &KeyValue) {
    let mut o = Obj::begin(out);
    o.str("key", &kv.key);
    o.message("value", kv.value.as_ref(), any_value);
    o.int("keyStrindex", kv.key_strindex.into());
    o.end();
}

/// A set `oneof` member is written even when it holds its type's default (`"intValue":"0"`):
/// that is what distinguishes it from an empty value.
fn any_value(out: &mut Vec<u8>, v: &AnyValue) {
    let mut o = Obj::begin(out);
    match &v.value {
        None => {}
        Some(Value::StringValue(s)) => write_str(o.key("stringValue"), s),
        Some(Value::BoolValue(b)) => {
            o.key("boolValue")
                .extend_from_slice(if *b { b"true" } else { b"false" })
        }
        Some(Value::IntValue(i)) => {
            let out = o.key("intValue");
            out.push(b'"');
            write_int(out, *i);
            out.push(b'"');
        }
        Some(Value::DoubleValue(d)) => write_double(o.key("doubleValue"), *d),
        Some(Value::ArrayValue(a)) => {
            let mut inner = Obj::begin(o.key("arrayValue"));
            inner.list("values", &a.values, any_value);
            inner.end();
        }
        Some(Value::KvlistValue(kv)) => {
            let mut inner = Obj::begin(o.key("kvlistValue"));
            inner.list("values", &kv.values, key_value);
            inner.end();
        }
        Some(Value::BytesValue(b)) => {
            let out = o.key("bytesValue");
            out.push(b'"');
            write_base64(out, b);
            out.push(b'"');
        }
        Some(Value::StringValueStrindex(i)) => write_int(o.key("stringValueStrindex"), (*i).into()),
    }
    o.end();
}

/// An object being written: tracks whether a comma is due before the next key.
pub(super) struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    pub(super) fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    pub(super) fn end(self) {
        self.out.push(b'}');
    }

    /// Writes `"key":` (keys are ASCII literals, never escaped) and returns the buffer for the value.
    pub(super) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    pub(super) fn str(&mut self, key: &str, v: &str) {
        if !v.is_empty() {
            write_str(self.key(key), v);
        }
    }

    fn hex(&mut self, key: &str, v: &[u8]) {
        if !v.is_empty() {
            let out = self.key(key);
            out.push(b'"');
            write_hex(out, v);
            out.push(b'"');
        }
    }

    /// uint32 / fixed32: a JSON number.
    fn uint(&mut self, key: &str, v: u64) {
        if v != 0 {
            write_uint(self.key(key), v);
        }
    }

    /// int32 and enums: a JSON number.
    pub(super) fn int(&mut self, key: &str, v: i64) {
        if v != 0 {
            write_int(self.key(key), v);
        }
    }

    /// int64 / uint64 / fixed64: a decimal string, as proto3 JSON requires.
    pub(super) fn uint_str(&mut self, key: &str, v: u64) {
        if v != 0 {
            let out = self.key(key);
            out.push(b'"');
            write_uint(out, v);
            out.push(b'"');
        }
    }

    pub(super) fn int_str(&mut self, key: &str, v: i64) {
        if v != 0 {
            let out = self.key(key);
            out.push(b'"');
            write_int(out, v);
            out.push(b'"');
        }
    }

    fn message<T>(&mut self, key: &str, v: Option<&T>, write: fn(&mut Vec<u8>, &T)) {
        if let Some(v) = v {
            write(self.key(key), v);
        }
    }

    fn list<T>(&mut self, key: &str, items: &[T], write: fn(&mut Vec<u8>, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(key);
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(out, item);
        }
        out.push(b']');
    }
}

/// A JSON string with the escapes serde_json uses: `"`, `\`, and control characters.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_hex(out: &mut Vec<u8>, v: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(v.len() * 2);
    for &b in v {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

fn write_base64(out: &mut Vec<u8>, v: &[u8]) {
    let start = out.len();
    let len = base64::encoded_len(v.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    // Cannot fail: the slice was sized by `encoded_len` for this engine's padding.
    let written = STANDARD.encode_slice(v, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

fn write_uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_uint(out, v.unsigned_abs());
}

/// Shortest round-trip form; integral values without a trailing ".0" as Go writes them (except
/// -0, whose sign only survives as "-0.0"); non-finite values as the proto3 JSON strings.
fn write_double(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        // Formatting a finite f64 into a Vec cannot fail.
        let _ = write!(Sink(out), "{v:?}");
        if !(v == 0.0 && v.is_sign_negative()) && out.ends_with(b".0") {
            out.truncate(out.len() - 2);
        }
    }
}

/// `fmt::Write` into the output buffer, so numbers are formatted without a temporary String.
struct Sink<'a>(&'a mut Vec<u8>);

impl fmt::Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
