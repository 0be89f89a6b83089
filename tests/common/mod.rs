//! Shared by the binary's end-to-end tests: running `meshlens` from the repository root, and
//! golden files.
#![allow(dead_code, clippy::unwrap_used)]

use std::process::{Command, Output};

#[path = "golden.rs"]
mod golden;
#[path = "metrics.rs"]
mod metrics;
// Each test crate uses some of these.
#[allow(unused_imports)]
pub use golden::assert_golden;
#[allow(unused_imports)]
pub use metrics::metric;

/// Runs the `meshlens` binary in the repository root, so testdata paths are relative.
pub fn meshlens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
