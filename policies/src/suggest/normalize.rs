//! Request paths as Istio's authorization filters see them (the evaluator's normalisation), so
//! that suggested `paths` are written the way requests are matched.

pub(super) use crate::eval::path::is_pchar;

/// The normalised path, or why Envoy refuses the request before authorization.
pub(super) fn normalize(raw: &str) -> Result<String, &'static str> {
    crate::eval::path::normalize(raw)
        .map(|n| n.path)
        .map_err(|rejected| rejected.0)
}
