//! Pure authorization policy library: Istio `AuthorizationPolicy` parsing with positions,
//! evaluation with the mesh's exact semantics, static lints and CI reports. Knows nothing of
//! traces, tokio or the collector.
//!
//! - [`model`]: validated policies, rules and the Kubernetes inventory, with locations.
//! - [`parse`], [`inventory`]: YAML files and directories into the model.
//! - [`eval`]: a request against the policies: decision, deciding policy and rule, dry runs.
//! - [`lint`]: static findings; [`report`]: findings in every CI format.
//! - [`suggest`]: least-privilege ALLOW policies from observed traffic, with their coverage.

pub mod eval;
pub mod inventory;
pub mod lint;
pub mod model;
pub mod parse;
pub mod report;
pub mod suggest;
