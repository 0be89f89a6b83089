//! meshlens trace ingestion: wire → normalised spans.
//!
//! - [`formats`]: OTLP JSON (lenient in, canonical out), Zipkin v2 JSON, file sources.
//! - [`normalize`]: every proxy's and SDK's span reduced to one [`span::Span`] record.
//! - [`wire`]: a zero-copy OTLP protobuf walker for the hot ingest path.
//! - [`server`]: `meshlens serve` — OTLP gRPC/HTTP and Zipkin receivers, self-metrics, recording.

pub mod formats;
pub mod intern;
pub mod normalize;
pub mod span;

pub use intern::{Interner, Sym};
pub use span::Span;
