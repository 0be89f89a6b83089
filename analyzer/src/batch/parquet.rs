//! The tables as Parquet files in one directory, for DuckDB, pandas, polars or Spark.

use std::fs::File;
use std::path::Path;

use polars::prelude::{DataFrame, ParquetWriter};

use super::BatchError;

pub const SPANS_FILE: &str = "spans.parquet";
pub const REQUESTS_FILE: &str = "requests.parquet";
pub const EDGES_FILE: &str = "edges.parquet";

/// Writes the span, request and edge tables into `dir` (created when missing).
pub fn write_tables(
    dir: &Path,
    spans: &mut DataFrame,
    requests: &mut DataFrame,
    edges: &mut DataFrame,
) -> Result<(), BatchError> {
    std::fs::create_dir_all(dir).map_err(|source| BatchError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    for (name, frame) in [
        (SPANS_FILE, spans),
        (REQUESTS_FILE, requests),
        (EDGES_FILE, edges),
    ] {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| BatchError::Write {
            path: path.display().to_string(),
            source,
        })?;
        // polars' default compression (zstd) suits these highly repetitive text columns.
        ParquetWriter::new(file)
            .finish(frame)
            .map_err(BatchError::polars(name))?;
    }
    Ok(())
}
