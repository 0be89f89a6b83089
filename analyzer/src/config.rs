//! What the analyzer is allowed to keep.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerConfig {
    /// How long a half waits for its other half (`--pair-ttl`).
    pub pair_ttl: Duration,
    /// Halves waiting at most (`--pair-max-items`); past it new halves are dropped and counted.
    pub max_items: usize,
    /// Slots of the recent-SERVER-span cache (56 bytes each) used for SERVER→SERVER calls whose
    /// parent arrives first. Every SERVER span touches one slot, so a table that outgrows the
    /// CPU caches costs a cache miss per span: 16 Ki slots (~0.9 MB) hold about the last 10k
    /// SERVER spans, a second or more below ~10k spans/s.
    pub recent_servers: usize,
    /// Graph nodes at most; requests that would add one more are counted and not recorded.
    pub max_nodes: usize,
    /// Graph edges at most; each costs a few KB to a few tens of KB (its latency sketches).
    pub max_edges: usize,
    /// Path templates kept per edge.
    pub max_paths_per_edge: usize,
    /// Distinct path templates kept over all edges.
    pub max_path_templates: usize,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            pair_ttl: Duration::from_secs(10),
            max_items: 100_000,
            recent_servers: 1 << 14,
            max_nodes: 5_000,
            max_edges: 10_000,
            max_paths_per_edge: 50,
            max_path_templates: 20_000,
        }
    }
}

impl AnalyzerConfig {
    pub(crate) fn pair_ttl_ms(&self) -> u64 {
        u64::try_from(self.pair_ttl.as_millis()).unwrap_or(u64::MAX)
    }
}
