#!/usr/bin/env bash
# The one command that checks the project: what CI runs and what a newcomer runs.
# Formatting, lints, then every test (unit, property, real clients over real sockets).
set -euo pipefail
cd "$(dirname "$0")/.."

ci/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# CI=true: insta never writes snapshots here; a mismatch fails.
CI=true cargo test --workspace --locked
