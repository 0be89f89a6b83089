//! A rolling per-metric history and robust statistics over it (median, MAD).

use std::collections::VecDeque;

use super::config::BaselineConfig;

/// Recent values of one metric of one subject, at most one per sample interval, kept for
/// the baseline window. Values seen while an anomaly on the metric is pending or open are
/// not admitted, so an incident never becomes its own baseline.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    samples: VecDeque<(u64, f64)>,
}

/// A baseline: the median of the history and its median absolute deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Baseline {
    pub median: f64,
    pub mad: f64,
}

impl Baseline {
    /// A robust standard deviation (MAD scaled to agree with σ for normal data).
    pub fn sigma(self) -> f64 {
        1.4826 * self.mad
    }
}

impl History {
    /// Drops samples older than the baseline window.
    pub fn prune(&mut self, now_ms: u64, cfg: &BaselineConfig) {
        let horizon = now_ms.saturating_sub(secs_to_ms(cfg.window_seconds));
        while self.samples.front().is_some_and(|&(t, _)| t < horizon) {
            self.samples.pop_front();
        }
    }

    /// Admits `value` unless the last sample is more recent than the sample interval.
    pub fn push(&mut self, now_ms: u64, value: f64, cfg: &BaselineConfig) {
        if !value.is_finite() {
            return;
        }
        let interval = secs_to_ms(cfg.sample_interval_seconds);
        if self
            .samples
            .back()
            .is_some_and(|&(t, _)| now_ms < t.saturating_add(interval))
        {
            return;
        }
        self.samples.push_back((now_ms, value));
        self.prune(now_ms, cfg);
    }

    /// The baseline, once there are enough samples over a long enough span.
    pub fn baseline(&self, cfg: &BaselineConfig) -> Option<Baseline> {
        let (first, last) = (self.samples.front()?.0, self.samples.back()?.0);
        if self.samples.len() < cfg.min_samples
            || last.saturating_sub(first) < secs_to_ms(cfg.min_span_seconds)
        {
            return None;
        }
        let mut values: Vec<f64> = self.samples.iter().map(|&(_, v)| v).collect();
        let mid = median(&mut values);
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - mid).abs()).collect();
        let mad = median(&mut deviations);
        Some(Baseline { median: mid, mad })
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.samples.len()
    }
}

/// The median (mean of the middle two for even counts); 0 for no values.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Seconds (validated finite, non-negative) to milliseconds.
pub(crate) fn secs_to_ms(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        // Saturating float-to-int conversion.
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg() -> BaselineConfig {
        BaselineConfig {
            window_seconds: 100.0,
            sample_interval_seconds: 10.0,
            min_samples: 3,
            min_span_seconds: 20.0,
        }
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn samples_are_rate_limited_and_pruned() {
        let c = cfg();
        let mut h = History::default();
        h.push(0, 1.0, &c);
        h.push(5_000, 100.0, &c); // within the interval: ignored
        h.push(10_000, 2.0, &c);
        assert_eq!(h.len(), 2);
        assert_eq!(h.baseline(&c), None, "too few samples");
        h.push(20_000, 3.0, &c);
        let b = h.baseline(&c).unwrap();
        assert_eq!(b.median, 2.0);
        assert_eq!(b.mad, 1.0);
        h.push(150_000, 9.0, &c);
        assert_eq!(h.len(), 1, "older than the window");
    }

    #[test]
    fn median_ignores_outliers() {
        let c = cfg();
        let mut h = History::default();
        for (i, v) in [10.0, 11.0, 9.0, 500.0, 10.0].into_iter().enumerate() {
            h.push(i as u64 * 10_000, v, &c);
        }
        let b = h.baseline(&c).unwrap();
        assert_eq!(b.median, 10.0);
        assert_eq!(b.mad, 1.0);
    }
}
