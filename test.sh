#!/usr/bin/env bash
# The test command: every crate's unit tests, the end-to-end tests against a real
# `meshlens serve` on loopback, and a quick run of each benchmark (so they keep compiling
# and working; figures come from `cargo bench`).
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace --all-targets "$@"
