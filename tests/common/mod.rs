//! Shared by the binary's end-to-end tests: running `meshlens` from the repository root, and
//! golden files.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

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

/// Every listener on loopback, port 0: the addresses are read back from serve's first line.
pub const LOOPBACK_LISTENERS: [&str; 8] = [
    "--otlp-grpc",
    "127.0.0.1:0",
    "--otlp-http",
    "127.0.0.1:0",
    "--zipkin",
    "127.0.0.1:0",
    "--api",
    "127.0.0.1:0",
];

/// Starts `meshlens serve` with `args` (listeners on port 0 given by the caller, e.g.
/// [`LOOPBACK_LISTENERS`]) and reads its first line: the bound address of each listener
/// (`otlp_grpc`, `otlp_http`, `zipkin`, `api`).
pub fn spawn_serve(args: &[&str]) -> (Child, BTreeMap<String, String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .arg("serve")
        .args(args)
        .env("MESHLENS_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let listening = listening(&mut child);
    (child, listening)
}

/// [`spawn_serve`] with extra environment variables; standard error is read by a thread (so
/// verbose logging cannot fill the pipe), its text returned when the child has exited.
pub fn spawn_serve_env(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    Child,
    BTreeMap<String, String>,
    std::thread::JoinHandle<String>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshlens"))
        .arg("serve")
        .args(args)
        .env("MESHLENS_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let listening = listening(&mut child);
    (child, listening, logs)
}

/// The addresses on serve's first line: `meshlens: listening otlp_grpc=… otlp_http=… …`.
fn listening(child: &mut Child) -> BTreeMap<String, String> {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim()
        .strip_prefix("meshlens: listening ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
