//! Recorded trace files for the offline commands (`lint`, `graph`, …).
//!
//! The format is read from the content, never the extension: recordings get renamed, and the
//! collector's file exporter, Tempo, Kiali and Zipkin all write `.json`. JSON is streamed
//! document by document, so one document, JSON lines and concatenated documents all read the same
//! way and every error points at a line of the file itself.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use thiserror::Error;

use crate::formats::json::split_error;
use crate::formats::{otlp_json, zipkin};

/// Extensions picked up when a directory is read; explicitly named files are read regardless.
const TRACE_EXTENSIONS: [&str; 6] = ["json", "jsonl", "ndjson", "pb", "bin", "otlp"];

const NOT_A_TRACE: &str =
    "not a trace document (expected OTLP resourceSpans/batches or a Zipkin v2 span array)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// One OTLP/JSON request (Tempo's and Kiali's `{"batches":…}` included).
    OtlpJson,
    /// Several OTLP/JSON requests, one per line as the collector's file exporter writes them
    /// (or concatenated).
    OtlpJsonLines,
    /// One binary `ExportTraceServiceRequest`.
    OtlpProtobuf,
    /// Binary requests, each preceded by its varint length.
    OtlpProtobufDelimited,
    /// Zipkin v2 span arrays.
    ZipkinV2,
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OtlpJson => "OTLP JSON",
            Self::OtlpJsonLines => "OTLP JSON lines",
            Self::OtlpProtobuf => "OTLP protobuf",
            Self::OtlpProtobufDelimited => "OTLP protobuf (length-delimited)",
            Self::ZipkinV2 => "Zipkin v2 JSON",
        })
    }
}

/// The requests recorded in one file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceFile {
    pub path: PathBuf,
    pub format: TraceFormat,
    pub requests: Vec<ExportTraceServiceRequest>,
}

impl TraceFile {
    pub fn span_count(&self) -> usize {
        span_count(&self.requests)
    }
}

/// A trace file that cannot be read; the message starts with the path and the position.
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: byte offset {offset}: {message}", path.display())]
    Protobuf {
        path: PathBuf,
        offset: usize,
        message: String,
    },
    #[error("{}: empty file", path.display())]
    Empty { path: PathBuf },
}

impl SourceError {
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::Json { path, .. }
            | Self::Protobuf { path, .. }
            | Self::Empty { path } => path,
        }
    }
}

/// Reads files and directories (recursively: files with a trace extension, in sorted path order).
pub fn read_trace_paths(paths: &[PathBuf]) -> Result<Vec<TraceFile>, SourceError> {
    trace_file_paths(paths)?
        .iter()
        .map(|path| read_trace_file(path))
        .collect()
}

/// The files `paths` name: files as given, directories' trace files (by extension) in sorted
/// order, recursively.
pub fn trace_file_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SourceError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|error| io_error(path, error))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            collect_dir(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Symlinked directories are not followed, so a link cycle cannot recurse forever.
fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let entries = fs::read_dir(dir).map_err(|error| io_error(dir, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| io_error(dir, error))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|error| io_error(&path, error))?;
        if file_type.is_dir() {
            collect_dir(&path, out)?;
        } else if has_trace_extension(&path) && (file_type.is_file() || path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

fn has_trace_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| TRACE_EXTENSIONS.iter().any(|t| t.eq_ignore_ascii_case(e)))
}

pub fn read_trace_file(path: &Path) -> Result<TraceFile, SourceError> {
    let bytes = fs::read(path).map_err(|error| io_error(path, error))?;
    parse_traces(path, &bytes)
}

