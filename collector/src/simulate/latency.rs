//! Per-edge latency: log-normal, the shape service latencies take (a body near the median and
//! a long right tail), given by its median and p99.

use super::rng::Rng;

/// z of the 99th percentile of a standard normal.
const Z99: f64 = 2.326_347_874;

/// A log-normal latency distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub median_ms: f64,
    pub p99_ms: f64,
}

impl Latency {
    pub const fn new(median_ms: f64, p99_ms: f64) -> Self {
        Self { median_ms, p99_ms }
    }

    /// One draw, in nanoseconds (at least 1 µs).
    pub fn sample_nanos(&self, rng: &mut Rng) -> u64 {
        let median = self.median_ms.max(0.001);
        let sigma = if self.p99_ms > median {
            (self.p99_ms / median).ln() / Z99
        } else {
            0.0
        };
        let ms = median * (sigma * rng.normal()).exp();
        // Saturating float-to-int conversion; the cap keeps a wild draw bounded (1 minute).
        ((ms * 1e6) as u64).clamp(1_000, 60_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_have_the_median_and_p99_asked_for() {
        let latency = Latency::new(4.0, 20.0);
        let mut rng = Rng::new(42);
        let mut draws: Vec<f64> = (0..20_000)
            .map(|_| latency.sample_nanos(&mut rng) as f64 / 1e6)
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[draws.len() / 2];
        let p99 = draws[draws.len() * 99 / 100];
        assert!((median - 4.0).abs() < 0.3, "median {median}");
        assert!((p99 - 20.0).abs() < 3.0, "p99 {p99}");
    }
}
