//! The built-in mesh simulator: Envoy/Istio-shaped traffic of a simulated mesh, with
//! scripted incidents, sent to a trace receiver over OTLP/gRPC, OTLP/HTTP (protobuf or JSON)
//! or Zipkin. `meshlens demo` runs it against its own collector; `meshlens loadgen` against
//! any receiver.
//!
//! - [`topology`]: the meshes (`bookinfo`, `large`, or N services) and their routes.
//! - [`latency`], [`rng`]: per-edge log-normal latencies from a seeded generator.
//! - [`timeline`]: the scripted incidents and when they happen.
//! - [`traffic`]: traces as Envoy CLIENT/SERVER halves ([`crate::envoy_call`]), incidents applied.
//! - [`send`], [`stats`]: the senders, with retries, and their counters.
//! - [`run`]: paced sending over several connections.
//! - [`manifests`]: the large mesh's authorization policies, for the demo.

pub mod latency;
pub mod manifests;
pub mod rng;
pub mod run;
pub mod send;
pub mod stats;
pub mod timeline;
pub mod topology;
pub mod traffic;

pub use latency::Latency;
pub use run::{LoadConfig, run};
pub use send::{Delivery, Protocol, RetryPolicy, SendError, Sender};
pub use stats::{SendStats, StatsSnapshot};
pub use timeline::{Effect, Incident, Timeline};
pub use topology::{Route, Scenario, Service, Topology};
pub use traffic::{Batch, Simulator};