/// Parses a file's content; `path` only names it in errors and in the result.
pub fn parse_traces(path: &Path, bytes: &[u8]) -> Result<TraceFile, SourceError> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let (format, requests) = match text.iter().find(|b| !is_json_space(**b)) {
        None => {
            return Err(SourceError::Empty {
                path: path.to_owned(),
            });
        }
        Some(b'{' | b'[') => match parse_json(path, text) {
            Ok(parsed) => parsed,
            // A protobuf request can start with bytes that look like whitespace and `{` (tag
            // 0x0A, then a length of 123): take it if it decodes to spans.
            Err(err) => match parse_protobuf(bytes) {
                Ok((format, requests)) if span_count(&requests) > 0 => (format, requests),
                _ => return Err(err),
            },
        },
        Some(_) => parse_protobuf(bytes).map_err(|e| SourceError::Protobuf {
            path: path.to_owned(),
            offset: e.offset,
            message: format!("invalid OTLP protobuf: {}", e.message),
        })?,
    };
    Ok(TraceFile {
        path: path.to_owned(),
        format,
        requests,
    })
}

pub(crate) fn io_error(path: &Path, error: io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_owned(),
        error,
    }
}

fn span_count(requests: &[ExportTraceServiceRequest]) -> usize {
    requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

// ---- JSON ------------------------------------------------------------------------------------

fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn parse_json(
    path: &Path,
    text: &[u8],
) -> Result<(TraceFormat, Vec<ExportTraceServiceRequest>), SourceError> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<Document>();
    let mut requests = Vec::new();
    let mut zipkin = None;
    loop {
        let start = stream.byte_offset();
        let (is_zipkin, request) = match stream.next() {
            None => break,
            Some(Err(err)) if !requests.is_empty() && is_cut_off(text, start, &err) => {
                warn_cut_off(path);
                break;
            }
            Some(Err(err)) => {
                let (line, column, message) = split_error(&err);
                return Err(SourceError::Json {
                    path: path.to_owned(),
                    line,
                    column,
                    message,
                });
            }
            Some(Ok(Document::Otlp(request))) => (false, request),
            Some(Ok(Document::Zipkin(request))) => (true, request),
            Some(Ok(Document::Other)) => return Err(json_error_at(path, text, start, NOT_A_TRACE)),
        };
        if zipkin.is_some_and(|z| z != is_zipkin) {
            let message = "a file mixes OTLP and Zipkin documents";
            return Err(json_error_at(path, text, start, message));
        }
        zipkin = Some(is_zipkin);
        requests.push(request);
    }
    let format = match zipkin {
        Some(true) => TraceFormat::ZipkinV2,
        _ if requests.len() > 1 => TraceFormat::OtlpJsonLines,
        _ => TraceFormat::OtlpJson,
    };
    Ok((format, requests))
}

/// Every OTLP or Zipkin document of `text` (one kind only), in order, or `None` when the text
/// holds anything else or is broken: the caller falls back to [`parse_traces`], which says
/// where and why. A cut-off last line (see [`is_cut_off`]) ends the text; `path` names it.
pub(crate) fn each_request(
    path: &Path,
    text: &[u8],
    mut each: impl FnMut(ExportTraceServiceRequest),
) -> Option<TraceFormat> {
    let mut zipkin = None;
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<Document>();
    loop {
        let start = stream.byte_offset();
        let (is_zipkin, request) = match stream.next() {
            None => break,
            Some(Err(err)) if zipkin.is_some() && is_cut_off(text, start, &err) => {
                warn_cut_off(path);
                break;
            }
            Some(Err(_)) | Some(Ok(Document::Other)) => return None,
            Some(Ok(Document::Otlp(request))) => (false, request),
            Some(Ok(Document::Zipkin(request))) => (true, request),
        };
        if zipkin.is_some_and(|z| z != is_zipkin) {
            return None;
        }
        zipkin = Some(is_zipkin);
        each(request);
    }
    Some(if zipkin == Some(true) {
        TraceFormat::ZipkinV2
    } else {
        TraceFormat::OtlpJsonLines
    })
}

/// Whether `err`, met parsing the document after `start`, is a last line cut off mid-write
/// (`serve --record` or a collector's file exporter killed): the text ends inside the
/// document and no line follows it. The lines before it are whole and worth reading.
fn is_cut_off(text: &[u8], start: usize, err: &serde_json::Error) -> bool {
    let rest = text.get(start..).unwrap_or_default();
    let first = rest.iter().take_while(|b| is_json_space(**b)).count();
    err.is_eof() && !rest.get(first..).unwrap_or_default().contains(&b'\n')
}

