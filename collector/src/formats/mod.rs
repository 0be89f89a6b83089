//! Trace encodings: lenient OTLP JSON decoding, canonical OTLP JSON encoding, Zipkin v2, files.
