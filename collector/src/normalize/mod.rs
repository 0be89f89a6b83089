//! Normalising proxy and SDK spans into [`crate::span::Span`].
//!
//! Decoders feed attributes through two builders, borrowing every string from the decoded
//! buffer:
//!
//! ```text
//! let mut rb = normalizer.resource();            // once per ResourceSpans
//! for (k, v) in resource_attrs { rb.attr(k, v) }
//! let facts = rb.finish();                       // resource-level workload computed here
//! for span in spans {
//!     let mut sb = normalizer.span(&facts);
//!     for (k, v) in span_attrs { sb.attr(k, v) } // dispatch on the key, no allocation
//!     match sb.finish(fields) { Ok(span) => …, Err(rejection) => … }
//! }
//! ```
//!
//! Span-level attributes override resource-level ones. The rules follow DESIGN.md,
//! "Normalising proxy spans"; the Envoy string formats are parsed by [`envoy`].

mod attrs;
mod caller;
mod destination;
pub mod envoy;
mod identity;
mod otlp;
mod outcome;
mod sampling;
#[cfg(test)]
mod tests;

use std::cell::RefCell;

use crate::intern::{Interner, Sym};
use crate::span::{DryRunVerdicts, ProxyKind, Span, SpanId, SpanKind, TraceId, Workload};

pub use attrs::{AttrKey, AttrValue, MAX_VALUE_LEN, MAX_XFCC_LEN, RBAC_DENIED_PREFIX};
pub use caller::principal_name;
pub use envoy::{
    ClusterDirection, NodeId, UpstreamCluster, parse_node_id, parse_peer_address,
    parse_upstream_cluster, path_from_url, xfcc_uri,
};
pub use identity::{UNKNOWN_SERVICE, workload_from_pod};
pub use outcome::{grpc_status, http_status};

use attrs::RequestAttrs;
use destination::{ClusterFacts, Memo, NameFacts};
use identity::{Identity, WorkloadMemo};

/// The non-attribute fields of one OTLP span, borrowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanFields<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub name: &'a str,
    /// OTLP `SpanKind` value.
    pub kind: i32,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    /// OTLP: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    /// W3C `tracestate`, for the sampling threshold.
    pub trace_state: &'a str,
}

/// Why a span was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("trace id must be 16 bytes and not all zero, got {}", got_bytes(*.len, 16))]
    InvalidTraceId { len: usize },
    #[error("span id must be 8 bytes and not all zero, got {}", got_bytes(*.len, 8))]
    InvalidSpanId { len: usize },
    #[error("parent span id must be empty, all zero or 8 bytes, got {len} bytes")]
    InvalidParentSpanId { len: usize },
}

fn got_bytes(len: usize, want: usize) -> String {
    if len == want {
        format!("{len} zero bytes")
    } else {
        format!("{len} bytes")
    }
}

/// What [`Normalizer::normalize_request`] (or a caller using the builders) rejected.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub count: u64,
    /// The first rejection, located: `span 3 of resource 0: trace id must be …`.
    pub first_error: Option<String>,
}

