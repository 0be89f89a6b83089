//! Reading a sample back from a `/metrics` scrape, shared by every crate's tests
//! (`#[path]`-included).
#![allow(dead_code)]

/// The value of the first sample whose line starts with `prefix` (name and labels), 0 when
/// there is none.
pub fn metric(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
