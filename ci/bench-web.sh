#!/usr/bin/env bash
# The web sink with 100,000 stored 10 KiB messages: how fast listing and searching answer
# (p50 and p95 over repeated requests, each a new HTTP connection), and the UI's first paint
# and first rows in headless Chromium. Run on demand, inside a loopback-only network
# namespace (it makes one with `unshare -n` when run as root):
#
#   sudo ci/bench-web.sh            BENCH_WEB_MESSAGES=100000 BENCH_WEB_REPS=50 by default
#
# No thresholds are asserted: the numbers are printed for the issue notes. No peer runs
# beside it: Mailpit is not installable here (not in Debian, PyPI or npm), and smtp-sink has
# no API.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${BENCH_IN_NAMESPACE:-0} != 1 ]]; then
  exec unshare -n env BENCH_IN_NAMESPACE=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
MESSAGES=${BENCH_WEB_MESSAGES:-100000}
REPS=${BENCH_WEB_REPS:-50}
FAKE_BIN=${BENCH_FAKE_BIN:-$REPO_ROOT/target/release/fake-smtp}
if [[ -z ${BENCH_FAKE_BIN:-} ]]; then
  (cd "$REPO_ROOT" && cargo build --release -q -p fake-server --bin fake-smtp)
fi
WORK=$(mktemp -d /tmp/fake-smtp-bench-web.XXXXXX)
trap 'kill "$SERVER" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$FAKE_BIN" serve --smtp 127.0.0.1:2525 --submission off --smtps off --http 127.0.0.1:8025 \
  --quiet --max-messages "$MESSAGES" --max-memory 4294967296 >"$WORK/server.log" 2>&1 &
SERVER=$!
python3 "$REPO_ROOT/ci/bench/web_load.py" 127.0.0.1:2525 127.0.0.1:8025 "$MESSAGES" "$REPS"
echo "server RSS: $(awk '/VmRSS/ {print $2, $3}' "/proc/$SERVER/status")"
node "$REPO_ROOT/ci/bench/web_paint.js" "http://127.0.0.1:8025/"
