#![allow(clippy::unwrap_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::*;
use crate::intern::Interner;
use crate::sample::{self, envoy_request};

fn owned_path(
    request: &ExportTraceServiceRequest,
    normalizer: &Normalizer,
) -> (Vec<Span>, Rejected) {
    let mut spans = Vec::new();
    let rejected = normalizer.normalize_request(request, &mut spans);
    (spans, rejected)
}

fn wire_path(bytes: &[u8], normalizer: &Normalizer) -> Result<(Vec<Span>, Rejected), WireError> {
    let mut spans = Vec::new();
    normalize_request(bytes, normalizer, &mut spans).map(|rejected| (spans, rejected))
}

#[test]
fn wire_and_owned_decoding_normalise_identically() {
    let normalizer = Normalizer::new(Interner::new());
    for seed in 0..4 {
        let request = envoy_request(64, seed);
        let bytes = request.encode_to_vec();
        let (wire_spans, wire_rejected) = wire_path(&bytes, &normalizer).unwrap();
        let (owned_spans, owned_rejected) = owned_path(&request, &normalizer);
        assert_eq!(wire_spans.len(), 64);
        assert_eq!(wire_spans, owned_spans);
        assert_eq!(wire_rejected, owned_rejected);
    }
}

#[test]
fn spans_with_bad_ids_are_rejected_and_the_rest_kept() {
    let normalizer = Normalizer::new(Interner::new());
    let mut request = envoy_request(6, 1);
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    spans[0].trace_id = vec![1; 15];
    spans[1].span_id = vec![0; 8];
    let (kept, rejected) = wire_path(&request.encode_to_vec(), &normalizer).unwrap();
    assert_eq!(kept.len(), 4);
    assert_eq!(rejected.count, 2);
    let why = rejected.first_error.unwrap();
    assert!(why.contains("span 0 of resource 0"), "{why}");
    assert!(why.contains("trace id"), "{why}");
}

/// Whatever prefix of a valid body arrives, the walker agrees with prost on whether it is a
/// valid message, and never panics.
#[test]
fn truncated_bodies_are_refused_exactly_when_prost_refuses_them() {
    let normalizer = Normalizer::new(Interner::new());
    let bytes = envoy_request(3, 7).encode_to_vec();
    for len in 0..bytes.len() {
        let prefix = &bytes[..len];
        let prost_ok = ExportTraceServiceRequest::decode(prefix).is_ok();
        let wire = wire_path(prefix, &normalizer);
        assert_eq!(wire.is_ok(), prost_ok, "prefix of {len} bytes: {wire:?}");
        if let Err(error) = wire {
            assert!(error.offset <= len, "{error}");
        }
    }
}

#[test]
fn a_resource_after_its_spans_still_applies_to_them() {
    let normalizer = Normalizer::new(Interner::new());
    let request = envoy_request(2, 3);
    let resource_spans = &request.resource_spans[0];
    // Field 2 (scope_spans) first, then field 1 (resource): legal protobuf, unusual order.
    let mut inner = Vec::new();
    for scope in &resource_spans.scope_spans {
        prost::encoding::message::encode(2, scope, &mut inner);
    }
    prost::encoding::message::encode(1, resource_spans.resource.as_ref().unwrap(), &mut inner);
    let mut body = Vec::new();
    prost::encoding::bytes::encode(1, &inner, &mut body);
    let (reordered, _) = wire_path(&body, &normalizer).unwrap();
    let (expected, _) = owned_path(
        &ExportTraceServiceRequest {
            resource_spans: vec![resource_spans.clone()],
        },
        &normalizer,
    );
    assert_eq!(reordered, expected);
}

#[test]
fn invalid_utf8_is_a_decode_error_with_its_offset() {
    let normalizer = Normalizer::new(Interner::new());
    let mut request = envoy_request(1, 0);
    request.resource_spans[0].scope_spans[0].spans[0].name = "MARKER".into();
    let mut bytes = request.encode_to_vec();
    let at = bytes.windows(6).position(|w| w == b"MARKER").unwrap();
    bytes[at] = 0xff;
    let error = wire_path(&bytes, &normalizer).unwrap_err();
    assert_eq!(error.what, "string is not valid UTF-8");
    assert_eq!(error.offset, at - 1, "points at the string's length prefix");
    assert!(ExportTraceServiceRequest::decode(&bytes[..]).is_err());
}

#[test]
fn garbage_is_refused_without_panicking() {
    let normalizer = Normalizer::new(Interner::new());
    for garbage in [
        &b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"[..],
        b"\x0a\xff\xff\xff\xff\x0f",
        b"\x0b",
        b"{\"resourceSpans\":[]}",
    ] {
        assert!(wire_path(garbage, &normalizer).is_err(), "{garbage:?}");
    }
    assert_eq!(
        wire_path(b"", &normalizer).unwrap().0.len(),
        0,
        "an empty request is valid"
    );
}

