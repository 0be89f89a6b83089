//! meshlens trace ingestion: wire → normalised spans.
//!
//! - [`formats`]: OTLP JSON (lenient in, canonical out), Zipkin v2 JSON, file sources.
//! - [`normalize`]: every proxy's and SDK's span reduced to one [`span::Span`] record.
//! - [`wire`]: a zero-copy OTLP protobuf walker for the hot ingest path.
//! - [`summary`], [`inspect`]: what normalisation made of spans, for users to check.
//! - [`sample`]: Envoy-shaped requests for benchmarks, tests and load generation.
//! - [`simulate`]: the built-in mesh simulator and its senders (`meshlens demo`, `loadgen`).
//! - [`server`]: `meshlens serve` — OTLP gRPC/HTTP and Zipkin receivers, self-metrics, recording.

pub mod envoy_call;
pub mod formats;
pub mod inspect;
pub mod intern;
pub mod normalize;
pub mod recorded;
pub mod sample;
pub mod server;
pub mod simulate;
pub mod span;
pub mod summary;
pub mod wire;

pub use intern::{Interner, Sym};
pub use span::Span;
