//! The span table: one row per normalised span, every field of the span record, strings
//! resolved, ids in hex (as trace UIs and `meshlens inspect` show them).

use meshlens_collector::span::{AuthzDenial, Span};
use meshlens_collector::{Interner, Sym};
use polars::prelude::DataFrame;

use super::BatchError;
use super::columns::column;

fn denial_name(denial: AuthzDenial) -> Option<&'static str> {
    match denial {
        AuthzDenial::None => None,
        AuthzDenial::Likely => Some("likely"),
        AuthzDenial::Confirmed => Some("confirmed"),
    }
}

/// The spans as a DataFrame; column names follow the span record's fields.
pub fn span_table(spans: &[Span], interner: &Interner) -> Result<DataFrame, BatchError> {
    let sym = |s: Option<Sym>| s.map(|s| interner.resolve(s));
    let columns = vec![
        column("trace_id", spans, |s| hex::encode(s.trace_id)),
        column("span_id", spans, |s| hex::encode(s.span_id)),
        column("parent_span_id", spans, |s| {
            s.parent_span_id.map(hex::encode)
        }),
        column("kind", spans, |s| s.kind.as_str()),
        column("name", spans, |s| interner.resolve(s.name)),
        column("start_unix_nanos", spans, |s| s.start_unix_nanos),
        column("duration_nanos", spans, |s| s.duration_nanos),
        column("node", spans, |s| interner.resolve(s.workload.node)),
        column("service", spans, |s| interner.resolve(s.workload.service)),
        column("namespace", spans, |s| sym(s.workload.namespace)),
        column("version", spans, |s| sym(s.workload.version)),
        column("pod", spans, |s| sym(s.workload.pod)),
        column("proxy", spans, |s| s.workload.proxy.as_str()),
        column("destination_host", spans, |s| sym(s.destination.host)),
        column("destination_port", spans, |s| {
            s.destination.port.map(u64::from)
        }),
        column("destination_service", spans, |s| sym(s.destination.service)),
        column("destination_namespace", spans, |s| {
            sym(s.destination.namespace)
        }),
        column("peer_service", spans, |s| sym(s.destination.peer_service)),
        column("db_system", spans, |s| sym(s.destination.db_system)),
        column("db_name", spans, |s| sym(s.destination.db_name)),
        column("messaging_system", spans, |s| {
            sym(s.destination.messaging_system)
        }),
        column("inbound", spans, |s| s.destination.inbound),
        column("protocol", spans, |s| s.protocol.as_str()),
        column("method", spans, |s| sym(s.method)),
        column("path", spans, |s| s.path.as_deref()),
        column("host", spans, |s| sym(s.host)),
        column("status_code", spans, |s| s.status_code.map(u64::from)),
        column("grpc_status", spans, |s| s.grpc_status.map(u64::from)),
        column("response_flags", spans, |s| sym(s.response_flags)),
        column("failure", spans, |s| s.failure.map(|f| f.as_str())),
        column("authz_denial", spans, |s| denial_name(s.authz_denial)),
        column("peer_address", spans, |s| s.peer.map(|p| p.ip.to_string())),
        column("principal", spans, |s| sym(s.principal.map(|p| p.name))),
        column("dry_run_allow_policy", spans, |s| {
            sym(s.dry_run.allow_policy)
        }),
        column("dry_run_allow_result", spans, |s| {
            sym(s.dry_run.allow_result)
        }),
        column("dry_run_deny_policy", spans, |s| sym(s.dry_run.deny_policy)),
        column("dry_run_deny_result", spans, |s| sym(s.dry_run.deny_result)),
        column("shared", spans, |s| s.shared),
        column("adjusted_count", spans, |s| s.adjusted_count),
        column("estimated", spans, |s| s.estimated),
    ];
    DataFrame::new(spans.len(), columns).map_err(BatchError::polars("span"))
}
