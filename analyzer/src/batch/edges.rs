//! Per-edge statistics as polars group-bys over the request table, and the graph snapshot
//! updated with them.

use std::collections::HashMap;

use polars::prelude::{DataFrame, Expr, IntoLazy, QuantileMethod, SortMultipleOptions, col, lit};

use super::BatchError;
use super::requests::outcome_name;
use crate::metrics::{Outcome, round3};
use crate::snapshot::{GraphSnapshot, Quantiles};
use crate::view::{rate, ratio};

const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)];
const SIDES: [&str; 2] = ["client", "server"];

/// Weighted count of requests with `outcome`.
fn weight_where(outcome: Outcome, name: &str) -> Expr {
    col("weight")
        .filter(col("outcome").eq(lit(outcome_name(outcome))))
        .sum()
        .alias(name)
}

/// One row per edge (source, target, protocol): `requests`, `errors`, `client_errors`,
/// `authz_denials` (sums of request weights), `estimated`, `rps` and `error_rate` over
/// `seconds`, and `{client,server}_{p50,p90,p95,p99}_ms` with `{client,server}_samples`.
///
/// Quantiles take the lower of the two values around the rank, `q·(n−1)` rounded down: the
/// rank the live sketches use, so the exact value here and the sketch's estimate differ
/// only by the sketch's relative accuracy.
pub fn edge_table(requests: &DataFrame, seconds: f64) -> Result<DataFrame, BatchError> {
    let mut aggregations = vec![
        col("weight").sum().alias("requests"),
        weight_where(Outcome::Error, "errors"),
        weight_where(Outcome::ClientError, "client_errors"),
        weight_where(Outcome::AuthzDenied, "authz_denials"),
        col("estimated").any(true).alias("estimated"),
    ];
    for side in SIDES {
        let latency = format!("{side}_ms");
        aggregations.push(
            col(latency.as_str())
                .count()
                .alias(format!("{side}_samples")),
        );
        for (name, q) in QUANTILES {
            aggregations.push(
                col(latency.as_str())
                    .quantile(lit(q), QuantileMethod::Lower)
                    .alias(format!("{side}_{name}_ms")),
            );
        }
    }
    requests
        .clone()
        .lazy()
        .group_by([col("source"), col("target"), col("protocol")])
        .agg(aggregations)
        .with_columns([
            (col("requests") / lit(seconds.max(f64::MIN_POSITIVE))).alias("rps"),
            (col("errors") / col("requests")).alias("error_rate"),
        ])
        .sort(
            ["source", "target", "protocol"],
            SortMultipleOptions::default(),
        )
        .collect()
        .map_err(BatchError::polars("edge"))
}

/// One edge's statistics, read back from the edge table.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeStats {
    pub source: String,
    pub target: String,
    pub protocol: String,
    pub requests: f64,
    pub errors: f64,
    pub client_errors: f64,
    pub authz_denials: f64,
    pub estimated: bool,
    pub client_latency_ms: Option<Quantiles>,
    pub server_latency_ms: Option<Quantiles>,
}

/// The edge table's rows.
pub fn edge_stats(edges: &DataFrame) -> Result<Vec<EdgeStats>, BatchError> {
    let err = BatchError::polars;
    let text = |name: &str| edges.column(name).and_then(|c| c.str().cloned());
    let number = |name: &str| edges.column(name).and_then(|c| c.f64().cloned());
    let (source, target, protocol) = (
        text("source").map_err(err("edge"))?,
        text("target").map_err(err("edge"))?,
        text("protocol").map_err(err("edge"))?,
    );
    let (requests, errors, client_errors, authz_denials) = (
        number("requests").map_err(err("edge"))?,
        number("errors").map_err(err("edge"))?,
        number("client_errors").map_err(err("edge"))?,
        number("authz_denials").map_err(err("edge"))?,
    );
    let estimated = edges
        .column("estimated")
        .and_then(|c| c.bool().cloned())
        .map_err(err("edge"))?;
    let mut latency = HashMap::new();
    for side in SIDES {
        for (name, _) in QUANTILES {
            let column = format!("{side}_{name}_ms");
            latency.insert(column.clone(), number(&column).map_err(err("edge"))?);
        }
    }
    let quantiles = |side: &str, row: usize| -> Option<Quantiles> {
        let q = |name: &str| latency.get(&format!("{side}_{name}_ms"))?.get(row);
        Some(Quantiles {
            p50: round3(q("p50")?),
            p90: round3(q("p90")?),
            p95: round3(q("p95")?),
            p99: round3(q("p99")?),
        })
    };
    Ok((0..edges.height())
        .map(|row| EdgeStats {
            source: source.get(row).unwrap_or_default().to_owned(),
            target: target.get(row).unwrap_or_default().to_owned(),
            protocol: protocol.get(row).unwrap_or_default().to_owned(),
            requests: requests.get(row).unwrap_or_default(),
            errors: errors.get(row).unwrap_or_default(),
            client_errors: client_errors.get(row).unwrap_or_default(),
            authz_denials: authz_denials.get(row).unwrap_or_default(),
            estimated: estimated.get(row).unwrap_or_default(),
            client_latency_ms: quantiles("client", row),
            server_latency_ms: quantiles("server", row),
        })
        .collect())
}

/// Replaces the snapshot's edge statistics with `stats` (edges without a row keep theirs)
/// and its nodes' totals with the sums over their incoming edges.
pub fn apply(graph: &mut GraphSnapshot, stats: &[EdgeStats]) {
    let seconds = graph.window_seconds;
    let by_edge: HashMap<(&str, &str, &str), &EdgeStats> = stats
        .iter()
        .map(|s| {
            (
                (s.source.as_str(), s.target.as_str(), s.protocol.as_str()),
                s,
            )
        })
        .collect();
    for edge in &mut graph.edges {
        let key = (
            edge.source.as_str(),
            edge.target.as_str(),
            edge.protocol.as_str(),
        );
        let Some(s) = by_edge.get(&key) else {
            continue;
        };
        edge.requests = s.requests;
        edge.errors = s.errors;
        edge.client_errors = s.client_errors;
        edge.authz_denials = s.authz_denials;
        edge.estimated = s.estimated;
        edge.rps = rate(s.requests, seconds);
        edge.error_rate = ratio(s.errors, s.requests);
        edge.client_latency_ms = s.client_latency_ms;
        edge.server_latency_ms = s.server_latency_ms;
        edge.latency_ms = s
            .client_latency_ms
            .or(s.server_latency_ms)
            .unwrap_or_default();
    }
    graph.total_nodes();
}