#[test]
fn count_spans_counts_without_normalising() {
    assert_eq!(
        count_spans(&envoy_request(37, 2).encode_to_vec()).unwrap(),
        37
    );
    assert_eq!(count_spans(b"").unwrap(), 0);
}

/// Arrays nested 50,000 deep (far past what a recursive walk survives on a 2 MiB test-thread
/// stack) are walked without recursion.
#[test]
fn deeply_nested_array_values_do_not_exhaust_the_stack() {
    let normalizer = Normalizer::new(Interner::new());
    // AnyValue { array_value: ArrayValue { values: [AnyValue { array_value: … }] } }, built
    // inside out; each level adds a length-delimited field 5 (AnyValue.array_value) around a
    // field 1 (ArrayValue.values).
    let mut value = Vec::new();
    prost::encoding::string::encode(1, &"deep".to_owned(), &mut value);
    for _ in 0..50_000 {
        let mut array = Vec::new();
        prost::encoding::bytes::encode(1, &value, &mut array);
        value.clear();
        prost::encoding::bytes::encode(5, &array, &mut value);
    }
    let key_value = sample::raw_attribute("x-forwarded-client-cert", &value);
    let mut request = envoy_request(1, 0);
    request.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .clear();
    let mut span = request.resource_spans[0].scope_spans[0].spans[0].encode_to_vec();
    prost::encoding::bytes::encode(9, &key_value, &mut span);
    let body = sample::raw_request(&span);

    let (spans, _) = wire_path(&body, &normalizer).unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].principal, None);
}

/// Random byte flips, insertions and cuts of a valid body: every result is a span list or an
/// error, never a panic (a fixed-seed stand-in until the fuzz targets of issue 7 land).
#[test]
fn mangled_bodies_never_panic() {
    let normalizer = Normalizer::new(Interner::new());
    let valid = envoy_request(4, 11).encode_to_vec();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3_000 {
        let mut body = valid.clone();
        for _ in 0..1 + next() % 8 {
            let at = (next() as usize) % body.len();
            match next() % 3 {
                0 => body[at] = next() as u8,
                1 => body.insert(at, next() as u8),
                _ => body.truncate(at.max(1)),
            }
        }
        let _ = wire_path(&body, &normalizer);
        let _ = count_spans(&body);
    }
}

/// Sampled spans say how many requests they stand for, on both decoding paths: the W3C
/// `tracestate` threshold first, else the configured multiplier attribute.
#[test]
fn sampling_information_scales_spans_on_both_paths() {
    let normalizer = Normalizer::new(Interner::new()).with_multiplier_key("SampleRate");
    let mut request = envoy_request(3, 5);
    let mut spans = request
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
        .flat_map(|s| &mut s.spans);
    spans.next().unwrap().trace_state = "ot=th:8".to_owned();
    let second = spans.next().unwrap();
    second
        .attributes
        .push(sample::string_attr("SampleRate", "10"));
    let (wire_spans, _) = wire_path(&request.encode_to_vec(), &normalizer).unwrap();
    let (owned_spans, _) = owned_path(&request, &normalizer);
    assert_eq!(wire_spans, owned_spans);
    let counts: Vec<(f64, bool)> = wire_spans
        .iter()
        .map(|s| (s.adjusted_count, s.estimated))
        .collect();
    assert_eq!(counts[0], (2.0, true));
    assert_eq!(counts[1], (10.0, true));
    assert_eq!(counts[2], (1.0, false));
}

/// A response-code-details value under any tag name marks an RBAC denial on both paths, and
/// short values of unknown tags are skipped without being looked into.
#[test]
fn rbac_details_under_any_tag_confirm_a_denial_on_both_paths() {
    use crate::sample::string_attr;
    use crate::span::AuthzDenial;
    let normalizer = Normalizer::new(Interner::new());
    let mut request = envoy_request(2, 9);
    let server = request
        .resource_spans
        .iter_mut()
        .flat_map(|r| &mut r.scope_spans)
        .flat_map(|s| &mut s.spans)
        .find(|s| s.kind == 2)
        .unwrap();
    for kv in &mut server.attributes {
        if kv.key == "http.status_code" {
            *kv = string_attr("http.status_code", "403");
        }
    }
    server.attributes.push(string_attr("x", "y"));
    server.attributes.push(string_attr(
        "my.custom.details",
        "rbac_access_denied_matched_policy[ns[foo]-policy[deny-get]-rule[0]]",
    ));
    let (wire_spans, _) = wire_path(&request.encode_to_vec(), &normalizer).unwrap();
    let (owned_spans, _) = owned_path(&request, &normalizer);
    assert_eq!(wire_spans, owned_spans);
    let denied: Vec<_> = wire_spans
        .iter()
        .filter(|s| s.authz_denial == AuthzDenial::Confirmed)
        .collect();
    assert_eq!(denied.len(), 1);
}

