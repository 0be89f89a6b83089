//! OTLP/JSON: lenient in, canonical out.
//!
//! Decoding accepts what real tools write besides canonical OTLP JSON: base64 ids (Tempo,
//! Kiali), enum names, snake_case keys, the pre-1.0 `instrumentationLibrarySpans`, Tempo's
//! `batches`, numbers for 64-bit integers. Only structurally bad JSON is an error: a malformed id
//! decodes to whatever bytes it holds, so the receiver can reject that span alone.
//!
//! Encoding writes the collector file exporter's canonical form, one request per line.

mod decode;
mod encode;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, MapAccess};

pub use crate::formats::json::JsonError;
use crate::formats::json::Object;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` (or Tempo `{"batches":[…]}`) document.
pub fn decode_request(bytes: &[u8]) -> Result<ExportTraceServiceRequest, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let request = Object::<ExportTraceServiceRequest>::new().deserialize(&mut de)?;
    de.end()?;
    Ok(request)
}

/// Decodes a request from JSON that was already parsed, e.g. while sniffing a file's format.
/// Errors carry no position (line and column 0).
pub fn request_from_value(
    value: serde_json::Value,
) -> Result<ExportTraceServiceRequest, JsonError> {
    Ok(Object::<ExportTraceServiceRequest>::new().deserialize(value)?)
}

/// Decodes a request from a JSON object being streamed, without buffering it as a `Value`.
/// `None` when the object has no `resourceSpans` / `resource_spans` / `batches` key, i.e. it is
/// not an OTLP trace document at all.
pub(crate) fn request_from_map<'de, A: MapAccess<'de>>(
    map: A,
) -> Result<Option<ExportTraceServiceRequest>, A::Error> {
    let request = decode::JRequest::deserialize(MapAccessDeserializer::new(map))?;
    Ok(request
        .resource_spans
        .map(|resource_spans| ExportTraceServiceRequest { resource_spans }))
}

/// Appends `req` as canonical OTLP JSON on one line (no newline).
pub fn encode_request(req: &ExportTraceServiceRequest, out: &mut Vec<u8>) {
    encode::request(out, req);
}

/// Appends an OTLP/HTTP JSON response: `{}`, or `{"partialSuccess":{…}}` when spans were rejected.
pub fn encode_response(resp: &ExportTraceServiceResponse, out: &mut Vec<u8>) {
    let mut o = encode::Obj::begin(out);
    if let Some(partial) = &resp.partial_success {
        let mut p = encode::Obj::begin(o.key("partialSuccess"));
        p.int_str("rejectedSpans", partial.rejected_spans);
        p.str("errorMessage", &partial.error_message);
        p.end();
    }
    o.end();
}

/// Appends a `google.rpc.Status` as JSON, the body OTLP/HTTP sends with a failure status.
pub fn encode_status(code: i32, message: &str, out: &mut Vec<u8>) {
    let mut o = encode::Obj::begin(out);
    o.int("code", code.into());
    o.str("message", message);
    o.end();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    use super::*;

    const TRACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/traces");

    fn encode(req: &ExportTraceServiceRequest) -> String {
        let mut out = Vec::new();
        encode_request(req, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn first_span(req: &ExportTraceServiceRequest) -> &Span {
        &req.resource_spans[0].scope_spans[0].spans[0]
    }

    /// Every field of every message set, and every AnyValue variant, including defaults that
    /// must survive because they are `oneof` members.
    fn synthetic() -> ExportTraceServiceRequest {
        use any_value::Value::*;
        let all_values = vec![
            kv("s", StringValue("tab\t\"quote\" \\ \u{1} é ✓".into())),
            kv("empty", StringValue(String::new())),
            kv("t", BoolValue(true)),
            kv("f", BoolValue(false)),
            kv("i", IntValue(-9_007_199_254_740_993)),
            kv("zero", IntValue(0)),
            kv("max", IntValue(i64::MAX)),
            kv("d", DoubleValue(3.25)),
            kv("whole", DoubleValue(42.0)),
            kv("tiny", DoubleValue(1.5e-300)),
            kv("big", DoubleValue(-2.5e300)),
            kv("inf", DoubleValue(f64::INFINITY)),
            kv("ninf", DoubleValue(f64::NEG_INFINITY)),
            kv("b", BytesValue(vec![0, 1, 2, 250, 255])),
            kv("nob", BytesValue(vec![])),
            kv("idx", StringValueStrindex(7)),
            kv(
                "a",
                ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(IntValue(1)),
                        },
                        AnyValue { value: None },
                        AnyValue {
                            value: Some(ArrayValue(Default::default())),
                        },
                    ],
                }),
            ),
            kv(
                "kv",
                KvlistValue(KeyValueList {
                    values: vec![
                        kv("nested", StringValue("x".into())),
                        KeyValue {
                            key: "novalue".into(),
                            value: None,
                            key_strindex: 3,
                        },
                    ],
                }),
            ),
            kv("emptykv", KvlistValue(KeyValueList::default())),
            KeyValue {
                key: "unset".into(),
                value: Some(AnyValue { value: None }),
                key_strindex: 0,
            },
        ];
        let span = Span {
            trace_id: (1..=16).collect(),
            span_id: vec![0xab; 8],
            trace_state: "rojo=00f067aa0ba902b7".into(),
            parent_span_id: vec![0x0c; 8],
            flags: 0x301,
            name: "GET /api".into(),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: 1_544_712_660_000_000_000,
            end_time_unix_nano: u64::MAX,
            attributes: all_values.clone(),
            dropped_attributes_count: 1,
            events: vec![
                Event {
                    time_unix_nano: 1_544_712_660_500_000_000,
                    name: "exception".into(),
                    attributes: vec![kv("exception.message", StringValue("boom".into()))],
                    dropped_attributes_count: 2,
                },
                Event::default(),
            ],
            dropped_events_count: 3,
            links: vec![
                Link {
                    trace_id: vec![0xfe; 16],
                    span_id: vec![0x01; 8],
                    trace_state: "k=v".into(),
                    attributes: vec![kv("link", BoolValue(true))],
                    dropped_attributes_count: 4,
                    flags: 1,
                },
                Link::default(),
            ],
            dropped_links_count: 5,
            status: Some(Status {
                message: "upstream reset".into(),
                code: StatusCode::Error as i32,
            }),
        };
        let bare = Span {
            status: Some(Status::default()),
            kind: 99, // open enum: unknown values survive
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", StringValue("svc".into()))],
                        dropped_attributes_count: 6,
                        entity_refs: vec![EntityRef {
                            schema_url: "https://opentelemetry.io/schemas/1.0".into(),
                            r#type: "service".into(),
                            id_keys: vec!["service.name".into()],
                            description_keys: vec!["a".into(), "b".into()],
                        }],
                    }),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "lib".into(),
                                version: "1.0".into(),
                                attributes: all_values,
                                dropped_attributes_count: 7,
                            }),
                            spans: vec![span, bare],
                            schema_url: "https://scope".into(),
                        },
                        ScopeSpans::default(),
                    ],
                    schema_url: "https://resource".into(),
                },
                ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope::default()),
                        spans: vec![Span::default()],
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                },
                ResourceSpans::default(),
            ],
        }
    }

    #[test]
    fn round_trips_synthetic_request() {
        let req = synthetic();
        let json = encode(&req);
        assert!(!json.contains('\n'), "one line: {json}");
        assert_eq!(decode_request(json.as_bytes()).unwrap(), req);
        // And through an already parsed Value.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(request_from_value(value).unwrap(), req);
    }

    #[test]
    fn round_trips_nan_as_string() {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("nan", any_value::Value::DoubleValue(f64::NAN))],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        };
        let json = encode(&req);
        assert!(json.contains(r#"{"doubleValue":"NaN"}"#), "{json}");
        let back = decode_request(json.as_bytes()).unwrap();
        let value = &back.resource_spans[0].resource.as_ref().unwrap().attributes[0].value;
        assert!(
            matches!(value, Some(AnyValue { value: Some(any_value::Value::DoubleValue(d)) }) if d.is_nan())
        );
    }

    #[test]
    fn round_trips_every_testdata_trace() {
        let mut files = 0;
        for file in crate::formats::source::read_trace_paths(&[TRACES.into()]).unwrap() {
            for req in &file.requests {
                let back = decode_request(encode(req).as_bytes()).unwrap();
                assert_eq!(&back, req, "{}", file.path.display());
            }
            files += 1;
        }
        assert_eq!(files, 9);
    }

    #[test]
    fn encodes_canonical_form() {
        let path = format!("{TRACES}/otlp-spec-example.json");
        let req = decode_request(&std::fs::read(path).unwrap()).unwrap();
        let expected = concat!(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},"#,
            r#""scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0","attributes":[{"key":"my.scope.attribute","value":{"stringValue":"some scope attribute"}}]},"#,
            r#""spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","#,
            r#""name":"I'm a server span","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","#,
            r#""attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}}]}]}]}]}"#
        );
        assert_eq!(encode(&req), expected);
    }

    #[test]
    fn encodes_values_canonically() {
        use any_value::Value::*;
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("i", IntValue(5)),
                        kv("d", DoubleValue(1.0)),
                        kv("e", DoubleValue(0.5)),
                        kv("b", BytesValue(b"hi!".to_vec())),
                        kv("c", StringValue("a\u{7}b".into())),
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        };
        assert_eq!(
            encode(&req),
            concat!(
                r#"{"resourceSpans":[{"resource":{"attributes":["#,
                r#"{"key":"i","value":{"intValue":"5"}},"#,
                r#"{"key":"d","value":{"doubleValue":1}},"#,
                r#"{"key":"e","value":{"doubleValue":0.5}},"#,
                r#"{"key":"b","value":{"bytesValue":"aGkh"}},"#,
                r#"{"key":"c","value":{"stringValue":"a\u0007b"}}]}}]}"#
            )
        );
        assert_eq!(encode(&ExportTraceServiceRequest::default()), "{}");
    }

    #[test]
    fn encodes_responses_and_statuses() {
        let mut out = Vec::new();
        encode_response(&ExportTraceServiceResponse::default(), &mut out);
        assert_eq!(out, b"{}");

        out.clear();
        let resp = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 3,
                error_message: "3 spans with invalid \"traceId\"".into(),
            }),
        };
        encode_response(&resp, &mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"3 spans with invalid \"traceId\""}}"#
        );

        out.clear();
        encode_status(3, "bad request", &mut out);
        assert_eq!(out, br#"{"code":3,"message":"bad request"}"#);
    }

    #[test]
    fn decodes_base64_and_hex_ids() {
        let doc = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"traceId":"O6VWCcPN5JZJzXfR+dzZNg==","spanId":"Sc130fnc2TY=","parentSpanId":"Sc130fnc2TY"},
            {"traceId":"3BA55609C3CDE49649CD77D1F9DCD936","spanId":"49cd77d1f9dcd936","parentSpanId":""}
        ]}]}]}"#;
        let req = decode_request(doc).unwrap();
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        let trace = hex::decode("3ba55609c3cde49649cd77d1f9dcd936").unwrap();
        let span = hex::decode("49cd77d1f9dcd936").unwrap();
        for s in spans {
            assert_eq!(s.trace_id, trace);
            assert_eq!(s.span_id, span);
        }
        assert_eq!(spans[0].parent_span_id, span, "unpadded base64");
        assert!(spans[1].parent_span_id.is_empty());
    }

    #[test]
    fn keeps_documents_with_bad_ids() {
        let doc = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"traceId":"not an id!","spanId":"Sc13*","parentSpanId":null},
            {"traceId":"0123456789abcdef0123456789abcdeg","spanId":"zz"}
        ]}]}]}"#;
        let req = decode_request(doc).unwrap();
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[0].trace_id, decode::decode_id("not"));
        assert_eq!(spans[0].span_id.len(), 3, "prefix before '*'");
        assert!(spans[0].parent_span_id.is_empty());
        // 32 characters, not all hex: read as base64, 24 bytes, rejected downstream by length.
        assert_eq!(spans[1].trace_id.len(), 24);
        assert_eq!(spans[1].span_id.len(), 1);
    }

    #[test]
    fn decodes_enum_names_and_numbers() {
        let doc = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"kind":"SPAN_KIND_CLIENT","status":{"code":"STATUS_CODE_ERROR","message":"m"}},
            {"kind":"server","status":{"code":"Ok"}},
            {"kind":5,"status":{"code":2}},
            {"kind":"4","status":{"code":null}}
        ]}]}]}"#;
        let req = decode_request(doc).unwrap();
        let got: Vec<(i32, i32)> = req.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .map(|s| (s.kind, s.status.as_ref().unwrap().code))
            .collect();
        assert_eq!(got, [(3, 2), (2, 1), (5, 2), (4, 0)]);

        let err = decode_request(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_BOGUS"}]}]}]}"#,
        )
        .unwrap_err();
        assert!(err.message.contains("SPAN_KIND_BOGUS"), "{err}");
    }

    #[test]
    fn decodes_int64_as_numbers_and_strings() {
        let doc = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"1544712661000000000","droppedAttributesCount":"2",
             "flags":1e0,"attributes":[{"key":"a","value":{"intValue":5}},{"key":"b","value":{"intValue":"-5"}},
             {"key":"c","value":{"doubleValue":"1.5"}},{"key":"d","value":{"doubleValue":"-Infinity"}}]}
        ]}]}]}"#;
        let req = decode_request(doc).unwrap();
        let s = first_span(&req);
        assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(s.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!(s.dropped_attributes_count, 2);
        assert_eq!(s.flags, 1);
        let values: Vec<_> = s
            .attributes
            .iter()
            .map(|kv| kv.value.clone().unwrap().value.unwrap())
            .collect();
        assert_eq!(
            values,
            [
                any_value::Value::IntValue(5),
                any_value::Value::IntValue(-5),
                any_value::Value::DoubleValue(1.5),
                any_value::Value::DoubleValue(f64::NEG_INFINITY),
            ]
        );

        for bad in [
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":-1}]}]}]}"#,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"12x"}]}]}]}"#,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"flags":4294967296}]}]}]}"#,
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":1.5}]}]}]}"#,
        ] {
            assert!(decode_request(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn decodes_snake_case_and_old_names() {
        let doc = br#"{"resource_spans":[{"resource":{"attributes":[{"key":"service.name","value":{"string_value":"a"}}]},
            "instrumentation_library_spans":[{"instrumentation_library":{"name":"old"},"spans":[
                {"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","parent_span_id":"eee19b7ec3c1b173",
                 "start_time_unix_nano":"1","end_time_unix_nano":"2","dropped_attributes_count":1,
                 "attributes":[{"key":"k","value":{"int_value":"3","unknown":1}}],
                 "events":[{"time_unix_nano":"1","name":"e"}]}]}],
            "schema_url":"u"}]}"#;
        let req = decode_request(doc).unwrap();
        let rs = &req.resource_spans[0];
        assert_eq!(rs.schema_url, "u");
        assert_eq!(rs.scope_spans[0].scope.as_ref().unwrap().name, "old");
        let s = first_span(&req);
        assert_eq!(
            s.trace_id,
            hex::decode("5b8efff798038103d269b633813fc60c").unwrap()
        );
        assert_eq!(s.parent_span_id, hex::decode("eee19b7ec3c1b173").unwrap());
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (1, 2));
        assert_eq!(
            s.attributes[0].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(3))
        );
        assert_eq!(s.events[0].name, "e");
    }

    #[test]
    fn decodes_batches_and_ignores_unknown_fields() {
        let doc = br#"{"batches":[{"resource":{},"scopeSpans":[{"spans":[{"name":"x","extra":{"deep":[1,2,{}]}}]}],
            "future":true}],"also":"ignored"}"#;
        let req = decode_request(doc).unwrap();
        assert_eq!(first_span(&req).name, "x");
        assert_eq!(
            decode_request(b"{}").unwrap(),
            ExportTraceServiceRequest::default()
        );
        assert_eq!(
            decode_request(br#"{"resourceSpans":null}"#).unwrap(),
            ExportTraceServiceRequest::default()
        );
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = decode_request(b"{\n  \"resourceSpans\": [\n    {\"scopeSpans\": 5}\n  ]\n}")
            .unwrap_err();
        assert_eq!((err.line, err.column), (3, 20));
        assert!(
            err.message.starts_with("invalid type: integer `5`"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("at line"), "{}", err.message);
        assert!(
            err.to_string()
                .starts_with("line 3, column 20: invalid type")
        );

        let err = decode_request(b"{\"resourceSpans\": [}").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(decode_request(b"").is_err());
        assert!(decode_request(b"[]").is_err());
        assert!(decode_request(b"{} x").is_err());

        let value = serde_json::json!({"resourceSpans": [{"scopeSpans": 5}]});
        let err = request_from_value(value).unwrap_err();
        assert_eq!((err.line, err.column), (0, 0));
        assert!(err.to_string().starts_with("invalid type"), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut doc =
            String::from(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":"#);
        for _ in 0..10_000 {
            doc.push_str(r#"{"arrayValue":{"values":["#);
        }
        let err = decode_request(doc.as_bytes()).unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");

        // Nesting up to serde_json's limit (128 levels, 3 per AnyValue here) decodes without
        // exhausting a test thread's stack.
        let nested = |levels: usize| {
            let mut doc =
                String::from(r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":"#);
            doc.push_str(&r#"{"arrayValue":{"values":["#.repeat(levels));
            doc.push_str("{}");
            doc.push_str(&"]}}".repeat(levels));
            doc.push_str("}]}}]}");
            decode_request(doc.as_bytes())
        };
        assert!(nested(40).is_ok());
        assert!(nested(41).unwrap_err().message.contains("recursion limit"));
    }

    #[test]
    fn several_values_take_the_first_in_proto_order() {
        let doc = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"1","stringValue":"s"}}]}}]}"#;
        let req = decode_request(doc).unwrap();
        let value = &req.resource_spans[0].resource.as_ref().unwrap().attributes[0].value;
        assert_eq!(
            value.as_ref().unwrap().value,
            Some(any_value::Value::StringValue("s".into()))
        );
        // Invalid base64 in an attribute is an error: no span-level rejection can carry it.
        let doc = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"!!"}}]}}]}"#;
        assert!(decode_request(doc).is_err());
    }
}
