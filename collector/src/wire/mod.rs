//! A zero-copy walk over OTLP protobuf `ExportTraceServiceRequest` bytes that feeds the
//! normaliser directly.
//!
//! An owned prost decode allocates a `String` per attribute key and value and a `Vec` per id,
//! only for the normaliser to look at them once and throw them away; on Envoy-shaped spans
//! (~15 string attributes each) that allocation is most of the ingest cost. Here every string
//! and id is borrowed from the request body, and only the facts a [`Span`] keeps are interned.
//! Fields meshlens does not use (events, links, scope, the values of attributes it ignores)
//! are skipped by their length, with the framing of their top level checked; strings it reads
//! are checked for UTF-8 as prost checks every string. Unread strings are not: like the
//! OpenTelemetry Collector, meshlens does not refuse a batch over a tag it never looks at.

mod reader;

use crate::normalize::{
    AttrKey, AttrValue, Normalizer, RBAC_DENIED_PREFIX, Rejected, ResourceBuilder, ResourceFacts,
    SpanBuilder, SpanFields,
};
use crate::span::Span;

pub use reader::WireError;
use reader::{Reader, WireType};

/// Normalises every span of a protobuf-encoded `ExportTraceServiceRequest`, appending them to
/// `out`. Spans with invalid ids are counted in the returned [`Rejected`], as OTLP partial
/// success expects. On a framing error nothing is appended.
pub fn normalize_request(
    bytes: &[u8],
    normalizer: &Normalizer,
    out: &mut Vec<Span>,
) -> Result<Rejected, WireError> {
    let start_len = out.len();
    let mut rejected = Rejected::default();
    let result = walk_request(bytes, normalizer, out, &mut rejected);
    if result.is_err() {
        out.truncate(start_len);
    }
    result.map(|()| rejected)
}

/// Counts spans in a protobuf `ExportTraceServiceRequest` without normalising them.
pub fn count_spans(bytes: &[u8]) -> Result<u64, WireError> {
    let mut count = 0;
    let mut request = Reader::new(bytes);
    while let Some((field, wire)) = request.key()? {
        if field != 1 || wire != WireType::Len {
            request.skip(wire)?;
            continue;
        }
        let mut resource_spans = request.sub()?;
        while let Some((field, wire)) = resource_spans.key()? {
            if field != 2 || wire != WireType::Len {
                resource_spans.skip(wire)?;
                continue;
            }
            let mut scope_spans = resource_spans.sub()?;
            while let Some((field, wire)) = scope_spans.key()? {
                if field == 2 && wire == WireType::Len {
                    scope_spans.bytes()?;
                    count += 1;
                } else {
                    scope_spans.skip(wire)?;
                }
            }
        }
    }
    Ok(count)
}

fn walk_request(
    bytes: &[u8],
    normalizer: &Normalizer,
    out: &mut Vec<Span>,
    rejected: &mut Rejected,
) -> Result<(), WireError> {
    let mut request = Reader::new(bytes);
    let mut resource_index = 0;
    while let Some((field, wire)) = request.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                walk_resource_spans(request.sub()?, resource_index, normalizer, out, rejected)?;
                resource_index += 1;
            }
            _ => request.skip(wire)?,
        }
    }
    Ok(())
}