fn warn_cut_off(path: &Path) {
    tracing::warn!(
        path = %path.display(),
        "the last line is cut off (a recording interrupted mid-write?): read up to it"
    );
}

/// An error at the document that begins after `offset` (past any whitespace).
fn json_error_at(path: &Path, text: &[u8], offset: usize, message: &str) -> SourceError {
    let before = text.get(..offset).unwrap_or(text);
    let start = offset
        + text
            .get(offset..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| is_json_space(**b))
            .count();
    let head = text.get(..start).unwrap_or(before);
    let line_start = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    SourceError::Json {
        path: path.to_owned(),
        line: 1 + head.iter().filter(|&&b| b == b'\n').count(),
        column: 1 + start - line_start,
        message: message.to_owned(),
    }
}

/// One top-level JSON value of a trace file, decoded while it is parsed.
enum Document {
    Otlp(ExportTraceServiceRequest),
    Zipkin(ExportTraceServiceRequest),
    /// Valid JSON that is neither; reported at the document's start.
    Other,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OTLP/JSON request or a Zipkin v2 span array")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Document, A::Error> {
        Ok(otlp_json::request_from_map(map)?.map_or(Document::Other, Document::Otlp))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        zipkin::request_from_seq(seq).map(Document::Zipkin)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::Other)
    }
}

// ---- protobuf --------------------------------------------------------------------------------

struct ProtoError {
    offset: usize,
    message: String,
}

fn proto_error(offset: usize, message: impl Into<String>) -> ProtoError {
    ProtoError {
        offset,
        message: message.into(),
    }
}

/// A single request and a length-delimited stream can both look valid: take the reading that
/// decodes and finds more spans (a single one on a tie); if neither decodes, report the error
/// of the reading that got further.
fn parse_protobuf(
    bytes: &[u8],
) -> Result<(TraceFormat, Vec<ExportTraceServiceRequest>), ProtoError> {
    let single = ExportTraceServiceRequest::decode(bytes).map_err(|e| locate(bytes, &e));
    let delimited = decode_delimited(bytes);
    match (single, delimited) {
        (Ok(one), Ok(many)) if span_count(&many) > span_count(std::slice::from_ref(&one)) => {
            Ok((TraceFormat::OtlpProtobufDelimited, many))
        }
        (Ok(one), _) => Ok((TraceFormat::OtlpProtobuf, vec![one])),
        (Err(_), Ok(many)) => Ok((TraceFormat::OtlpProtobufDelimited, many)),
        (Err(a), Err(b)) => Err(if b.offset > a.offset { b } else { a }),
    }
}

fn decode_delimited(bytes: &[u8]) -> Result<Vec<ExportTraceServiceRequest>, ProtoError> {
    let mut requests = Vec::new();
    let mut pos = 0;
    while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
        let start = pos;
        let (len, n) = varint(rest).ok_or_else(|| proto_error(start, "truncated length prefix"))?;
        pos += n;
        let remaining = bytes.len() - pos;
        let message = usize::try_from(len)
            .ok()
            .and_then(|len| bytes.get(pos..pos.checked_add(len)?))
            .ok_or_else(|| {
                let text = format!(
                    "truncated message: length prefix says {len} bytes, {remaining} remain"
                );
                proto_error(start, text)
            })?;
        let request = ExportTraceServiceRequest::decode(message).map_err(|e| {
            let inner = locate(message, &e);
            proto_error(pos + inner.offset, inner.message)
        })?;
        requests.push(request);
        pos += message.len();
    }
    Ok(requests)
}

