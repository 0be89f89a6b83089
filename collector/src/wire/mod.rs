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
//! Invalid UTF-8 in a string it reads refuses the whole request (HTTP 400 / gRPC
//! INVALID_ARGUMENT with the byte offset), as a prost decode would: a span cannot be
//! partially accepted without the fact it carried, and the client's encoder is broken.
//!
//! Nothing here recurses: values meshlens does not read (nested `AnyValue` arrays and maps,
//! events, links) are skipped by their length prefix, so nesting depth costs nothing and
//! cannot exhaust the stack (prost refuses past 100 levels; the walker accepts what it does
//! not read). Header arrays are read one level deep only. Attribute values are capped where
//! decoded (`normalize::MAX_VALUE_LEN`).

mod attributes;
mod reader;

use crate::normalize::{Normalizer, Rejected, ResourceFacts, SpanFields};
use crate::span::Span;

use attributes::{Seen, resource_attribute, span_attribute};
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
    let mut seen = Seen::new();
    while let Some((field, wire)) = request.key()? {
        match (field, wire) {
            (1, WireType::Len) => {
                let resource_spans = request.sub()?;
                walk_resource_spans(
                    resource_spans,
                    resource_index,
                    &mut seen,
                    normalizer,
                    out,
                    rejected,
                )?;
                resource_index += 1;
            }
            _ => request.skip(wire)?,
        }
    }
    Ok(())
}

fn walk_resource_spans<'a>(
    resource_spans: Reader<'a>,
    resource_index: usize,
    seen: &mut Seen<'a>,
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
                            let kv = fields.sub()?;
                            resource_attribute(
                                kv,
                                &mut resource,
                                seen,
                                normalizer.multiplier_key(),
                            )?;
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
                            let span = scope_spans.sub()?;
                            let result = walk_span(span, &resource, seen, normalizer)?;
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
    seen: &mut Seen<'a>,
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
    let mut attribute_index = 0;
    while let Some((field, wire)) = span.key()? {
        match (field, wire) {
            (1, WireType::Len) => fields.trace_id = span.bytes()?,
            (2, WireType::Len) => fields.span_id = span.bytes()?,
            (3, WireType::Len) => fields.trace_state = span.str()?,
            (4, WireType::Len) => fields.parent_span_id = span.bytes()?,
            (5, WireType::Len) => fields.name = span.str_as_before(&mut seen.name)?,
            (6, WireType::Varint) => fields.kind = span.varint()? as i32,
            (7, WireType::Fixed64) => fields.start_unix_nanos = span.fixed64()?,
            (8, WireType::Fixed64) => fields.end_unix_nanos = span.fixed64()?,
            (9, WireType::Len) => {
                let kv = span.sub()?;
                let multiplier_key = normalizer.multiplier_key();
                span_attribute(kv, attribute_index, &mut builder, seen, multiplier_key)?;
                attribute_index += 1;
            }
            (11 | 13, WireType::Len) => check_message(span.sub()?)?,
            (15, WireType::Len) => fields.status_code = status_code(span.sub()?)?,
            _ => span.skip(wire)?,
        }
    }
    Ok(builder.finish(fields))
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
