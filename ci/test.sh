#!/usr/bin/env bash
# The one command that checks the project: what CI runs and what a newcomer runs.
# Formatting, lints, then every test (unit, property, real clients over real sockets).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# One crypto provider, ring: aws-lc-rs needs cmake here and builds far more slowly.
tree=$(cargo tree --workspace --locked --prefix none --format '{p}')
aws_lc=$(grep -E '^aws-lc' <<<"$tree" || true)
if [ -n "$aws_lc" ]; then
  echo "aws-lc is in the dependency graph (use the ring features):" >&2
  sort -u <<<"$aws_lc" >&2
  exit 1
fi
# CI=true: insta never writes snapshots here; a mismatch fails.
CI=true cargo test --workspace --locked
