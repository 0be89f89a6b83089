//! The OpenTelemetry Collector servicegraph connector's metrics, computed from the live graph
//! at scrape time, so Grafana's service-graph view works on a Prometheus scrape of meshlens:
//! `traces_service_graph_request_total`, `traces_service_graph_request_failed_total` and the
//! `traces_service_graph_request_{server,client}_seconds` histograms, labelled `client`,
//! `server`, `connection_type`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Unit;

use crate::Analyzer;
use crate::live::Live;
use crate::metrics::Observation;
use crate::snapshot::NodeKind;

/// The connector's default latency buckets, in seconds.
pub const BUCKETS_SECONDS: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];

/// Exact counts per bucket (the last is +Inf) and the sum, over the whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyHistogram {
    counts: [u64; BUCKETS_SECONDS.len() + 1],
    sum_seconds: f64,
}

impl LatencyHistogram {
    pub fn observe(&mut self, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        let bucket = BUCKETS_SECONDS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(BUCKETS_SECONDS.len());
        self.counts[bucket] += 1;
        self.sum_seconds += seconds;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// (upper bound, count in that bucket alone); the encoder accumulates them.
    fn buckets(&self) -> Vec<(f64, u64)> {
        BUCKETS_SECONDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts)
            .collect()
    }
}

/// Client- and server-side latency of one edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceGraphHistograms {
    pub client: LatencyHistogram,
    pub server: LatencyHistogram,
}

impl ServiceGraphHistograms {
    /// Latencies are not scaled by sampling weight: a sampled request is a sample of the
    /// distribution, as in the analyzer's sketches.
    pub fn observe(&mut self, observation: &Observation) {
        if let Some(ms) = observation.client_ms {
            self.client.observe(ms / 1_000.0);
        }
        if let Some(ms) = observation.server_ms {
            self.server.observe(ms / 1_000.0);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EdgeLabels {
    client: String,
    server: String,
    connection_type: String,
}

/// One edge's whole-run figures, read under the analyzer's lock.
#[derive(Debug)]
struct Row {
    labels: EdgeLabels,
    requests: f64,
    failed: f64,
    histograms: ServiceGraphHistograms,
}

/// The connector's `connection_type`: empty for service-to-service, else what the callee is.
fn connection_type(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Service | NodeKind::User => "",
        NodeKind::Virtual => "virtual_node",
        NodeKind::Database => "database",
        NodeKind::Messaging => "messaging_system",
    }
}

fn rows(analyzer: &Analyzer) -> Vec<Row> {
    let interner = analyzer.interner();
    let graph = analyzer.graph().petgraph();
    graph
        .edge_indices()
        .filter_map(|index| {
            let (source, target) = graph.edge_endpoints(index)?;
            let edge = &graph[index];
            let whole = edge.red.whole();
            Some(Row {
                labels: EdgeLabels {
                    client: interner.resolve(graph[source].id).to_owned(),
                    server: interner.resolve(graph[target].id).to_owned(),
                    connection_type: connection_type(graph[target].kind).to_owned(),
                },
                requests: whole.requests,
                failed: whole.errors,
                histograms: edge.histograms.clone(),
            })
        })
        .collect()
}

/// A counter family: name, help, and its value for a row.
type CounterSpec = (&'static str, &'static str, fn(&Row) -> f64);
/// A histogram family: name (unit added), help, and its histogram for a row.
type HistogramSpec = (&'static str, &'static str, fn(&Row) -> &LatencyHistogram);

/// Registered with the API's Prometheus registry (unprefixed: the names are the connector's).
#[derive(Debug)]
pub struct ServiceGraphMetrics {
    live: Live,
}

impl ServiceGraphMetrics {
    pub fn new(live: Live) -> Self {
        Self { live }
    }
}

impl Collector for ServiceGraphMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self.live.with_analyzer(rows);
        let counters: [CounterSpec; 2] = [
            (
                "traces_service_graph_request",
                "Requests between two nodes (servicegraph connector names)",
                |r| r.requests,
            ),
            (
                "traces_service_graph_request_failed",
                "Failed requests between two nodes (servicegraph connector names)",
                |r| r.failed,
            ),
        ];
        for (name, help, value) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for row in &rows {
                ConstCounter::new(value(row)).encode(family.encode_family(&row.labels)?)?;
            }
        }
        let histograms: [HistogramSpec; 2] = [
            (
                "traces_service_graph_request_server",
                "Server-side request latency (servicegraph connector names)",
                |r| &r.histograms.server,
            ),
            (
                "traces_service_graph_request_client",
                "Client-side request latency (servicegraph connector names)",
                |r| &r.histograms.client,
            ),
        ];
        for (name, help, histogram) in histograms {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for row in &rows {
                let h = histogram(row);
                family
                    .encode_family(&row.labels)?
                    .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count(), &h.buckets(), None)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_land_in_the_connectors_buckets() {
        let mut h = LatencyHistogram::default();
        for s in [0.001, 0.002, 0.0021, 0.3, 20.0, f64::NAN, -1.0] {
            h.observe(s);
        }
        assert_eq!(h.count(), 5);
        let buckets = h.buckets();
        assert_eq!(buckets[0], (0.002, 2));
        assert_eq!(buckets[1], (0.004, 1));
        assert_eq!(buckets[8], (0.4, 1));
        assert_eq!(buckets[16], (f64::INFINITY, 1));
    }
}
