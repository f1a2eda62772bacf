#!/usr/bin/env bash
# Proves that a crate (by default the pure `smtp-protocol`) depends on no I/O, async runtime,
# TLS, YAML, DNS, clock or randomness crate, by reading its normal dependency tree.
# Usage: ci/check-layering.sh [PACKAGE]   (exit 0: clean, 1: a forbidden crate was found)
set -euo pipefail
cd "$(dirname "$0")/.."
package="${1:-smtp-protocol}"
forbidden='^(tokio|tokio-[a-z-]+|mio|socket2|rustls|tokio-rustls|ring|aws-lc-rs|rcgen|serde_yaml|yaml_serde|unsafe-libyaml|libyml|hickory-[a-z-]+|chrono|time|rand|rand_core|getrandom|clap)$'
tree=$(cargo tree --offline -p "$package" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
found=$(grep -E "$forbidden" <<<"$tree" || true)
if [ -n "$found" ]; then
  echo "layering: $package depends on crates the pure core must not use:" >&2
  sed 's/^/  /' <<<"$found" >&2
  exit 1
fi
echo "layering: $package is pure ($(wc -l <<<"$tree") crates, none forbidden)"
