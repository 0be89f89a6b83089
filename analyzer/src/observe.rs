//! Requests as the engine resolves them, for readers beyond the graph: the request table of
//! `meshlens export`, and the policy checks that hold traffic against declared policies. The
//! graph keeps aggregates only; an observer sees every request it records, with the halves
//! it came from.

use std::any::Any;
use std::fmt::Debug;

use meshlens_collector::span::Protocol;

use crate::graph::{NodeRef, Request};
use crate::half::Half;

/// One request the graph recorded: its edge, what it added, and the span halves behind it
/// (both when paired; one when the other side was never seen).
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub source: &'a NodeRef,
    pub target: &'a NodeRef,
    pub protocol: Protocol,
    pub request: &'a Request,
    pub client: Option<&'a Half>,
    pub server: Option<&'a Half>,
}

/// Called for every request the graph records, on the ingesting thread: keep it cheap.
/// `Any` lets the owner take its observer back with its concrete type
/// ([`crate::Analyzer::observer`], [`crate::Analyzer::take_observer`]).
pub trait RequestObserver: Any + Send + Debug {
    fn observe(&mut self, request: &Resolved<'_>);
}
