//! Trace encodings: lenient OTLP JSON decoding, canonical OTLP JSON encoding, Zipkin v2, files.

/// Compressed request bodies (gzip, deflate) decoded within a size limit.
pub mod compression;
mod json;
/// OTLP/JSON requests: read whatever OTLP-ish JSON real tools write; write the collector's form.
pub mod otlp_json;
/// Files recorded for the offline commands, whatever trace format they hold.
pub mod source;
/// Zipkin v2 JSON, so Envoy's and other Zipkin tracers' spans read as OTLP.
pub mod zipkin;
/// Zipkin v2 JSON out: what the load generator sends to Zipkin receivers.
pub mod zipkin_encode;