/// Where `bytes` stops decoding as an `ExportTraceServiceRequest`: prost says which field failed
/// but not where, so walk the top-level fields and blame the first one that does not decode.
fn locate(bytes: &[u8], err: &prost::DecodeError) -> ProtoError {
    let mut pos = 0;
    while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
        let start = pos;
        let Some((key, n)) = varint(rest) else {
            return proto_error(start, "truncated field key");
        };
        pos += n;
        let (field, wire) = (key >> 3, key & 7);
        if field == 0 {
            return proto_error(start, "invalid field number 0");
        }
        let len = match wire {
            0 => match bytes.get(pos..).and_then(varint) {
                Some((_, n)) => {
                    pos += n;
                    continue;
                }
                None => return proto_error(start, "truncated varint"),
            },
            1 => 8,
            5 => 4,
            2 => match bytes.get(pos..).and_then(varint) {
                Some((len, n)) => {
                    pos += n;
                    len
                }
                None => return proto_error(start, "truncated length"),
            },
            w => return proto_error(start, format!("unsupported wire type {w}")),
        };
        let remaining = bytes.len() - pos;
        let Some(value) = usize::try_from(len)
            .ok()
            .and_then(|len| bytes.get(pos..pos.checked_add(len)?))
        else {
            let text = format!("truncated: field {field} needs {len} bytes, {remaining} remain");
            return proto_error(start, text);
        };
        if field == 1
            && wire == 2
            && let Err(e) = ResourceSpans::decode(value)
        {
            return proto_error(start, format!("resourceSpans: {e}"));
        }
        pos += value.len();
    }
    proto_error(0, err.to_string())
}

