//! The fuzz targets on stable, as CI runs them: every committed input of `corpus/<target>/`,
//! then a bounded number of proptest inputs (random bytes, and corpus inputs with bytes
//! flipped, inserted, removed or cut off), shrunk to a small failing input on failure.
//!
//! `MESHLENS_FUZZ_CASES` sets the generated inputs per target (default 1000; 0 replays the
//! corpus only); `MESHLENS_FUZZ_SEED` (a number) varies them from the fixed default.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One edit of an input: what, where (modulo its length), which byte.
type Edit = (u8, usize, u8);

fn mutate(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = input.to_vec();
    for &(op, at, byte) in edits {
        let at = if out.is_empty() { 0 } else { at % out.len() };
        match op {
            0 if !out.is_empty() => out[at] = byte,
            1 => out.insert(at, byte),
            2 if !out.is_empty() => {
                out.remove(at);
            }
            3 => out.truncate(at),
            // Interesting bytes for varints and lengths at a random place.
            _ if !out.is_empty() => {
                out[at] = [0x00, 0x7f, 0x80, 0xff, b'"', b'{'][byte as usize % 6]
            }
            _ => {}
        }
    }
    out
}

fn replay(name: &str) {
    let target = meshlens_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap();
    let corpus = corpus(name);
    assert!(!corpus.is_empty(), "no corpus for {name}");
    for (path, bytes) in &corpus {
        if catch_unwind(AssertUnwindSafe(|| target(bytes))).is_err() {
            panic!("{name} fails on {}", path.display());
        }
    }

    let cases = env_number("MESHLENS_FUZZ_CASES", 1000);
    if cases == 0 {
        return;
    }
    let seed = env_number("MESHLENS_FUZZ_SEED", 0x6d65_7368_6c65_6e73).to_le_bytes();
    let config = Config {
        cases: u32::try_from(cases).unwrap_or(u32::MAX),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed, seed, seed, seed].concat()),
    );
    let inputs: Vec<Vec<u8>> = corpus.into_iter().map(|(_, bytes)| bytes).collect();
    let count = inputs.len();
    let strategy = prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256),
        3 => (0..count, proptest::collection::vec(any::<Edit>(), 1..8))
            .prop_map(move |(i, edits)| mutate(&inputs[i], &edits)),
    ];
    let result = runner.run(&strategy, |input| {
        target(&input);
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(proptest::test_runner::TestError::Fail(reason, input)) => {
            // Kept where it can be copied into the corpus as a regression input.
            let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{name}"));
            fs::write(&saved, &input).unwrap();
            panic!(
                "{name} fails on {:?} (saved to {}): {reason}",
                String::from_utf8_lossy(&input),
                saved.display()
            );
        }
        Err(error) => panic!("{name}: {error}"),
    }
}

#[test]
fn otlp_protobuf() {
    replay("otlp_protobuf");
}

#[test]
fn otlp_json() {
    replay("otlp_json");
}

#[test]
fn zipkin_json() {
    replay("zipkin_json");
}

#[test]
fn gzip_body() {
    replay("gzip_body");
}

#[test]
fn envoy_attrs() {
    replay("envoy_attrs");
}

#[test]
fn policy_yaml() {
    replay("policy_yaml");
}

#[test]
fn path_template() {
    replay("path_template");
}

#[test]
fn recorded_lines() {
    replay("recorded_lines");
}

#[test]
fn every_target_is_replayed() {
    let names: Vec<&str> = meshlens_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    let this = include_str!("replay.rs");
    for name in names {
        assert!(this.contains(&format!("fn {name}()")), "{name} has no test");
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz_targets/{name}.rs"));
        assert!(bin.is_file(), "{name} has no libFuzzer target");
    }
}
