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
# The library without the command line (issue 9, item 29): a test that embeds fake-server with
# `default-features = false` builds none of the binary's dependencies.
cargo check -p fake-server --no-default-features --lib --locked
lib_tree=$(cargo tree -p fake-server --no-default-features -e normal --locked --prefix none --format '{p}')
cli_only=$(grep -E '^(clap|clap_complete|clap_mangen|mimalloc|schemars|tracing-subscriber) ' <<<"$lib_tree" || true)
if [ -n "$cli_only" ]; then
  echo "the fake-server library without default features pulls in CLI-only crates:" >&2
  sort -u <<<"$cli_only" >&2
  exit 1
fi
# CI=true: insta never writes snapshots here; a mismatch fails.
CI=true cargo test --workspace --locked