/// A protobuf base-128 varint and its length in bytes; `None` if truncated or over 10 bytes.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

    use super::*;

    const TRACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/traces");

    fn trace_path(name: &str) -> PathBuf {
        Path::new(TRACES).join(name)
    }

    fn parse(bytes: &[u8]) -> Result<TraceFile, SourceError> {
        parse_traces(Path::new("rec/t.json"), bytes)
    }

    fn request(service: &str, span_ids: &[u8]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(Value::StringValue(service.into())),
                        }),
                        key_strindex: 0,
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: span_ids
                        .iter()
                        .map(|&id| Span {
                            trace_id: vec![7; 16],
                            span_id: vec![id; 8],
                            name: format!("span {id}"),
                            kind: 2,
                            start_time_unix_nano: 1_700_000_000_000_000_000,
                            end_time_unix_nano: 1_700_000_000_100_000_000,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn json_line(req: &ExportTraceServiceRequest) -> Vec<u8> {
        let mut out = Vec::new();
        otlp_json::encode_request(req, &mut out);
        out.push(b'\n');
        out
    }

    #[test]
    fn detects_every_testdata_file() {
        let expected = [
            (
                "bookinfo-conformance.otlp.jsonl",
                TraceFormat::OtlpJsonLines,
                66,
            ),
            ("envoy.zipkin.json", TraceFormat::ZipkinV2, 1),
            ("istio-bookinfo.otlp.json", TraceFormat::OtlpJson, 8),
            ("istio-bookinfo.tempo.json", TraceFormat::OtlpJson, 8),
            ("istio-otel-egress.otlp.json", TraceFormat::OtlpJson, 1),
            ("jaeger-example.otlp.json", TraceFormat::OtlpJson, 5),
            ("messaging-kafka.zipkin.json", TraceFormat::ZipkinV2, 28),
            ("otlp-spec-example.json", TraceFormat::OtlpJson, 1),
            ("yelp.zipkin.json", TraceFormat::ZipkinV2, 16),
        ];
        let files = read_trace_paths(&[PathBuf::from(TRACES)]).unwrap();
        let got: Vec<_> = files
            .iter()
            .map(|f| {
                let name = f.path.file_name().unwrap().to_str().unwrap();
                (name, f.format, f.span_count())
            })
            .collect();
        assert_eq!(got, expected);
        for file in &files {
            // The recording holds one request per call, as proxies export them.
            let requests = if file.format == TraceFormat::OtlpJsonLines {
                33
            } else {
                1
            };
            assert_eq!(file.requests.len(), requests, "{}", file.path.display());
        }
    }

    #[test]
    fn tempo_and_otlp_bookinfo_are_the_same_trace() {
        let tempo = read_trace_file(&trace_path("istio-bookinfo.tempo.json")).unwrap();
        let otlp = read_trace_file(&trace_path("istio-bookinfo.otlp.json")).unwrap();
        assert_eq!(tempo.requests, otlp.requests);
        assert_eq!(tempo.span_count(), 8);
        let spans: Vec<&Span> = tempo.requests[0]
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect();
        let trace_id = hex::decode("3ba55609c3cde49649cd77d1f9dcd936").unwrap();
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id == trace_id && s.span_id.len() == 8)
        );
        assert_eq!(spans[0].span_id, hex::decode("49cd77d1f9dcd936").unwrap());
        assert_eq!(spans[0].kind, 3, "SPAN_KIND_CLIENT");
    }

    #[test]
    fn reads_json_lines_and_concatenated_documents() {
        let (a, b) = (request("a", &[1, 2]), request("b", &[3]));
        let mut lines = json_line(&a);
        lines.extend(json_line(&b));
        let file = parse(&lines).unwrap();
        assert_eq!(file.format, TraceFormat::OtlpJsonLines);
        assert_eq!(file.requests, [a.clone(), b.clone()]);
        assert_eq!(file.span_count(), 3);

        // Pretty-printed and concatenated, and Tempo next to canonical.
        let concatenated = format!(
            "{}{}\n\n",
            String::from_utf8(json_line(&a)).unwrap().trim(),
            fs::read_to_string(trace_path("istio-bookinfo.tempo.json")).unwrap()
        );
        let file = parse(concatenated.as_bytes()).unwrap();
        assert_eq!(file.format, TraceFormat::OtlpJsonLines);
        assert_eq!((file.requests.len(), file.span_count()), (2, 10));

        // A single line is plain OTLP JSON.
        assert_eq!(parse(&json_line(&a)).unwrap().format, TraceFormat::OtlpJson);
    }

    #[test]
    fn lenient_otlp_json_lines() {
        // Snake case, base64 ids, enum names and int64 numbers on line 1; canonical on line 2.
        let text = concat!(
            r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"BwcHBwcHBwcHBwcHBwcHBw==","span_id":"AQEBAQEBAQE=","#,
            r#""kind":"SPAN_KIND_SERVER","start_time_unix_nano":1700000000000000000,"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}"#,
            "\n",
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"07070707070707070707070707070707","spanId":"0101010101010101","#,
            r#""kind":2,"startTimeUnixNano":"1700000000000000000","status":{"code":2}}]}]}]}"#,
            "\n"
        );
        let file = parse(text.as_bytes()).unwrap();
        assert_eq!(file.requests.len(), 2);
        assert_eq!(file.requests[0], file.requests[1]);
        let span = &file.requests[0].resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            (span.trace_id.clone(), span.span_id.clone()),
            (vec![7; 16], vec![1; 8])
        );
    }

    #[test]
    fn reads_single_and_delimited_protobuf() {
        let (a, b) = (request("a", &[1, 2]), request("b", &[3]));
        let file = parse_traces(Path::new("t.pb"), &a.encode_to_vec()).unwrap();
        assert_eq!(file.format, TraceFormat::OtlpProtobuf);
        assert_eq!(file.requests, std::slice::from_ref(&a));

        let mut stream = a.encode_length_delimited_to_vec();
        stream.extend(b.encode_length_delimited_to_vec());
        let file = parse_traces(Path::new("t.pb"), &stream).unwrap();
        assert_eq!(file.format, TraceFormat::OtlpProtobufDelimited);
        assert_eq!(file.requests, [a.clone(), b]);

        let file = parse_traces(Path::new("t.pb"), &a.encode_length_delimited_to_vec()).unwrap();
        assert_eq!(file.format, TraceFormat::OtlpProtobufDelimited);
        assert_eq!(file.requests, [a]);
    }

    #[test]
    fn protobuf_that_looks_like_json() {
        // Grow a resource until its ResourceSpans is 123 bytes long: the file then starts with
        // 0x0A 0x7B, i.e. "\n{".
        let mut req = request("x", &[1]);
        while req.resource_spans[0].encoded_len() < 123 {
            let attrs = &mut req.resource_spans[0].resource.as_mut().unwrap().attributes;
            attrs[0].key.push('x');
        }
        assert_eq!(req.resource_spans[0].encoded_len(), 123);
        let bytes = req.encode_to_vec();
        assert_eq!(&bytes[..2], b"\n{");
        let file = parse_traces(Path::new("t.bin"), &bytes).unwrap();
        assert_eq!(file.format, TraceFormat::OtlpProtobuf);
        assert_eq!(file.requests, [req]);
    }

    #[test]
    fn json_errors_name_the_file_line() {
        let mut lines = json_line(&request("a", &[1]));
        lines.extend(json_line(&request("b", &[2])));
        lines.extend(b"{\"resourceSpans\": [ oops ]}\n");
        let err = parse(&lines).unwrap_err();
        assert!(
            matches!(
                err,
                SourceError::Json {
                    line: 3,
                    column: 21,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "rec/t.json:3:21: expected value");

        let mut lines = json_line(&request("a", &[1]));
        lines.extend(b"\n  {\"resourceSpans\": [{\"scopeSpans\": {}}]}\n");
        let err = parse(&lines).unwrap_err().to_string();
        assert_eq!(
            err,
            "rec/t.json:3:38: invalid type: map, expected an array of ScopeSpans objects"
        );
    }

    #[test]
    fn rejects_json_that_is_not_a_trace() {
        let err = parse(b"{\"data\": [{\"traceID\": \"1\"}]}").unwrap_err();
        assert_eq!(err.to_string(), format!("rec/t.json:1:1: {NOT_A_TRACE}"));

        let mut lines = json_line(&request("a", &[1]));
        lines.extend(b"\n   42\n");
        let err = parse(&lines).unwrap_err();
        assert!(
            matches!(
                err,
                SourceError::Json {
                    line: 3,
                    column: 4,
                    ..
                }
            ),
            "{err:?}"
        );

        let mut lines = json_line(&request("a", &[1]));
        lines.extend(b"[]\n");
        let err = parse(&lines).unwrap_err().to_string();
        assert_eq!(
            err,
            "rec/t.json:2:1: a file mixes OTLP and Zipkin documents"
        );

        let err = parse(b"[1, 2]").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "rec/t.json:1:2: invalid type: integer `1`, expected a JSON object (Zipkin v2 span)"
            ),
            "{err}"
        );
    }

    #[test]
    fn empty_arrays_and_files() {
        let file = parse(b" [ ]\n").unwrap();
        assert_eq!(file.format, TraceFormat::ZipkinV2);
        assert_eq!((file.requests.len(), file.span_count()), (1, 0));

        assert_eq!(
            parse(b"").unwrap_err().to_string(),
            "rec/t.json: empty file"
        );
        assert!(matches!(
            parse(b" \n\t\r\n").unwrap_err(),
            SourceError::Empty { .. }
        ));

        // A byte-order mark before JSON is tolerated.
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend(json_line(&request("a", &[1])));
        assert_eq!(parse(&bom).unwrap().span_count(), 1);
    }

    #[test]
    fn truncated_protobuf_names_file_and_offset() {
        let mut req = request("a", &[1, 2]);
        req.resource_spans
            .push(request("b", &[3]).resource_spans.remove(0));
        let bytes = req.encode_to_vec();
        let first = req.resource_spans[0].encoded_len();
        let second = 1 + prost::length_delimiter_len(first) + first;
        let err = parse_traces(Path::new("rec/t.pb"), &bytes[..bytes.len() - 5]).unwrap_err();
        let SourceError::Protobuf {
            offset,
            ref message,
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(offset, second, "blames the truncated second ResourceSpans");
        assert!(message.contains("truncated"), "{message}");
        assert!(
            err.to_string().starts_with(&format!(
                "rec/t.pb: byte offset {second}: invalid OTLP protobuf: truncated"
            )),
            "{err}"
        );

        let err = parse_traces(
            Path::new("junk.bin"),
            b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("junk.bin: byte offset "),
            "{err}"
        );
        assert!(parse_traces(Path::new("x"), b"hello world").is_err());
    }

    #[test]
    fn corrupt_message_inside_delimited_stream() {
        let a = request("a", &[1]);
        let mut stream = a.encode_length_delimited_to_vec();
        let second = stream.len();
        let mut bad = a.encode_to_vec();
        let name_at = bad.windows(6).position(|w| w == b"span 1").unwrap();
        bad[name_at] = 0xff; // invalid UTF-8 in the span name
        stream.push(u8::try_from(bad.len()).unwrap());
        stream.extend(&bad);
        stream.extend(a.encode_length_delimited_to_vec());
        let err = parse_traces(Path::new("d.pb"), &stream).unwrap_err();
        let SourceError::Protobuf {
            offset, message, ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(
            offset,
            second + 1,
            "the ResourceSpans of the second message"
        );
        assert!(message.contains("UTF-8"), "{message}");
    }

    #[test]
    fn reads_directories_recursively_in_order() {
        let dir = std::env::temp_dir().join(format!("meshlens-formats-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("b/nested")).unwrap();
        fs::create_dir_all(dir.join("a")).unwrap();
        let line = json_line(&request("s", &[1]));
        for name in [
            "b/nested/z.jsonl",
            "a/y.JSON",
            "c.ndjson",
            "b/x.json",
            "notes.txt",
            "a/README.md",
        ] {
            fs::write(dir.join(name), &line).unwrap();
        }
        fs::write(dir.join("b/t.pb"), request("s", &[1, 2]).encode_to_vec()).unwrap();

        let files = read_trace_paths(std::slice::from_ref(&dir)).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "a/y.JSON",
                "b/nested/z.jsonl",
                "b/t.pb",
                "b/x.json",
                "c.ndjson"
            ]
        );
        assert_eq!(files[2].format, TraceFormat::OtlpProtobuf);

        // A named file is read whatever its extension.
        let files = read_trace_paths(&[dir.join("notes.txt")]).unwrap();
        assert_eq!(files[0].span_count(), 1);

        let missing = dir.join("missing.json");
        let err = read_trace_paths(std::slice::from_ref(&missing)).unwrap_err();
        assert!(matches!(&err, SourceError::Io { .. }));
        assert_eq!(err.path(), missing);
        assert!(
            err.to_string()
                .starts_with(&format!("{}: ", missing.display()))
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mangled_input_never_panics() {
        // xorshift: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut inputs: Vec<Vec<u8>> = read_trace_paths(&[PathBuf::from(TRACES)])
            .unwrap()
            .iter()
            .map(|f| fs::read(&f.path).unwrap())
            .collect();
        inputs.push(request("a", &[1, 2]).encode_to_vec());
        inputs.push(request("b", &[3]).encode_length_delimited_to_vec());
        for input in &inputs {
            for _ in 0..40 {
                let mut bytes = input.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() % bytes.len() as u64) as usize;
                    match next() % 3 {
                        0 => bytes.truncate(at.max(1)),
                        1 => bytes[at] = next() as u8,
                        _ => bytes.insert(at, b"{}[]\",:0x\x00\xff"[(next() % 11) as usize]),
                    }
                }
                let _ = parse(&bytes);
                let _ = otlp_json::decode_request(&bytes);
                let _ = zipkin::decode_spans(&bytes);
            }
        }
    }

    #[test]
    fn formats_have_display_names() {
        assert_eq!(TraceFormat::OtlpJsonLines.to_string(), "OTLP JSON lines");
        assert_eq!(TraceFormat::ZipkinV2.to_string(), "Zipkin v2 JSON");
    }
}