fn walk_resource_spans(
    resource_spans: Reader<'_>,
    resource_index: usize,
    normalizer: &Normalizer,
    out: &mut Vec<Span>,
    rejected: &mut Rejected,
) -> Result<(), WireError> {
    // The resource may follow its spans on the wire; read it first so that every span sees it.
    let mut resource = normalizer.resource();
    let mut scan = resource_spans.clone();
    while let Some((field, wire)) = scan.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                let mut fields = scan.sub()?;
                while let Some((field, wire)) = fields.key()? {
                    match (field, wire) {
                        (1, WireType::Len) => {
                            attribute(fields.sub()?, &mut resource, normalizer.multiplier_key())?
                        }
                        _ => fields.skip(wire)?,
                    }
                }
            }
            _ => scan.skip(wire)?,
        }
    }
    let resource = resource.finish();

    let mut span_index = 0;
    let mut scan = resource_spans;
    while let Some((field, wire)) = scan.key()? {
        match (field, wire) {
            (2, WireType::Len) => {
                let mut scope_spans = scan.sub()?;
                while let Some((field, wire)) = scope_spans.key()? {
                    match (field, wire) {
                        (2, WireType::Len) => {
                            let result = walk_span(scope_spans.sub()?, &resource, normalizer)?;
                            match result {
                                Ok(span) => out.push(span),
                                Err(why) => {
                                    rejected.count += 1;
                                    if rejected.first_error.is_none() {
                                        rejected.first_error = Some(format!(
                                            "span {span_index} of resource {resource_index}: {why}"
                                        ));
                                    }
                                }
                            }
                            span_index += 1;
                        }
                        (1, WireType::Len) => check_message(scope_spans.sub()?)?,
                        _ => scope_spans.skip(wire)?,
                    }
                }
            }
            _ => scan.skip(wire)?,
        }
    }
    Ok(())
}

type SpanResult = Result<Span, crate::normalize::Rejection>;

fn walk_span<'a>(
    mut span: Reader<'a>,
    resource: &ResourceFacts<'a>,
    normalizer: &Normalizer,
) -> Result<SpanResult, WireError> {
    let mut fields = SpanFields {
        trace_id: &[],
        span_id: &[],
        parent_span_id: &[],
        name: "",
        kind: 0,
        start_unix_nanos: 0,
        end_unix_nanos: 0,
        status_code: 0,
        trace_state: "",
    };
    let mut builder = normalizer.span(resource);
    while let Some((field, wire)) = span.key()? {
        match (field, wire) {
            (1, WireType::Len) => fields.trace_id = span.bytes()?,
            (2, WireType::Len) => fields.span_id = span.bytes()?,
            (3, WireType::Len) => fields.trace_state = span.str()?,
            (4, WireType::Len) => fields.parent_span_id = span.bytes()?,
            (5, WireType::Len) => fields.name = span.str()?,
            (6, WireType::Varint) => fields.kind = span.varint()? as i32,
            (7, WireType::Fixed64) => fields.start_unix_nanos = span.fixed64()?,
            (8, WireType::Fixed64) => fields.end_unix_nanos = span.fixed64()?,
            (9, WireType::Len) => {
                attribute(span.sub()?, &mut builder, normalizer.multiplier_key())?
            }
            (11 | 13, WireType::Len) => check_message(span.sub()?)?,
            (15, WireType::Len) => fields.status_code = status_code(span.sub()?)?,
            _ => span.skip(wire)?,
        }
    }
    Ok(builder.finish(fields))
}

/// The two builders attributes feed.
trait Attributes<'a> {
    fn known(&mut self, key: AttrKey, value: AttrValue<'a>);
    fn named(&mut self, key: &'a str, value: AttrValue<'a>);
}

impl<'a> Attributes<'a> for ResourceBuilder<'a> {
    fn known(&mut self, key: AttrKey, value: AttrValue<'a>) {
        self.attr_known(key, value);
    }
    fn named(&mut self, key: &'a str, value: AttrValue<'a>) {
        self.attr(key, value);
    }
}

impl<'a> Attributes<'a> for SpanBuilder<'a, '_> {
    fn known(&mut self, key: AttrKey, value: AttrValue<'a>) {
        self.attr_known(key, value);
    }
    fn named(&mut self, key: &'a str, value: AttrValue<'a>) {
        self.attr(key, value);
    }
}

