#!/usr/bin/env bash
# The test command: every crate's unit tests, the end-to-end tests against a real
# `meshlens serve` on loopback, and a quick run of each benchmark (so they keep compiling
# and working; figures come from `cargo bench`).
set -euo pipefail
cd "$(dirname "$0")"

# Graphviz checks that `meshlens graph --format dot` output is accepted by `dot` itself.
if ! command -v dot >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -qq graphviz >/dev/null 2>&1 ||
    (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq graphviz >/dev/null 2>&1)) ||
    echo "note: graphviz could not be installed; the dot acceptance test will skip"
fi
cargo test --workspace --all-targets "$@"
