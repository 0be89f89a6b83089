//! Spans → service graph: pairing, per-edge RED metrics, anomalies (issue 4).
