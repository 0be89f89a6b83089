//! Policy conformance from traces: the requests the engine resolves, grouped into shapes,
//! evaluated against the declared authorization policies with the mesh's exact semantics,
//! and the findings that come of it (`meshlens lint --traces`, live policy anomalies).
//!
//! - [`shapes`]: a request observer folding requests into distinct shapes with counts.
//! - [`request`]: a shape as the policy engine's request (identity and labels resolved).
//! - [`checks`]: the findings; [`dry_run`]: Istio's dry-run tags against our evaluation;
//!   [`baseline`]: edges new or missing against a baseline graph.

pub mod baseline;
pub mod checks;
pub mod dry_run;
pub mod live;
pub mod offline;
pub mod request;
pub mod shapes;
pub mod usage;

pub use checks::{CHECKS, Inputs, check_shapes};
pub use request::{Identity, Resolver};
pub use shapes::{Shape, ShapeKey, ShapeLog};
