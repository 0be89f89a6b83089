//! Per-edge RED data in one time bucket: counts scaled by sampling, failures split by class,
//! and client- and server-side latency in mergeable DDSketches (relative-error quantiles that
//! merge exactly across buckets, so a window is the merge of its buckets).

use std::fmt;

use meshlens_collector::span::Failure;
use sketches_ddsketch::{Config, DDSketch};

use crate::snapshot::Quantiles;
use crate::window::Bucket;

/// 2% relative accuracy: half the bins of the 1% default, plenty for p99 alerting.
const SKETCH_ALPHA: f64 = 0.02;
/// Bins a sketch may grow to (collapsing the lowest past it): 1.04^1024 spans any latency.
const SKETCH_MAX_BINS: u32 = 1024;
/// Latencies are in milliseconds; anything under a nanosecond counts as zero.
const SKETCH_MIN_MS: f64 = 1e-6;

fn new_sketch() -> DDSketch {
    DDSketch::new(Config::new(SKETCH_ALPHA, SKETCH_MAX_BINS, SKETCH_MIN_MS))
}

/// How a request's outcome is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// 5xx, gRPC non-OK, Envoy response flags, transport or span errors.
    Error,
    /// 4xx other than authorization denials.
    ClientError,
    /// 403 RBAC denials.
    AuthzDenied,
}

impl Outcome {
    pub fn of(failure: Option<Failure>) -> Self {
        match failure {
            None => Self::Ok,
            Some(Failure::ClientError) => Self::ClientError,
            Some(Failure::AuthzDenied) => Self::AuthzDenied,
            Some(
                Failure::ServerError
                | Failure::GrpcStatus
                | Failure::ResponseFlags
                | Failure::Error,
            ) => Self::Error,
        }
    }

    /// The outcome of a call both sides reported: an error on either side wins (the client
    /// sees transport failures the server never knew of), then a denial (the server knows it
    /// was RBAC, the client only sees a 403), then a 4xx.
    pub fn combine(self, other: Self) -> Self {
        fn rank(o: Outcome) -> u8 {
            match o {
                Outcome::Ok => 0,
                Outcome::ClientError => 1,
                Outcome::AuthzDenied => 2,
                Outcome::Error => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// One request as the metrics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// How many requests this one stands for (sampling); 1.0 when unsampled.
    pub weight: f64,
    pub estimated: bool,
    pub outcome: Outcome,
    pub client_ms: Option<f64>,
    pub server_ms: Option<f64>,
}

#[derive(Clone, Default)]
pub struct RedBucket {
    pub requests: f64,
    pub errors: f64,
    pub client_errors: f64,
    pub authz_denials: f64,
    pub estimated: bool,
    /// Boxed and created on first use: most buckets of a quiet edge never hold a latency.
    pub client: Option<Box<DDSketch>>,
    pub server: Option<Box<DDSketch>>,
}

impl fmt::Debug for RedBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedBucket")
            .field("requests", &self.requests)
            .field("errors", &self.errors)
            .field("client_errors", &self.client_errors)
            .field("authz_denials", &self.authz_denials)
            .field("estimated", &self.estimated)
            .field(
                "client_latencies",
                &self.client.as_ref().map_or(0, |s| s.count()),
            )
            .field(
                "server_latencies",
                &self.server.as_ref().map_or(0, |s| s.count()),
            )
            .finish()
    }
}

impl RedBucket {
    pub fn add(&mut self, o: &Observation) {
        self.requests += o.weight;
        match o.outcome {
            Outcome::Ok => {}
            Outcome::Error => self.errors += o.weight,
            Outcome::ClientError => self.client_errors += o.weight,
            Outcome::AuthzDenied => self.authz_denials += o.weight,
        }
        self.estimated |= o.estimated;
        // Latency sketches are not scaled: a sampled request is a sample of the distribution.
        if let Some(ms) = o.client_ms {
            self.client
                .get_or_insert_with(|| Box::new(new_sketch()))
                .add(ms);
        }
        if let Some(ms) = o.server_ms {
            self.server
                .get_or_insert_with(|| Box::new(new_sketch()))
                .add(ms);
        }
    }
}

fn merge_sketch(into: &mut Option<Box<DDSketch>>, from: &Option<Box<DDSketch>>) {
    let Some(from) = from else { return };
    match into {
        // Same config everywhere, so merging cannot fail; a failure would only lose latency.
        Some(into) => {
            let _ = into.merge(from);
        }
        None => *into = Some(from.clone()),
    }
}

impl Bucket for RedBucket {
    fn merge_from(&mut self, other: &Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
        self.authz_denials += other.authz_denials;
        self.estimated |= other.estimated;
        merge_sketch(&mut self.client, &other.client);
        merge_sketch(&mut self.server, &other.server);
    }
}

/// p50/p90/p95/p99 of a sketch, `None` when it is empty.
pub fn quantiles(sketch: Option<&DDSketch>) -> Option<Quantiles> {
    let sketch = sketch?;
    if sketch.count() == 0 {
        return None;
    }
    let q = |q: f64| sketch.quantile(q).ok().flatten().unwrap_or(0.0);
    Some(Quantiles {
        p50: round3(q(0.5)),
        p90: round3(q(0.9)),
        p95: round3(q(0.95)),
        p99: round3(q(0.99)),
    })
}

/// Microsecond resolution keeps snapshots readable and golden files stable.
pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_combine_by_severity() {
        assert_eq!(
            Outcome::ClientError.combine(Outcome::AuthzDenied),
            Outcome::AuthzDenied
        );
        assert_eq!(Outcome::Error.combine(Outcome::AuthzDenied), Outcome::Error);
        assert_eq!(Outcome::Ok.combine(Outcome::Ok), Outcome::Ok);
        assert_eq!(Outcome::of(Some(Failure::GrpcStatus)), Outcome::Error);
    }

    #[test]
    fn buckets_merge_counts_and_latency() {
        let mut a = RedBucket::default();
        let mut b = RedBucket::default();
        for i in 1..=100 {
            let o = Observation {
                weight: 1.0,
                estimated: false,
                outcome: if i % 10 == 0 {
                    Outcome::Error
                } else {
                    Outcome::Ok
                },
                client_ms: Some(f64::from(i)),
                server_ms: None,
            };
            if i % 2 == 0 { a.add(&o) } else { b.add(&o) }
        }
        a.merge_from(&b);
        assert_eq!(a.requests, 100.0);
        assert_eq!(a.errors, 10.0);
        let q = quantiles(a.client.as_deref()).unwrap_or_default();
        assert!((q.p50 - 50.0).abs() <= 2.0, "{q:?}");
        assert!((q.p99 - 99.0).abs() <= 3.0, "{q:?}");
        assert_eq!(quantiles(a.server.as_deref()), None);
    }
}