/// The bytes of `message` wrapped as length-delimited field `field` of a new message, on a
/// buffer kept reversed: nesting a million levels costs linear time.
fn wrap_reversed(reversed: &mut Vec<u8>, field: u32) {
    let mut prefix = Vec::new();
    prost::encoding::encode_key(
        field,
        prost::encoding::WireType::LengthDelimited,
        &mut prefix,
    );
    prost::encoding::encode_varint(reversed.len() as u64, &mut prefix);
    reversed.extend(prefix.iter().rev());
}

/// An `AnyValue` nested `levels` deep: alternately through `kvlist_value` and `array_value`.
fn nested_any_value(levels: usize) -> Vec<u8> {
    let mut reversed: Vec<u8> = b"\x0a\x04deep".iter().rev().copied().collect();
    for level in 0..levels {
        if level % 2 == 0 {
            wrap_reversed(&mut reversed, 1); // ArrayValue.values
            wrap_reversed(&mut reversed, 5); // AnyValue.array_value
        } else {
            wrap_reversed(&mut reversed, 2); // KeyValue.value
            reversed.extend(b"\x0a\x01k".iter().rev()); // KeyValue.key
            wrap_reversed(&mut reversed, 1); // KeyValueList.values
            wrap_reversed(&mut reversed, 6); // AnyValue.kvlist_value
        }
    }
    reversed.reverse();
    reversed
}

/// A million levels of `AnyValue` nesting (prost refuses past 100; a recursive walk would
/// overflow any stack) in a resource attribute, a span attribute of a key normalisation
/// reads and one it ignores, and an event attribute: walked without recursion and accepted,
/// as the values are not ones normalisation reads.
#[test]
fn a_million_levels_of_nesting_are_walked_without_recursion() {
    let normalizer = Normalizer::new(Interner::new());
    let value = nested_any_value(1_000_000);
    assert!(value.len() > 10 << 20);
    let attribute = |key: &str| sample::raw_attribute(key, &value);
    let request = envoy_request(1, 0);
    let mut span = request.resource_spans[0].scope_spans[0].spans[0].encode_to_vec();
    for key in ["http.url", "x-forwarded-client-cert", "custom"] {
        prost::encoding::bytes::encode(9, &attribute(key), &mut span);
    }
    let mut event = Vec::new();
    prost::encoding::bytes::encode(3, &attribute("event"), &mut event);
    prost::encoding::bytes::encode(11, &event, &mut span);
    let mut resource = Vec::new();
    prost::encoding::bytes::encode(1, &attribute("service.name"), &mut resource);
    let mut scope = Vec::new();
    prost::encoding::bytes::encode(2, &span, &mut scope);
    let mut resource_spans = Vec::new();
    prost::encoding::bytes::encode(1, &resource, &mut resource_spans);
    prost::encoding::bytes::encode(2, &scope, &mut resource_spans);
    let mut body = Vec::new();
    prost::encoding::bytes::encode(1, &resource_spans, &mut body);

    assert!(
        ExportTraceServiceRequest::decode(&body[..]).is_err(),
        "prost's depth limit"
    );
    let (spans, rejected) = wire_path(&body, &normalizer).unwrap();
    assert_eq!((spans.len(), rejected.count), (1, 0));
    assert_eq!(count_spans(&body).unwrap(), 1);
}

/// Strings the walker reads are UTF-8 checked (prost checks every string: the request is
/// refused, as prost would refuse it); strings it skips unread are not, like the
/// OpenTelemetry Collector, which does not refuse a batch over a tag it never looks at.
#[test]
fn invalid_utf8_refuses_the_request_only_where_it_is_read() {
    let normalizer = Normalizer::new(Interner::new());
    let with_attribute = |key: &str, value: &[u8]| {
        let mut any = Vec::new();
        prost::encoding::bytes::encode(1, &value.to_vec(), &mut any);
        let request = envoy_request(1, 0);
        let mut span = request.resource_spans[0].scope_spans[0].spans[0].encode_to_vec();
        prost::encoding::bytes::encode(9, &sample::raw_attribute(key, &any), &mut span);
        sample::raw_request(&span)
    };
    let read = with_attribute("http.method", b"GE\xffT");
    let error = wire_path(&read, &normalizer).unwrap_err();
    assert_eq!(error.what, "string is not valid UTF-8");
    assert!(
        error.to_string().starts_with("invalid protobuf at byte "),
        "{error}"
    );
    let unread = with_attribute("user.comment", b"\xc3\x28 not UTF-8");
    assert_eq!(wire_path(&unread, &normalizer).unwrap().0.len(), 1);
    assert!(ExportTraceServiceRequest::decode(&unread[..]).is_err());
}

/// Odd attributes prost encodes canonically normalise the same on both paths: a key without
/// a value after one with a value, and an RBAC denial in an array under an unknown key.
#[test]
fn valueless_keys_and_array_values_normalise_as_on_the_owned_path() {
    let normalizer = Normalizer::new(Interner::new());
    let request = sample::odd_attributes_request();
    let (wire_spans, _) = wire_path(&request.encode_to_vec(), &normalizer).unwrap();
    let (owned_spans, _) = owned_path(&request, &normalizer);
    assert_eq!(wire_spans, owned_spans);
}