/// Feeds one `KeyValue` to a builder. Most of an Envoy span's tags are of no interest to
/// normalisation: their values are neither decoded nor UTF-8 checked, only skipped.
fn attribute<'a>(
    mut kv: Reader<'a>,
    attrs: &mut impl Attributes<'a>,
    multiplier_key: Option<&str>,
) -> Result<(), WireError> {
    let mut key: &[u8] = &[];
    let mut value = None;
    while let Some((field, wire)) = kv.key()? {
        match (field, wire) {
            (1, WireType::Len) => key = kv.bytes()?,
            (2, WireType::Len) => value = Some(kv.sub()?),
            _ => kv.skip(wire)?,
        }
    }
    let Some(value) = value else {
        return Ok(());
    };
    match AttrKey::classify(key) {
        Some(known) => attrs.known(known, any_value(value)?),
        None if multiplier_key.is_some_and(|m| m.as_bytes() == key) => {
            attrs.known(AttrKey::SamplingMultiplier, any_value(value)?);
        }
        // Any tag may carry Envoy's response code details with an RBAC denial.
        None if starts_with_string(value.clone(), RBAC_DENIED_PREFIX.as_bytes())? => {
            let key =
                std::str::from_utf8(key).map_err(|_| kv.error("string is not valid UTF-8"))?;
            attrs.named(key, any_value(value)?);
        }
        None => {}
    }
    Ok(())
}

/// Whether an `AnyValue` is a string starting with `prefix`, without decoding it.
fn starts_with_string(mut any: Reader<'_>, prefix: &[u8]) -> Result<bool, WireError> {
    // Most tag values are far shorter than the prefix (a tag byte and a length byte at least
    // come before the string): no need to look inside.
    if any.remaining() < prefix.len() + 2 {
        return Ok(false);
    }
    while let Some((field, wire)) = any.key()? {
        match (field, wire) {
            (1, WireType::Len) => return Ok(any.bytes()?.starts_with(prefix)),
            _ => any.skip(wire)?,
        }
    }
    Ok(false)
}

fn any_value(mut any: Reader<'_>) -> Result<AttrValue<'_>, WireError> {
    let mut value = AttrValue::Other;
    while let Some((field, wire)) = any.key()? {
        value = match (field, wire) {
            (1, WireType::Len) => AttrValue::Str(any.str()?),
            (2, WireType::Varint) => AttrValue::Bool(any.varint()? != 0),
            (3, WireType::Varint) => AttrValue::Int(any.varint()? as i64),
            (4, WireType::Fixed64) => AttrValue::Double(f64::from_bits(any.fixed64()?)),
            // Header attributes are string arrays in OTel semantic conventions: the first
            // string stands for the header, as on the owned path.
            (5, WireType::Len) => first_string(any.sub()?)?,
            (6, WireType::Len) => {
                check_message(any.sub()?)?;
                AttrValue::Other
            }
            _ => {
                any.skip(wire)?;
                AttrValue::Other
            }
        };
    }
    Ok(value)
}

/// The first string element of an `ArrayValue`. Elements are read one level deep only: a
/// nested array is not a header value, and recursing would let a request of nested arrays
/// exhaust the stack.
fn first_string(mut array: Reader<'_>) -> Result<AttrValue<'_>, WireError> {
    let mut first = None;
    while let Some((field, wire)) = array.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                let element = array.sub()?;
                if first.is_none() {
                    first = string_value(element)?;
                }
            }
            _ => array.skip(wire)?,
        }
    }
    Ok(first.map_or(AttrValue::Other, AttrValue::Str))
}

/// An `AnyValue`'s string, if it holds one; other kinds are skipped unread.
fn string_value(mut any: Reader<'_>) -> Result<Option<&str>, WireError> {
    let mut value = None;
    while let Some((field, wire)) = any.key()? {
        match (field, wire) {
            (1, WireType::Len) => value = Some(any.str()?),
            _ => {
                any.skip(wire)?;
                value = None;
            }
        }
    }
    Ok(value)
}

fn status_code(mut status: Reader<'_>) -> Result<i32, WireError> {
    let mut code = 0;
    while let Some((field, wire)) = status.key()? {
        match (field, wire) {
            (2, WireType::Len) => {
                status.str()?;
            }
            (3, WireType::Varint) => code = status.varint()? as i32,
            _ => status.skip(wire)?,
        }
    }
    Ok(code)
}

/// Walks a message meshlens does not read, so malformed framing inside it is still refused.
fn check_message(mut message: Reader<'_>) -> Result<(), WireError> {
    while let Some((_, wire)) = message.key()? {
        message.skip(wire)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