impl Rejected {
    /// Counts a rejection of the `span_index`-th span (across scopes) of the
    /// `resource_index`-th resource; the first one is kept as a message.
    pub fn record(&mut self, resource_index: usize, span_index: usize, rejection: &Rejection) {
        self.count += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!(
                "span {span_index} of resource {resource_index}: {rejection}"
            ));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Turns decoded spans into [`Span`] records. Cheap to clone; `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Normalizer {
    interner: Interner,
    /// `--span-multiplier-key`: an attribute saying how many requests a span stands for.
    multiplier_key: Option<Box<str>>,
    unknown_service: Sym,
    /// The workload of a resource with no identity attributes at all.
    unknown_workload: Workload,
}

impl Normalizer {
    pub fn new(interner: Interner) -> Self {
        let unknown_service = interner.intern(UNKNOWN_SERVICE);
        let unknown_workload = Workload {
            node: unknown_service,
            service: unknown_service,
            namespace: None,
            version: None,
            pod: None,
            proxy: ProxyKind::None,
        };
        Self {
            interner,
            multiplier_key: None,
            unknown_service,
            unknown_workload,
        }
    }

    /// Reads sampling multipliers from the attribute `key` (e.g. `SampleRate`).
    pub fn with_multiplier_key(mut self, key: impl Into<Box<str>>) -> Self {
        self.multiplier_key = Some(key.into());
        self
    }

    /// The configured multiplier attribute, for decoders that classify keys themselves.
    pub fn multiplier_key(&self) -> Option<&str> {
        self.multiplier_key.as_deref()
    }

    fn is_multiplier_key(&self, key: &str) -> bool {
        self.multiplier_key.as_deref() == Some(key)
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// Facts from one resource's attributes, computed once per ResourceSpans.
    pub fn resource<'a>(&self) -> ResourceBuilder<'a> {
        ResourceBuilder {
            normalizer: self.clone(),
            identity: Identity::default(),
            identity_seen: false,
            request: RequestAttrs::default(),
        }
    }

    /// A builder for one span of `resource`.
    pub fn span<'a, 'r>(&'r self, resource: &'r ResourceFacts<'a>) -> SpanBuilder<'a, 'r> {
        SpanBuilder {
            normalizer: self,
            resource,
            identity: resource.identity,
            identity_touched: false,
            request: resource.request,
        }
    }

    fn workload(&self, identity: &Identity<'_>) -> Workload {
        identity::workload_memoized(identity, &self.interner, self.unknown_service)
    }
}

/// Collects one resource's attributes.
#[derive(Debug)]
pub struct ResourceBuilder<'a> {
    normalizer: Normalizer,
    identity: Identity<'a>,
    identity_seen: bool,
    request: RequestAttrs<'a>,
}

impl<'a> ResourceBuilder<'a> {
    /// Records one attribute (called in arrival order; later values of a fact win).
    #[inline]
    pub fn attr(&mut self, key: &'a str, value: AttrValue<'a>) {
        if self.normalizer.is_multiplier_key(key) {
            return self.attr_known(AttrKey::SamplingMultiplier, value);
        }
        self.identity_seen |= attrs::record(&mut self.identity, &mut self.request, key, value);
    }

    /// [`Self::attr`] for a key the decoder already classified.
    pub fn attr_known(&mut self, key: AttrKey, value: AttrValue<'a>) {
        self.identity_seen |=
            attrs::record_known(&mut self.identity, &mut self.request, key, value);
    }

    /// Computes the resource-level workload.
    pub fn finish(self) -> ResourceFacts<'a> {
        let workload = if self.identity_seen {
            self.normalizer.workload(&self.identity)
        } else {
            self.normalizer.unknown_workload
        };
        ResourceFacts {
            identity: self.identity,
            request: self.request,
            workload,
            memo: RefCell::default(),
            clusters: RefCell::default(),
            span_names: RefCell::default(),
        }
    }
}

/// One resource's facts, shared by the builders of its spans. `Send`, not `Sync` (it
/// memoises the last span-level identity).
#[derive(Debug)]
pub struct ResourceFacts<'a> {
    identity: Identity<'a>,
    request: RequestAttrs<'a>,
    workload: Workload,
    memo: RefCell<WorkloadMemo>,
    clusters: RefCell<Memo<Option<ClusterFacts>>>,
    span_names: RefCell<Memo<Option<NameFacts>>>,
}

impl ResourceFacts<'_> {
    /// The workload of spans that add no identity attributes of their own.
    pub fn workload(&self) -> Workload {
        self.workload
    }

    fn cluster(&self, cluster: Option<&str>, normalizer: &Normalizer) -> Option<ClusterFacts> {
        let compute = |c: &str| destination::cluster_facts_memoized(c, &normalizer.interner);
        memoized(&self.clusters, cluster?, compute)
    }

    fn span_name(&self, name: &str, normalizer: &Normalizer) -> Option<NameFacts> {
        let compute = |n: &str| destination::name_facts_memoized(n, &normalizer.interner);
        memoized(&self.span_names, name, compute)
    }

    fn workload_for(&self, identity: &Identity<'_>, normalizer: &Normalizer) -> Workload {
        if *identity == self.identity {
            return self.workload;
        }
        let Ok(mut memo) = self.memo.try_borrow_mut() else {
            return normalizer.workload(identity);
        };
        if let Some(workload) = memo.get(identity) {
            return workload;
        }
        let workload = normalizer.workload(identity);
        memo.put(identity, workload);
        workload
    }
}

/// Collects one span's attributes on top of its resource's.
#[derive(Debug)]
pub struct SpanBuilder<'a, 'r> {
    normalizer: &'r Normalizer,
    resource: &'r ResourceFacts<'a>,
    identity: Identity<'a>,
    identity_touched: bool,
    request: RequestAttrs<'a>,
}

impl<'a> SpanBuilder<'a, '_> {
    /// Records one attribute (called in arrival order; span values override the resource's).
    #[inline]
    pub fn attr(&mut self, key: &'a str, value: AttrValue<'a>) {
        if self.normalizer.is_multiplier_key(key) {
            return self.attr_known(AttrKey::SamplingMultiplier, value);
        }
        self.identity_touched |= attrs::record(&mut self.identity, &mut self.request, key, value);
    }

    /// [`Self::attr`] for a key the decoder already classified: a decoder that can defer
    /// decoding values decodes only those of keys [`AttrKey::classify`] knows, and of other
    /// keys only string values starting with [`RBAC_DENIED_PREFIX`] (passed to [`Self::attr`]).
    /// The decoder caps the value ([`AttrValue::capped`] to [`AttrKey::max_value_len`]), once
    /// per distinct value rather than per span.
    pub fn attr_known(&mut self, key: AttrKey, value: AttrValue<'a>) {
        self.identity_touched |=
            attrs::record_known(&mut self.identity, &mut self.request, key, value);
    }

    /// Validates the ids and builds the normalised span.
    pub fn finish(self, fields: SpanFields<'a>) -> Result<Span, Rejection> {
        let (trace_id, span_id, parent_span_id) =
            validate_ids(fields.trace_id, fields.span_id, fields.parent_span_id)?;
        let kind = SpanKind::from_otlp(fields.kind);
        let n = self.normalizer;
        let interner = &n.interner;
        let req = &self.request;

        let mut workload = if self.identity_touched {
            self.resource.workload_for(&self.identity, n)
        } else {
            self.resource.workload
        };
        if workload.proxy == ProxyKind::None && req.envoy_signs() {
            workload.proxy = ProxyKind::Envoy;
        }

        let response_flags = req
            .response_flags
            .map(str::trim)
            .filter(|f| !f.is_empty() && *f != "-");
        let (failure, authz_denial) = outcome::classify(&outcome::OutcomeFacts {
            kind,
            from_proxy: workload.proxy != ProxyKind::None,
            status: req.status,
            grpc_status: req.grpc_status,
            response_flags,
            details: req.response_code_details,
            rbac_value: req.rbac_value,
            span_status: fields.status_code,
            error_tag: req.error,
        });
        let sym = |s: Option<&str>| s.map(|s| interner.intern(s));
        let sampled =
            sampling::adjusted_count_from_tracestate(fields.trace_state).or(req.multiplier);
        let (adjusted_count, estimated) = match sampled {
            Some(count) => (count, true),
            None => (1.0, false),
        };

        Ok(Span {
            trace_id,
            span_id,
            parent_span_id,
            kind,
            name: interner.intern(fields.name),
            start_unix_nanos: fields.start_unix_nanos,
            duration_nanos: fields
                .end_unix_nanos
                .saturating_sub(fields.start_unix_nanos),
            workload,
            destination: destination::destination(
                req,
                kind,
                self.resource.cluster(req.upstream_cluster, n),
                || self.resource.span_name(fields.name, n),
                interner,
            ),
            protocol: destination::protocol(req, kind),
            method: sym(req.method),
            path: destination::path(req).map(Box::from),
            host: sym(destination::host(req, kind)),
            status_code: req.status,
            grpc_status: req.grpc_status,
            response_flags: sym(response_flags),
            failure,
            authz_denial,
            peer: caller::peer(req, kind),
            principal: caller::principal(req, interner),
            dry_run: DryRunVerdicts {
                allow_policy: sym(req.dry_allow_policy),
                allow_result: sym(req.dry_allow_result),
                deny_policy: sym(req.dry_deny_policy),
                deny_result: sym(req.dry_deny_result),
            },
            shared: req.shared,
            adjusted_count,
            estimated,
        })
    }
}

/// Checks span ids with the rules [`SpanBuilder::finish`] applies: a 16-byte non-zero trace
/// id, an 8-byte non-zero span id, and a parent that is empty, all zero (→ `None`) or 8 bytes.
pub fn validate_ids(
    trace_id: &[u8],
    span_id: &[u8],
    parent_span_id: &[u8],
) -> Result<(TraceId, SpanId, Option<SpanId>), Rejection> {
    Ok((
        self::trace_id(trace_id)?,
        self::span_id(span_id)?,
        self::parent_span_id(parent_span_id)?,
    ))
}

/// Whether a span with these ids would be accepted (see [`validate_ids`]).
pub fn ids_are_valid(trace_id: &[u8], span_id: &[u8], parent_span_id: &[u8]) -> bool {
    validate_ids(trace_id, span_id, parent_span_id).is_ok()
}

fn trace_id(bytes: &[u8]) -> Result<TraceId, Rejection> {
    match TraceId::try_from(bytes) {
        Ok(id) if id != [0; 16] => Ok(id),
        _ => Err(Rejection::InvalidTraceId { len: bytes.len() }),
    }
}

fn span_id(bytes: &[u8]) -> Result<SpanId, Rejection> {
    match SpanId::try_from(bytes) {
        Ok(id) if id != [0; 8] => Ok(id),
        _ => Err(Rejection::InvalidSpanId { len: bytes.len() }),
    }
}

fn parent_span_id(bytes: &[u8]) -> Result<Option<SpanId>, Rejection> {
    if bytes.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    SpanId::try_from(bytes)
        .map(Some)
        .map_err(|_| Rejection::InvalidParentSpanId { len: bytes.len() })
}

fn memoized<T: Copy>(memo: &RefCell<Memo<T>>, key: &str, compute: impl FnOnce(&str) -> T) -> T {
    match memo.try_borrow_mut() {
        Ok(mut memo) => memo.get_or(key, compute),
        Err(_) => compute(key),
    }
}
